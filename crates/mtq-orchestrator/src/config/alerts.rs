//! `alerts:`: where operator notifications go (Telegram, a webhook, email), which events each
//! channel carries and how loudly, and who may steer the trader from Telegram. The sinks
//! themselves live in `mtq-alerts`; this is only the validated shape of the section, so the key
//! check knows every key and a misspelling is refused with the nearest name.
//!
//! Secrets (the bot token, the webhook's signing secret, the SMTP password) come from the file or,
//! better, from `MTQ__ALERTS__TELEGRAM__BOT_TOKEN`-style variables; they are [`Secret`]s, whose
//! `Debug` never shows them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::control::Role;

/// A secret from the configuration: its `Debug` prints `****` (or `""` when unset), so logging a
/// section never leaks it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("****")
        }
    }
}

/// How an event type goes out on a channel: freqtrade's `on` / `silent` / `off`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertLevel {
    /// Sent with a notification.
    #[default]
    On,
    /// Sent quietly: Telegram without sound, a webhook with `"silent": true`, email marked
    /// low importance.
    Silent,
    /// Not sent.
    Off,
}

impl AlertLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertLevel::On => "on",
            AlertLevel::Silent => "silent",
            AlertLevel::Off => "off",
        }
    }
}

impl std::str::FromStr for AlertLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "on" => Ok(AlertLevel::On),
            "silent" => Ok(AlertLevel::Silent),
            "off" => Ok(AlertLevel::Off),
            other => Err(format!("unknown level `{other}`: use on, silent or off")),
        }
    }
}

/// The level of every event type on one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventLevels {
    pub kill_switch_tripped: AlertLevel,
    pub kill_switch_reset: AlertLevel,
    pub order_rejected: AlertLevel,
    pub order_unknown: AlertLevel,
    pub broker_disconnected: AlertLevel,
    pub broker_reconnected: AlertLevel,
    pub position_opened: AlertLevel,
    pub position_closed: AlertLevel,
    pub stops_moved: AlertLevel,
    pub config_reloaded: AlertLevel,
    pub daily_summary: AlertLevel,
    pub auth_failures: AlertLevel,
}

impl Default for EventLevels {
    /// Everything on, stop moves silent (a trailing stop moves often).
    fn default() -> Self {
        Self::all(AlertLevel::On).with_stops(AlertLevel::Silent)
    }
}

impl EventLevels {
    /// Every event type at `level`.
    pub fn all(level: AlertLevel) -> Self {
        Self {
            kill_switch_tripped: level,
            kill_switch_reset: level,
            order_rejected: level,
            order_unknown: level,
            broker_disconnected: level,
            broker_reconnected: level,
            position_opened: level,
            position_closed: level,
            stops_moved: level,
            config_reloaded: level,
            daily_summary: level,
            auth_failures: level,
        }
    }

    fn with_stops(mut self, level: AlertLevel) -> Self {
        self.stops_moved = level;
        self
    }

    /// Email's default: what an operator must read even away from the phone.
    pub fn critical_only() -> Self {
        Self {
            kill_switch_tripped: AlertLevel::On,
            kill_switch_reset: AlertLevel::On,
            order_unknown: AlertLevel::On,
            broker_disconnected: AlertLevel::On,
            daily_summary: AlertLevel::On,
            auth_failures: AlertLevel::On,
            ..Self::all(AlertLevel::Off)
        }
    }
}

/// `alerts.telegram`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelegramSection {
    pub enabled: bool,
    /// The bot's token from @BotFather (better: `MTQ__ALERTS__TELEGRAM__BOT_TOKEN`).
    pub bot_token: Secret,
    /// The Bot API's base URL (a local Bot API server, or a test double).
    pub api_url: String,
    /// Chats that receive alerts.
    pub chat_ids: Vec<i64>,
    /// Answer commands (`/status`, `/pause`, ...) by long polling.
    pub commands: bool,
    /// Chats allowed to send commands, with the role each has (`"123456": trader`). Any other
    /// chat is ignored.
    pub command_chats: BTreeMap<String, Role>,
    /// How long a state-changing command waits for `/confirm`.
    pub confirm_seconds: u64,
    /// The long poll's `timeout` (seconds the Bot API holds `getUpdates` open).
    pub poll_seconds: u64,
    pub timeout_seconds: u64,
    pub events: EventLevels,
}

impl Default for TelegramSection {
    fn default() -> Self {
        Self {
            enabled: false,
            bot_token: Secret::default(),
            api_url: "https://api.telegram.org".into(),
            chat_ids: Vec::new(),
            commands: false,
            command_chats: BTreeMap::new(),
            confirm_seconds: 60,
            poll_seconds: 25,
            timeout_seconds: 10,
            events: EventLevels::default(),
        }
    }
}

/// `alerts.webhook`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSection {
    pub enabled: bool,
    pub url: String,
    /// Signs each body (HMAC-SHA256 over `timestamp.body`); required when enabled.
    pub secret: Secret,
    pub timeout_seconds: u64,
    /// Attempts after the first one fails.
    pub retries: u32,
    /// The first retry's pause; each next one doubles.
    pub backoff_ms: u64,
    pub per_minute: u32,
    pub events: EventLevels,
}

impl Default for WebhookSection {
    fn default() -> Self {
        Self {
            enabled: false,
            url: String::new(),
            secret: Secret::default(),
            timeout_seconds: 5,
            retries: 3,
            backoff_ms: 500,
            per_minute: 60,
            events: EventLevels::default(),
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587), which is required.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No TLS: only accepted for a loopback host (a local relay).
    None,
}

/// `alerts.email`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailSection {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// A PEM file of CA certificates trusted for this server, besides the system's roots (a
    /// private relay's own CA). Empty: the system's roots only.
    pub ca_file: String,
    pub username: String,
    pub password: Secret,
    pub from: String,
    pub to: Vec<String>,
    pub timeout_seconds: u64,
    pub retries: u32,
    pub backoff_ms: u64,
    pub per_minute: u32,
    pub events: EventLevels,
}

impl Default for EmailSection {
    fn default() -> Self {
        Self {
            enabled: false,
            host: String::new(),
            port: 587,
            tls: SmtpTls::Starttls,
            ca_file: String::new(),
            username: String::new(),
            password: Secret::default(),
            from: String::new(),
            to: Vec::new(),
            timeout_seconds: 10,
            retries: 2,
            backoff_ms: 2000,
            per_minute: 10,
            events: EventLevels::critical_only(),
        }
    }
}

/// `alerts:`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsSection {
    /// Identical alerts (same event type and subject) within this many seconds are sent once;
    /// the next one sent says how many were folded into it.
    pub dedup_seconds: u64,
    /// Alerts waiting for the sinks; beyond it the newest is dropped and counted (the trader
    /// never waits).
    pub queue: usize,
    /// Failed logins and rejected credentials within `auth_failure_window_seconds` that make
    /// an `auth_failures` alert.
    pub auth_failure_burst: u32,
    pub auth_failure_window_seconds: u64,
    pub telegram: TelegramSection,
    pub webhook: WebhookSection,
    pub email: EmailSection,
}

impl Default for AlertsSection {
    fn default() -> Self {
        Self {
            dedup_seconds: 300,
            queue: 1024,
            auth_failure_burst: 10,
            auth_failure_window_seconds: 300,
            telegram: TelegramSection::default(),
            webhook: WebhookSection::default(),
            email: EmailSection::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ConfigSource, DEFAULT_CONFIG, load};
    use super::*;

    fn with(extra: &str) -> String {
        format!("{DEFAULT_CONFIG}\n{extra}\n")
    }

    #[test]
    fn the_alerts_section_loads_with_levels_roles_and_secrets() {
        let yaml = with(
            "alerts:\n  dedup_seconds: 60\n  telegram:\n    enabled: true\n    bot_token: '1:abc'\n    chat_ids: [42, -100]\n    command_chats: {'42': trader, '7': viewer}\n    events: {position_opened: silent, stops_moved: off}\n  email: {enabled: true, tls: implicit, port: 465}\n",
        );
        let c = load(&ConfigSource::Text(yaml), &[]).unwrap();
        let t = &c.alerts.telegram;
        assert_eq!(t.chat_ids, [42, -100]);
        assert_eq!(t.command_chats["42"], Role::Trader);
        assert_eq!(t.events.position_opened, AlertLevel::Silent);
        assert_eq!(t.events.stops_moved, AlertLevel::Off);
        assert_eq!(t.events.kill_switch_tripped, AlertLevel::On);
        assert_eq!(t.bot_token.expose(), "1:abc");
        assert_eq!(c.alerts.email.tls, SmtpTls::Implicit);
        assert_eq!(c.alerts.email.events, EventLevels::critical_only());
        // The token never shows in Debug output.
        assert!(!format!("{:?}", c.alerts).contains("1:abc"));
    }

    #[test]
    fn a_misspelt_alert_key_or_level_is_refused_by_name() {
        let yaml = with("alerts:\n  telegram:\n    events: {postion_opened: off}\n");
        let e = load(&ConfigSource::Text(yaml), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean `position_opened`"), "{e}");
        let yaml = with("alerts:\n  webhook:\n    events: {position_opened: loud}\n");
        let e = load(&ConfigSource::Text(yaml), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("position_opened") && e.contains("loud"), "{e}");
    }

    #[test]
    fn a_secret_value_is_hidden_in_error_messages() {
        use super::super::parse::redact;
        for key in [
            "alerts.telegram.bot_token",
            "alerts.webhook.secret",
            "alerts.email.password",
        ] {
            assert_eq!(redact(key, "hunter2".into()), "****", "{key}");
        }
        assert_eq!(redact("alerts.email.host", "smtp.x".into()), "smtp.x");
    }
}
