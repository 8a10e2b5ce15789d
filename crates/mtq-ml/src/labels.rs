//! Training labels. A label looks forward by definition; a row's features never do, and the
//! label of bar `i` exists only when every bar it reads is in the series (no padding, no guess).

use mtq_core::{Bar, Side, Signal, SignalKind};
use serde::{Deserialize, Serialize};

/// What a model is trained to predict; written into its manifest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LabelSpec {
    /// `1` when the close `horizon` bars later is above this close by more than `threshold`
    /// (a fraction: 0.001 = 0.1 %), `0` when below by more; the bars in between are left out.
    /// The model's probability is that of a rise.
    ForwardReturn { horizon: usize, threshold: f64 },
    /// Meta-labelling: `1` when the base strategy's entry on this bar would have won (its take
    /// profit reached first, or in profit after `max_hold` bars), `0` when it lost. Only bars
    /// where the strategy enters are labelled. The model's probability is that of a win.
    Meta { max_hold: usize },
}

impl LabelSpec {
    /// Bars after a row that its label reads.
    pub fn horizon(&self) -> usize {
        match *self {
            LabelSpec::ForwardReturn { horizon, .. } => horizon,
            LabelSpec::Meta { max_hold } => max_hold,
        }
    }

    /// The probability that an entry on `side` is right, from the model's probability.
    pub fn entry_probability(&self, p: f64, side: Side) -> f64 {
        match (self, side) {
            (LabelSpec::ForwardReturn { .. }, Side::Sell) => 1.0 - p,
            _ => p,
        }
    }
}

/// Forward-return labels, one per bar; see [`LabelSpec::ForwardReturn`].
pub fn forward_return(bars: &[Bar], horizon: usize, threshold: f64) -> Vec<Option<bool>> {
    (0..bars.len())
        .map(|i| {
            let later = bars.get(i.checked_add(horizon)?)?;
            let r = later.close / bars[i].close - 1.0;
            if r > threshold {
                Some(true)
            } else if r < -threshold {
                Some(false)
            } else {
                None
            }
        })
        .collect()
}

/// The outcome of entering at bar `i`'s close as `signal` says, over the bars after it: `true`
/// when the take profit is touched first (or the trade is in profit after `max_hold` bars),
/// `false` when the stop loss is (a bar touching both counts as a loss). `None` when the series
/// ends first.
pub fn trade_outcome(bars: &[Bar], i: usize, signal: &Signal, max_hold: usize) -> Option<bool> {
    let buy = match signal.kind {
        SignalKind::Buy => true,
        SignalKind::Sell => false,
        _ => return None,
    };
    let entry = bars.get(i)?.close;
    for k in 1..=max_hold {
        let b = bars.get(i + k)?;
        let (stop_hit, target_hit) = if buy {
            (
                signal.sl.is_some_and(|sl| b.low <= sl),
                signal.tp.is_some_and(|tp| b.high >= tp),
            )
        } else {
            (
                signal.sl.is_some_and(|sl| b.high >= sl),
                signal.tp.is_some_and(|tp| b.low <= tp),
            )
        };
        if stop_hit {
            return Some(false);
        }
        if target_hit {
            return Some(true);
        }
        if k == max_hold {
            return Some(if buy {
                b.close > entry
            } else {
                b.close < entry
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtq_core::testkit::Series;
    use mtq_core::{Symbol, Timeframe};

    #[test]
    fn forward_labels_stop_where_the_series_does() {
        let bars = Series::h1().closes(&[1.0, 1.01, 1.0, 0.98, 1.02]);
        let l = forward_return(&bars, 2, 0.005);
        assert_eq!(l, vec![None, Some(false), Some(true), None, None]);
    }

    #[test]
    fn a_label_is_the_same_whatever_follows_its_horizon() {
        let a = Series::h1().closes(&[1.0, 1.01, 1.02, 1.5, 0.5]);
        let b = Series::h1().closes(&[1.0, 1.01, 1.02, 0.5, 1.5]);
        assert_eq!(forward_return(&a, 2, 0.0)[0], forward_return(&b, 2, 0.0)[0]);
    }

    #[test]
    fn meta_label_is_the_trade_outcome_stop_first_when_both_touch() {
        let s = Series::h1();
        let bars = s.ohlc(&[
            (1.0, 1.0, 1.0, 1.0),
            (1.0, 1.005, 0.999, 1.002),
            (1.002, 1.02, 0.98, 1.0),
        ]);
        let sig = Signal::new(
            Symbol::new("EURUSD").unwrap(),
            Timeframe::H1,
            bars[0].time,
            SignalKind::Buy,
            0.5,
            "t",
            "",
        )
        .unwrap()
        .with_levels(None, Some(0.99), Some(1.01));
        assert_eq!(trade_outcome(&bars[..2], 0, &sig, 5), None);
        assert_eq!(trade_outcome(&bars[..3], 0, &sig, 2), Some(false));
        assert_eq!(trade_outcome(&bars, 0, &sig, 1), Some(true));
    }

    #[test]
    fn a_meta_label_reads_no_bar_past_its_hold() {
        let s = Series::h1();
        let head = [
            (1.0, 1.0, 1.0, 1.0),
            (1.0, 1.004, 0.996, 1.001),
            (1.001, 1.003, 0.997, 0.998),
        ];
        // After the two bars it may hold: a stop-loss crash in one series, a target in the other.
        let mut crash = head.to_vec();
        crash.push((0.998, 0.998, 0.95, 0.96));
        let mut rally = head.to_vec();
        rally.push((0.998, 1.05, 0.998, 1.04));
        let sig = Signal::new(
            Symbol::new("EURUSD").unwrap(),
            Timeframe::H1,
            s.ohlc(&head)[0].time,
            SignalKind::Buy,
            0.5,
            "t",
            "",
        )
        .unwrap()
        .with_levels(None, Some(0.99), Some(1.01));
        let label = |bars: &[(f64, f64, f64, f64)]| trade_outcome(&s.ohlc(bars), 0, &sig, 2);
        // Out of profit after its two bars: a loss, whatever came next; and known from the
        // bars up to the hold alone.
        assert_eq!(label(&crash), Some(false));
        assert_eq!(label(&rally), Some(false));
        assert_eq!(label(&head), Some(false));
    }
}
