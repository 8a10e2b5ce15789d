//! The equity curve: a point after every bar, or the last point of each UTC day, and the
//! drawdown tracked on every bar either way.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use mtq_analytics::EquityPoint;
use mtq_core::Decimal;

use super::Backtest;

/// How much of the equity curve to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EquityDetail {
    /// A point after every bar (reports, charts, `equity.csv`).
    #[default]
    EveryBar,
    /// The last point of each UTC day (optimisation: enough for daily returns and Sharpe; the
    /// maximum drawdown is still tracked on every bar).
    Daily,
    /// The run's first point and the last point of each UTC day: every point the return
    /// statistics read ([`mtq_analytics::return_stats`]: the first equity, each day's close, the
    /// last), so [`crate::Stats::of`] gives exactly what it gives on the every-bar curve (the
    /// `backtest` command when it writes neither a report nor a database row).
    DailyCloses,
}

/// The points kept so far.
#[derive(Debug)]
pub(super) struct EquityCurve {
    pub(super) points: Vec<EquityPoint>,
    pub(super) detail: EquityDetail,
    /// End of the UTC day of the last equity point (daily equity detail).
    pub(super) day_ends: DateTime<Utc>,
}

impl EquityCurve {
    pub(super) fn new() -> Self {
        Self {
            points: Vec::new(),
            detail: EquityDetail::EveryBar,
            day_ends: DateTime::<Utc>::MIN_UTC,
        }
    }
}

impl Backtest {
    /// The equity after the cycle at `time` on the curve, and the drawdown tracked.
    pub(super) fn record_equity(&mut self, time: DateTime<Utc>) {
        // The view was read again after the cycle's last command, so it is current.
        let money = self.setup.sim.money_digits;
        let units = self.view.quiet_equity.or(self.view.marked.equity_units());
        let equity = match (units, self.drawdown.units) {
            // Most bars: neither a new peak nor a new maximum fall, in three integer comparisons.
            (Some(e), Some(u)) if e <= u.peak && e >= u.below_money && e >= u.below_pct => {
                Decimal::new(e, money)
            }
            // A new peak: in a rising account, every few bars.
            (Some(e), Some(u)) if e > u.peak && u.max_pct.is_finite() => {
                self.drawdown.new_peak_in_units(e, u, money);
                Decimal::new(e, money)
            }
            _ => {
                let equity = match self.view.quiet_equity {
                    // The view was not marked on a quiet bar: its equity is in units only.
                    Some(e) => Decimal::new(e, money),
                    None if self.sim.open_position_count() == 0 => self.sim.balance(),
                    None => self.view.marked.account.equity,
                };
                self.drawdown.track(equity, money);
                equity
            }
        };
        let point = EquityPoint { time, equity };
        let curve = &mut self.curve;
        if curve.detail == EquityDetail::EveryBar {
            curve.points.push(point);
            return;
        }
        // With daily closes the run's first point stays: the first cycle's day starts a point
        // of its own.
        let keep_first = curve.detail == EquityDetail::DailyCloses && curve.points.len() == 1;
        match curve.points.last_mut() {
            Some(last) if time < curve.day_ends && !keep_first => *last = point,
            last => {
                let day = time.date_naive();
                let next = day.succ_opt().unwrap_or(NaiveDate::MAX);
                curve.day_ends = next.and_time(NaiveTime::MIN).and_utc();
                match last {
                    Some(last) if last.time.date_naive() == day && !keep_first => *last = point,
                    _ => curve.points.push(point),
                }
            }
        }
    }

    /// [`Backtest::record_equity`] at `time` for an equity of `units`, leaving the view's
    /// equity as it was.
    pub(super) fn record_units(&mut self, (time, units): (DateTime<Utc>, i64)) {
        let keep = self.view.quiet_equity.replace(units);
        self.record_equity(time);
        self.view.quiet_equity = keep;
    }
}
