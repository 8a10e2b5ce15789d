//! Why the trader core asks for a close or a change of stops: typed, so a driver or a report
//! never parses the text. `Display` is the phrase the logs and error events show.

use std::fmt;

use mtq_risk::ActionReason;
use serde::{Deserialize, Serialize};

/// Why a [`Command::Close`](crate::Command::Close) or [`Command::Modify`](crate::Command::Modify)
/// was given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum CommandReason {
    /// The strategy's close signal, with the signal's own reason.
    Signal { strategy: String, reason: String },
    /// The strategy's entry on the other side reverses the position.
    Reversal { strategy: String },
    /// A position-management rule (breakeven, trailing stop, partial close, maximum holding
    /// time) or the kill switch.
    Rule { rule: ActionReason },
    /// An operator's command (API, bot): `actor` is the user or key id that sent it.
    Operator { actor: String },
}

impl fmt::Display for CommandReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Signal { strategy, reason } => write!(f, "{strategy}: {reason}"),
            Self::Reversal { strategy } => write!(f, "reversed by {strategy}"),
            Self::Rule { rule } => f.write_str(match rule {
                ActionReason::Breakeven => "breakeven",
                ActionReason::TrailingStop => "trailing stop",
                ActionReason::PartialClose => "partial close",
                ActionReason::MaxHoldingTime => "maximum holding time",
                ActionReason::KillSwitch => "kill switch",
            }),
            Self::Operator { actor } => write!(f, "operator {actor}"),
        }
    }
}

impl From<ActionReason> for CommandReason {
    fn from(rule: ActionReason) -> Self {
        Self::Rule { rule }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_the_phrases_the_logs_showed() {
        let signal = CommandReason::Signal {
            strategy: "ma_crossover".into(),
            reason: "fast crossed below slow".into(),
        };
        assert_eq!(signal.to_string(), "ma_crossover: fast crossed below slow");
        let reversal = CommandReason::Reversal {
            strategy: "rsi".into(),
        };
        assert_eq!(reversal.to_string(), "reversed by rsi");
        assert_eq!(
            CommandReason::from(ActionReason::MaxHoldingTime).to_string(),
            "maximum holding time"
        );
    }

    #[test]
    fn a_reason_has_a_stable_snake_case_form() {
        let json = serde_json::to_string(&CommandReason::from(ActionReason::TrailingStop)).unwrap();
        assert_eq!(json, r#"{"by":"rule","rule":"trailing_stop"}"#);
        let back: CommandReason = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ActionReason::TrailingStop.into());
    }
}
