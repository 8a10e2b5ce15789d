//! Money arithmetic shared by sizing and the checks: what a price move, a stop loss and a margin
//! requirement cost in the account currency.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use mtq_core::{Currency, Decimal, FxRates, Side, Symbol, SymbolSpec};

use crate::Refusal;

/// Where the checks find the specification of a symbol that has an open position.
pub trait SpecLookup {
    fn spec(&self, symbol: &Symbol) -> Option<&SymbolSpec>;
}

impl SpecLookup for BTreeMap<Symbol, SymbolSpec> {
    fn spec(&self, symbol: &Symbol) -> Option<&SymbolSpec> {
        self.get(symbol)
    }
}

impl<S: BuildHasher> SpecLookup for HashMap<Symbol, SymbolSpec, S> {
    fn spec(&self, symbol: &Symbol) -> Option<&SymbolSpec> {
        self.get(symbol)
    }
}

impl SpecLookup for Vec<SymbolSpec> {
    fn spec(&self, symbol: &Symbol) -> Option<&SymbolSpec> {
        self.iter().find(|s| &s.symbol == symbol)
    }
}

pub(crate) fn lookup<'a>(
    specs: &'a dyn SpecLookup,
    symbol: &Symbol,
) -> Result<&'a SymbolSpec, Refusal> {
    specs.spec(symbol).ok_or_else(|| Refusal::UnknownSymbol {
        symbol: symbol.clone(),
    })
}

pub(crate) fn overflow(during: &'static str) -> Refusal {
    Refusal::OutOfRange {
        during: during.into(),
    }
}

/// The value of a one-unit price move for one lot, in `account` currency: the contract size in
/// the profit currency, converted with live `rates`.
///
/// This is the tick value per tick size (`SYMBOL_TRADE_TICK_VALUE / SYMBOL_TRADE_TICK_SIZE`) in the
/// account currency, computed from rates rather than taken from [`SymbolSpec::tick_value`]: the
/// broker's figure assumes one account currency and drifts for crosses, while the rates are
/// correct for EURGBP in a JPY account as well as EURUSD in a USD one.
pub fn value_per_price_unit(
    spec: &SymbolSpec,
    account: Currency,
    rates: &dyn FxRates,
) -> Result<Decimal, Refusal> {
    spec.value_per_price_unit(account, rates)
        .ok_or(Refusal::NoConversionRate {
            from: spec.profit_currency,
            to: account,
        })
}

/// The tick value (one tick, one lot) in `account` currency at `rates`.
pub fn tick_value(
    spec: &SymbolSpec,
    account: Currency,
    rates: &dyn FxRates,
) -> Result<Decimal, Refusal> {
    value_per_price_unit(spec, account, rates).map(|v| v * spec.tick_size)
}

/// The loss on one lot if a `side` position opened at `entry` is stopped at `sl`, in `account`
/// currency (before commission). Refuses a stop on the wrong side of the entry.
pub fn loss_per_lot(
    spec: &SymbolSpec,
    side: Side,
    entry: Decimal,
    sl: Decimal,
    account: Currency,
    rates: &dyn FxRates,
) -> Result<Decimal, Refusal> {
    if entry <= Decimal::ZERO {
        return Err(Refusal::InvalidPrice {
            symbol: spec.symbol.clone(),
            what: "the entry".into(),
            price: entry,
        });
    }
    let distance = match side {
        Side::Buy => entry - sl,
        Side::Sell => sl - entry,
    };
    if distance <= Decimal::ZERO {
        return Err(Refusal::StopLossOnWrongSide {
            symbol: spec.symbol.clone(),
            side,
            entry,
            sl,
        });
    }
    distance
        .checked_mul(value_per_price_unit(spec, account, rates)?)
        .ok_or_else(|| overflow("pricing the stop-loss distance"))
}

/// Margin for `volume` lots at `price`, in `account` currency: the position's value in the profit
/// currency (`volume * contract_size * price`) over the leverage, converted. For a currency pair
/// this equals MT5's Forex formula (`volume * contract_size / leverage` in the base currency),
/// and it also covers gold and CFDs without a rate for the base currency.
pub fn required_margin(
    spec: &SymbolSpec,
    volume: Decimal,
    price: Decimal,
    leverage: u32,
    account: Currency,
    rates: &dyn FxRates,
) -> Result<Decimal, Refusal> {
    if leverage == 0 {
        return Err(Refusal::ZeroLeverage);
    }
    let per_unit = value_per_price_unit(spec, account, rates)?;
    let notional = volume
        .checked_mul(price)
        .and_then(|n| n.checked_mul(per_unit))
        .ok_or_else(|| overflow("computing the required margin"))?;
    Ok(notional / Decimal::from(leverage))
}

/// Money lost between `open_price` and `sl` for an open position, floored at zero: a stop at or
/// beyond breakeven risks nothing more.
pub fn open_risk(
    spec: &SymbolSpec,
    side: Side,
    volume: Decimal,
    open_price: Decimal,
    sl: Decimal,
    account: Currency,
    rates: &dyn FxRates,
) -> Result<Decimal, Refusal> {
    let distance = match side {
        Side::Buy => open_price - sl,
        Side::Sell => sl - open_price,
    };
    if distance <= Decimal::ZERO {
        return Ok(Decimal::ZERO);
    }
    let v = value_per_price_unit(spec, account, rates)?;
    distance
        .checked_mul(v)
        .and_then(|x| x.checked_mul(volume))
        .ok_or_else(|| overflow("summing the open risk"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::*;
    use rust_decimal_macros::dec;

    #[test]
    fn gold_margin_is_priced_in_dollars_and_divided_by_leverage() {
        let xau = spec("XAUUSD");
        // 0.10 lot = 10 oz at 2000 = 20,000 USD; at 1:100 that is 200 USD.
        let m = required_margin(&xau, dec!(0.1), dec!(2000), 100, Currency::USD, &rates()).unwrap();
        assert_eq!(m, dec!(200));
    }

    #[test]
    fn eurusd_margin_matches_mt5_forex_formula_in_a_eur_account() {
        let eu = spec("EURUSD");
        // 1 lot = 100,000 EUR; at 1:100 that is 1,000 EUR whatever the price.
        let m = required_margin(&eu, dec!(1), dec!(1.10), 100, Currency::EUR, &rates()).unwrap();
        assert_eq!(m.round_dp(8), dec!(1000));
    }

    #[test]
    fn zero_leverage_and_missing_rates_are_refused_by_name() {
        let eu = spec("EURUSD");
        assert_eq!(
            required_margin(&eu, dec!(1), dec!(1.1), 0, Currency::USD, &rates()),
            Err(Refusal::ZeroLeverage)
        );
        let err = value_per_price_unit(&eu, Currency::new("CHF").unwrap(), &rates()).unwrap_err();
        assert_eq!(err.code(), "no_conversion_rate");
        assert!(err.to_string().contains("USD to CHF"), "{err}");
    }

    #[test]
    fn a_stop_beyond_breakeven_carries_no_open_risk() {
        let eu = spec("EURUSD");
        let r = open_risk(
            &eu,
            Side::Buy,
            dec!(1),
            dec!(1.1),
            dec!(1.101),
            Currency::USD,
            &rates(),
        );
        assert_eq!(r, Ok(Decimal::ZERO));
        let r = open_risk(
            &eu,
            Side::Sell,
            dec!(1),
            dec!(1.1),
            dec!(1.102),
            Currency::USD,
            &rates(),
        );
        assert_eq!(r.unwrap(), dec!(200));
    }
}
