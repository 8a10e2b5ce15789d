//! Equity statistics: drawdown, and risk-adjusted returns from daily returns.
//!
//! Conventions, so numbers can be compared with other tools:
//! - **Daily returns** are taken from the last equity of each UTC day that has a point:
//!   r = equity_today / equity_previous_day_with_a_point - 1. The first day's return is measured
//!   from the curve's first point. Days without points are not filled in.
//! - **Sharpe** = mean(r) / sample standard deviation(r) x sqrt(252); the risk-free rate is 0.
//! - **Sortino** = mean(r) / downside deviation x sqrt(252), where the downside deviation is
//!   sqrt(sum(min(r, 0)^2) / n) over all n daily returns (target return 0).
//! - **CAGR** = (last / first)^(365.25 / days) - 1, days being the calendar span of the curve.
//! - **Calmar** = CAGR in percent / maximum drawdown in percent.
//! - **Maximum drawdown** is the largest fall from a running peak, in money and (separately, as
//!   they may happen at different times) in percent of that peak.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::EquityPoint;
use crate::stats::count_f64;

/// Trading days per year used to annualise daily ratios.
pub const TRADING_DAYS_PER_YEAR: f64 = 252.0;

/// The largest fall from a running peak.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Drawdown {
    /// Money, zero or positive.
    pub max_money: Decimal,
    /// Percent of the peak, 0..=100 (more if equity went negative).
    pub max_percent: f64,
}

impl Drawdown {
    /// Counts a point at `equity` below the running peak `peak`: the fall in money and in
    /// percent of the peak, each kept if it is the largest so far.
    fn count(&mut self, peak: Decimal, equity: Decimal) {
        let fall = peak - equity;
        self.max_money = self.max_money.max(fall);
        if peak > Decimal::ZERO
            && let Some(pct) = (fall / peak * Decimal::ONE_HUNDRED).to_f64()
        {
            self.max_percent = self.max_percent.max(pct);
        }
    }
}

/// Statistics of an equity curve.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct EquityStats {
    pub start_equity: Decimal,
    pub end_equity: Decimal,
    pub drawdown: Drawdown,
    pub daily_returns: Vec<(NaiveDate, f64)>,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    /// Compound annual growth rate, as a fraction (0.12 = 12 %).
    pub cagr: Option<f64>,
    pub calmar: Option<f64>,
}

/// Maximum drawdown of `curve` (in time order).
///
/// The plain reading ([`drawdown_reference`]) takes a `Decimal` difference, comparison and
/// division per point: on a backtest's curve of a point a bar, most of the cost of its
/// statistics. Here the values are compared as whole numbers of 10^-4, and the fall and its
/// percentage are worked out only where they can be the maximum: at each point whose fall
/// reaches the deepest since the current peak (ties included). That is the same result, bit for
/// bit, when every value is a whole number of 10^-4 below ten million in size (a balance in
/// cents is): two different falls then differ by at least 5 * 10^-12 of the larger, while the
/// division, the product and `to_f64` err by about 10^-15, so a smaller fall cannot give a
/// larger percentage, and equal falls written with other decimals are all worked out. A curve
/// with any other value takes the plain reading. The property test
/// `drawdown_equals_the_reference_on_random_curves` runs both.
pub fn drawdown(curve: &[EquityPoint]) -> Drawdown {
    // The running peak, and the deepest fall since it was set, in 10^-4.
    let mut peak: Option<(Decimal, i64)> = None;
    let mut deepest: i64 = 0;
    let mut dd = Drawdown::default();
    for p in curve {
        let Some(units) = ten_thousandths(p.equity) else {
            return drawdown_reference(curve);
        };
        let (pk, pk_units) = *peak.get_or_insert((p.equity, units));
        if units > pk_units {
            peak = Some((p.equity, units));
            deepest = 0;
            continue;
        }
        // Less than a fall already counted: neither maximum can come from it.
        if pk_units - units < deepest {
            continue;
        }
        deepest = pk_units - units;
        dd.count(pk, p.equity);
    }
    dd
}

/// `value` as a whole number of 10^-4 when it is one and below ten million in size: see
/// [`drawdown`].
fn ten_thousandths(value: Decimal) -> Option<i64> {
    const BELOW: [u128; 5] = [
        10_000_000,
        100_000_000,
        1_000_000_000,
        10_000_000_000,
        100_000_000_000,
    ];
    const TIMES: [i64; 5] = [10_000, 1_000, 100, 10, 1];
    let scale = value.scale() as usize;
    let mantissa = value.mantissa();
    if mantissa.unsigned_abs() >= *BELOW.get(scale)? {
        return None;
    }
    // Below 10^11 in size: it fits, and so does the product.
    i64::try_from(mantissa).ok().map(|m| m * TIMES[scale])
}

/// [`drawdown`] as its definition reads: the percentage worked out at every point below the
/// peak. The reference the faster reading is tested against; the same result.
pub fn drawdown_reference(curve: &[EquityPoint]) -> Drawdown {
    let mut peak: Option<Decimal> = None;
    let mut dd = Drawdown::default();
    for p in curve {
        let pk = *peak.get_or_insert(p.equity);
        if p.equity > pk {
            peak = Some(p.equity);
            continue;
        }
        dd.count(pk, p.equity);
    }
    dd
}

/// The drawdown at every point, in percent of the running peak (zero or negative), for charts.
pub fn drawdown_series(curve: &[EquityPoint]) -> Vec<f64> {
    let mut peak: Option<Decimal> = None;
    curve
        .iter()
        .map(|p| {
            let pk = peak.map_or(p.equity, |pk| pk.max(p.equity));
            peak = Some(pk);
            if pk > Decimal::ZERO {
                ((p.equity - pk) / pk * Decimal::ONE_HUNDRED)
                    .to_f64()
                    .unwrap_or(0.0)
            } else {
                0.0
            }
        })
        .collect()
}

/// Daily returns by the convention in the module docs.
pub fn daily_returns(curve: &[EquityPoint]) -> Vec<(NaiveDate, f64)> {
    let Some(first) = curve.first() else {
        return Vec::new();
    };
    let mut closes: Vec<(NaiveDate, Decimal)> = Vec::new();
    for p in curve {
        // The UTC date as stored (`date_naive` adds the zero offset first: date arithmetic a
        // point).
        let day = p.time.naive_utc().date();
        match closes.last_mut() {
            Some((d, e)) if *d == day => *e = p.equity,
            _ => closes.push((day, p.equity)),
        }
    }
    // Each day's return is read from its close and the close before it (the curve's first point
    // for the first day). The `Decimal` divisions are most of the cost of a long curve (a million
    // hourly points make 41,667 days), and they are independent: a long curve's are shared
    // between threads, in order, with the same operations, so the returns are the same bits.
    let ret = |k: usize| -> Option<(NaiveDate, f64)> {
        let prev = if k == 0 {
            first.equity
        } else {
            closes[k - 1].1
        };
        let (day, equity) = closes[k];
        if prev > Decimal::ZERO {
            Some((day, (equity / prev - Decimal::ONE).to_f64()?))
        } else {
            None
        }
    };
    if closes.len() < PARALLEL_DAYS {
        return (0..closes.len()).filter_map(ret).collect();
    }
    use rayon::prelude::*;
    (0..closes.len())
        .into_par_iter()
        .with_min_len(PARALLEL_DAYS / 2)
        .filter_map(ret)
        .collect()
}

/// Days from which [`daily_returns`] shares its divisions between threads (a year of days is
/// worked out at once: a thread's start would cost more than it saves).
const PARALLEL_DAYS: usize = 8_192;

/// The daily returns of `curve` and the ratios read from them: [`equity_stats`] without the
/// drawdown, for a caller that tracks the drawdown itself (a backtest does, bar by bar).
#[derive(Clone, Debug, PartialEq)]
pub struct ReturnStats {
    pub daily_returns: Vec<(NaiveDate, f64)>,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    /// Compound annual growth rate, as a fraction (0.12 = 12 %).
    pub cagr: Option<f64>,
}

/// Daily returns, Sharpe, Sortino and CAGR of `curve`, as [`equity_stats`] gives them;
/// `None` for an empty curve.
pub fn return_stats(curve: &[EquityPoint]) -> Option<ReturnStats> {
    let (first, last) = (curve.first()?, curve.last()?);
    let returns = daily_returns(curve);
    let r: Vec<f64> = returns.iter().map(|(_, r)| *r).collect();
    let n = count_f64(u64::try_from(r.len()).unwrap_or(u64::MAX));
    let annual = TRADING_DAYS_PER_YEAR.sqrt();
    let mean = if r.is_empty() {
        0.0
    } else {
        r.iter().sum::<f64>() / n
    };
    let sharpe = (r.len() >= 2)
        .then(|| {
            let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
            let sd = var.sqrt();
            (sd > 0.0).then(|| mean / sd * annual)
        })
        .flatten();
    let sortino = (!r.is_empty())
        .then(|| {
            let dd2 = r.iter().map(|x| x.min(0.0).powi(2)).sum::<f64>() / n;
            let down = dd2.sqrt();
            (down > 0.0).then(|| mean / down * annual)
        })
        .flatten();
    let days = (last.time - first.time).num_seconds();
    let cagr = match (first.equity.to_f64(), last.equity.to_f64()) {
        (Some(a), Some(b)) if a > 0.0 && b > 0.0 && days > 0 => {
            let years = count_f64(u64::try_from(days).unwrap_or(0)) / (365.25 * 86_400.0);
            Some((b / a).powf(1.0 / years) - 1.0)
        }
        _ => None,
    };
    Some(ReturnStats {
        daily_returns: returns,
        sharpe,
        sortino,
        cagr,
    })
}

/// Every equity statistic of `curve`; `None` for an empty curve.
pub fn equity_stats(curve: &[EquityPoint]) -> Option<EquityStats> {
    let (first, last) = (curve.first()?, curve.last()?);
    let dd = drawdown(curve);
    let ReturnStats {
        daily_returns,
        sharpe,
        sortino,
        cagr,
    } = return_stats(curve)?;
    let calmar = cagr
        .filter(|_| dd.max_percent > 0.0)
        .map(|c| c * 100.0 / dd.max_percent);
    Some(EquityStats {
        start_equity: first.equity,
        end_equity: last.equity,
        drawdown: dd,
        daily_returns,
        sharpe,
        sortino,
        cagr,
        calmar,
    })
}
