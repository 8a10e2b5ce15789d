//! A deterministic synthetic FX feed for paper sessions, demos and tests: several pairs of M5
//! bars with realistic spreads, session-dependent volatility and volume, trending and ranging
//! regimes, and no bars over the weekend (so Monday opens with a gap).
//!
//! The model, per pair, per minute (five one-minute steps make an M5 bar):
//! - log-return ~ drift + sigma * s(t) * N(0, 1), where sigma is the pair's daily volatility
//!   scaled to a minute, and s(t) the session factor: 0.5 in the Asian hours (22:00-07:00 UTC),
//!   1.3 in the London/New York overlap (12:00-16:00), 1.0 otherwise;
//! - drift switches regime at random (mean every ~2 days) between up, down and flat; a trending
//!   day drifts about 0.75 of a daily standard deviation (0.02 sigma per minute), so
//!   trend-following and mean-reverting strategies both find work;
//! - spread in points: the pair's typical spread, x3 around the daily rollover (21:00-22:00 UTC),
//!   x1.5 in the Asian hours, plus a small random part;
//! - tick volume follows the session factor;
//! - the market is closed from Friday 22:00 to Sunday 22:00 UTC; the first bar after the weekend
//!   opens with a gap of about three hours of volatility.
//!
//! The same seed gives the same bars on every machine (SplitMix64 and Box-Muller in `f64`).

use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use mtq_core::{Bar, SplitMix64, Symbol, SymbolSpec};
use rust_decimal::prelude::ToPrimitive;

/// One pair's model parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct PairModel {
    pub spec: SymbolSpec,
    pub start_price: f64,
    /// Standard deviation of daily returns (0.006 = 0.6%).
    pub daily_vol: f64,
    /// Typical spread in points.
    pub spread_points: u32,
}

impl PairModel {
    fn builtin(name: &str, start_price: f64, daily_vol: f64, spread_points: u32) -> Option<Self> {
        Some(Self {
            spec: SymbolSpec::builtin(name)?,
            start_price,
            daily_vol,
            spread_points,
        })
    }
}

/// The six pairs of MTQ's default configuration, at early-2024 levels.
pub fn default_pairs() -> Vec<PairModel> {
    [
        ("EURUSD", 1.0850, 0.0045, 8),
        ("GBPUSD", 1.2650, 0.0055, 11),
        ("USDJPY", 148.50, 0.0060, 9),
        ("AUDUSD", 0.6550, 0.0065, 10),
        ("USDCAD", 1.3500, 0.0045, 14),
        ("USDCHF", 0.8750, 0.0050, 13),
    ]
    .into_iter()
    .filter_map(|(n, p, v, s)| PairModel::builtin(n, p, v, s))
    .collect()
}

/// Bars of every pair, interleaved in time order: `(pair index, bar)`.
#[derive(Debug)]
pub struct SyntheticFeed {
    pairs: Vec<PairState>,
    now: DateTime<Utc>,
    end: DateTime<Utc>,
    rng: SplitMix64,
    next_pair: usize,
    after_weekend: bool,
}

#[derive(Debug)]
struct PairState {
    model: PairModel,
    price: f64,
    drift: f64,
    digits_scale: f64,
}

const STEP_MINUTES: i64 = 5;
const MINUTES_PER_DAY: f64 = 1440.0;

impl SyntheticFeed {
    /// M5 bars from `start` (aligned down to 5 minutes) until `end`, for `pairs`, from `seed`.
    pub fn new(pairs: Vec<PairModel>, start: DateTime<Utc>, end: DateTime<Utc>, seed: u64) -> Self {
        let start = mtq_core::Timeframe::M5.open_time(start, 0);
        let pairs = pairs
            .into_iter()
            .map(|m| PairState {
                price: m.start_price,
                drift: 0.0,
                digits_scale: 10f64.powi(i32::try_from(m.spec.digits).unwrap_or(5)),
                model: m,
            })
            .collect();
        Self {
            pairs,
            now: start,
            end,
            rng: SplitMix64::new(seed),
            next_pair: 0,
            after_weekend: false,
        }
    }

    pub fn symbols(&self) -> Vec<Symbol> {
        self.pairs
            .iter()
            .map(|p| p.model.spec.symbol.clone())
            .collect()
    }

    pub fn specs(&self) -> Vec<SymbolSpec> {
        self.pairs.iter().map(|p| p.model.spec.clone()).collect()
    }

    fn normal(&mut self) -> f64 {
        // Box-Muller; 1 - u keeps the logarithm finite.
        let u1 = 1.0 - self.rng.next_f64();
        let u2 = self.rng.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    fn bar(&mut self, i: usize, time: DateTime<Utc>) -> Bar {
        let hour = time.hour();
        let session = match hour {
            22..=23 | 0..=6 => 0.5,
            12..=15 => 1.3,
            _ => 1.0,
        };
        let sigma = self.pairs[i].model.daily_vol / MINUTES_PER_DAY.sqrt();
        // Regime switch: on average once every two days per pair.
        if self
            .rng
            .chance(f64::from(u32::try_from(STEP_MINUTES).unwrap_or(5)) / (2.0 * MINUTES_PER_DAY))
        {
            let pick = self.rng.below_inclusive(2);
            #[allow(clippy::cast_precision_loss)]
            let dir = pick as f64 - 1.0;
            self.pairs[i].drift = dir * sigma * 0.02;
        }
        let gap = if self.after_weekend {
            self.normal() * sigma * 180f64.sqrt()
        } else {
            0.0
        };
        let p = &self.pairs[i];
        let (drift, scale) = (p.drift, p.digits_scale);
        let mut price = p.price * gap.exp();
        let open = price;
        let (mut high, mut low) = (open, open);
        for _ in 0..STEP_MINUTES {
            let r = drift + sigma * session * self.normal();
            price *= r.exp();
            high = high.max(price);
            low = low.min(price);
        }
        let round = |x: f64| (x * scale).round() / scale;
        let (open, high, low, close) = (round(open), round(high), round(low), round(price));
        self.pairs[i].price = price;
        let base = f64::from(self.pairs[i].model.spread_points);
        let widen = match hour {
            21 => 3.0,
            22..=23 | 0..=6 => 1.5,
            _ => 1.0,
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let spread = (base * widen + self.rng.below_inclusive(3) as f64).round() as u32;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let tick_volume = (40.0 * session * (1.0 + self.rng.next_f64())).round() as u64;
        Bar {
            time,
            open,
            high: high.max(open).max(close),
            low: low.min(open).min(close),
            close,
            tick_volume,
            real_volume: 0,
            spread,
        }
    }
}

/// Closed from Friday 22:00 to Sunday 22:00 UTC.
fn is_weekend(t: DateTime<Utc>) -> bool {
    match t.weekday() {
        Weekday::Sat => true,
        Weekday::Fri => t.hour() >= 22,
        Weekday::Sun => t.hour() < 22,
        _ => false,
    }
}

impl SyntheticFeed {
    /// The feed one time step at a time: every pair's bar opening at that time, as
    /// `(pair index, bar)`, for drivers that open all of a step's bars before trading on them.
    pub fn steps(self) -> impl Iterator<Item = Vec<(usize, Bar)>> {
        let mut bars = self.peekable();
        std::iter::from_fn(move || {
            let (i, first) = bars.next()?;
            let mut step = vec![(i, first)];
            while let Some(next) = bars.next_if(|(_, b)| b.time == first.time) {
                step.push(next);
            }
            Some(step)
        })
    }
}

impl Iterator for SyntheticFeed {
    type Item = (usize, Bar);

    fn next(&mut self) -> Option<(usize, Bar)> {
        if self.pairs.is_empty() {
            return None;
        }
        if self.next_pair == 0 {
            let mut skipped = false;
            while is_weekend(self.now) && self.now < self.end {
                self.now += Duration::minutes(STEP_MINUTES);
                skipped = true;
            }
            self.after_weekend = skipped;
        }
        if self.now >= self.end {
            return None;
        }
        let i = self.next_pair;
        let bar = self.bar(i, self.now);
        self.next_pair += 1;
        if self.next_pair == self.pairs.len() {
            self.next_pair = 0;
            self.now += Duration::minutes(STEP_MINUTES);
            self.after_weekend = false;
        }
        Some((i, bar))
    }
}

/// The spread of a pair in price units, for display.
pub fn spread_in_price(spec: &SymbolSpec, bar: &Bar) -> f64 {
    spec.point.to_f64().unwrap_or(0.0) * f64::from(bar.spread)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(seed: u64) -> SyntheticFeed {
        let start = "2024-03-04T00:00:00Z".parse().unwrap();
        let end = "2024-03-18T00:00:00Z".parse().unwrap();
        SyntheticFeed::new(default_pairs(), start, end, seed)
    }

    #[test]
    fn the_same_seed_gives_the_same_bars() {
        let a: Vec<_> = feed(1).take(5000).collect();
        let b: Vec<_> = feed(1).take(5000).collect();
        assert_eq!(a, b);
        let c: Vec<_> = feed(2).take(5000).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn bars_are_valid_in_time_order_and_absent_over_the_weekend() {
        let bars: Vec<_> = feed(3).collect();
        // Two weeks, six pairs, 5 trading days of 288 M5 bars each week.
        assert_eq!(bars.len(), 6 * 2 * 5 * 288);
        let mut last = [DateTime::<Utc>::MIN_UTC; 6];
        for (i, b) in &bars {
            b.validate().unwrap();
            assert!(b.time > last[*i]);
            last[*i] = b.time;
            assert!(!is_weekend(b.time), "{}", b.time);
            assert!(b.spread >= 8);
        }
    }

    #[test]
    fn prices_stay_plausible_over_weeks() {
        for (i, b) in feed(4) {
            let start = default_pairs()[i].start_price;
            assert!(
                b.close > start * 0.85 && b.close < start * 1.15,
                "pair {i} drifted to {}",
                b.close
            );
        }
    }
}
