//! Webhooks: a JSON body, signed.
//!
//! Each POST carries `X-MTQ-Timestamp` (Unix seconds) and `X-MTQ-Signature: sha256=<hex>`, the
//! HMAC-SHA256 of `"{timestamp}.{body}"` under the shared secret. A receiver recomputes it over
//! the raw body (constant-time compare) and refuses a timestamp more than a few minutes old, so
//! a captured request cannot be replayed later ([`verify`] does both).

use std::time::Duration;

use mtq_orchestrator::config::Secret;
use ring::hmac;

/// The header with the Unix time the body was signed at.
pub const TIMESTAMP_HEADER: &str = "x-mtq-timestamp";
/// The header with `sha256=<hex HMAC>`.
pub const SIGNATURE_HEADER: &str = "x-mtq-signature";

/// The signature header's value for `body` signed at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("sha256={}", hex(ctx.sign().as_ref()))
}

/// Why a receiver refuses a webhook.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the {0} header is missing or not text")]
    Missing(&'static str),
    #[error("the timestamp `{0}` is not Unix seconds")]
    BadTimestamp(String),
    #[error("the timestamp is {0} s away from now: a replay, or a clock to fix")]
    Stale(i64),
    #[error("the signature does not match the body")]
    Mismatch,
}

/// What a receiver does: checks the signature over the raw body and that the timestamp is
/// within `tolerance` of `now` (Unix seconds).
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let ts = timestamp.ok_or(VerifyError::Missing(TIMESTAMP_HEADER))?;
    let sig = signature.ok_or(VerifyError::Missing(SIGNATURE_HEADER))?;
    let ts_n: i64 = ts
        .parse()
        .map_err(|_| VerifyError::BadTimestamp(ts.to_string()))?;
    let skew = (now - ts_n).abs();
    if u64::try_from(skew).unwrap_or(u64::MAX) > tolerance.as_secs() {
        return Err(VerifyError::Stale(skew));
    }
    let hex_sig = sig.strip_prefix("sha256=").ok_or(VerifyError::Mismatch)?;
    let raw = unhex(hex_sig).ok_or(VerifyError::Mismatch)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut msg = Vec::with_capacity(ts.len() + 1 + body.len());
    msg.extend_from_slice(ts.as_bytes());
    msg.push(b'.');
    msg.extend_from_slice(body);
    // ring compares in constant time.
    hmac::verify(&key, &msg, &raw).map_err(|_| VerifyError::Mismatch)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Why one POST failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WebhookError {
    #[error("the endpoint answered {0}")]
    Status(u16),
    #[error("the endpoint asked to wait {0:?} (429)")]
    RetryAfter(Duration),
    #[error("could not reach the endpoint: {0}")]
    Transport(String),
}

impl WebhookError {
    /// A 4xx other than 408 and 429 will not change by sending again.
    pub fn is_retryable(&self) -> bool {
        match self {
            WebhookError::Status(s) => *s >= 500 || *s == 408,
            WebhookError::RetryAfter(_) | WebhookError::Transport(_) => true,
        }
    }
}

/// Posts signed JSON bodies to one URL.
#[derive(Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    url: String,
    secret: Secret,
}

impl std::fmt::Debug for WebhookClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookClient")
            .field("url", &mtq_persistence::redact(&self.url))
            .finish_non_exhaustive()
    }
}

impl WebhookClient {
    pub fn new(url: &str, secret: Secret, timeout: Duration) -> Result<Self, crate::SetupError> {
        Ok(Self {
            http: crate::http_client(timeout)?,
            url: url.to_string(),
            secret,
        })
    }

    /// One signed POST of `body`.
    pub async fn post(&self, body: &[u8], now: i64) -> Result<(), WebhookError> {
        let signature = sign(self.secret.expose().as_bytes(), now, body);
        let resp = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, now.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(body.to_vec())
            .send()
            .await
            // The URL may carry a token of the receiver's: never in the error.
            .map_err(|e| WebhookError::Transport(e.without_url().to_string()))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        if status.as_u16() == 429 {
            let wait = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(1);
            return Err(WebhookError::RetryAfter(Duration::from_secs(wait)));
        }
        Err(WebhookError::Status(status.as_u16()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a shared secret of the receiver";

    #[test]
    fn a_signed_body_verifies_and_a_changed_one_does_not() {
        let body = br#"{"kind":"test"}"#;
        let sig = sign(SECRET, 1_700_000_000, body);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        let tol = Duration::from_secs(300);
        let ok = verify(
            SECRET,
            Some("1700000000"),
            Some(&sig),
            body,
            1_700_000_010,
            tol,
        );
        assert_eq!(ok, Ok(()));
        let changed = verify(
            SECRET,
            Some("1700000000"),
            Some(&sig),
            br#"{"kind":"tesT"}"#,
            1_700_000_010,
            tol,
        );
        assert_eq!(changed, Err(VerifyError::Mismatch));
        let other_key = verify(
            b"x",
            Some("1700000000"),
            Some(&sig),
            body,
            1_700_000_010,
            tol,
        );
        assert_eq!(other_key, Err(VerifyError::Mismatch));
    }

    #[test]
    fn an_old_timestamp_or_missing_header_is_refused() {
        let body = b"{}";
        let sig = sign(SECRET, 1_700_000_000, body);
        let tol = Duration::from_secs(300);
        assert_eq!(
            verify(
                SECRET,
                Some("1700000000"),
                Some(&sig),
                body,
                1_700_001_000,
                tol
            ),
            Err(VerifyError::Stale(1000))
        );
        assert_eq!(
            verify(SECRET, None, Some(&sig), body, 1_700_000_000, tol),
            Err(VerifyError::Missing(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify(SECRET, Some("soon"), Some(&sig), body, 1_700_000_000, tol),
            Err(VerifyError::BadTimestamp("soon".into()))
        );
        assert_eq!(
            verify(
                SECRET,
                Some("1700000000"),
                Some("sha256=zz"),
                body,
                1_700_000_000,
                tol
            ),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex(&[0, 15, 16, 255]), "000f10ff");
        assert_eq!(unhex("000f10ff"), Some(vec![0, 15, 16, 255]));
        assert_eq!(unhex("0"), None);
    }
}
