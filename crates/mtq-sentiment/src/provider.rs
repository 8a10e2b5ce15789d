//! The provider APIs: OpenAI's chat completions (also spoken by llama.cpp and Ollama at another
//! base URL) and Anthropic's messages API. One request, one text answer, the token counts.

use serde_json::{Value, json};

use crate::config::{ApiKey, ProviderKind, Settings};
use crate::verdict;

/// Anthropic's API version header (their docs: required on every request).
const ANTHROPIC_VERSION: &str = "2023-06-01";
/// The answer is a short JSON object: a bound on what a request may cost.
const MAX_OUTPUT_TOKENS: u32 = 1024;

/// What the provider answered.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    pub text: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// A request that got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{provider} answered HTTP {status}: {body}")]
    Status {
        provider: &'static str,
        status: u16,
        body: String,
    },
    #[error("{provider} request failed: {source}")]
    Transport {
        provider: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{provider} answered in an unexpected shape: {what}")]
    Shape {
        provider: &'static str,
        what: String,
    },
}

pub(crate) async fn complete(
    http: &reqwest::Client,
    s: &Settings,
    user: String,
) -> Result<Completion, ProviderError> {
    let provider = s.provider.as_str();
    // A server that reports no usage (some local ones) is charged an estimate, never zero.
    let estimate = user_len_tokens(&user) + user_len_tokens(verdict::SYSTEM);
    let request = match s.provider {
        ProviderKind::Openai | ProviderKind::OpenaiCompatible => {
            let body = json!({
                "model": s.model,
                "temperature": 0,
                "max_tokens": MAX_OUTPUT_TOKENS,
                "response_format": {"type": "json_object"},
                "messages": [
                    {"role": "system", "content": verdict::SYSTEM},
                    {"role": "user", "content": user},
                ],
            });
            let mut r = http
                .post(format!("{}/chat/completions", s.base_url))
                .json(&body);
            if let Some(key) = &s.api_key {
                r = r.bearer_auth(key.expose());
            }
            r
        }
        ProviderKind::Anthropic => {
            let body = json!({
                "model": s.model,
                "temperature": 0,
                "max_tokens": MAX_OUTPUT_TOKENS,
                "system": verdict::SYSTEM,
                "messages": [{"role": "user", "content": user}],
            });
            let mut r = http
                .post(format!("{}/messages", s.base_url))
                .header("anthropic-version", ANTHROPIC_VERSION)
                .json(&body);
            if let Some(key) = &s.api_key {
                r = r.header("x-api-key", key.expose());
            }
            r
        }
    };
    let transport = |source| ProviderError::Transport { provider, source };
    let response = request.send().await.map_err(transport)?;
    let status = response.status();
    let text = response.text().await.map_err(transport)?;
    if !status.is_success() {
        // Some servers quote the credentials they refused: the body goes into logs and errors.
        return Err(ProviderError::Status {
            provider,
            status: status.as_u16(),
            body: scrub(&text, s.api_key.as_ref()).chars().take(300).collect(),
        });
    }
    let shape = |what: &str| ProviderError::Shape {
        provider,
        what: what.to_owned(),
    };
    let v: Value = serde_json::from_str(&text).map_err(|e| shape(&format!("not JSON: {e}")))?;
    let (text, input, output) = match s.provider {
        ProviderKind::Openai | ProviderKind::OpenaiCompatible => (
            v.pointer("/choices/0/message/content")
                .and_then(Value::as_str),
            v.pointer("/usage/prompt_tokens").and_then(Value::as_u64),
            v.pointer("/usage/completion_tokens")
                .and_then(Value::as_u64),
        ),
        ProviderKind::Anthropic => (
            v.get("content")
                .and_then(Value::as_array)
                .and_then(|blocks| {
                    blocks
                        .iter()
                        .find(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                })
                .and_then(|b| b.get("text"))
                .and_then(Value::as_str),
            v.pointer("/usage/input_tokens").and_then(Value::as_u64),
            v.pointer("/usage/output_tokens").and_then(Value::as_u64),
        ),
    };
    let text = text.ok_or_else(|| shape("no text content in the answer"))?;
    Ok(Completion {
        // A malformed answer is logged with a part of its text.
        text: scrub(text, s.api_key.as_ref()),
        input_tokens: input.unwrap_or(estimate),
        output_tokens: output.unwrap_or(u64::from(MAX_OUTPUT_TOKENS)),
    })
}

/// `text` with every occurrence of the key replaced, so that nothing a server sends back can
/// carry the key into a log line or an error.
fn scrub(text: &str, key: Option<&ApiKey>) -> String {
    match key.map(ApiKey::expose) {
        Some(k) if !k.is_empty() && text.contains(k) => text.replace(k, "<redacted>"),
        _ => text.to_owned(),
    }
}

fn user_len_tokens(s: &str) -> u64 {
    // About four characters a token for English text (OpenAI's rule of thumb).
    (s.len() as u64).div_ceil(4)
}
