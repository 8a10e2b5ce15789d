//! Canonical fixtures for every crate's tests (feature `testkit`): fixed times, bars and their
//! builders, series (seeded random walk, trends, flat, a swing), built-in specs, accounts,
//! positions and rates, so that tests read as scenarios instead of literals. NautilusTrader's
//! `stubs.rs` modules are the model.
//!
//! Enable it in a member's `[dev-dependencies]` only:
//! `mtq-core = { workspace = true, features = ["testkit"] }`.
//!
//! The fixtures panic on a name or literal that is not valid (an unknown symbol, a malformed
//! time): they are written by the test, never read from input, and a panic there fails the test
//! at the line that is wrong.
//!
//! ```
//! use mtq_core::testkit::{BarBuilder, Series, account_usd, eurusd, monday, ramp};
//! use rust_decimal_macros::dec;
//!
//! let bar = BarBuilder::new().at(monday()).ohlc(1.1, 1.1005, 1.0995, 1.1002).build();
//! assert!(bar.validate().is_ok());
//! // Forty H1 bars climbing a pip an hour, each opening at the previous close.
//! let bars = Series::h1().closes(&ramp(1.1, 0.0001, 40));
//! assert_eq!(bars.len(), 40);
//! assert_eq!(bars[1].open, bars[0].close);
//! assert_eq!(eurusd().digits, 5);
//! assert_eq!(account_usd(dec!(10000)).free_margin, dec!(10000));
//! ```

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use rust_decimal::Decimal;

use crate::{
    AccountInfo, Bar, ClientOrderId, Currency, Magic, MarginMode, Position, Side, SplitMix64,
    StaticRates, Symbol, SymbolSpec, Ticket, Timeframe,
};

// ---------------------------------------------------------------------------------------------
// Times

/// Parses an RFC 3339 time written in a test, e.g. `at("2024-03-04T08:00:00Z")`.
pub fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339
        .parse()
        .unwrap_or_else(|e| panic!("test time {rfc3339:?} is not RFC 3339: {e}"))
}

/// Monday 2024-03-04 00:00 UTC: the start of a trading week, the default time of every fixture.
pub fn monday() -> DateTime<Utc> {
    at("2024-03-04T00:00:00Z")
}

/// [`monday`] plus `minutes` (negative for the week before).
pub fn minute(minutes: i64) -> DateTime<Utc> {
    monday() + Duration::minutes(minutes)
}

/// Wednesday 2024-03-06 00:00 UTC: mid-week, far from the weekend gap.
pub fn wednesday() -> DateTime<Utc> {
    at("2024-03-06T00:00:00Z")
}

/// `i` as an `i64` step count (saturating: fixtures never build that many bars).
fn steps(i: usize) -> i32 {
    i32::try_from(i).unwrap_or(i32::MAX)
}

// ---------------------------------------------------------------------------------------------
// Bars

/// Tick volume of a fixture bar unless a test says otherwise.
pub const TICK_VOLUME: u64 = 100;
/// Spread in points of a fixture bar unless a test says otherwise (one pip on a 5-digit quote).
pub const SPREAD: u32 = 10;

/// Builds one [`Bar`]: Monday 00:00, all prices 1.1, [`TICK_VOLUME`], no real volume, [`SPREAD`].
#[derive(Clone, Debug)]
pub struct BarBuilder {
    bar: Bar,
}

impl Default for BarBuilder {
    fn default() -> Self {
        Self {
            bar: Bar {
                time: monday(),
                open: 1.1,
                high: 1.1,
                low: 1.1,
                close: 1.1,
                tick_volume: TICK_VOLUME,
                real_volume: 0,
                spread: SPREAD,
            },
        }
    }
}

impl BarBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The bar's open time.
    pub fn at(mut self, time: DateTime<Utc>) -> Self {
        self.bar.time = time;
        self
    }

    pub fn ohlc(mut self, open: f64, high: f64, low: f64, close: f64) -> Self {
        self.bar.open = open;
        self.bar.high = high;
        self.bar.low = low;
        self.bar.close = close;
        self
    }

    /// All four prices equal to `price`.
    pub fn flat(self, price: f64) -> Self {
        self.ohlc(price, price, price, price)
    }

    pub fn tick_volume(mut self, tick_volume: u64) -> Self {
        self.bar.tick_volume = tick_volume;
        self
    }

    pub fn real_volume(mut self, real_volume: u64) -> Self {
        self.bar.real_volume = real_volume;
        self
    }

    pub fn spread(mut self, spread: u32) -> Self {
        self.bar.spread = spread;
        self
    }

    pub fn build(self) -> Bar {
        self.bar
    }
}

/// A bar at `time` with the default volume and spread.
pub fn bar(time: DateTime<Utc>, open: f64, high: f64, low: f64, close: f64) -> Bar {
    BarBuilder::new()
        .at(time)
        .ohlc(open, high, low, close)
        .build()
}

/// A bar at `time` whose four prices equal `price`.
pub fn flat_bar(time: DateTime<Utc>, price: f64) -> Bar {
    BarBuilder::new().at(time).flat(price).build()
}

// ---------------------------------------------------------------------------------------------
// Series

/// Lays bars one `step` apart from `start`, with a common volume, spread and (for
/// [`Series::closes`]) wick: `Series::h1().closes(&[..])`, `Series::m1().flat(&[..])`.
#[derive(Clone, Debug)]
pub struct Series {
    start: DateTime<Utc>,
    step: Duration,
    wick: f64,
    tick_volume: u64,
    spread: u32,
}

impl Series {
    /// Bars `step` apart from `start`; a 5-pip wick, [`TICK_VOLUME`] and [`SPREAD`].
    pub fn new(start: DateTime<Utc>, step: Duration) -> Self {
        Self {
            start,
            step,
            wick: 0.0005,
            tick_volume: TICK_VOLUME,
            spread: SPREAD,
        }
    }

    /// Bars of `timeframe` from [`monday`].
    pub fn of(timeframe: Timeframe) -> Self {
        Self::new(monday(), timeframe.duration())
    }

    /// M1 bars from [`monday`].
    pub fn m1() -> Self {
        Self::of(Timeframe::M1)
    }

    /// M5 bars from [`monday`].
    pub fn m5() -> Self {
        Self::of(Timeframe::M5)
    }

    /// H1 bars from [`monday`].
    pub fn h1() -> Self {
        Self::of(Timeframe::H1)
    }

    pub fn starting(mut self, start: DateTime<Utc>) -> Self {
        self.start = start;
        self
    }

    /// How far [`Series::closes`] puts the high and low outside each body.
    pub fn wick(mut self, wick: f64) -> Self {
        self.wick = wick;
        self
    }

    pub fn tick_volume(mut self, tick_volume: u64) -> Self {
        self.tick_volume = tick_volume;
        self
    }

    pub fn spread(mut self, spread: u32) -> Self {
        self.spread = spread;
        self
    }

    /// The open time of bar `i`.
    pub fn time(&self, i: usize) -> DateTime<Utc> {
        self.start + self.step * steps(i)
    }

    /// Bar `i` of the series.
    pub fn bar(&self, i: usize, open: f64, high: f64, low: f64, close: f64) -> Bar {
        BarBuilder::new()
            .at(self.time(i))
            .ohlc(open, high, low, close)
            .tick_volume(self.tick_volume)
            .spread(self.spread)
            .build()
    }

    /// Bars from `(open, high, low, close)` rows.
    pub fn ohlc(&self, rows: &[(f64, f64, f64, f64)]) -> Vec<Bar> {
        rows.iter()
            .enumerate()
            .map(|(i, &(o, h, l, c))| self.bar(i, o, h, l, c))
            .collect()
    }

    /// Bars whose four prices all equal each given price.
    pub fn flat(&self, prices: &[f64]) -> Vec<Bar> {
        prices
            .iter()
            .enumerate()
            .map(|(i, &p)| self.bar(i, p, p, p, p))
            .collect()
    }

    /// Bars with the given closes, each opening at the previous close (the first at its own)
    /// with the high and low one wick outside the body.
    pub fn closes(&self, closes: &[f64]) -> Vec<Bar> {
        let mut prev = closes.first().copied().unwrap_or(1.0);
        closes
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let b = self.bar(i, prev, prev.max(c) + self.wick, prev.min(c) - self.wick, c);
                prev = c;
                b
            })
            .collect()
    }

    /// Bars from `(high, low)` rows, opening and closing at the midpoint.
    pub fn high_low(&self, rows: &[(f64, f64)]) -> Vec<Bar> {
        rows.iter()
            .enumerate()
            .map(|(i, &(h, l))| {
                let mid = (h + l) / 2.0;
                self.bar(i, mid, h, l, mid)
            })
            .collect()
    }
}

/// H1 bars from [`monday`] with the given closes: see [`Series::closes`].
pub fn bars_from_closes(closes: &[f64]) -> Vec<Bar> {
    Series::h1().closes(closes)
}

/// `n` prices stepping by `step` from `start`: a trend (up or down) or, with a zero step, flat.
pub fn ramp(start: f64, step: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| start + step * f64::from(steps(i))).collect()
}

/// `n` equal prices.
pub fn flat_prices(price: f64, n: usize) -> Vec<f64> {
    vec![price; n]
}

/// The price of [`swing_bar`] at step `k`: `base` plus 12 pips times a sine of period 8 steps.
pub fn swing_price(base: f64, k: i64) -> f64 {
    #[allow(clippy::cast_precision_loss)] // |k| stays far below 2^52 in any test
    let x = k as f64;
    base + 0.0012 * (x * std::f64::consts::TAU / 8.0).sin()
}

/// M1 bar `k` after `start` of a price that swings 12 pips either way every 8 bars around
/// `base`, so that moving averages cross every few bars; opens at the previous step's price,
/// a half-pip wick, tick volume 10 and a 12-point spread.
pub fn swing_bar(start: DateTime<Utc>, k: i64, base: f64) -> Bar {
    let (open, close) = (swing_price(base, k - 1), swing_price(base, k));
    BarBuilder::new()
        .at(start + Duration::minutes(k))
        .ohlc(
            open,
            open.max(close) + 0.00005,
            open.min(close) - 0.00005,
            close,
        )
        .tick_volume(10)
        .spread(12)
        .build()
}

/// `n` bars of `timeframe` from `start`, skipping Saturdays and Sundays: a seeded random walk
/// of bid prices around `base` with a slow sine drift (so moving-average strategies trade
/// regularly), 5-digit rounding, random wicks and tick volumes, and `spread` points. The same
/// seed gives the same bars, bit for bit.
pub fn random_walk(
    n: usize,
    seed: u64,
    timeframe: Timeframe,
    start: DateTime<Utc>,
    base: f64,
    spread: u32,
) -> Vec<Bar> {
    let mut rng = SplitMix64::new(seed);
    let step = timeframe.duration();
    let round = |p: f64| (p * 100_000.0).round() / 100_000.0;
    let mut out = Vec::with_capacity(n);
    let mut t = start;
    let mut price = base;
    let mut i = 0u32;
    while out.len() < n {
        if matches!(t.weekday(), Weekday::Sat | Weekday::Sun) {
            t += Duration::days(1);
            t = timeframe.open_time(t, 0);
            continue;
        }
        let drift = 0.00004 * (f64::from(i) / 300.0).sin();
        let shock = (rng.next_f64() - 0.5) * 0.0006;
        let open = round(price);
        let close = round(price + drift + shock);
        let wick_up = rng.next_f64() * 0.0003;
        let wick_down = rng.next_f64() * 0.0003;
        out.push(Bar {
            time: t,
            open,
            high: round(open.max(close) + wick_up),
            low: round(open.min(close) - wick_down),
            close,
            tick_volume: 100 + rng.next_u64() % 100,
            real_volume: 0,
            spread,
        });
        price = close;
        t += step;
        i = i.wrapping_add(1);
    }
    out
}

/// A bounded random walk with random ranges, H1 bars from the Unix epoch, moving up to
/// `step / 2` a bar between 0.8 and 1.4 (xorshift from `seed`, so the same seed gives the same
/// bars).
pub fn xorshift_walk(seed: u64, n: usize, step: f64) -> Vec<Bar> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        f64::from(u32::try_from(state >> 40).unwrap_or(0)) / f64::from(1u32 << 24)
    };
    let series = Series::new(DateTime::UNIX_EPOCH, Duration::hours(1));
    let mut price = 1.1;
    (0..n)
        .map(|i| {
            let open = price;
            price = (price + (next() - 0.5) * step).clamp(0.8, 1.4);
            let high = open.max(price) + next() * 0.001;
            let low = open.min(price) - next() * 0.001;
            series.bar(i, open, high, low, price)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Symbols and specs

/// A symbol from its name.
pub fn symbol(name: &str) -> Symbol {
    Symbol::new(name).unwrap_or_else(|e| panic!("test symbol {name:?}: {e}"))
}

/// The built-in spec of `name` (see [`SymbolSpec::builtin`]).
pub fn spec(name: &str) -> SymbolSpec {
    SymbolSpec::builtin(name).unwrap_or_else(|| panic!("{name} is not a built-in spec"))
}

/// EURUSD: 5 digits, 100,000 units a lot, USD quote.
pub fn eurusd() -> SymbolSpec {
    spec("EURUSD")
}

/// GBPUSD: 5 digits, USD quote.
pub fn gbpusd() -> SymbolSpec {
    spec("GBPUSD")
}

/// USDJPY: 3 digits, JPY quote.
pub fn usdjpy() -> SymbolSpec {
    spec("USDJPY")
}

/// XAUUSD: 2 digits, 100 ounces a lot.
pub fn xauusd() -> SymbolSpec {
    spec("XAUUSD")
}

/// A client order id `t-{n}`.
pub fn coid(n: u64) -> ClientOrderId {
    ClientOrderId::new(&format!("t-{n}")).unwrap_or_else(|e| panic!("client order id {n}: {e}"))
}

/// Reference rates: EUR/USD 1.10, GBP/USD 1.25, USD/JPY 150.
pub fn rates() -> StaticRates {
    StaticRates::new()
        .with(Currency::EUR, Currency::USD, Decimal::new(110, 2))
        .with(Currency::GBP, Currency::USD, Decimal::new(125, 2))
        .with(Currency::USD, Currency::JPY, Decimal::from(150))
}

// ---------------------------------------------------------------------------------------------
// Accounts and positions

/// A flat account (no positions, no margin used) of `balance` in `currency`: login 1, server
/// `Demo`, 1:100, hedging. Change a field with struct update syntax.
pub fn account(currency: Currency, balance: Decimal) -> AccountInfo {
    AccountInfo {
        login: 1,
        server: "Demo".into(),
        currency,
        balance,
        equity: balance,
        margin: Decimal::ZERO,
        free_margin: balance,
        margin_level: None,
        leverage: 100,
        margin_mode: MarginMode::Hedging,
    }
}

/// A flat USD account of `balance`: see [`account`].
pub fn account_usd(balance: Decimal) -> AccountInfo {
    account(Currency::USD, balance)
}

/// Builds an open [`Position`]: ticket 1, one lot at 1.0 opened [`monday`], no stops, current
/// price equal to the open price unless set, no swap or profit, magic 1, no comment.
#[derive(Clone, Debug)]
pub struct PositionBuilder {
    position: Position,
    current_price: Option<Decimal>,
}

impl PositionBuilder {
    /// A position on `symbol` (a name, e.g. `"EURUSD"`).
    pub fn new(symbol_name: &str, side: Side) -> Self {
        Self {
            position: Position {
                ticket: Ticket(1),
                symbol: symbol(symbol_name),
                side,
                volume: Decimal::ONE,
                open_price: Decimal::ONE,
                open_time: monday(),
                sl: None,
                tp: None,
                current_price: Decimal::ONE,
                swap: Decimal::ZERO,
                profit: Decimal::ZERO,
                magic: Magic(1),
                comment: String::new(),
            },
            current_price: None,
        }
    }

    pub fn ticket(mut self, ticket: u64) -> Self {
        self.position.ticket = Ticket(ticket);
        self
    }

    pub fn volume(mut self, volume: Decimal) -> Self {
        self.position.volume = volume;
        self
    }

    pub fn open_price(mut self, price: Decimal) -> Self {
        self.position.open_price = price;
        self
    }

    pub fn opened(mut self, time: DateTime<Utc>) -> Self {
        self.position.open_time = time;
        self
    }

    pub fn sl(mut self, sl: Option<Decimal>) -> Self {
        self.position.sl = sl;
        self
    }

    pub fn tp(mut self, tp: Option<Decimal>) -> Self {
        self.position.tp = tp;
        self
    }

    pub fn current_price(mut self, price: Decimal) -> Self {
        self.current_price = Some(price);
        self
    }

    pub fn swap(mut self, swap: Decimal) -> Self {
        self.position.swap = swap;
        self
    }

    pub fn profit(mut self, profit: Decimal) -> Self {
        self.position.profit = profit;
        self
    }

    pub fn magic(mut self, magic: u64) -> Self {
        self.position.magic = Magic(magic);
        self
    }

    pub fn comment(mut self, comment: &str) -> Self {
        self.position.comment = comment.into();
        self
    }

    pub fn build(self) -> Position {
        let mut p = self.position;
        p.current_price = self.current_price.unwrap_or(p.open_price);
        p
    }
}

// ---------------------------------------------------------------------------------------------
// Floats

/// `a` and `b` within 1e-9 of each other.
pub fn close_to(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_bar_is_valid_and_ordered_in_time() {
        let series = [
            Series::h1().closes(&ramp(1.1, 0.0003, 50)),
            Series::m1().flat(&flat_prices(1.2, 10)),
            Series::m5().high_low(&[(1.2, 1.1), (1.3, 1.15)]),
            random_walk(500, 7, Timeframe::M5, monday(), 1.1, 8),
            xorshift_walk(3, 300, 0.004),
            (0..30).map(|k| swing_bar(monday(), k, 1.08)).collect(),
        ];
        for bars in &series {
            assert!(bars.iter().all(|b| b.validate().is_ok()));
            assert!(bars.windows(2).all(|w| w[0].time < w[1].time));
        }
    }

    #[test]
    fn the_random_walk_repeats_for_a_seed_and_skips_weekends() {
        let friday = at("2024-03-08T22:00:00Z");
        let a = random_walk(100, 7, Timeframe::H1, friday, 1.1, 8);
        assert_eq!(a, random_walk(100, 7, Timeframe::H1, friday, 1.1, 8));
        assert_ne!(a, random_walk(100, 8, Timeframe::H1, friday, 1.1, 8));
        assert!(
            a.iter()
                .all(|b| !matches!(b.time.weekday(), Weekday::Sat | Weekday::Sun))
        );
        assert_eq!(a[2].time, at("2024-03-11T00:00:00Z"));
    }

    #[test]
    fn closes_open_at_the_previous_close_with_the_wick_outside_the_body() {
        let bars = Series::h1().wick(0.001).closes(&[1.0, 1.2, 1.1]);
        assert!(close_to(bars[0].open, 1.0));
        assert!(close_to(bars[1].open, 1.0));
        assert!(close_to(bars[1].high, 1.201));
        assert!(close_to(bars[1].low, 0.999));
        assert!(close_to(bars[2].open, 1.2));
        assert_eq!(bars[2].time, at("2024-03-04T02:00:00Z"));
    }

    #[test]
    fn a_position_marks_at_its_open_price_unless_told_otherwise() {
        let p = PositionBuilder::new("EURUSD", Side::Buy)
            .open_price(Decimal::new(11, 1))
            .build();
        assert_eq!(p.current_price, Decimal::new(11, 1));
        let q = PositionBuilder::new("EURUSD", Side::Sell)
            .open_price(Decimal::new(11, 1))
            .current_price(Decimal::new(12, 1))
            .build();
        assert_eq!(q.current_price, Decimal::new(12, 1));
    }

    #[test]
    fn the_canonical_specs_carry_their_digits() {
        assert_eq!(
            [eurusd(), gbpusd(), usdjpy(), xauusd()].map(|s| s.digits),
            [5, 5, 3, 2]
        );
    }
}
