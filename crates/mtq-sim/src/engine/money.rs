//! Currency conversion from simulated quotes, and the money rules: P&L, commission, swap, margin.

use mtq_core::{Currency, Decimal, FxRates, Side, SwapMode, SymbolSpec};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

use super::{Pos, SymState};
use crate::{Commission, SimConfig, SimError};

/// One conversion step: the bid of a simulated symbol, or its inverse.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Leg {
    Direct(usize),
    Inverse(usize),
}

/// How to turn an amount in one currency into the account currency.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Conv {
    Identity,
    One(Leg),
    Two(Leg, Leg),
    Fixed(f64),
}

fn find_leg(symbols: &[SymState], from: Currency, to: Currency) -> Option<Leg> {
    symbols.iter().enumerate().find_map(|(i, s)| {
        let (b, q) = (s.spec.base_currency, s.spec.profit_currency);
        if b == from && q == to {
            Some(Leg::Direct(i))
        } else if b == to && q == from {
            Some(Leg::Inverse(i))
        } else {
            None
        }
    })
}

/// Finds a conversion path from `from` to `to`: identity, one simulated pair, two through another
/// currency,
/// or a fallback rate.
pub(crate) fn resolve(
    symbols: &[SymState],
    cfg: &SimConfig,
    symbol: &SymbolSpec,
    from: Currency,
) -> Result<Conv, SimError> {
    let to = cfg.currency;
    if from == to {
        return Ok(Conv::Identity);
    }
    if let Some(leg) = find_leg(symbols, from, to) {
        return Ok(Conv::One(leg));
    }
    // Two legs through any quoted currency, USD first (EUR -> GBP -> USD via EURGBP and GBPUSD).
    let mut via: Vec<Currency> = vec![Currency::USD];
    via.extend(
        symbols
            .iter()
            .flat_map(|s| [s.spec.base_currency, s.spec.profit_currency]),
    );
    for x in via {
        if x == from || x == to {
            continue;
        }
        if let (Some(a), Some(b)) = (find_leg(symbols, from, x), find_leg(symbols, x, to)) {
            return Ok(Conv::Two(a, b));
        }
    }
    cfg.fallback_rates
        .rate(from, to)
        .and_then(|r| r.to_f64())
        .map(Conv::Fixed)
        .ok_or(SimError::NoConversion {
            symbol: symbol.symbol.clone(),
            from,
            to,
        })
}

fn leg_rate(symbols: &[SymState], leg: Leg) -> Option<f64> {
    let (i, inverse) = match leg {
        Leg::Direct(i) => (i, false),
        Leg::Inverse(i) => (i, true),
    };
    let s = &symbols[i];
    if !s.has_quote || s.bid <= 0.0 {
        return None;
    }
    Some(if inverse { 1.0 / s.bid } else { s.bid })
}

/// The current rate of a conversion, `None` while a needed symbol has no quote yet.
#[inline]
pub(crate) fn rate_f64(symbols: &[SymState], conv: Conv) -> Option<f64> {
    match conv {
        Conv::Identity => Some(1.0),
        Conv::One(l) => leg_rate(symbols, l),
        Conv::Two(a, b) => Some(leg_rate(symbols, a)? * leg_rate(symbols, b)?),
        Conv::Fixed(r) => Some(r),
    }
}

pub(crate) fn rate_dec(symbols: &[SymState], conv: Conv) -> Option<Decimal> {
    match conv {
        Conv::Identity => Some(Decimal::ONE),
        // A pair's own bid is a price on its grid: read off as such, no float conversion.
        Conv::One(Leg::Direct(i)) => {
            let r = leg_rate(symbols, Leg::Direct(i))?;
            grid_rate(r, symbols[i].spec.digits).or_else(|| decimal_of_rate(r))
        }
        other => rate_f64(symbols, other).and_then(decimal_of_rate),
    }
}

/// The rates [`grid_rate`] reads: every currency pair's quote but a few exotic ones.
const GRID_RATE_BELOW: f64 = 2048.0;

/// `Decimal::from_f64(r)` for an `r` below 2048 that is the `f64` of a price with at most `digits`
/// decimals (a quote on its symbol's grid), without the conversion: `None` for any other `r`,
/// which then takes the conversion.
///
/// Why it is the same number: `k / 10^digits` rounds to `r` (checked: both are exact `f64`s
/// below 2^50 and IEEE division rounds correctly), and no decimal with fewer digits can, since
/// prices `10^-digits` apart are at least eight `f64` steps apart below that bound. So `k / 10^digits`
/// without its trailing zeros is the shortest decimal that reads back as `r`, which is what
/// `from_f64` gives (the property test `grid_rates_are_what_from_f64_gives` holds the two
/// together over random grids and prices).
pub(crate) fn grid_rate(r: f64, digits: u32) -> Option<Decimal> {
    const POW10: [f64; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];
    let scale = *POW10.get(usize::try_from(digits).ok()?)?;
    // Below 2048 only: above 2^12, `from_f64` keeps more digits than the shortest form (for
    // 4,131.654 on a 3-digit grid it gives 4131.654000000001), and such rates take it.
    // (NaN fails the first test.)
    if !r.is_finite() || r.abs() >= GRID_RATE_BELOW || r == 0.0 {
        return None;
    }
    let scaled = r * scale;
    // |scaled| < 2048 * 1e10 < 2^45: the cast and its way back are exact.
    #[allow(clippy::cast_possible_truncation)]
    let mut units = scaled.round() as i64;
    #[allow(clippy::cast_precision_loss, clippy::float_cmp)]
    if units as f64 / scale != r {
        return None;
    }
    let mut digits = digits;
    while digits > 0 && units % 10 == 0 {
        units /= 10;
        digits -= 1;
    }
    Some(mtq_core::decimal_of(units, digits))
}

/// Conversions [`decimal_of_rate`] remembers per thread.
const RATE_MEMO: usize = 16_384;

/// `Decimal::from_f64(r)`, remembered per thread in a table of recent conversions keyed by the
/// rate's bits: a conversion costs about two thousand instructions; an order's margin check and
/// its fill ask for the same rate, and an optimisation's parameter sets trade on the same bars,
/// so at the same rates, again and again.
fn decimal_of_rate(r: f64) -> Option<Decimal> {
    /// A rate's bits and its conversion.
    type Slot = (u64, Option<Decimal>);
    thread_local! {
        // Bits that are no rate a quote gives (a NaN payload) mark an empty slot. On the heap:
        // a few hundred kilobytes are too many for a thread's stack.
        static MEMO: std::cell::RefCell<Box<[Slot]>> =
            std::cell::RefCell::new(vec![(u64::MAX, None); RATE_MEMO].into_boxed_slice());
    }
    let bits = r.to_bits();
    // Fibonacci hashing: the top bits of the product spread nearby prices across the table.
    #[allow(clippy::cast_possible_truncation)] // the shift leaves 14 bits
    let slot = (bits.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 50) as usize % RATE_MEMO;
    MEMO.with(|memo| {
        let mut memo = memo.borrow_mut();
        match memo[slot] {
            (b, d) if b == bits => d,
            _ => {
                let d = Decimal::from_f64(r);
                memo[slot] = (bits, d);
                d
            }
        }
    })
}

/// Profit of closing `volume` lots of `pos` at `price`, in the account currency, rounded to cents.
/// With `exact`, the integer path ([`super::exact`]) answers where it can.
pub(crate) fn realized_profit(
    pos: &Pos,
    spec: &SymbolSpec,
    volume: Decimal,
    price: Decimal,
    rate: Decimal,
    digits: u32,
    exact: bool,
) -> Decimal {
    if exact && let Some(p) = super::exact::realized_profit(pos, spec, volume, price, rate, digits)
    {
        return p;
    }
    let diff = match pos.side {
        Side::Buy => price - pos.open_price,
        Side::Sell => pos.open_price - price,
    };
    (diff * volume * spec.contract_size * rate).round_dp(digits)
}

/// Commission for one side of a deal (negative: a charge).
pub(crate) fn commission(
    cfg: &SimConfig,
    spec: &SymbolSpec,
    volume: Decimal,
    price: Decimal,
    profit_rate: Decimal,
) -> Decimal {
    let c = match cfg.commission {
        // No charge: `Decimal`'s product with a zero factor is a plain zero, which `round_dp`
        // keeps and the sign below flips, so this is the same value, bit for bit, without the
        // arithmetic.
        Commission::None => return -Decimal::ZERO,
        Commission::PerLot(x) | Commission::Rate(x) if x.is_zero() => return -Decimal::ZERO,
        Commission::PerLot(per_lot) => per_lot * volume,
        Commission::Rate(r) => r * volume * spec.contract_size * price * profit_rate,
    };
    -c.round_dp(cfg.money_digits)
}

/// Margin for `volume` lots in the account currency: contract value in the margin currency over
/// leverage (MT5's "Forex" calculation mode).
/// With `exact`, the integer path ([`super::exact`]) answers where it can.
pub(crate) fn margin(
    cfg: &SimConfig,
    spec: &SymbolSpec,
    volume: Decimal,
    margin_rate: Decimal,
    exact: bool,
) -> Decimal {
    if exact
        && let Some(m) =
            super::exact::margin(cfg.leverage, spec, volume, margin_rate, cfg.money_digits)
    {
        return m;
    }
    (volume * spec.contract_size * margin_rate / Decimal::from(cfg.leverage))
        .round_dp(cfg.money_digits)
}

/// Rates a swap charge needs, in the account currency.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SwapRates {
    pub(crate) profit: Decimal,
    pub(crate) margin: Decimal,
    pub(crate) base: Decimal,
}

/// One night's swap for `pos` (`nights` is 3 on the triple-swap day), in the account currency.
pub(crate) fn swap(
    cfg: &SimConfig,
    spec: &SymbolSpec,
    pos: &Pos,
    current: Decimal,
    rates: SwapRates,
    nights: u32,
) -> Decimal {
    let per_night = match pos.side {
        Side::Buy => spec.swap_long,
        Side::Sell => spec.swap_short,
    };
    let lots = pos.volume;
    let units = lots * spec.contract_size;
    let year = Decimal::from(360);
    let hundred = Decimal::ONE_HUNDRED;
    let amount = match spec.swap_mode {
        SwapMode::Disabled => Decimal::ZERO,
        SwapMode::Points => per_night * spec.point * units * rates.profit,
        SwapMode::CurrencySymbol => per_night * lots * rates.base,
        SwapMode::CurrencyMargin => per_night * lots * rates.margin,
        SwapMode::CurrencyDeposit => per_night * lots,
        SwapMode::CurrencyProfit => per_night * lots * rates.profit,
        SwapMode::InterestCurrent => per_night / hundred / year * units * current * rates.profit,
        SwapMode::InterestOpen => {
            per_night / hundred / year * units * pos.open_price * rates.profit
        }
    };
    (amount * Decimal::from(nights)).round_dp(cfg.money_digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtq_core::testkit::{eurusd, usdjpy};
    use rust_decimal_macros::dec;

    fn pos(side: Side, open: Decimal, volume: Decimal) -> Pos {
        Pos::for_test(side, open, volume)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        /// The grid reading of a quote and `Decimal::from_f64` agree, text and scale included,
        /// over grids of 0 to 10 decimals and prices from a point to 4096.
        #[test]
        fn grid_rates_are_what_from_f64_gives(
            digits in 0u32..=10,
            fraction in 0.0f64..1.0,
            log_size in 0.0f64..1.0,
            negative in proptest::bool::ANY,
            nudge in -2i64..=2,
        ) {
            // Prices spread evenly in magnitude, up to 4096 (the half above 2048 must be left
            // to the conversion).
            #[allow(clippy::cast_possible_truncation)]
            let top = (4096.0 * 10f64.powi(i32::try_from(digits).unwrap())).powf(log_size).max(1.0) as i64;
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            let units = 1 + (fraction * top as f64) as i64;
            let units = if negative { -units } else { units };
            #[allow(clippy::cast_precision_loss)]
            let r = units as f64 / 10f64.powi(i32::try_from(digits).unwrap());
            let expected = Decimal::from_f64(r);
            proptest::prop_assert_eq!(grid_rate(r, digits).is_some(), r.abs() < 2048.0);
            if let Some(d) = grid_rate(r, digits) {
                let e = expected.unwrap();
                proptest::prop_assert_eq!(d.to_string(), e.to_string());
                proptest::prop_assert_eq!(d.scale(), e.scale());
                proptest::prop_assert_eq!(d, e);
            }
            // A rate off the grid (a step or two away in `f64`) is left to the conversion,
            // or, if it reads as a grid price, reads as what `from_f64` gives.
            let off = f64::from_bits(r.to_bits().wrapping_add_signed(nudge));
            if let Some(d) = grid_rate(off, digits) {
                proptest::prop_assert_eq!(d.to_string(), Decimal::from_f64(off).unwrap().to_string());
            }
        }
    }

    #[test]
    fn grid_rates_cover_the_quotes_of_five_and_three_digit_pairs() {
        assert_eq!(grid_rate(1.10123, 5), Some(dec!(1.10123)));
        assert_eq!(grid_rate(1.1, 5).map(|d| d.to_string()), Some("1.1".into()));
        assert_eq!(grid_rate(150.123, 3), Some(dec!(150.123)));
        // Not a price of that grid: the conversion decides.
        assert_eq!(grid_rate(1.0 / 1.10123, 5), None);
        assert_eq!(grid_rate(f64::NAN, 5), None);
        assert_eq!(grid_rate(1.1, 11), None);
        assert_eq!(grid_rate(4131.654, 3), None);
    }

    #[test]
    fn usdjpy_profit_is_converted_from_yen_at_the_current_rate() {
        let spec = usdjpy();
        let p = pos(Side::Buy, dec!(150.000), dec!(1));
        // +1 yen on 100,000 USD = 100,000 JPY = 666.67 USD at 150.
        let rate = Decimal::ONE / dec!(150);
        assert_eq!(
            realized_profit(&p, &spec, dec!(1), dec!(151.000), rate, 2, false),
            dec!(666.67)
        );
    }

    #[test]
    fn points_swap_is_charged_in_the_profit_currency_and_tripled() {
        let cfg = SimConfig::default();
        let mut spec = eurusd();
        spec.swap_long = dec!(-7);
        let p = pos(Side::Buy, dec!(1.1), dec!(2));
        let r = SwapRates {
            profit: Decimal::ONE,
            margin: dec!(1.1),
            base: dec!(1.1),
        };
        // -7 points * 0.00001 * 200,000 = -14 USD a night.
        assert_eq!(swap(&cfg, &spec, &p, dec!(1.1), r, 1), dec!(-14));
        assert_eq!(swap(&cfg, &spec, &p, dec!(1.1), r, 3), dec!(-42));
    }

    #[test]
    fn commission_per_lot_and_as_rate_of_notional() {
        let spec = eurusd();
        let per_lot = SimConfig {
            commission: Commission::PerLot(dec!(3.5)),
            ..SimConfig::default()
        };
        assert_eq!(
            commission(&per_lot, &spec, dec!(0.3), dec!(1.1), Decimal::ONE),
            dec!(-1.05)
        );
        let rate = SimConfig {
            commission: Commission::Rate(dec!(0.00002)),
            ..SimConfig::default()
        };
        // 100,000 EUR at 1.1 = 110,000 USD notional * 0.002% = 2.20.
        assert_eq!(
            commission(&rate, &spec, dec!(1), dec!(1.1), Decimal::ONE),
            dec!(-2.2)
        );
    }

    /// A zero charge skips the arithmetic and is still the value the arithmetic gives, bit for
    /// bit (a zero with its sign set and no decimals).
    #[test]
    fn a_zero_commission_is_the_computed_zero_bit_for_bit() {
        let spec = eurusd();
        for model in [
            Commission::None,
            Commission::PerLot(Decimal::ZERO),
            Commission::PerLot(dec!(0.00)),
            Commission::Rate(dec!(0.000)),
        ] {
            let cfg = SimConfig {
                commission: model,
                ..SimConfig::default()
            };
            for (volume, price, rate) in [
                (dec!(0.37), dec!(1.10083), Decimal::ONE),
                (dec!(9123), dec!(1.09999), dec!(0.6621)),
            ] {
                let computed = -(match model {
                    Commission::None => Decimal::ZERO,
                    Commission::PerLot(x) => x * volume,
                    Commission::Rate(r) => r * volume * spec.contract_size * price * rate,
                })
                .round_dp(cfg.money_digits);
                let fast = commission(&cfg, &spec, volume, price, rate);
                assert_eq!(fast.serialize(), computed.serialize(), "{model:?}");
            }
        }
    }

    #[test]
    fn margin_is_contract_value_in_margin_currency_over_leverage() {
        let cfg = SimConfig {
            leverage: 100,
            ..SimConfig::default()
        };
        let spec = eurusd();
        // 1 lot = 100,000 EUR = 110,000 USD at 1.1; /100 = 1,100 USD.
        assert_eq!(margin(&cfg, &spec, dec!(1), dec!(1.1), false), dec!(1100));
        assert_eq!(margin(&cfg, &spec, dec!(1), dec!(1.1), true), dec!(1100));
    }
}
