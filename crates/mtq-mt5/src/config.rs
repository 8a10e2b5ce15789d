//! How the connector listens for the bridge and how patient it is.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use mtq_core::Symbol;

use crate::Mt5Error;
use crate::codec::DEFAULT_MAX_LINE;

/// The shared secret the bridge sends in its hello. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// 8 to 128 printable ASCII characters without spaces (what fits an EA input field and a
    /// command line without quoting).
    pub fn new(token: &str) -> Result<Self, Mt5Error> {
        let ok_len = (8..=128).contains(&token.len());
        if !ok_len || !token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Mt5Error::Config(
                "the MT5 bridge token must be 8 to 128 printable ASCII characters without spaces \
                 (set the same value in the EA's `Token` input)"
                    .into(),
            ));
        }
        Ok(Self(token.to_string()))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// How MTQ's symbol names map to the broker's (`EURUSD` -> `EURUSD.m`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SymbolMapping {
    /// Explicit names, MTQ name -> broker name. Checked first.
    pub explicit: BTreeMap<Symbol, String>,
    /// A suffix the broker appends to every symbol (`.m`, `-ECN`, `pro`).
    pub suffix: Option<String>,
    /// For a symbol with neither an explicit name nor a suffix that the broker does not know as
    /// it is: look through the broker's symbol list for the one that starts with it
    /// (`EURUSD` -> `EURUSD.m`, `EURUSDm`, `EURUSD.pro`), preferring the only one in Market Watch;
    /// several candidates are refused ([`mtq_connector::BrokerError::AmbiguousSymbol`]). On by
    /// default in [`Mt5Config::new`].
    pub discover: bool,
}

/// Everything [`crate::Mt5Broker::listen`] needs.
///
/// ```
/// use std::time::Duration;
/// use mtq_mt5::{Mt5Config, Token};
///
/// let cfg = Mt5Config {
///     request_timeout: Duration::from_secs(5),
///     ..Mt5Config::new(5555, Token::new("correct-horse-battery").unwrap())
/// }
/// .with_suffix(".m");
/// assert_eq!(cfg.symbols.suffix.as_deref(), Some(".m"));
/// assert!(!format!("{cfg:?}").contains("horse"));
/// ```
#[derive(Clone, Debug)]
pub struct Mt5Config {
    /// Port on 127.0.0.1; 0 picks a free one (see [`crate::Mt5Broker::local_port`]).
    pub port: u16,
    pub token: Token,
    pub symbols: SymbolMapping,
    /// Longest wait for an answer to a data request, and for a terminal to be connected before
    /// a request is sent.
    pub request_timeout: Duration,
    /// Longest wait for an answer to a trade request (`OrderSend` is synchronous in the terminal
    /// and waits for the trade server).
    pub trade_timeout: Duration,
    /// How often the connector sends a heartbeat to the bridge.
    pub heartbeat_interval: Duration,
    /// Silence after which the terminal is declared dead and the connection dropped. Must be
    /// several times the EA's heartbeat interval (its `HeartbeatSeconds` input).
    pub heartbeat_timeout: Duration,
    /// Time a new connection has to send its hello.
    pub hello_timeout: Duration,
    /// Longest accepted line; longer ones are dropped (and logged) without growing memory.
    pub max_line_bytes: usize,
    /// Refuse terminals logged in to any other account. When `None`, the first account that
    /// connects is the only one accepted for the connector's lifetime.
    pub expected_login: Option<u64>,
    /// Refused connections are logged once, then summarised at most once per this interval.
    pub refusal_log_interval: Duration,
    /// How long a symbol's specification is reused before it is read again (stops and freeze
    /// levels change around news).
    pub spec_ttl: Duration,
}

impl Mt5Config {
    /// Defaults: 10 s for data, 30 s for trades, heartbeats every 2 s, a terminal silent for 15 s
    /// is dead, no explicit names or suffix, discovery on.
    pub fn new(port: u16, token: Token) -> Self {
        Self {
            port,
            token,
            symbols: SymbolMapping {
                discover: true,
                ..SymbolMapping::default()
            },
            request_timeout: Duration::from_secs(10),
            trade_timeout: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(2),
            heartbeat_timeout: Duration::from_secs(15),
            hello_timeout: Duration::from_secs(10),
            max_line_bytes: DEFAULT_MAX_LINE,
            expected_login: None,
            spec_ttl: Duration::from_secs(60),
            refusal_log_interval: Duration::from_secs(60),
        }
    }

    /// Every MTQ symbol gets `suffix` appended at the broker.
    pub fn with_suffix(mut self, suffix: &str) -> Self {
        self.symbols.suffix = (!suffix.is_empty()).then(|| suffix.to_string());
        self
    }

    /// `mtq` is called `broker` at the broker.
    pub fn with_symbol(mut self, mtq: Symbol, broker: &str) -> Self {
        self.symbols.explicit.insert(mtq, broker.to_string());
        self
    }

    /// Look up unknown names in the broker's symbol list (the default).
    pub fn with_discovery(mut self) -> Self {
        self.symbols.discover = true;
        self
    }

    /// Never look through the broker's symbol list: names are used as configured.
    pub fn without_discovery(mut self) -> Self {
        self.symbols.discover = false;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), Mt5Error> {
        let positive = |d: Duration, name: &str| {
            if d.is_zero() {
                Err(Mt5Error::Config(format!(
                    "{name} must be greater than zero"
                )))
            } else {
                Ok(())
            }
        };
        positive(self.request_timeout, "request_timeout")?;
        positive(self.trade_timeout, "trade_timeout")?;
        positive(self.heartbeat_interval, "heartbeat_interval")?;
        positive(self.hello_timeout, "hello_timeout")?;
        positive(self.refusal_log_interval, "refusal_log_interval")?;
        if self.heartbeat_timeout < self.heartbeat_interval * 2 {
            return Err(Mt5Error::Config(
                "heartbeat_timeout must be at least twice heartbeat_interval".into(),
            ));
        }
        if self.max_line_bytes < 64 * 1024 {
            return Err(Mt5Error::Config(
                "max_line_bytes must be at least 65536".into(),
            ));
        }
        for (mtq, broker) in &self.symbols.explicit {
            Symbol::new(broker)
                .map_err(|e| Mt5Error::Config(format!("symbol mapping for {mtq}: {e}")))?;
        }
        if let Some(s) = &self.symbols.suffix
            && !s.chars().all(|c| c.is_ascii_graphic())
        {
            return Err(Mt5Error::Config(format!(
                "symbol suffix {s:?} must be printable ASCII without spaces"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_or_spaced_token_is_refused_and_never_shown() {
        assert!(Token::new("short").is_err());
        assert!(Token::new("has a space in").is_err());
        let t = Token::new("0123456789abcdef").unwrap();
        assert_eq!(format!("{t:?}"), "Token(***)");
    }

    #[test]
    fn config_checks_name_the_setting() {
        let mut c = Mt5Config::new(0, Token::new("0123456789").unwrap());
        assert!(c.validate().is_ok());
        c.heartbeat_timeout = Duration::from_secs(1);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("heartbeat_timeout"), "{err}");
        let c = Mt5Config::new(0, Token::new("0123456789").unwrap()).with_suffix("a b");
        assert!(c.validate().is_err());
    }
}
