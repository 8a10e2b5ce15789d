//! The Telegram Bot API: `sendMessage` for alerts, `getUpdates` for commands.
//!
//! The token is part of every request's URL (`{api_url}/bot{token}/{method}`), so no URL is
//! ever logged or put in an error: transport errors are stripped of theirs.

use std::time::Duration;

use mtq_orchestrator::config::Secret;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Telegram's longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// Why a Bot API call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TelegramError {
    /// 429: Telegram asks to wait this long before the next request.
    #[error("Telegram asked to wait {0:?} (429 Too Many Requests)")]
    RetryAfter(Duration),
    /// The Bot API answered with an error (401: a bad token; 400: a bad chat id, ...).
    #[error("Telegram answered {status}: {description}")]
    Api { status: u16, description: String },
    /// No answer: the network, a timeout, a closed connection.
    #[error("could not reach Telegram: {0}")]
    Transport(String),
}

impl TelegramError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            TelegramError::RetryAfter(_) | TelegramError::Transport(_) => true,
            TelegramError::Api { status, .. } => *status >= 500,
        }
    }
}

/// The Bot API's envelope.
#[derive(Debug, Deserialize)]
struct Reply<T> {
    ok: bool,
    result: Option<T>,
    description: Option<String>,
    parameters: Option<ReplyParameters>,
}

#[derive(Debug, Deserialize)]
struct ReplyParameters {
    retry_after: Option<u64>,
}

/// One update from `getUpdates` (only what the commands need).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Update {
    pub update_id: i64,
    pub message: Option<Message>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub chat: Chat,
    pub text: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    pub id: i64,
}

/// A Bot API client.
#[derive(Clone)]
pub struct TelegramClient {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

impl std::fmt::Debug for TelegramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl TelegramClient {
    /// A client for `api_url` (`https://api.telegram.org`, or a test double) and a bot token;
    /// `timeout` bounds every request but a long poll, which adds its own hold time.
    pub fn new(api_url: &str, token: Secret, timeout: Duration) -> Result<Self, crate::SetupError> {
        Ok(Self {
            http: crate::http_client(timeout)?,
            base: api_url.trim_end_matches('/').to_string(),
            token,
        })
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        body: &serde_json::Value,
        timeout: Option<Duration>,
    ) -> Result<T, TelegramError> {
        let url = format!("{}/bot{}/{method}", self.base, self.token.expose());
        let mut req = self.http.post(url).json(body);
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| TelegramError::Transport(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| TelegramError::Transport(e.without_url().to_string()))?;
        let reply: Reply<T> = serde_json::from_slice(&bytes).map_err(|e| TelegramError::Api {
            status,
            description: format!("an answer that is not the Bot API's JSON ({e})"),
        })?;
        if status == 429 {
            let secs = reply.parameters.and_then(|p| p.retry_after).unwrap_or(1);
            return Err(TelegramError::RetryAfter(Duration::from_secs(secs)));
        }
        match (reply.ok, reply.result) {
            (true, Some(r)) => Ok(r),
            _ => Err(TelegramError::Api {
                status,
                description: reply.description.unwrap_or_else(|| "no description".into()),
            }),
        }
    }

    /// Sends `text` to `chat_id`; `silent` sends it without a notification sound.
    pub async fn send_message(
        &self,
        chat_id: i64,
        text: &str,
        silent: bool,
    ) -> Result<(), TelegramError> {
        let text: String = text.chars().take(MAX_MESSAGE_CHARS).collect();
        let body = json!({
            "chat_id": chat_id,
            "text": text,
            "disable_notification": silent,
            "link_preview_options": {"is_disabled": true},
        });
        self.call::<serde_json::Value>("sendMessage", &body, None)
            .await
            .map(drop)
    }

    /// Long-polls for updates after `offset`, holding up to `hold`.
    pub async fn get_updates(
        &self,
        offset: i64,
        hold: Duration,
    ) -> Result<Vec<Update>, TelegramError> {
        let body = json!({
            "offset": offset,
            "timeout": hold.as_secs(),
            "allowed_updates": ["message"],
        });
        // The request may be held `hold`, plus the usual allowance.
        let timeout = hold + Duration::from_secs(10);
        self.call("getUpdates", &body, Some(timeout)).await
    }
}
