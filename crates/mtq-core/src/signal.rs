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
    /// The model reading that filtered the signal, when the symbol has an `ml:` section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ml: Option<ModelReading>,
}

/// What a model (or a weighted ensemble) said about a signal: recorded with it, shown by the API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelReading {
    /// `name@version` of each model, joined by `+` for an ensemble.
    pub model: String,
    /// The weighted probability that the signal's side is right (0 to 1); `None` when the model
    /// could not be read and the signal passed or was blocked without it.
    pub probability: Option<f64>,
    pub status: ModelStatus,
}

/// Whether a symbol's models were in use when it signalled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    /// The models read the signal.
    Active,
    /// The models failed to load or to infer; the base strategy trades alone (`on_failure: fallback`).
    FallenBack,
    /// The models failed; the symbol's entries are blocked (`on_failure: stop`).
    Stopped,
}

impl ModelStatus {
    /// The stable snake_case form used in rows, JSON and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::FallenBack => "fallen_back",
            Self::Stopped => "stopped",
        }
    }
}

impl std::str::FromStr for ModelStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "active" => Ok(Self::Active),
            "fallen_back" => Ok(Self::FallenBack),
            "stopped" => Ok(Self::Stopped),
            other => Err(format!("unknown model status `{other}`")),
        }
    }
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
            ml: None,
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
