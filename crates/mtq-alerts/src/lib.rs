//! # mtq-alerts: operator notifications and Telegram commands
//!
//! Owns telling the operator what happened, and the phone as a control surface:
//!
//! - **Channels**: Telegram (Bot API `sendMessage`), webhooks (JSON with an HMAC-SHA256
//!   signature and a timestamp header, bounded retries with backoff) and email (SMTP with
//!   `lettre` over rustls, STARTTLS or implicit TLS).
//! - **Events**: kill switch tripped and reset, order rejected or outcome unknown, broker
//!   disconnected and reconnected, position opened and closed, SL/TP moved, configuration
//!   reloaded, a daily summary, bursts of authentication failures ([`AlertKind`]). Each is `on`,
//!   `silent` or `off` per channel (`alerts.<channel>.events` in the configuration, overridden
//!   by rows of `alert_configurations`).
//! - **Noise control**: a dedup window folds identical alerts into the next one sent; each
//!   channel paces itself (Telegram's own limits, its 429 `retry_after` honoured).
//! - **Off the trading path**: [`Alerter::notify`] only queues (a bounded queue; a full one
//!   drops and counts), and each channel runs on its own task, so a slow or dead endpoint never
//!   delays a cycle, nor the other channels.
//! - **History**: every delivery and its outcome (attempts, error, folded repeats) is written to
//!   `alert_history`.
//! - **Telegram commands** ([`TelegramBot`]): `/status /positions /balance /profit /daily
//!   /performance /pause /resume /stop /kill /help` by long polling, from allow-listed chats
//!   only, each with a role; commands that change state ask for `/confirm` and go through the
//!   trader's control channel, exactly as the API's do.
//!
//! It does **not** call the broker or decide anything about trading: it reads the live driver's
//! event stream and snapshot and sends [`mtq_orchestrator::ControlCommand`]s.
//!
//! ```
//! use mtq_alerts::{Alert, AlertKind, AlertSetup};
//! use mtq_orchestrator::config::AlertsSection;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // No channel enabled: alerts are routed nowhere, but the engine runs and counts.
//! let setup = AlertSetup::from_config(&AlertsSection::default(), &[], "default")?;
//! let (alerter, engine) = setup.start(None);
//! let t = "2024-03-04T10:00:00Z".parse()?;
//! assert!(alerter.notify(Alert::new(AlertKind::Test, t, "hello", "from the docs", "")));
//! drop(alerter);
//! engine.finish(std::time::Duration::from_secs(1)).await;
//! # Ok(())
//! # }
//! ```

mod bot;
mod dispatch;
pub mod email;
mod event;
mod forward;
pub mod limit;
mod sinks;
pub mod telegram;
pub mod webhook;

use std::collections::BTreeMap;
use std::time::Duration;

use mtq_orchestrator::config::{AlertLevel, AlertsSection};
use mtq_persistence::AlertPreference;

pub use bot::{BotOptions, TelegramBot};
pub use dispatch::{
    Alerter, CHANNEL_QUEUE, DeliveryRecord, Engine, History, Routing, Stats, StatsSnapshot, start,
};
pub use event::{Alert, AlertKind, Severity};
pub use forward::{AuthBurst, DailyTally, forward_events};
pub use sinks::{
    Backoff, Channel, Delivery, EmailSink, MAX_RETRY_AFTER, Outcome, Sink, TelegramSink,
    WebhookSink,
};

/// The shortest webhook secret accepted, in bytes.
pub const MIN_WEBHOOK_SECRET: usize = 16;

/// Why alerts could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// A configuration key to fix.
    #[error("{key}: {reason}")]
    Config { key: String, reason: String },
    #[error("the HTTP client could not be built: {0}")]
    Http(String),
}

fn bad(key: &str, reason: impl Into<String>) -> SetupError {
    SetupError::Config {
        key: key.into(),
        reason: reason.into(),
    }
}

/// An HTTP client over rustls with the ring provider (no OpenSSL, no aws-lc).
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, SetupError> {
    // Another part of the process may have installed it first: either way one is installed.
    // (rustls deprecates ring's provider for lacking post-quantum key exchange; aws-lc, which
    // has it, needs cmake and a C toolchain this project keeps out.)
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout.max(Duration::from_secs(1)))
        .connect_timeout(timeout.clamp(Duration::from_secs(1), Duration::from_secs(10)))
        .user_agent(concat!("mtq-alerts/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SetupError::Http(e.to_string()))
}

/// An endpoint URL: `https://`, or `http://` to this machine only (alerts say what the trader
/// does; they do not cross a network in clear).
pub fn check_url(key: &str, url: &str) -> Result<(), SetupError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad(key, format!("`{url}` is not an http(s) URL")))?;
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = host_port.rsplit('@').next().unwrap_or(host_port);
    let host = if host_port.starts_with('[') {
        host_port
            .split(']')
            .next()
            .unwrap_or("")
            .trim_start_matches('[')
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    if host.is_empty() {
        return Err(bad(key, format!("`{url}` has no host")));
    }
    match scheme {
        "https" => Ok(()),
        "http" if email::is_loopback_host(host) => Ok(()),
        "http" => Err(bad(
            key,
            format!("`{url}` is plain HTTP to another machine: use https"),
        )),
        _ => Err(bad(key, format!("`{url}`: use https://"))),
    }
}

/// The engine's parts as the configuration describes them.
pub struct AlertSetup {
    pub routing: Routing,
    pub sinks: Vec<Box<dyn Sink>>,
    pub auth: AuthBurst,
}

impl std::fmt::Debug for AlertSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSetup")
            .field("routing", &self.routing)
            .field(
                "sinks",
                &self.sinks.iter().map(|s| s.channel()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl AlertSetup {
    /// Checks `alerts:` and builds every enabled channel; `stored` (rows of
    /// `alert_configurations`) override the file's levels. Nothing is sent yet.
    pub fn from_config(
        cfg: &AlertsSection,
        stored: &[AlertPreference],
        account: &str,
    ) -> Result<Self, SetupError> {
        let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
        let mut levels = BTreeMap::new();
        let t = &cfg.telegram;
        if t.enabled {
            if t.bot_token.is_empty() {
                return Err(bad(
                    "alerts.telegram.bot_token",
                    "set the bot's token (better: the MTQ__ALERTS__TELEGRAM__BOT_TOKEN variable)",
                ));
            }
            check_url("alerts.telegram.api_url", &t.api_url)?;
            if t.chat_ids.is_empty() && !t.commands {
                return Err(bad(
                    "alerts.telegram.chat_ids",
                    "list the chats that receive alerts",
                ));
            }
            let client = telegram::TelegramClient::new(
                &t.api_url,
                t.bot_token.clone(),
                Duration::from_secs(t.timeout_seconds),
            )?;
            if !t.chat_ids.is_empty() {
                sinks.push(Box::new(TelegramSink::new(client, t.chat_ids.clone())));
                levels.insert(Channel::Telegram, t.events.clone());
            }
        }
        let w = &cfg.webhook;
        if w.enabled {
            check_url("alerts.webhook.url", &w.url)?;
            if w.secret.expose().len() < MIN_WEBHOOK_SECRET {
                return Err(bad(
                    "alerts.webhook.secret",
                    format!(
                        "the signing secret needs at least {MIN_WEBHOOK_SECRET} bytes (MTQ__ALERTS__WEBHOOK__SECRET)"
                    ),
                ));
            }
            let client = webhook::WebhookClient::new(
                &w.url,
                w.secret.clone(),
                Duration::from_secs(w.timeout_seconds),
            )?;
            let backoff = Backoff {
                retries: w.retries,
                first: Duration::from_millis(w.backoff_ms),
            };
            sinks.push(Box::new(WebhookSink::new(client, backoff, w.per_minute)));
            levels.insert(Channel::Webhook, w.events.clone());
        }
        let e = &cfg.email;
        if e.enabled {
            let client = email::EmailClient::new(e)?;
            let backoff = Backoff {
                retries: e.retries,
                first: Duration::from_millis(e.backoff_ms),
            };
            sinks.push(Box::new(EmailSink::new(client, backoff, e.per_minute)));
            levels.insert(Channel::Email, e.events.clone());
        }
        for p in stored {
            let (Some(ch), Some(kind), Ok(level)) = (
                Channel::parse(&p.channel),
                AlertKind::parse(&p.event_type),
                p.level.parse::<AlertLevel>(),
            ) else {
                tracing::warn!(channel = %p.channel, event_type = %p.event_type, level = %p.level,
                    "alert_configurations: a row names no known channel, event type or level; ignored");
                continue;
            };
            if let Some(l) = levels.get_mut(&ch) {
                kind.set_level(l, level);
            }
        }
        Ok(Self {
            routing: Routing {
                dedup: Duration::from_secs(cfg.dedup_seconds),
                queue: cfg.queue.max(1),
                levels,
                account: account.to_string(),
            },
            sinks,
            auth: AuthBurst::new(
                cfg.auth_failure_burst,
                Duration::from_secs(cfg.auth_failure_window_seconds),
            ),
        })
    }

    /// Keeps only `channel` (for `mtq-trader alerts test`); an error when it is not enabled.
    pub fn only(mut self, channel: Channel) -> Result<Self, SetupError> {
        self.sinks.retain(|s| s.channel() == channel);
        if self.sinks.is_empty() {
            return Err(bad(
                &format!("alerts.{channel}.enabled"),
                format!("the {channel} channel is not enabled (or has no recipients)"),
            ));
        }
        Ok(self)
    }

    /// The enabled channels.
    pub fn channels(&self) -> Vec<Channel> {
        self.sinks.iter().map(|s| s.channel()).collect()
    }

    /// Starts the engine.
    pub fn start(self, history: Option<History>) -> (Alerter, Engine) {
        dispatch::start(self.routing, self.sinks, history, self.auth)
    }
}

/// Sets a stored level from text (`mtq-trader alerts set`), checking each part.
pub fn parse_preference(
    channel: &str,
    event_type: &str,
    level: &str,
) -> Result<(Channel, AlertKind, AlertLevel), String> {
    let ch = Channel::parse(channel)
        .ok_or_else(|| format!("unknown channel `{channel}`: use telegram, webhook or email"))?;
    let kind = AlertKind::parse(event_type)
        .filter(|k| *k != AlertKind::Test)
        .ok_or_else(|| {
            let names: Vec<&str> = AlertKind::CONFIGURABLE.iter().map(|k| k.as_str()).collect();
            format!(
                "unknown event type `{event_type}`: use one of {}",
                names.join(", ")
            )
        })?;
    let level = level.parse::<AlertLevel>()?;
    Ok((ch, kind, level))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtq_orchestrator::config::Secret;

    #[test]
    fn urls_must_be_https_unless_loopback() {
        assert!(check_url("k", "https://hooks.example.com/x").is_ok());
        assert!(check_url("k", "http://127.0.0.1:9000/hook").is_ok());
        assert!(check_url("k", "http://[::1]:9000/hook").is_ok());
        assert!(check_url("k", "http://localhost/hook").is_ok());
        let e = check_url("alerts.webhook.url", "http://hooks.example.com/x").unwrap_err();
        assert!(e.to_string().starts_with("alerts.webhook.url: "), "{e}");
        assert!(check_url("k", "ftp://x").is_err());
        assert!(check_url("k", "hooks.example.com").is_err());
        assert!(check_url("k", "http://user@10.0.0.1/").is_err());
    }

    #[test]
    fn an_enabled_channel_without_its_secret_names_the_key() {
        let mut cfg = AlertsSection::default();
        cfg.telegram.enabled = true;
        cfg.telegram.chat_ids = vec![1];
        let e = AlertSetup::from_config(&cfg, &[], "a").unwrap_err();
        assert!(
            e.to_string().starts_with("alerts.telegram.bot_token"),
            "{e}"
        );
        let mut cfg = AlertsSection::default();
        cfg.webhook.enabled = true;
        cfg.webhook.url = "https://example.com/h".into();
        cfg.webhook.secret = Secret::new("short");
        let e = AlertSetup::from_config(&cfg, &[], "a").unwrap_err();
        assert!(e.to_string().starts_with("alerts.webhook.secret"), "{e}");
        // The secret never appears in the message or in Debug.
        assert!(!e.to_string().contains("short"));
        assert!(!format!("{cfg:?}").contains("short"));
    }

    #[test]
    fn stored_levels_override_the_file() {
        let mut cfg = AlertsSection::default();
        cfg.webhook.enabled = true;
        cfg.webhook.url = "http://127.0.0.1:1/h".into();
        cfg.webhook.secret = Secret::new("0123456789abcdef0123");
        let row = AlertPreference {
            channel: "webhook".into(),
            event_type: "position_opened".into(),
            level: "off".into(),
            updated_at: chrono::Utc::now(),
            updated_by: "cli".into(),
        };
        let s = AlertSetup::from_config(&cfg, &[row], "a").unwrap();
        let l = &s.routing.levels[&Channel::Webhook];
        assert_eq!(l.position_opened, AlertLevel::Off);
        assert_eq!(l.position_closed, AlertLevel::On);
        assert!(s.only(Channel::Email).is_err());
    }

    #[test]
    fn a_preference_names_what_is_wrong() {
        assert!(parse_preference("telegram", "position_opened", "silent").is_ok());
        assert!(
            parse_preference("sms", "position_opened", "on")
                .unwrap_err()
                .contains("sms")
        );
        assert!(
            parse_preference("email", "test", "on")
                .unwrap_err()
                .contains("kill_switch_tripped")
        );
        assert!(
            parse_preference("email", "stops_moved", "loud")
                .unwrap_err()
                .contains("on, silent or off")
        );
    }
}
