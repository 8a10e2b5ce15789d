//! Currency conversion: the rates P&L, margin and pip values are converted with.

use std::collections::HashMap;

use rust_decimal::Decimal;

use crate::Currency;

/// A source of exchange rates: how many units of `to` one unit of `from` buys.
pub trait FxRates {
    /// A rate quoted directly (or inversely) by this source, without triangulation.
    fn direct_rate(&self, from: Currency, to: Currency) -> Option<Decimal>;

    /// The rate from `from` to `to`: identity, direct, inverse, or through USD when neither
    /// currency pair is quoted (EURGBP into JPY goes GBP -> USD -> JPY).
    fn rate(&self, from: Currency, to: Currency) -> Option<Decimal> {
        if from == to {
            return Some(Decimal::ONE);
        }
        if let Some(r) = self.direct_rate(from, to) {
            return Some(r);
        }
        let via = Currency::USD;
        if from != via && to != via {
            let a = self.direct_rate(from, via)?;
            let b = self.direct_rate(via, to)?;
            return Some(a * b);
        }
        None
    }

    /// `amount` of `from` in `to`.
    fn convert(&self, amount: Decimal, from: Currency, to: Currency) -> Option<Decimal> {
        self.rate(from, to).map(|r| amount * r)
    }
}

/// Fixed rates, e.g. from a config file or a test. Holding `EUR/USD = 1.08` also answers USD/EUR.
#[derive(Debug, Clone, Default)]
pub struct StaticRates {
    rates: HashMap<(Currency, Currency), Decimal>,
}

impl StaticRates {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that one `base` costs `price` units of `quote`. Zero or negative prices are ignored.
    pub fn with(mut self, base: Currency, quote: Currency, price: Decimal) -> Self {
        self.set(base, quote, price);
        self
    }

    pub fn set(&mut self, base: Currency, quote: Currency, price: Decimal) {
        if price > Decimal::ZERO {
            self.rates.insert((base, quote), price);
        }
    }
}

impl FxRates for StaticRates {
    fn direct_rate(&self, from: Currency, to: Currency) -> Option<Decimal> {
        if let Some(r) = self.rates.get(&(from, to)) {
            return Some(*r);
        }
        self.rates
            .get(&(to, from))
            .and_then(|r| Decimal::ONE.checked_div(*r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn rates_invert_and_triangulate_through_usd() {
        let r = StaticRates::new()
            .with(Currency::EUR, Currency::USD, dec!(1.25))
            .with(Currency::USD, Currency::JPY, dec!(150));
        assert_eq!(r.rate(Currency::USD, Currency::USD), Some(Decimal::ONE));
        assert_eq!(r.rate(Currency::USD, Currency::EUR), Some(dec!(0.8)));
        assert_eq!(r.rate(Currency::EUR, Currency::JPY), Some(dec!(187.5)));
        assert_eq!(r.rate(Currency::GBP, Currency::JPY), None);
    }
}
