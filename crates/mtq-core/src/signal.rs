//! What a strategy says about a symbol after a bar closes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{CoreError, Symbol, Timeframe};

/// The action a signal proposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalKind {
    Buy,
    Sell,
    /// Close this strategy's open positions on the symbol.
    Close,
    Hold,
}

/// A strategy's proposal. Prices are series values (`f64`); they become broker prices at the order
/// boundary, rounded with the symbol's own rules. Strategies never size or send orders.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub symbol: Symbol,
    pub timeframe: Timeframe,
    /// Open time of the closed bar that produced the signal.
    pub time: DateTime<Utc>,
    pub kind: SignalKind,
    /// Intended entry; `None` for market entry at the next price.
    pub entry: Option<f64>,
    pub sl: Option<f64>,
    pub tp: Option<f64>,
    /// 0 (no conviction) to 1.
    pub confidence: f64,
    pub strategy: String,
    /// Why, in words a trader reads in the signal log.
    pub reason: String,
}

impl Signal {
    /// A signal with no prices; `confidence` must be within 0..=1.
    pub fn new(
        symbol: Symbol,
        timeframe: Timeframe,
        time: DateTime<Utc>,
        kind: SignalKind,
        confidence: f64,
        strategy: impl Into<String>,
        reason: impl Into<String>,
    ) -> Result<Self, CoreError> {
        if !(0.0..=1.0).contains(&confidence) {
            return Err(CoreError::InvalidConfidence(confidence));
        }
        Ok(Self {
            symbol,
            timeframe,
            time,
            kind,
            entry: None,
            sl: None,
            tp: None,
            confidence,
            strategy: strategy.into(),
            reason: reason.into(),
        })
    }

    pub fn with_levels(mut self, entry: Option<f64>, sl: Option<f64>, tp: Option<f64>) -> Self {
        self.entry = entry;
        self.sl = sl;
        self.tp = tp;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_outside_zero_to_one_is_refused() {
        let s = Symbol::new("EURUSD").unwrap();
        let mk = |c| {
            Signal::new(
                s.clone(),
                Timeframe::H1,
                DateTime::UNIX_EPOCH,
                SignalKind::Buy,
                c,
                "t",
                "r",
            )
        };
        assert!(mk(0.0).is_ok() && mk(1.0).is_ok());
        assert!(mk(1.01).is_err() && mk(-0.1).is_err() && mk(f64::NAN).is_err());
    }
}
