//! Prices on a symbol's tick grid from the `f64` quotes the simulator and the terminal give: in
//! whole points with integer arithmetic where that is exact, through [`SymbolSpec`]'s exact
//! conversion otherwise. Used wherever a quote becomes a `Decimal` every bar (the backtest's
//! rates and quotes, the simulator's marking of an account view).

use crate::{Decimal, SymbolSpec};

/// `spec.normalize_price_f64(p)`, computed as a scaled integer when the tick is one point and
/// the price is not within 1% of a point from a rounding tie (where the two could differ).
pub fn normalize_price(spec: &SymbolSpec, scale: f64, p: f64) -> Option<Decimal> {
    match grid_points(scale, p) {
        Some(n) => Some(Decimal::new(n, spec.digits).normalize()),
        None => spec.normalize_price_f64(p),
    }
}

/// The value of `spec.normalize_price_f64(p)` (equal, though not always written with the same
/// number of decimals: it skips trimming trailing zeros), for arithmetic only.
pub fn mark_price(spec: &SymbolSpec, scale: f64, p: f64) -> Option<Decimal> {
    match grid_points(scale, p) {
        Some(n) => Some(Decimal::new(n, spec.digits)),
        None => spec.normalize_price_f64(p),
    }
}

/// `p` in whole points (`p * scale` rounded) when `scale` is a symbol's [`point_scale`] and
/// `p * scale` is not within 1% of a point from a rounding tie, where `f64` rounding and the
/// exact decimal conversion could disagree. Integer casts rather than `floor`/`round`, which
/// are library calls on the baseline x86-64 target: this runs twice a bar.
pub fn grid_points(scale: f64, p: f64) -> Option<i64> {
    if scale <= 0.0 {
        return None;
    }
    let x = p * scale;
    // Also false for NaN and infinities.
    if x.abs() >= 9.0e15 || x.is_nan() {
        return None;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    // |x| < 9e15: the cast truncates toward zero exactly, and the integer converts back exactly.
    let (floor, frac) = {
        let t = x as i64;
        let floor = if t as f64 > x { t - 1 } else { t };
        (floor, x - floor as f64)
    };
    ((frac - 0.5).abs() > 0.01).then_some(if frac > 0.5 { floor + 1 } else { floor })
}

/// 10^digits when the symbol's tick is one point (prices are whole points), else 0 (use the
/// exact conversion).
pub fn point_scale(spec: &SymbolSpec) -> f64 {
    if spec.tick_size == spec.point && spec.digits <= 10 {
        10f64.powi(i32::try_from(spec.digits).unwrap_or(0))
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_normalisation_equals_the_specs_own() {
        let mut rng = crate::SplitMix64::new(3);
        for name in ["EURUSD", "USDJPY", "XAUUSD"] {
            let spec = SymbolSpec::builtin(name).unwrap();
            let scale = point_scale(&spec);
            for _ in 0..20_000 {
                let p = 0.5 + rng.next_f64() * 200.0;
                for q in [
                    p,
                    (p * scale).round() / scale,
                    ((p * scale).floor() + 0.5) / scale,
                ] {
                    let fast = normalize_price(&spec, scale, q).unwrap();
                    let exact = spec.normalize_price_f64(q).unwrap();
                    assert_eq!(fast, exact, "{name} {q}");
                    assert_eq!(mark_price(&spec, scale, q).unwrap(), exact, "{name} {q}");
                    assert_eq!(fast.to_string(), exact.to_string(), "{name} {q}");
                }
            }
        }
    }

    /// The casts give what `round` gives, away from ties, for prices of either sign.
    #[test]
    fn grid_points_round_as_f64_round_does() {
        let mut rng = crate::SplitMix64::new(11);
        for _ in 0..200_000 {
            let p = (rng.next_f64() - 0.5) * 400.0;
            for scale in [100.0, 1000.0, 100_000.0] {
                let x = p * scale;
                let tie = ((x - x.floor()) - 0.5).abs() <= 0.01;
                #[allow(clippy::cast_possible_truncation)]
                let expected = (!tie).then(|| x.round() as i64);
                assert_eq!(grid_points(scale, p), expected, "{p} at {scale}");
            }
        }
        assert_eq!(grid_points(1e5, f64::NAN), None);
        assert_eq!(grid_points(1e5, f64::INFINITY), None);
        assert_eq!(grid_points(0.0, 1.1), None);
    }
}
