//! The three channels as sinks: each paces itself, retries what may succeed later, and says how
//! the delivery went.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::email::EmailClient;
use crate::event::Alert;
use crate::limit::{Pacer, Rule, TELEGRAM_GLOBAL, TELEGRAM_PER_CHAT, TELEGRAM_PER_GROUP};
use crate::telegram::{TelegramClient, TelegramError};
use crate::webhook::{WebhookClient, WebhookError};

/// Where alerts go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Telegram,
    Webhook,
    Email,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Telegram, Channel::Webhook, Channel::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Telegram => "telegram",
            Channel::Webhook => "webhook",
            Channel::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert on its way to one channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub alert: Alert,
    /// Sent without a notification (the event type's level is `silent`).
    pub silent: bool,
    /// Identical alerts folded into this one by the dedup window.
    pub repeats: u32,
    /// The account name the trader serves.
    pub account: String,
}

impl Delivery {
    /// The message text every channel sends.
    pub fn text(&self) -> String {
        let mut s = format!(
            "[{}] {}\n{}",
            self.alert.severity.as_str().to_uppercase(),
            self.alert.title,
            self.alert.text
        );
        if self.repeats > 0 {
            s.push_str(&format!(
                "\n(and {} identical alert{} since the last one)",
                self.repeats,
                if self.repeats == 1 { "" } else { "s" }
            ));
        }
        s.push_str(&format!(
            "\n{} · account {}",
            self.alert.time.format("%Y-%m-%d %H:%M:%S UTC"),
            self.account
        ));
        s
    }
}

/// How a delivery went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub delivered: bool,
    pub attempts: u32,
    pub error: Option<String>,
}

/// The longest 429 `retry_after` honoured by waiting; a longer one fails the delivery (the
/// queue behind it would otherwise stall for that long).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// A channel.
#[async_trait::async_trait]
pub trait Sink: Send + 'static {
    fn channel(&self) -> Channel;
    /// Delivers one alert, pacing and retrying as the channel's rules say.
    async fn deliver(&mut self, d: &Delivery) -> Outcome;
}

async fn pace(pacers: &mut [&mut Pacer]) {
    loop {
        let now = Instant::now();
        let wait = pacers
            .iter_mut()
            .map(|p| p.wait(now))
            .max()
            .unwrap_or_default();
        if wait.is_zero() {
            for p in pacers.iter_mut() {
                p.record(now);
            }
            return;
        }
        tokio::time::sleep(wait).await;
    }
}

/// Sends to every configured chat.
#[derive(Debug)]
pub struct TelegramSink {
    client: TelegramClient,
    chats: Vec<i64>,
    per_chat: HashMap<i64, Pacer>,
    global: Pacer,
    attempts: u32,
    backoff: Duration,
}

impl TelegramSink {
    pub fn new(client: TelegramClient, chats: Vec<i64>) -> Self {
        Self {
            client,
            chats,
            per_chat: HashMap::new(),
            global: Pacer::new(&[TELEGRAM_GLOBAL]),
            attempts: 4,
            backoff: Duration::from_secs(1),
        }
    }

    /// Tries per chat and the first pause between tries (doubling).
    pub fn with_retries(mut self, attempts: u32, backoff: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self
    }

    async fn send_to_chat(
        &mut self,
        chat: i64,
        text: &str,
        silent: bool,
    ) -> (u32, Result<(), String>) {
        let mut pause = self.backoff;
        let mut tries = 0;
        loop {
            tries += 1;
            let chat_pacer = self.per_chat.entry(chat).or_insert_with(|| {
                // Negative ids are groups and channels: 20 a minute as well.
                let rules: &[Rule] = if chat < 0 {
                    &[TELEGRAM_PER_CHAT, TELEGRAM_PER_GROUP]
                } else {
                    &[TELEGRAM_PER_CHAT]
                };
                Pacer::new(rules)
            });
            pace(&mut [chat_pacer, &mut self.global]).await;
            let e = match self.client.send_message(chat, text, silent).await {
                Ok(()) => return (tries, Ok(())),
                Err(e) => e,
            };
            if tries >= self.attempts || !e.is_retryable() {
                return (tries, Err(e.to_string()));
            }
            let wait = match e {
                TelegramError::RetryAfter(d) if d > MAX_RETRY_AFTER => {
                    return (tries, Err(e.to_string()));
                }
                TelegramError::RetryAfter(d) => d,
                _ => {
                    let p = pause;
                    pause = pause.saturating_mul(2);
                    p
                }
            };
            tracing::warn!(chat, attempt = tries, error = %e, "telegram: retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

#[async_trait::async_trait]
impl Sink for TelegramSink {
    fn channel(&self) -> Channel {
        Channel::Telegram
    }

    async fn deliver(&mut self, d: &Delivery) -> Outcome {
        let text = d.text();
        let mut attempts = 0;
        let mut errors = Vec::new();
        for chat in self.chats.clone() {
            let (n, r) = self.send_to_chat(chat, &text, d.silent).await;
            attempts += n;
            if let Err(e) = r {
                errors.push(format!("chat {chat}: {e}"));
            }
        }
        Outcome {
            delivered: errors.is_empty() && !self.chats.is_empty(),
            attempts,
            error: if self.chats.is_empty() {
                Some("no chat ids configured (alerts.telegram.chat_ids)".into())
            } else {
                (!errors.is_empty()).then(|| errors.join("; "))
            },
        }
    }
}

/// Retries with a doubling pause, `retries` times after the first try.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub retries: u32,
    pub first: Duration,
}

/// POSTs each alert as signed JSON.
#[derive(Debug)]
pub struct WebhookSink {
    client: WebhookClient,
    backoff: Backoff,
    pacer: Pacer,
}

impl WebhookSink {
    pub fn new(client: WebhookClient, backoff: Backoff, per_minute: u32) -> Self {
        Self {
            client,
            backoff,
            pacer: Pacer::new(&[Rule::new(per_minute, Duration::from_secs(60))]),
        }
    }

    /// The JSON body a receiver gets.
    pub fn body(d: &Delivery) -> serde_json::Value {
        json!({
            "v": 1,
            "kind": d.alert.kind,
            "severity": d.alert.severity,
            "time": d.alert.time,
            "title": d.alert.title,
            "text": d.alert.text,
            "account": d.account,
            "silent": d.silent,
            "repeats": d.repeats,
        })
    }
}

#[async_trait::async_trait]
impl Sink for WebhookSink {
    fn channel(&self) -> Channel {
        Channel::Webhook
    }

    async fn deliver(&mut self, d: &Delivery) -> Outcome {
        let body = Self::body(d).to_string();
        let mut pause = self.backoff.first;
        let mut tries = 0;
        loop {
            tries += 1;
            pace(&mut [&mut self.pacer]).await;
            let now = chrono::Utc::now().timestamp();
            let e = match self.client.post(body.as_bytes(), now).await {
                Ok(()) => {
                    return Outcome {
                        delivered: true,
                        attempts: tries,
                        error: None,
                    };
                }
                Err(e) => e,
            };
            let last = tries > self.backoff.retries;
            let too_long = matches!(e, WebhookError::RetryAfter(w) if w > MAX_RETRY_AFTER);
            if last || !e.is_retryable() || too_long {
                return Outcome {
                    delivered: false,
                    attempts: tries,
                    error: Some(e.to_string()),
                };
            }
            let wait = match e {
                WebhookError::RetryAfter(w) => w,
                _ => {
                    let p = pause;
                    pause = pause.saturating_mul(2);
                    p
                }
            };
            tracing::warn!(attempt = tries, error = %e, "webhook: retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

/// Mails each alert.
#[derive(Debug)]
pub struct EmailSink {
    client: EmailClient,
    backoff: Backoff,
    pacer: Pacer,
}

impl EmailSink {
    pub fn new(client: EmailClient, backoff: Backoff, per_minute: u32) -> Self {
        Self {
            client,
            backoff,
            pacer: Pacer::new(&[Rule::new(per_minute, Duration::from_secs(60))]),
        }
    }
}

#[async_trait::async_trait]
impl Sink for EmailSink {
    fn channel(&self) -> Channel {
        Channel::Email
    }

    async fn deliver(&mut self, d: &Delivery) -> Outcome {
        let subject = format!("[MTQ {}] {}", d.alert.severity.as_str(), d.alert.title);
        let body = d.text();
        let mut pause = self.backoff.first;
        let mut tries = 0;
        loop {
            tries += 1;
            pace(&mut [&mut self.pacer]).await;
            let e = match self.client.send(&subject, &body, d.silent).await {
                Ok(()) => {
                    return Outcome {
                        delivered: true,
                        attempts: tries,
                        error: None,
                    };
                }
                Err(e) => e,
            };
            if tries > self.backoff.retries || !e.is_retryable() {
                return Outcome {
                    delivered: false,
                    attempts: tries,
                    error: Some(e.to_string()),
                };
            }
            tracing::warn!(attempt = tries, error = %e, "email: retrying");
            tokio::time::sleep(pause).await;
            pause = pause.saturating_mul(2);
        }
    }
}
