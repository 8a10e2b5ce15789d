//! The filter's configuration: what the trader config's `sentiment:` section (global or per
//! symbol) deserialises into, validated once into [`Settings`].

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::SentimentError;

/// Which API the provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI's chat completions (`POST {base_url}/chat/completions`, bearer key).
    #[default]
    Openai,
    /// Anthropic's messages API (`POST {base_url}/messages`, `x-api-key`).
    Anthropic,
    /// Any server speaking OpenAI's chat completions at another base URL (llama.cpp's
    /// `llama-server`, Ollama's `/v1`); a key is optional.
    OpenaiCompatible,
}

impl ProviderKind {
    /// The stable snake_case name used in rows, JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Anthropic => "anthropic",
            Self::OpenaiCompatible => "openai_compatible",
        }
    }

    fn default_base_url(self) -> Option<&'static str> {
        match self {
            Self::Openai => Some("https://api.openai.com/v1"),
            Self::Anthropic => Some("https://api.anthropic.com/v1"),
            Self::OpenaiCompatible => None,
        }
    }
}

/// What the filter does when it cannot get a verdict (timeout, provider error, malformed
/// output, a cap reached).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// Let the signal through (the filter only ever removes trades it has evidence against).
    #[default]
    Open,
    /// Refuse the signal.
    Closed,
}

/// The `sentiment:` section as written in YAML. Every key has a default (the section is off
/// unless `enabled: true`); [`SentimentConfig::validate`] checks what an enabled one needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SentimentConfig {
    /// Off by default: the section may be present and disabled.
    pub enabled: bool,
    /// The symbols filtered (`EURUSD`, ...); empty: every currency pair traded.
    pub symbols: Vec<String>,
    pub provider: ProviderKind,
    /// The model name sent to the provider (`gpt-4o-mini`, `claude-3-5-haiku-latest`, `llama3`).
    pub model: String,
    /// Required for `openai_compatible`; the official endpoints otherwise.
    pub base_url: Option<String>,
    /// The environment variable holding the API key (never the key itself).
    pub api_key_env: Option<String>,
    /// RSS 2.0, RSS 1.0 or Atom feeds read for headlines.
    pub feeds: Vec<String>,
    /// Headlines sent per request, newest first.
    pub max_headlines: usize,
    /// How long a currency's score is reused (one request per interval at most).
    pub cache_seconds: u64,
    /// Feeds plus provider, end to end.
    pub timeout_seconds: u64,
    /// Provider requests per UTC day; past it the filter answers by `fail_mode`.
    pub max_requests_per_day: u32,
    /// Spend per UTC day in US dollars, estimated from the token counts the provider reports.
    pub max_cost_per_day_usd: f64,
    /// Prices per million tokens, for the cost estimate (0 for a local server).
    pub input_usd_per_mtok: f64,
    pub output_usd_per_mtok: f64,
    /// A pair's score (base minus quote, in -2..2) beyond which a signal against it is refused.
    pub threshold: f64,
    pub fail_mode: FailMode,
}

impl Default for SentimentConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            symbols: Vec::new(),
            provider: ProviderKind::Openai,
            model: String::new(),
            base_url: None,
            api_key_env: None,
            feeds: Vec::new(),
            max_headlines: 30,
            cache_seconds: 900,
            timeout_seconds: 20,
            max_requests_per_day: 200,
            max_cost_per_day_usd: 1.0,
            input_usd_per_mtok: 0.0,
            output_usd_per_mtok: 0.0,
            threshold: 0.5,
            fail_mode: FailMode::Open,
        }
    }
}

/// An API key read from the environment. Its `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Upper case; empty: every currency pair.
    pub symbols: Vec<String>,
    pub provider: ProviderKind,
    pub model: String,
    /// Without a trailing slash.
    pub base_url: String,
    pub api_key: Option<ApiKey>,
    pub feeds: Vec<String>,
    pub max_headlines: usize,
    pub cache: Duration,
    pub timeout: Duration,
    pub max_requests_per_day: u32,
    pub max_cost_per_day_usd: f64,
    pub input_usd_per_mtok: f64,
    pub output_usd_per_mtok: f64,
    pub threshold: f64,
    pub fail_mode: FailMode,
}

fn bad(key: &str, reason: impl Into<String>) -> SentimentError {
    SentimentError::Config {
        key: format!("sentiment.{key}"),
        reason: reason.into(),
    }
}

/// `https://`, or `http://` to this machine only: headlines and prompts do not cross a network
/// in clear (a local llama.cpp or Ollama server listens on loopback).
pub fn check_url(key: &str, url: &str) -> Result<(), SentimentError> {
    if url.starts_with("https://") && url.len() > "https://".len() {
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.split_once(']').map(|(h, _)| h))
            .unwrap_or_else(|| host.rsplit_once(':').map_or(host, |(h, _)| h));
        if matches!(host, "localhost" | "127.0.0.1" | "::1") {
            return Ok(());
        }
        return Err(bad(
            key,
            format!("`{url}`: plain http is allowed to localhost only; use https://"),
        ));
    }
    Err(bad(key, format!("`{url}` is not an https:// URL")))
}

impl SentimentConfig {
    /// Validates the section, reading the API key through `env` (the process environment in
    /// the trader; a map in tests).
    pub fn validate(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, SentimentError> {
        if self.model.trim().is_empty() {
            return Err(bad("model", "is empty; name the provider's model"));
        }
        let base_url = match (&self.base_url, self.provider.default_base_url()) {
            (Some(url), _) => url.trim_end_matches('/').to_owned(),
            (None, Some(url)) => url.to_owned(),
            (None, None) => {
                return Err(bad(
                    "base_url",
                    "is required for provider openai_compatible (e.g. http://127.0.0.1:8080/v1)",
                ));
            }
        };
        check_url("base_url", &base_url)?;
        for (i, feed) in self.feeds.iter().enumerate() {
            check_url(&format!("feeds[{i}]"), feed)?;
        }
        if self.feeds.is_empty() {
            return Err(bad("feeds", "is empty; list at least one RSS or Atom feed"));
        }
        let api_key = match &self.api_key_env {
            Some(var) => match env(var) {
                Some(key) if !key.trim().is_empty() => Some(ApiKey::new(key.trim())),
                _ => {
                    return Err(bad(
                        "api_key_env",
                        format!("the environment variable `{var}` is not set or empty"),
                    ));
                }
            },
            None if self.provider == ProviderKind::OpenaiCompatible => None,
            None => {
                return Err(bad(
                    "api_key_env",
                    format!(
                        "is required for provider {} (name the environment variable holding the key)",
                        self.provider.as_str()
                    ),
                ));
            }
        };
        if self.max_headlines == 0 {
            return Err(bad("max_headlines", "must be at least 1"));
        }
        if self.cache_seconds == 0 {
            return Err(bad("cache_seconds", "must be at least 1"));
        }
        if self.timeout_seconds == 0 || self.timeout_seconds > 300 {
            return Err(bad("timeout_seconds", "must be between 1 and 300"));
        }
        for (key, v) in [
            ("max_cost_per_day_usd", self.max_cost_per_day_usd),
            ("input_usd_per_mtok", self.input_usd_per_mtok),
            ("output_usd_per_mtok", self.output_usd_per_mtok),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(bad(key, format!("{v} must be a finite amount >= 0")));
            }
        }
        if !self.threshold.is_finite() || self.threshold <= 0.0 || self.threshold > 2.0 {
            return Err(bad(
                "threshold",
                format!(
                    "{} must be in (0, 2] (a pair's score is base minus quote, each in -1..1)",
                    self.threshold
                ),
            ));
        }
        let mut symbols = Vec::with_capacity(self.symbols.len());
        for (i, sym) in self.symbols.iter().enumerate() {
            if crate::currencies(sym).is_none() {
                return Err(bad(
                    &format!("symbols[{i}]"),
                    format!("`{sym}` is not a currency pair (six letters such as EURUSD)"),
                ));
            }
            symbols.push(sym.to_ascii_uppercase());
        }
        Ok(Settings {
            symbols,
            provider: self.provider,
            model: self.model.clone(),
            base_url,
            api_key,
            feeds: self.feeds.clone(),
            max_headlines: self.max_headlines,
            cache: Duration::from_secs(self.cache_seconds),
            timeout: Duration::from_secs(self.timeout_seconds),
            max_requests_per_day: self.max_requests_per_day,
            max_cost_per_day_usd: self.max_cost_per_day_usd,
            input_usd_per_mtok: self.input_usd_per_mtok,
            output_usd_per_mtok: self.output_usd_per_mtok,
            threshold: self.threshold,
            fail_mode: self.fail_mode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(extra: &str) -> SentimentConfig {
        let text = format!(
            "{{enabled: true, provider: openai, model: gpt-4o-mini, api_key_env: MTQ_TEST_KEY, feeds: ['https://example.com/rss']{extra}}}"
        );
        serde_norway::from_str(&text).unwrap()
    }

    #[test]
    fn a_missing_key_names_the_environment_variable() {
        let err = yaml("").validate(|_| None).unwrap_err().to_string();
        assert!(err.contains("sentiment.api_key_env"), "{err}");
        assert!(err.contains("MTQ_TEST_KEY"), "{err}");
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let s = yaml("").validate(|_| Some("sk-secret-123".into())).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("sk-secret-123"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn plain_http_is_refused_off_this_machine() {
        let err = yaml(", base_url: 'http://10.0.0.5:8080/v1'")
            .validate(|_| Some("k".into()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sentiment.base_url") && err.contains("localhost only"),
            "{err}"
        );
        assert!(check_url("x", "http://127.0.0.1:9/v1").is_ok());
        assert!(check_url("x", "http://[::1]:9/v1").is_ok());
        assert!(check_url("x", "ftp://example.com").is_err());
    }

    #[test]
    fn an_out_of_range_threshold_is_refused() {
        let err = yaml(", threshold: 3")
            .validate(|_| Some("k".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("sentiment.threshold"), "{err}");
    }

    #[test]
    fn openai_compatible_needs_a_base_url_but_no_key() {
        let mut c = yaml("");
        c.provider = ProviderKind::OpenaiCompatible;
        c.api_key_env = None;
        assert!(
            c.validate(|_| None)
                .unwrap_err()
                .to_string()
                .contains("base_url")
        );
        c.base_url = Some("http://localhost:11434/v1/".into());
        let s = c.validate(|_| None).unwrap();
        assert_eq!(s.base_url, "http://localhost:11434/v1");
        assert!(s.api_key.is_none());
    }
}
