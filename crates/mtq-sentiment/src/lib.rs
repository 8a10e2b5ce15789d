//! MTQ's LLM sentiment filter: reads headlines from RSS/Atom feeds, asks a language model for a
//! score per currency in JSON against a schema, and refuses an entry signal that the news is
//! against. Off by default.
//!
//! Owns: the `sentiment:` configuration and its validation ([`SentimentConfig`]), the provider
//! requests (OpenAI chat completions, Anthropic messages, any OpenAI-compatible base URL such as
//! a local llama.cpp or Ollama server; HTTPS over rustls, plain HTTP to loopback only), the feed
//! reader (`feed-rs`), the prompt and the validation of the model's answer (malformed answers are
//! rejected and counted), a cache per currency and interval, a daily request cap and cost cap, a
//! timeout, and the fail mode (open: allow; closed: refuse) when no score can be had.
//!
//! Does not own: where the verdict goes. The trader asks [`SentimentFilter::check`] for an entry
//! signal and stores the [`Verdict`] with the signal; API keys come from the environment and are
//! never logged ([`ApiKey`]'s `Debug` redacts them).
//!
//! ```
//! use mtq_sentiment::{SentimentConfig, SentimentFilter};
//!
//! let yaml = "
//! enabled: true
//! provider: openai_compatible
//! model: llama3
//! base_url: http://127.0.0.1:11434/v1
//! feeds: ['https://www.example.com/forex.rss']
//! fail_mode: closed
//! ";
//! let config: SentimentConfig = serde_norway::from_str(yaml).unwrap();
//! let settings = config.validate(|var| std::env::var(var).ok()).unwrap();
//! let filter = SentimentFilter::new(settings).unwrap();
//! assert_eq!(filter.settings().cache.as_secs(), 900);
//! ```

mod config;
mod feeds;
mod filter;
mod provider;
pub mod verdict;

pub use config::{ApiKey, FailMode, ProviderKind, SentimentConfig, Settings, check_url};
pub use feeds::FeedError;
pub use filter::{SentimentFilter, Stats, Unavailable, Verdict, currencies};
pub use provider::{Completion, ProviderError};

/// What can go wrong setting the filter up (asking it never fails: see [`Verdict`]).
#[derive(Debug, thiserror::Error)]
pub enum SentimentError {
    #[error("{key}: {reason}")]
    Config { key: String, reason: String },
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}
