//! Net exposure per currency and total open risk across the portfolio.

use std::collections::BTreeMap;

use mtq_core::{Currency, Decimal, FxRates, Position, Side, SymbolSpec};

use crate::Refusal;
use crate::money::{SpecLookup, lookup, open_risk, overflow, value_per_price_unit};

/// Signed net exposure per currency, valued in the account currency: positive is long the
/// currency, negative short. A long EURUSD is long EUR and short USD by the same value, so long
/// EURUSD plus long GBPUSD is twice as short USD as either alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CurrencyExposure {
    net: BTreeMap<Currency, Decimal>,
}

impl CurrencyExposure {
    /// The exposure of every position in `positions`.
    pub fn of_positions(
        positions: &[Position],
        specs: &dyn SpecLookup,
        account: Currency,
        rates: &dyn FxRates,
    ) -> Result<Self, Refusal> {
        let mut out = Self::default();
        for p in positions {
            let spec = lookup(specs, &p.symbol)?;
            out.add(spec, p.side, p.volume, p.current_price, account, rates)?;
        }
        Ok(out)
    }

    /// Adds `volume` lots of `side` at `price`. Both legs are valued through the profit
    /// currency (`volume * contract_size * price`), so gold needs no XAU rate, only the dollar's.
    /// A symbol whose base and profit currency are the same (an index CFD) adds nothing.
    pub fn add(
        &mut self,
        spec: &SymbolSpec,
        side: Side,
        volume: Decimal,
        price: Decimal,
        account: Currency,
        rates: &dyn FxRates,
    ) -> Result<(), Refusal> {
        if spec.base_currency == spec.profit_currency {
            return Ok(());
        }
        let per_unit = value_per_price_unit(spec, account, rates)?;
        let value = volume
            .checked_mul(price)
            .and_then(|v| v.checked_mul(per_unit))
            .ok_or_else(|| overflow("valuing the currency exposure"))?;
        let value = match side {
            Side::Buy => value,
            Side::Sell => -value,
        };
        *self.net.entry(spec.base_currency).or_default() += value;
        *self.net.entry(spec.profit_currency).or_default() -= value;
        Ok(())
    }

    /// Net exposure to `currency`, zero when there is none.
    pub fn get(&self, currency: Currency) -> Decimal {
        self.net.get(&currency).copied().unwrap_or_default()
    }

    pub fn iter(&self) -> impl Iterator<Item = (Currency, Decimal)> + '_ {
        self.net.iter().map(|(c, v)| (*c, *v))
    }
}

/// Total open risk: for each position, what it loses between its open price and its stop loss,
/// floored at zero (a stop at breakeven or beyond risks nothing). A position without a stop loss
/// has unbounded risk and is refused by name.
pub fn total_open_risk(
    positions: &[Position],
    specs: &dyn SpecLookup,
    account: Currency,
    rates: &dyn FxRates,
) -> Result<Decimal, Refusal> {
    let mut sum = Decimal::ZERO;
    for p in positions {
        let spec = lookup(specs, &p.symbol)?;
        let sl = p.sl.ok_or_else(|| Refusal::UnboundedOpenRisk {
            ticket: p.ticket,
            symbol: p.symbol.clone(),
        })?;
        let r = open_risk(spec, p.side, p.volume, p.open_price, sl, account, rates)?;
        sum = sum
            .checked_add(r)
            .ok_or_else(|| overflow("summing the open risk"))?;
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::*;
    use rust_decimal_macros::dec;

    #[test]
    fn long_eurusd_and_long_gbpusd_are_twice_short_usd() {
        let specs = vec![spec("EURUSD"), spec("GBPUSD")];
        let positions = [
            position(1, "EURUSD", Side::Buy, dec!(1), dec!(1.10), None),
            position(2, "GBPUSD", Side::Buy, dec!(1), dec!(1.10), None),
        ];
        let e =
            CurrencyExposure::of_positions(&positions, &specs, Currency::USD, &rates()).unwrap();
        assert_eq!(e.get(Currency::USD), dec!(-220000));
        assert_eq!(e.get(Currency::EUR), dec!(110000));
        assert_eq!(e.get(Currency::GBP), dec!(110000));
    }

    #[test]
    fn opposite_positions_net_out() {
        let specs = vec![spec("EURUSD"), spec("USDJPY")];
        let positions = [
            position(1, "EURUSD", Side::Buy, dec!(1), dec!(1.10), None),
            position(2, "USDJPY", Side::Buy, dec!(1.1), dec!(150), None),
        ];
        let e =
            CurrencyExposure::of_positions(&positions, &specs, Currency::USD, &rates()).unwrap();
        // Short 110,000 USD against EUR, long 110,000 USD against JPY.
        assert_eq!(e.get(Currency::USD).round_dp(6), dec!(0));
        assert_eq!(e.get(Currency::JPY).round_dp(6), dec!(-110000));
    }

    #[test]
    fn gold_exposure_needs_only_the_dollar_rate() {
        let specs = vec![spec("XAUUSD")];
        let positions = [position(
            1,
            "XAUUSD",
            Side::Sell,
            dec!(0.5),
            dec!(2000),
            None,
        )];
        let e =
            CurrencyExposure::of_positions(&positions, &specs, Currency::JPY, &rates()).unwrap();
        assert_eq!(e.get(Currency::new("XAU").unwrap()), dec!(-15000000));
        assert_eq!(e.get(Currency::USD), dec!(15000000));
    }

    #[test]
    fn open_risk_sums_entry_to_stop_and_refuses_a_position_without_a_stop() {
        let specs = vec![spec("EURUSD"), spec("USDJPY")];
        let mut positions = vec![
            position(
                1,
                "EURUSD",
                Side::Buy,
                dec!(0.5),
                dec!(1.1),
                Some(dec!(1.098)),
            ),
            position(2, "USDJPY", Side::Sell, dec!(1), dec!(150), Some(dec!(149))),
        ];
        let r = total_open_risk(&positions, &specs, Currency::USD, &rates()).unwrap();
        assert_eq!(r, dec!(100));
        positions.push(position(3, "USDJPY", Side::Buy, dec!(1), dec!(150), None));
        let err = total_open_risk(&positions, &specs, Currency::USD, &rates()).unwrap_err();
        assert_eq!(err.code(), "unbounded_open_risk");
        assert!(err.to_string().contains("#3"), "{err}");
    }

    #[test]
    fn a_position_on_an_unknown_symbol_is_named() {
        let positions = [position(1, "EURUSD", Side::Buy, dec!(1), dec!(1.1), None)];
        let err = CurrencyExposure::of_positions(&positions, &Vec::new(), Currency::USD, &rates())
            .unwrap_err();
        assert!(err.to_string().contains("EURUSD"), "{err}");
    }
}
