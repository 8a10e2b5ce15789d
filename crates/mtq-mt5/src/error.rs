use std::time::Duration;

/// Errors of the connector's own operations (listening, waiting for the terminal). Broker calls
/// fail with [`mtq_connector::BrokerError`], classified there: a data request that timed out or
/// lost its connection is `Unanswered` or `Disconnected { after_send: false }` (transient: retry
/// with backoff), an unknown or ambiguous symbol is permanent (fix the configuration).
///
/// `Config` and `Bind` are permanent (fix the setting or the port); `NotConnected` and
/// `StillConnected` are about the terminal's state and may be waited for again.
#[derive(Debug, thiserror::Error)]
pub enum Mt5Error {
    #[error("invalid MT5 connector configuration: {0}")]
    Config(String),
    #[error(
        "cannot listen for the MT5 bridge on 127.0.0.1:{port} (another MTQ running? pick another --mt5-port): {source}"
    )]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "no MT5 terminal connected within {waited:?}: attach the MtqBridge EA to a chart with Port={port} and the same token, allow 127.0.0.1 in Tools > Options > Expert Advisors > WebRequest, and enable Algo Trading"
    )]
    NotConnected { waited: Duration, port: u16 },
    #[error("the MT5 terminal is still connected after {waited:?}")]
    StillConnected { waited: Duration },
}
