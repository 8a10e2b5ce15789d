use mtq_core::{Retcode, RetcodeClass, Symbol, Ticket};

/// Why a broker call failed. Every variant says whether the request may have taken effect.
///
/// Transient (retry with backoff, at start-up and while running; [`BrokerError::class`] is
/// `RetryLater`): `Timeout`/`Disconnected` with `after_send: false` and `Unanswered`.
/// Outcome unknown (reconcile, never resend): `Timeout`/`Disconnected` with `after_send: true`.
/// Permanent (a configuration or request to fix; `Rejected`): `UnknownSymbol`,
/// `AmbiguousSymbol`, `NotFound`, `Protocol`, and the refusing return codes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BrokerError {
    /// The broker answered with a return code other than done / partial / placed.
    #[error("broker refused the request: retcode {retcode}; broker comment: {comment:?}")]
    Rejected { retcode: Retcode, comment: String },
    /// No answer in time. When `after_send` the request left MTQ and may have executed: reconcile,
    /// never resend.
    #[error("no answer from the broker within {millis} ms (request {sent})", sent = if *after_send { "was sent" } else { "was not sent" })]
    Timeout { millis: u64, after_send: bool },
    /// The connection to the broker is down. When `after_send` the request may have executed.
    #[error("connection to the broker lost ({detail}); request {sent}", sent = if *after_send { "was sent" } else { "was not sent" })]
    Disconnected { detail: String, after_send: bool },
    /// A data request (account, symbol, positions, deals, bars, ...) was sent but its answer did
    /// not come: it timed out or the connection dropped first. Data requests change nothing at
    /// the broker, so this is transient: ask again.
    #[error(
        "no answer from the broker to the {request} request ({detail}); it was sent, and asking again is safe"
    )]
    Unanswered { request: String, detail: String },
    #[error("symbol {0} is not known to the broker (check the name and suffix in Market Watch)")]
    UnknownSymbol(Symbol),
    /// Several broker symbols could be ours: a configuration to fix, never guessed.
    #[error(
        "symbol {symbol} matches several broker symbols ({}): map it explicitly in the config, e.g. `broker: {{symbols: {{{symbol}: {}}}}}`",
        candidates.join(", "),
        candidates.first().map_or("NAME", String::as_str)
    )]
    AmbiguousSymbol {
        symbol: Symbol,
        candidates: Vec<String>,
    },
    #[error("ticket {0} was not found at the broker")]
    NotFound(Ticket),
    /// A malformed or unexpected reply.
    #[error("broker protocol error: {0}")]
    Protocol(String),
}

impl BrokerError {
    pub fn rejected(retcode: Retcode, comment: impl Into<String>) -> Self {
        BrokerError::Rejected {
            retcode,
            comment: comment.into(),
        }
    }

    /// The MT5 return code, when the broker gave one.
    pub fn retcode(&self) -> Option<Retcode> {
        match self {
            BrokerError::Rejected { retcode, .. } => Some(*retcode),
            _ => None,
        }
    }

    /// What the caller may do next.
    pub fn class(&self) -> RetcodeClass {
        match self {
            BrokerError::Rejected { retcode, .. } => retcode.class(),
            BrokerError::Timeout {
                after_send: true, ..
            }
            | BrokerError::Disconnected {
                after_send: true, ..
            } => RetcodeClass::OutcomeUnknown,
            BrokerError::Timeout {
                after_send: false, ..
            }
            | BrokerError::Disconnected {
                after_send: false, ..
            }
            | BrokerError::Unanswered { .. } => RetcodeClass::RetryLater,
            BrokerError::UnknownSymbol(_)
            | BrokerError::AmbiguousSymbol { .. }
            | BrokerError::NotFound(_)
            | BrokerError::Protocol(_) => RetcodeClass::Rejected,
        }
    }

    /// True when the request may have executed and only reconciliation can tell.
    pub fn outcome_unknown(&self) -> bool {
        self.class() == RetcodeClass::OutcomeUnknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_after_sending_must_be_reconciled_not_resent() {
        let e = BrokerError::Timeout {
            millis: 5000,
            after_send: true,
        };
        assert!(e.outcome_unknown());
        assert!(e.to_string().contains("was sent"));
        let e = BrokerError::Disconnected {
            detail: "bridge closed".into(),
            after_send: false,
        };
        assert_eq!(e.class(), RetcodeClass::RetryLater);
        let e = BrokerError::rejected(Retcode::Timeout, "");
        assert!(e.outcome_unknown());
    }

    #[test]
    fn an_unanswered_data_request_is_transient_and_says_it_was_sent() {
        let e = BrokerError::Unanswered {
            request: "symbol_info".into(),
            detail: "no answer within 10s".into(),
        };
        assert_eq!(e.class(), RetcodeClass::RetryLater);
        assert!(!e.outcome_unknown());
        assert!(!e.to_string().contains("not sent"), "{e}");
        let e = BrokerError::AmbiguousSymbol {
            symbol: Symbol::new("EURUSD").unwrap(),
            candidates: vec!["EURUSD.a".into(), "EURUSD.b".into()],
        };
        assert_eq!(e.class(), RetcodeClass::Rejected);
        let msg = e.to_string();
        assert!(
            msg.contains("EURUSD.a, EURUSD.b") && msg.contains("symbols: {EURUSD: EURUSD.a}"),
            "{msg}"
        );
    }

    #[test]
    fn a_rejection_names_the_code_and_its_meaning() {
        let e = BrokerError::rejected(Retcode::InvalidStops, "sl too close");
        let msg = e.to_string();
        assert!(
            msg.contains("10016") && msg.contains("invalid stops") && msg.contains("sl too close"),
            "{msg}"
        );
    }
}
