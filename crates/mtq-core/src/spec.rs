//! Symbol specifications (MT5 `SYMBOL_*` properties) and the price, volume and pip arithmetic
//! built on them.

use std::collections::BTreeMap;

use chrono::Weekday;
use rust_decimal::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{CoreError, Currency, FillPolicy, FxRates, OrderKind, Symbol};

/// Which trades the symbol allows (`SYMBOL_TRADE_MODE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TradeMode {
    Disabled,
    LongOnly,
    ShortOnly,
    CloseOnly,
    #[default]
    Full,
}

/// How market orders are executed (`SYMBOL_TRADE_EXECUTION_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionMode {
    /// The dealer confirms a price first.
    Request,
    /// At the requested price within the deviation, or a requote.
    Instant,
    /// At whatever price the market gives; no requotes.
    #[default]
    Market,
    /// Exchange execution.
    Exchange,
}

/// How swap is quoted (`SYMBOL_SWAP_MODE_*`). The reopen modes are not supported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SwapMode {
    Disabled,
    /// Points per lot per night.
    #[default]
    Points,
    /// Money in the base currency per lot.
    CurrencySymbol,
    /// Money in the margin currency per lot.
    CurrencyMargin,
    /// Money in the account currency per lot.
    CurrencyDeposit,
    /// Money in the profit currency per lot.
    CurrencyProfit,
    /// Annual interest in percent of the position's value at the current price.
    InterestCurrent,
    /// Annual interest in percent of the position's value at its open price.
    InterestOpen,
}

/// The symbol's allowed filling policies (`SYMBOL_FILLING_MODE` bit flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FillingFlags(pub u32);

impl FillingFlags {
    /// `SYMBOL_FILLING_FOK`.
    pub const FOK: u32 = 1;
    /// `SYMBOL_FILLING_IOC`.
    pub const IOC: u32 = 2;

    /// Whether a request with `policy` may be sent for a symbol with these flags and execution.
    /// RETURN is allowed in every mode but market and instant execution, as in MT5.
    pub fn allows(self, policy: FillPolicy, execution: ExecutionMode) -> bool {
        match policy {
            FillPolicy::Fok => self.0 & Self::FOK != 0,
            FillPolicy::Ioc => self.0 & Self::IOC != 0,
            FillPolicy::Return => {
                !matches!(execution, ExecutionMode::Market | ExecutionMode::Instant)
            }
        }
    }
}

/// Everything MTQ needs to know about how a symbol trades. Users copy these values from their
/// broker's symbol specification window; [`SymbolSpec::builtin`] has typical ones for majors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SymbolSpec {
    pub symbol: Symbol,
    /// Decimal places in a quote (`SYMBOL_DIGITS`).
    pub digits: u32,
    /// One point, `10^-digits` (`SYMBOL_POINT`).
    pub point: Decimal,
    /// Smallest price change (`SYMBOL_TRADE_TICK_SIZE`).
    pub tick_size: Decimal,
    /// Value of one tick for one lot in the account currency, as the broker reports it
    /// (`SYMBOL_TRADE_TICK_VALUE`). It drifts with rates for crosses: prefer
    /// [`SymbolSpec::pip_value`] with live rates.
    pub tick_value: Decimal,
    /// Units of the base currency in one lot (`SYMBOL_TRADE_CONTRACT_SIZE`).
    pub contract_size: Decimal,
    pub volume_min: Decimal,
    pub volume_max: Decimal,
    pub volume_step: Decimal,
    /// Minimum distance in points between the price and SL/TP or a pending order's price
    /// (`SYMBOL_TRADE_STOPS_LEVEL`).
    pub stops_level: u32,
    /// Distance in points within which orders and positions may not be modified
    /// (`SYMBOL_TRADE_FREEZE_LEVEL`).
    pub freeze_level: u32,
    pub filling: FillingFlags,
    pub execution: ExecutionMode,
    pub trade_mode: TradeMode,
    pub swap_mode: SwapMode,
    /// Swap for long positions per night, in the unit `swap_mode` says; negative is a charge.
    pub swap_long: Decimal,
    pub swap_short: Decimal,
    /// Night on which triple swap is charged (`SYMBOL_SWAP_ROLLOVER3DAYS`), usually Wednesday.
    pub swap_rollover3days: Weekday,
    pub base_currency: Currency,
    pub profit_currency: Currency,
    pub margin_currency: Currency,
}

/// A spec entry from a YAML file: any field may be left out to keep the built-in or derived value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecPatch {
    digits: Option<u32>,
    point: Option<Decimal>,
    tick_size: Option<Decimal>,
    tick_value: Option<Decimal>,
    contract_size: Option<Decimal>,
    volume_min: Option<Decimal>,
    volume_max: Option<Decimal>,
    volume_step: Option<Decimal>,
    stops_level: Option<u32>,
    freeze_level: Option<u32>,
    filling: Option<u32>,
    execution: Option<ExecutionMode>,
    trade_mode: Option<TradeMode>,
    swap_mode: Option<SwapMode>,
    swap_long: Option<Decimal>,
    swap_short: Option<Decimal>,
    swap_rollover3days: Option<Weekday>,
    base_currency: Option<Currency>,
    profit_currency: Option<Currency>,
    margin_currency: Option<Currency>,
}

fn pow10_neg(digits: u32) -> Decimal {
    Decimal::new(1, digits)
}

fn invalid(
    symbol: &str,
    field: &'static str,
    value: impl ToString,
    reason: &'static str,
) -> CoreError {
    CoreError::InvalidSpec {
        symbol: symbol.to_string(),
        field,
        value: value.to_string(),
        reason,
    }
}

impl SymbolSpec {
    /// The filling policy an order of `kind` goes out with: the requested one when the symbol
    /// allows it, else the first the symbol allows of FOK, IOC and RETURN; `None` when it allows
    /// none. Request and instant execution take FOK for market orders whatever the flags say,
    /// and pending orders there are placed with RETURN (MQL5 reference, "Filling Policy").
    /// The connector sends this, and the intent records it, so the two agree.
    pub fn filling_for(&self, kind: OrderKind, requested: FillPolicy) -> Option<FillPolicy> {
        if matches!(
            self.execution,
            ExecutionMode::Request | ExecutionMode::Instant
        ) {
            return Some(if kind == OrderKind::Market {
                FillPolicy::Fok
            } else {
                FillPolicy::Return
            });
        }
        if self.filling.allows(requested, self.execution) {
            return Some(requested);
        }
        [FillPolicy::Fok, FillPolicy::Ioc, FillPolicy::Return]
            .into_iter()
            .find(|p| self.filling.allows(*p, self.execution))
    }

    /// A typical forex spec for a currency pair: 5 digits (3 for JPY quotes), 100,000 units a lot,
    /// 0.01 to 100 lots in 0.01 steps, FOK and IOC filling, market execution, no swap.
    /// `tick_value` is in the profit currency; correct it for the account when that differs.
    pub fn forex(symbol: Symbol, base: Currency, quote: Currency) -> Self {
        let digits = if quote == Currency::JPY { 3 } else { 5 };
        let point = pow10_neg(digits);
        let contract_size = Decimal::from(100_000);
        Self {
            symbol,
            digits,
            point,
            tick_size: point,
            tick_value: point * contract_size,
            contract_size,
            volume_min: Decimal::new(1, 2),
            volume_max: Decimal::from(100),
            volume_step: Decimal::new(1, 2),
            stops_level: 0,
            freeze_level: 0,
            filling: FillingFlags(FillingFlags::FOK | FillingFlags::IOC),
            execution: ExecutionMode::Market,
            trade_mode: TradeMode::Full,
            swap_mode: SwapMode::Points,
            swap_long: Decimal::ZERO,
            swap_short: Decimal::ZERO,
            swap_rollover3days: Weekday::Wed,
            base_currency: base,
            profit_currency: quote,
            margin_currency: base,
        }
    }

    /// Built-in specs for the majors, a few crosses and gold, with typical retail values and swaps
    /// (points per lot per night). Tick values assume a USD account at reference rates.
    pub fn builtin(name: &str) -> Option<Self> {
        let symbol = Symbol::new(name).ok()?;
        let (base, quote) = symbol.currency_pair()?;
        // (name, swap_long, swap_short, USD value of one unit of the quote currency)
        let table: [(&str, i64, i64, Decimal); 12] = [
            ("EURUSD", -70, 25, Decimal::ONE),
            ("GBPUSD", -40, 5, Decimal::ONE),
            ("AUDUSD", -30, 5, Decimal::ONE),
            ("NZDUSD", -20, 0, Decimal::ONE),
            ("USDJPY", 150, -300, Decimal::new(6667, 6)),
            ("USDCHF", 60, -120, Decimal::new(1136, 3)),
            ("USDCAD", 20, -60, Decimal::new(735, 3)),
            ("EURGBP", -50, 10, Decimal::new(127, 2)),
            ("EURJPY", 90, -250, Decimal::new(6667, 6)),
            ("GBPJPY", 120, -300, Decimal::new(6667, 6)),
            ("EURCHF", 10, -70, Decimal::new(1136, 3)),
            ("XAUUSD", -500, 200, Decimal::ONE),
        ];
        let (_, long, short, quote_usd) = table.iter().find(|(n, ..)| *n == name)?;
        let mut spec = Self::forex(symbol, base, quote);
        if name == "XAUUSD" {
            spec.digits = 2;
            spec.point = pow10_neg(2);
            spec.tick_size = spec.point;
            spec.contract_size = Decimal::from(100);
        }
        // The table holds tenths of a point.
        spec.swap_long = Decimal::new(*long, 1);
        spec.swap_short = Decimal::new(*short, 1);
        spec.tick_value = spec.tick_size * spec.contract_size * quote_usd;
        Some(spec)
    }

    /// Loads a YAML map of symbol name -> fields. Each entry starts from the built-in spec (also
    /// for suffixed names such as `EURUSD.m`), else from [`SymbolSpec::forex`] when the name starts
    /// with a currency pair; other symbols must name `digits`, `contract_size`, `base_currency` and
    /// `profit_currency`. Unknown fields and inconsistent values are errors naming symbol and field.
    pub fn map_from_yaml(yaml: &str) -> Result<BTreeMap<Symbol, SymbolSpec>, CoreError> {
        let raw: BTreeMap<String, SpecPatch> =
            serde_norway::from_str(yaml).map_err(|e| CoreError::SpecYaml(e.to_string()))?;
        let mut out = BTreeMap::new();
        for (name, patch) in raw {
            let spec = Self::from_patch(&name, patch)?;
            out.insert(spec.symbol.clone(), spec);
        }
        Ok(out)
    }

    fn from_patch(name: &str, p: SpecPatch) -> Result<Self, CoreError> {
        let symbol = Symbol::new(name)?;
        let base = Self::builtin(name)
            .or_else(|| name.get(..6).and_then(Self::builtin))
            .map(|mut s| {
                s.symbol = symbol.clone();
                s
            })
            .or_else(|| {
                symbol
                    .currency_pair()
                    .map(|(b, q)| Self::forex(symbol.clone(), b, q))
            });
        let mut s = match base {
            Some(s) => s,
            None => {
                let need = |v: Option<Currency>, field| {
                    v.ok_or_else(|| {
                        invalid(
                            name,
                            field,
                            "missing",
                            "required for a symbol that is not a currency pair",
                        )
                    })
                };
                let base_ccy = need(p.base_currency, "base_currency")?;
                let profit = need(p.profit_currency, "profit_currency")?;
                if p.digits.is_none() || p.contract_size.is_none() {
                    let field = if p.digits.is_none() {
                        "digits"
                    } else {
                        "contract_size"
                    };
                    return Err(invalid(
                        name,
                        field,
                        "missing",
                        "required for a symbol that is not a currency pair",
                    ));
                }
                Self::forex(symbol, base_ccy, profit)
            }
        };
        if let Some(d) = p.digits {
            if d > 10 {
                return Err(invalid(name, "digits", d, "must be between 0 and 10"));
            }
            s.digits = d;
            s.point = pow10_neg(d);
            s.tick_size = s.point;
        }
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = p.$f { s.$f = v; } )* };
        }
        set!(
            point,
            tick_size,
            contract_size,
            volume_min,
            volume_max,
            volume_step,
            stops_level,
            freeze_level,
            execution,
            trade_mode,
            swap_mode,
            swap_long,
            swap_short,
            swap_rollover3days,
            base_currency,
            profit_currency,
            margin_currency
        );
        if let Some(f) = p.filling {
            s.filling = FillingFlags(f);
        }
        s.tick_value = p.tick_value.unwrap_or(s.tick_size * s.contract_size);
        if p.margin_currency.is_none() && p.base_currency.is_some() {
            s.margin_currency = s.base_currency;
        }
        s.validate()?;
        Ok(s)
    }

    /// Checks the spec is internally consistent; the error names the field to fix.
    pub fn validate(&self) -> Result<(), CoreError> {
        let n = self.symbol.as_str();
        let positive = |v: Decimal, field| {
            if v > Decimal::ZERO {
                Ok(())
            } else {
                Err(invalid(n, field, v, "must be greater than zero"))
            }
        };
        positive(self.point, "point")?;
        positive(self.tick_size, "tick_size")?;
        positive(self.tick_value, "tick_value")?;
        positive(self.contract_size, "contract_size")?;
        positive(self.volume_min, "volume_min")?;
        positive(self.volume_step, "volume_step")?;
        if self.volume_max < self.volume_min {
            return Err(invalid(
                n,
                "volume_max",
                self.volume_max,
                "must not be below volume_min",
            ));
        }
        if !(self.tick_size % self.point).is_zero() {
            return Err(invalid(
                n,
                "tick_size",
                self.tick_size,
                "must be a multiple of point",
            ));
        }
        if self.filling.0 > 7 {
            return Err(invalid(
                n,
                "filling",
                self.filling.0,
                "is a bit mask of 1 (FOK), 2 (IOC) and 4 (BOC)",
            ));
        }
        Ok(())
    }

    /// The price rounded to the nearest tick and to `digits` places: what a broker accepts.
    pub fn normalize_price(&self, price: Decimal) -> Decimal {
        let ticks = (price / self.tick_size).round();
        (ticks * self.tick_size).round_dp(self.digits).normalize()
    }

    /// An `f64` series price normalised for the broker. Non-finite input gives `None`.
    pub fn normalize_price_f64(&self, price: f64) -> Option<Decimal> {
        if !price.is_finite() {
            return None;
        }
        self.round_price_f64(price)
            .or_else(|| Decimal::from_f64(price).map(|p| self.normalize_price(p)))
    }

    /// The same result as converting `price` to a decimal and normalising it, computed in `f64`
    /// (the exact conversion costs a few hundred nanoseconds), when that cannot differ: the tick
    /// is one point, the scaled price is an exact `f64` integer range, and it is not within
    /// 1e-6 of a rounding midpoint (where the two roundings could disagree). `None` otherwise.
    fn round_price_f64(&self, price: f64) -> Option<Decimal> {
        // 10^digits, exact in `f64` for every digit count allowed here.
        const POW10: [f64; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];
        let scale = *POW10.get(usize::try_from(self.digits).ok()?)?;
        // A tick of one point written `1e-digits` (another spelling of it takes the exact path).
        if self.tick_size.mantissa() != 1 || self.tick_size.scale() != self.digits {
            return None;
        }
        let scaled = price * scale;
        if scaled.is_nan() || scaled.abs() >= 1e15 {
            return None;
        }
        // |scaled| < 1e15 < 2^50: the casts truncate toward zero exactly and convert back
        // exactly, so `floor` and `round` (library calls on the baseline x86-64 target) are
        // integer arithmetic here.
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        let floor = {
            let t = scaled as i64;
            if t as f64 > scaled { t - 1 } else { t }
        };
        #[allow(clippy::cast_precision_loss)]
        let frac = scaled - floor as f64;
        if (frac - 0.5).abs() < 1e-6 {
            return None;
        }
        let mut units = if frac > 0.5 { floor + 1 } else { floor };
        // `Decimal::normalize`: no trailing zeros, and zero without decimals.
        let mut digits = self.digits;
        if units == 0 {
            return Some(Decimal::ZERO);
        }
        while digits > 0 && units % 10 == 0 {
            units /= 10;
            digits -= 1;
        }
        Some(crate::decimal_of(units, digits))
    }

    /// Whether `price` sits exactly on the tick grid.
    pub fn is_price_normalized(&self, price: Decimal) -> bool {
        (price % self.tick_size).is_zero()
    }

    /// The volume rounded *down* to the volume step and capped at `volume_max`; `None` when that
    /// leaves less than `volume_min` (never rounds up: that would risk more than asked).
    pub fn normalize_volume(&self, volume: Decimal) -> Option<Decimal> {
        let steps = (volume / self.volume_step).floor();
        let v = (steps * self.volume_step).min(self.volume_max);
        let v = (v / self.volume_step).floor() * self.volume_step;
        (v >= self.volume_min).then(|| v.normalize())
    }

    /// Whether MT5 would accept `volume` as it is: within min/max and on the step grid.
    pub fn is_volume_valid(&self, volume: Decimal) -> bool {
        volume >= self.volume_min
            && volume <= self.volume_max
            && (volume % self.volume_step).is_zero()
    }

    /// One pip: ten points on 5- and 3-digit quotes (and 1-digit), one point on 4- and 2-digit ones.
    pub fn pip_size(&self) -> Decimal {
        if self.digits % 2 == 1 {
            self.point * Decimal::TEN
        } else {
            self.point
        }
    }

    pub fn pips_to_price(&self, pips: Decimal) -> Decimal {
        pips * self.pip_size()
    }

    pub fn price_to_pips(&self, distance: Decimal) -> Decimal {
        distance / self.pip_size()
    }

    pub fn points_to_price(&self, points: Decimal) -> Decimal {
        points * self.point
    }

    pub fn price_to_points(&self, distance: Decimal) -> Decimal {
        distance / self.point
    }

    /// Points per pip (10 or 1).
    pub fn points_per_pip(&self) -> Decimal {
        self.pip_size() / self.point
    }

    /// Value of one pip for `volume` lots in `account` currency, converted with `rates`.
    /// `None` when the rates cannot convert the profit currency.
    pub fn pip_value(
        &self,
        volume: Decimal,
        account: Currency,
        rates: &dyn FxRates,
    ) -> Option<Decimal> {
        let in_profit = self.pip_size() * self.contract_size * volume;
        rates.convert(in_profit, self.profit_currency, account)
    }

    /// Value of one price unit move for one lot in `account` currency (`contract_size` converted).
    pub fn value_per_price_unit(&self, account: Currency, rates: &dyn FxRates) -> Option<Decimal> {
        rates.convert(self.contract_size, self.profit_currency, account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StaticRates;
    use crate::testkit::eurusd;
    use rust_decimal_macros::dec;

    #[test]
    fn prices_round_to_the_nearest_tick() {
        let s = eurusd();
        assert_eq!(s.normalize_price(dec!(1.123456)), dec!(1.12346));
        assert_eq!(s.normalize_price_f64(1.1).unwrap(), dec!(1.1));
        let mut coarse = s.clone();
        coarse.tick_size = dec!(0.00005);
        assert_eq!(coarse.normalize_price(dec!(1.12342)), dec!(1.1234));
        assert_eq!(coarse.normalize_price(dec!(1.12343)), dec!(1.12345));
        assert!(s.normalize_price_f64(f64::NAN).is_none());
    }

    #[test]
    fn volumes_round_down_to_the_step_and_never_up_to_the_minimum() {
        let s = eurusd();
        assert_eq!(s.normalize_volume(dec!(0.129)), Some(dec!(0.12)));
        assert_eq!(s.normalize_volume(dec!(250)), Some(dec!(100)));
        assert_eq!(s.normalize_volume(dec!(0.009)), None);
        assert!(s.is_volume_valid(dec!(0.12)));
        assert!(!s.is_volume_valid(dec!(0.125)));
        assert!(!s.is_volume_valid(dec!(100.01)));
    }

    #[test]
    fn a_pip_is_ten_points_on_five_and_three_digit_quotes() {
        let eu = eurusd();
        assert_eq!(eu.pip_size(), dec!(0.0001));
        assert_eq!(eu.pips_to_price(dec!(20)), dec!(0.0020));
        assert_eq!(eu.price_to_pips(dec!(0.0015)), dec!(15));
        assert_eq!(eu.price_to_points(dec!(0.0015)), dec!(150));
        let uj = SymbolSpec::builtin("USDJPY").unwrap();
        assert_eq!(uj.pip_size(), dec!(0.01));
        let mut four = eu;
        four.digits = 4;
        four.point = dec!(0.0001);
        assert_eq!(four.pip_size(), dec!(0.0001));
        assert_eq!(four.points_per_pip(), dec!(1));
    }

    #[test]
    fn pip_value_converts_the_profit_currency_into_the_account_currency() {
        let rates = StaticRates::new()
            .with(Currency::USD, Currency::JPY, dec!(150))
            .with(Currency::GBP, Currency::USD, dec!(1.25))
            .with(Currency::EUR, Currency::USD, dec!(1.10));
        let eu = eurusd();
        assert_eq!(eu.pip_value(dec!(1), Currency::USD, &rates), Some(dec!(10)));
        // 1 lot USDJPY: 1000 JPY per pip = 6.67 USD.
        let uj = SymbolSpec::builtin("USDJPY").unwrap();
        let v = uj.pip_value(dec!(1), Currency::USD, &rates).unwrap();
        assert_eq!(v.round_dp(4), dec!(6.6667));
        // 1 lot EURGBP in a USD account: 10 GBP = 12.50 USD; in a EUR account 10 GBP = 11.36 EUR.
        let eg = SymbolSpec::builtin("EURGBP").unwrap();
        assert_eq!(
            eg.pip_value(dec!(1), Currency::USD, &rates),
            Some(dec!(12.5))
        );
        let in_eur = eg.pip_value(dec!(1), Currency::EUR, &rates).unwrap();
        assert_eq!(in_eur.round_dp(2), dec!(11.36));
        // Gold: 100 oz, pip 0.01 -> 1 USD per lot.
        let xau = SymbolSpec::builtin("XAUUSD").unwrap();
        assert_eq!(xau.pip_value(dec!(1), Currency::USD, &rates), Some(dec!(1)));
    }

    #[test]
    fn filling_flags_follow_mt5_rules() {
        let f = FillingFlags(FillingFlags::FOK);
        assert!(f.allows(FillPolicy::Fok, ExecutionMode::Market));
        assert!(!f.allows(FillPolicy::Ioc, ExecutionMode::Market));
        assert!(!f.allows(FillPolicy::Return, ExecutionMode::Market));
        assert!(f.allows(FillPolicy::Return, ExecutionMode::Exchange));
    }

    #[test]
    fn yaml_specs_start_from_builtins_and_name_the_bad_field() {
        let yaml = "
EURUSD.m:
  stops_level: 10
  swap_long: -6.5
GER40:
  digits: 1
  contract_size: 1
  base_currency: EUR
  profit_currency: EUR
  volume_min: 0.1
  volume_step: 0.1
";
        let specs = SymbolSpec::map_from_yaml(yaml).unwrap();
        let eu = &specs[&Symbol::new("EURUSD.m").unwrap()];
        assert_eq!(eu.stops_level, 10);
        assert_eq!(eu.swap_long, dec!(-6.5));
        assert_eq!(eu.digits, 5);
        let ger = &specs[&Symbol::new("GER40").unwrap()];
        assert_eq!(ger.point, dec!(0.1));
        assert_eq!(ger.margin_currency, Currency::EUR);

        let err = SymbolSpec::map_from_yaml("EURUSD:\n  volume_stp: 0.01\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("volume_stp"), "{err}");
        let err = SymbolSpec::map_from_yaml("EURUSD:\n  volume_step: 0\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("EURUSD") && err.contains("volume_step"),
            "{err}"
        );
        let err = SymbolSpec::map_from_yaml("GER40:\n  digits: 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("base_currency"), "{err}");
    }

    #[test]
    fn every_builtin_spec_is_valid() {
        for name in [
            "EURUSD", "GBPUSD", "AUDUSD", "NZDUSD", "USDJPY", "USDCHF", "USDCAD", "EURGBP",
            "EURJPY", "GBPJPY", "EURCHF", "XAUUSD",
        ] {
            SymbolSpec::builtin(name).unwrap().validate().unwrap();
        }
    }
}

#[cfg(test)]
mod example_config {
    use super::*;

    #[test]
    fn the_example_symbols_file_loads() {
        let yaml = include_str!("../../../config/symbols.yaml");
        let specs = SymbolSpec::map_from_yaml(yaml).unwrap();
        assert_eq!(specs.len(), 6);
        let raw = &specs[&Symbol::new("EURUSD.raw").unwrap()];
        assert_eq!(
            (raw.stops_level, raw.freeze_level, raw.filling.0),
            (10, 5, 2)
        );
        assert_eq!(raw.base_currency, Currency::EUR);
    }

    proptest::proptest! {
        /// The f64 fast path agrees with the exact decimal conversion on every built-in spec.
        #[test]
        fn f64_prices_normalise_as_the_exact_decimal_does(
            name in proptest::sample::select(vec!["EURUSD", "USDJPY", "XAUUSD", "GBPUSD"]),
            price in 0.0001f64..20_000.0,
        ) {
            let spec = SymbolSpec::builtin(name).unwrap();
            let exact = Decimal::from_f64(price).map(|p| spec.normalize_price(p));
            proptest::prop_assert_eq!(spec.normalize_price_f64(price), exact);
        }
    }

    /// Prices on and near the grid, rounding ties and signs, for every spec shape the fast path
    /// takes and one it does not: the same value written the same way (scale included).
    #[test]
    fn f64_prices_on_and_off_the_grid_normalise_as_the_exact_decimal_does() {
        let mut rng = crate::SplitMix64::new(29);
        let mut odd_tick = SymbolSpec::builtin("EURUSD").unwrap();
        odd_tick.tick_size = Decimal::new(10, 6);
        let specs = [
            SymbolSpec::builtin("EURUSD").unwrap(),
            SymbolSpec::builtin("USDJPY").unwrap(),
            SymbolSpec::builtin("XAUUSD").unwrap(),
            odd_tick,
        ];
        for spec in &specs {
            let scale = 10f64.powi(i32::try_from(spec.digits).unwrap());
            for _ in 0..100_000 {
                let whole = (rng.next_f64() * 2_000_000.0).floor();
                let sign = if rng.below_inclusive(9) == 0 {
                    -1.0
                } else {
                    1.0
                };
                for scaled in [
                    whole,
                    whole + 0.5,
                    whole + 0.5 + 1e-7,
                    whole + rng.next_f64(),
                    whole + 0.999_999_9,
                ] {
                    let price = sign * scaled / scale;
                    let exact = Decimal::from_f64(price).map(|p| spec.normalize_price(p));
                    let fast = spec.normalize_price_f64(price);
                    assert_eq!(
                        fast.map(|d| d.to_string()),
                        exact.map(|d| d.to_string()),
                        "{price} on {}",
                        spec.symbol
                    );
                }
            }
            for price in [0.0, -0.0, 1e-12, 1e14, -3.5] {
                let exact = Decimal::from_f64(price).map(|p| spec.normalize_price(p));
                assert_eq!(
                    spec.normalize_price_f64(price).map(|d| d.to_string()),
                    exact.map(|d| d.to_string()),
                    "{price}"
                );
            }
        }
    }
}
