//! The per-bar conversions from the simulator's `f64` quote to what the trader core reads, done
//! so that a bar costs little when nothing trades: exchange rates converted only when asked for,
//! and prices put on the tick grid with integer arithmetic where that is exact.

use std::cell::Cell;

use mtq_core::{Currency, Decimal, FxRates, SymbolSpec, normalize_price, point_scale};

/// The symbol's mid quote on its price grid as an exchange rate (base -> profit currency),
/// converted to `Decimal` on first use: what the live driver's market read gives the core
/// (`spec.normalize_price_f64(mid)` of each traded symbol).
#[derive(Debug)]
pub(crate) struct LazyRates {
    base: Currency,
    quote: Currency,
    spec: SymbolSpec,
    scale: f64,
    mid: f64,
    cached: Cell<Option<Option<Decimal>>>,
}

impl LazyRates {
    pub(crate) fn new(spec: &SymbolSpec) -> Self {
        Self {
            base: spec.base_currency,
            quote: spec.profit_currency,
            spec: spec.clone(),
            scale: point_scale(spec),
            mid: f64::NAN,
            cached: Cell::new(Some(None)),
        }
    }

    pub(crate) fn set_mid(&mut self, mid: f64) {
        if mid.to_bits() != self.mid.to_bits() {
            self.mid = mid;
            self.cached.set(None);
        }
    }

    fn mid(&self) -> Option<Decimal> {
        if let Some(v) = self.cached.get() {
            return v;
        }
        let v = normalize_price(&self.spec, self.scale, self.mid).filter(|m| *m > Decimal::ZERO);
        self.cached.set(Some(v));
        v
    }
}

impl FxRates for LazyRates {
    fn direct_rate(&self, from: Currency, to: Currency) -> Option<Decimal> {
        if (from, to) == (self.base, self.quote) {
            self.mid()
        } else if (to, from) == (self.base, self.quote) {
            self.mid().and_then(|r| Decimal::ONE.checked_div(r))
        } else {
            None
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_rates_equal_the_live_drivers_rates() {
        let spec = SymbolSpec::builtin("USDJPY").unwrap();
        let mut lazy = LazyRates::new(&spec);
        lazy.set_mid(151.2345);
        let snap = mtq_core::StaticRates::new().with(
            Currency::USD,
            Currency::JPY,
            spec.normalize_price_f64(151.2345).unwrap(),
        );
        for (a, b) in [
            (Currency::USD, Currency::JPY),
            (Currency::JPY, Currency::USD),
            (Currency::EUR, Currency::USD),
        ] {
            assert_eq!(lazy.rate(a, b), snap.rate(a, b), "{a}->{b}");
        }
    }
}
