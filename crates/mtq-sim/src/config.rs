//! How the simulated broker behaves: the account, costs, fills, market hours and faults.

use chrono::{DateTime, Datelike, NaiveTime, Timelike, Utc, Weekday};
use mtq_core::{Currency, Decimal, MarginMode, StaticRates, SymbolSpec, Timeframe};
use serde::{Deserialize, Serialize};

/// The simulated account and its broker's rules. Build with `Default` and struct update.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub login: u64,
    pub server: String,
    pub currency: Currency,
    /// Opening balance, booked as a balance deal.
    pub deposit: Decimal,
    /// 1:N.
    pub leverage: u32,
    pub margin_mode: MarginMode,
    pub commission: Commission,
    pub slippage: Slippage,
    /// Spread in points when a bar has none (its `spread` is 0).
    pub default_spread_points: u32,
    pub intrabar: IntrabarPath,
    /// Margin level in percent at which the biggest loser is closed (MT5 `ACCOUNT_MARGIN_SO_SO`).
    pub stop_out_level: Decimal,
    /// The broker server's offset from UTC in seconds; the daily rollover happens at server midnight.
    pub server_utc_offset_secs: i32,
    pub market_hours: MarketHours,
    /// Rates used when no simulated quote can convert a currency (e.g. a EURGBP-only backtest in a
    /// USD account needs GBP/USD from somewhere).
    pub fallback_rates: StaticRates,
    /// Decimal places of money in the account currency (MT5 `ACCOUNT_CURRENCY_DIGITS`).
    pub money_digits: u32,
    /// Terminal's "Algo Trading" button; off gives 10027.
    pub client_autotrading: bool,
    /// Server-side permission for experts; off gives 10026.
    pub server_autotrading: bool,
    /// Most pending orders the account may hold (10033 beyond it); 0 is no limit.
    pub max_pending_orders: usize,
    /// Most open positions the account may hold (10040 beyond it); 0 is no limit.
    pub max_positions: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            login: 1_000_001,
            server: "MTQ-Sim".into(),
            currency: Currency::USD,
            deposit: Decimal::from(10_000),
            leverage: 100,
            margin_mode: MarginMode::Hedging,
            commission: Commission::None,
            slippage: Slippage::None,
            default_spread_points: 10,
            intrabar: IntrabarPath::NearerExtremeFirst,
            stop_out_level: Decimal::from(50),
            server_utc_offset_secs: 0,
            market_hours: MarketHours::FromData,
            fallback_rates: StaticRates::new(),
            money_digits: 2,
            client_autotrading: true,
            server_autotrading: true,
            max_pending_orders: 0,
            max_positions: 0,
        }
    }
}

/// Commission charged on every deal (entry and exit), in the account currency.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Commission {
    #[default]
    None,
    /// Money per lot per side, e.g. 3.5 (7 round turn).
    PerLot(Decimal),
    /// Fraction of the deal's notional value per side, e.g. 0.00002 (0.2 bp).
    Rate(Decimal),
}

/// How far from the quoted price market and stop orders fill, always against the trader.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Slippage {
    #[default]
    None,
    /// Always this many points.
    Fixed(u32),
    /// Uniform between 0 and `max_points`, from a seeded generator: the same seed, the same fills.
    Random { max_points: u32, seed: u64 },
}

/// The order in which a bar's prices are assumed to have traded, for SL/TP and pending orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntrabarPath {
    /// open -> the extreme nearer the open -> the other extreme -> close (MT5's "1 minute OHLC"
    /// tester mode moves the same way).
    #[default]
    NearerExtremeFirst,
    /// As above, but when a position's SL and TP both lie inside the bar, the stop is assumed hit
    /// first: the pessimistic choice.
    StopFirst,
}

/// When the market accepts orders.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum MarketHours {
    /// Replaying history: a symbol that has a quote is open (a bar's existence means the market was).
    #[default]
    FromData,
    /// Paper trading on a weekly calendar.
    Weekly(WeeklyCalendar),
}

/// Weekly trading sessions in UTC, each from an open (weekday, time) to a close (weekday, time).
#[derive(Clone, Debug, PartialEq)]
pub struct WeeklyCalendar {
    pub sessions: Vec<(Weekday, NaiveTime, Weekday, NaiveTime)>,
}

impl WeeklyCalendar {
    /// The forex week: Sunday 22:00 UTC (Sydney open) to Friday 22:00 UTC (New York close).
    pub fn forex() -> Self {
        let t = NaiveTime::from_hms_opt(22, 0, 0).unwrap_or_default();
        Self {
            sessions: vec![(Weekday::Sun, t, Weekday::Fri, t)],
        }
    }

    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        let minute_of_week = |d: Weekday, t: NaiveTime| {
            i64::from(d.num_days_from_sunday()) * 1440
                + i64::from(t.hour()) * 60
                + i64::from(t.minute())
        };
        let m = minute_of_week(now.weekday(), now.time());
        self.sessions.iter().any(|&(od, ot, cd, ct)| {
            let (o, c) = (minute_of_week(od, ot), minute_of_week(cd, ct));
            if o <= c {
                m >= o && m < c
            } else {
                m >= o || m < c
            }
        })
    }
}

/// A symbol the simulator trades: its spec, and optionally the timeframe of the bars it is fed
/// (used to stamp intrabar fills with an estimated time inside the bar).
#[derive(Clone, Debug)]
pub struct SimSymbol {
    pub spec: SymbolSpec,
    pub timeframe: Option<Timeframe>,
}

impl From<SymbolSpec> for SimSymbol {
    fn from(spec: SymbolSpec) -> Self {
        Self {
            spec,
            timeframe: None,
        }
    }
}

/// Seeded faults the async broker injects, for testing the layers above. Probabilities are per
/// trade request, 0.0 to 1.0.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct FaultConfig {
    pub seed: u64,
    /// Market orders answered with 10004 (requote) without executing.
    pub requote: f64,
    /// Requests answered with 10006 (rejected) without executing.
    pub reject: f64,
    /// Requests executed, then answered with a timeout: callers must reconcile, never resend.
    pub timeout_after_accept: f64,
    /// Connection drops; half before the request reaches the server, half after it executed.
    pub disconnect: f64,
    /// Artificial latency range in milliseconds for every call.
    pub latency_ms: (u64, u64),
}

pub(crate) fn is_weekly_open(hours: &MarketHours, now: DateTime<Utc>) -> bool {
    match hours {
        MarketHours::FromData => true,
        MarketHours::Weekly(cal) => cal.is_open(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forex_week_opens_sunday_evening_and_closes_friday_evening() {
        let cal = WeeklyCalendar::forex();
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert!(!cal.is_open(t("2024-03-09T12:00:00Z")), "Saturday");
        assert!(
            !cal.is_open(t("2024-03-10T21:59:00Z")),
            "Sunday before the open"
        );
        assert!(cal.is_open(t("2024-03-10T22:00:00Z")), "Sunday open");
        assert!(cal.is_open(t("2024-03-13T03:00:00Z")), "Wednesday");
        assert!(
            cal.is_open(t("2024-03-15T21:59:00Z")),
            "Friday before the close"
        );
        assert!(!cal.is_open(t("2024-03-15T22:00:00Z")), "Friday close");
    }
}
