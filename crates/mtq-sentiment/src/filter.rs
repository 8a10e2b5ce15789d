//! The filter: a cache per currency and interval in front of one provider request, a daily
//! request cap and cost cap, a timeout, and the fail mode when no score can be had.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, NaiveDate, Utc};
use mtq_core::Side;
use serde::Serialize;

use crate::config::{FailMode, Settings};
use crate::{SentimentError, feeds, provider, verdict};

/// Why the filter had no score (the verdict then follows the fail mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unavailable {
    /// Feeds and provider together took longer than the configured timeout.
    Timeout,
    /// The provider answered with an error or not at all.
    ProviderError,
    /// The model's answer did not match the schema.
    Malformed,
    /// No feed could be read.
    FeedsFailed,
    /// The daily request cap was reached.
    RequestCap,
    /// The daily cost cap was reached.
    CostCap,
}

impl Unavailable {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::ProviderError => "provider_error",
            Self::Malformed => "malformed",
            Self::FeedsFailed => "feeds_failed",
            Self::RequestCap => "request_cap",
            Self::CostCap => "cost_cap",
        }
    }
}

/// The filter's decision on one entry signal, stored with the signal it filtered.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    pub allowed: bool,
    /// Base minus quote, in -2..2; `None` when no score could be had.
    pub pair_score: Option<f64>,
    pub base_score: Option<f64>,
    pub quote_score: Option<f64>,
    /// Set when the verdict follows the fail mode instead of a score.
    pub unavailable: Option<Unavailable>,
    pub provider: &'static str,
    pub model: String,
    /// In words, for the signal log: why allowed or refused.
    pub reason: String,
}

/// Counters since start (also exported as `mtq_sentiment_*` metrics).
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub cache_hits: AtomicU64,
    pub malformed: AtomicU64,
    pub timeouts: AtomicU64,
    pub errors: AtomicU64,
    pub capped: AtomicU64,
    pub refused: AtomicU64,
}

#[derive(Debug)]
struct Ledger {
    day: Option<NaiveDate>,
    requests: u32,
    cost_usd: f64,
    /// currency -> (interval index, score)
    cache: HashMap<String, (i64, verdict::Score)>,
}

/// The LLM sentiment filter. Cheap to share (`Arc`); one request at a time, so a burst of
/// signals on one bar costs one request.
#[derive(Debug)]
pub struct SentimentFilter {
    settings: Settings,
    http: reqwest::Client,
    ledger: tokio::sync::Mutex<Ledger>,
    stats: Stats,
}

/// The base and quote currencies of a forex symbol (`EURUSD`, `EURUSD.m`, `EURUSDm`).
pub fn currencies(symbol: &str) -> Option<(String, String)> {
    let letters: String = symbol.chars().take(6).collect();
    (letters.len() == 6 && letters.bytes().all(|b| b.is_ascii_alphabetic())).then(|| {
        let up = letters.to_ascii_uppercase();
        (up[..3].to_owned(), up[3..].to_owned())
    })
}

impl SentimentFilter {
    pub fn new(settings: Settings) -> Result<Self, SentimentError> {
        // ring, not aws-lc (see mtq-alerts); whoever installs first wins, either is ring.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(std::time::Duration::from_secs(10)))
            .user_agent(concat!("mtq-sentiment/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SentimentError::Http(e.to_string()))?;
        Ok(Self {
            settings,
            http,
            ledger: tokio::sync::Mutex::new(Ledger {
                day: None,
                requests: 0,
                cost_usd: 0.0,
                cache: HashMap::new(),
            }),
            stats: Stats::default(),
        })
    }

    /// Whether the filter judges entries on `symbol` (its `symbols` list, or every pair).
    pub fn applies_to(&self, symbol: &str) -> bool {
        currencies(symbol).is_some()
            && (self.settings.symbols.is_empty()
                || self
                    .settings
                    .symbols
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(symbol)))
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The verdict on an entry of `side` on `symbol` at `now`. Never fails: when no score can
    /// be had the verdict follows the fail mode and says why.
    pub async fn check(&self, symbol: &str, side: Side, now: DateTime<Utc>) -> Verdict {
        let Some((base, quote)) = currencies(symbol) else {
            return self.fallback(None, format!("{symbol} is not a currency pair"));
        };
        match self.scores(&base, &quote, now).await {
            Ok((b, q)) => self.judge(&base, &quote, b, q, side),
            Err(why) => {
                let detail = match why {
                    Unavailable::Timeout => {
                        format!("no answer within {} s", self.settings.timeout.as_secs())
                    }
                    Unavailable::RequestCap => format!(
                        "daily request cap of {} reached",
                        self.settings.max_requests_per_day
                    ),
                    Unavailable::CostCap => format!(
                        "daily cost cap of {} USD reached",
                        self.settings.max_cost_per_day_usd
                    ),
                    other => other.as_str().replace('_', " "),
                };
                self.fallback(Some(why), detail)
            }
        }
    }

    fn judge(
        &self,
        base: &str,
        quote: &str,
        b: verdict::Score,
        q: verdict::Score,
        side: Side,
    ) -> Verdict {
        let pair = b.score - q.score;
        let against = match side {
            Side::Buy => pair <= -self.settings.threshold,
            Side::Sell => pair >= self.settings.threshold,
        };
        if against {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
            mtq_metrics::record_sentiment_verdict("refused");
        } else {
            mtq_metrics::record_sentiment_verdict("allowed");
        }
        Verdict {
            allowed: !against,
            pair_score: Some(pair),
            base_score: Some(b.score),
            quote_score: Some(q.score),
            unavailable: None,
            provider: self.settings.provider.as_str(),
            model: self.settings.model.clone(),
            reason: format!(
                "sentiment filter: {base}{quote} {pair:+.2} ({base} {:+.2}: {}; {quote} {:+.2}: {}){}",
                b.score,
                b.reason,
                q.score,
                q.reason,
                if against {
                    format!(
                        " is against a {side:?} beyond {:.2}",
                        self.settings.threshold
                    )
                } else {
                    String::new()
                }
            ),
        }
    }

    fn fallback(&self, why: Option<Unavailable>, detail: String) -> Verdict {
        let allowed = self.settings.fail_mode == FailMode::Open;
        if !allowed {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
        }
        mtq_metrics::record_sentiment_verdict(if allowed { "fail_open" } else { "fail_closed" });
        Verdict {
            allowed,
            pair_score: None,
            base_score: None,
            quote_score: None,
            unavailable: why,
            provider: self.settings.provider.as_str(),
            model: self.settings.model.clone(),
            reason: format!(
                "sentiment filter unavailable ({detail}); fail-{}",
                if allowed {
                    "open: allowed"
                } else {
                    "closed: refused"
                }
            ),
        }
    }

    async fn scores(
        &self,
        base: &str,
        quote: &str,
        now: DateTime<Utc>,
    ) -> Result<(verdict::Score, verdict::Score), Unavailable> {
        let interval = i64::try_from(self.settings.cache.as_secs()).unwrap_or(i64::MAX);
        let slot = now.timestamp().div_euclid(interval);
        let mut ledger = self.ledger.lock().await;
        let cached = |l: &Ledger, c: &str| {
            l.cache
                .get(c)
                .filter(|(s, _)| *s == slot)
                .map(|(_, score)| score.clone())
        };
        if let (Some(b), Some(q)) = (cached(&ledger, base), cached(&ledger, quote)) {
            self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok((b, q));
        }
        let today = now.date_naive();
        if ledger.day != Some(today) {
            ledger.day = Some(today);
            ledger.requests = 0;
            ledger.cost_usd = 0.0;
        }
        if ledger.requests >= self.settings.max_requests_per_day {
            return Err(self.capped(Unavailable::RequestCap));
        }
        if ledger.cost_usd >= self.settings.max_cost_per_day_usd {
            return Err(self.capped(Unavailable::CostCap));
        }
        ledger.requests += 1;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let asked = vec![base.to_owned(), quote.to_owned()];
        let work = async {
            let headlines = feeds::headlines(
                &self.http,
                &self.settings.feeds,
                self.settings.max_headlines,
            )
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "sentiment: no headlines");
                Unavailable::FeedsFailed
            })?;
            provider::complete(
                &self.http,
                &self.settings,
                verdict::prompt(&asked, &headlines),
            )
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "sentiment: provider failed");
                if let provider::ProviderError::Transport { source, .. } = &e
                    && source.is_timeout()
                {
                    return Unavailable::Timeout;
                }
                Unavailable::ProviderError
            })
        };
        let completion = match tokio::time::timeout(self.settings.timeout, work).await {
            Ok(Ok(c)) => c,
            Ok(Err(why)) => return Err(self.failed(why)),
            Err(_) => return Err(self.failed(Unavailable::Timeout)),
        };
        #[allow(clippy::cast_precision_loss)]
        let cost = (completion.input_tokens as f64 * self.settings.input_usd_per_mtok
            + completion.output_tokens as f64 * self.settings.output_usd_per_mtok)
            / 1e6;
        ledger.cost_usd += cost;
        let mut scores = match verdict::parse(&completion.text, &asked) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "sentiment: malformed answer rejected");
                return Err(self.failed(Unavailable::Malformed));
            }
        };
        let (Some(b), Some(q)) = (scores.remove(base), scores.remove(quote)) else {
            // parse() guarantees every currency asked; kept as an error, never a panic.
            return Err(self.failed(Unavailable::Malformed));
        };
        ledger.cache.insert(base.to_owned(), (slot, b.clone()));
        ledger.cache.insert(quote.to_owned(), (slot, q.clone()));
        Ok((b, q))
    }

    fn capped(&self, why: Unavailable) -> Unavailable {
        self.stats.capped.fetch_add(1, Ordering::Relaxed);
        mtq_metrics::record_sentiment_failure(why.as_str());
        why
    }

    fn failed(&self, why: Unavailable) -> Unavailable {
        let counter = match why {
            Unavailable::Malformed => &self.stats.malformed,
            Unavailable::Timeout => &self.stats.timeouts,
            _ => &self.stats.errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        mtq_metrics::record_sentiment_failure(why.as_str());
        why
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symbol_names_its_base_and_quote() {
        assert_eq!(currencies("EURUSD"), Some(("EUR".into(), "USD".into())));
        assert_eq!(currencies("gbpjpy.m"), Some(("GBP".into(), "JPY".into())));
        assert_eq!(currencies("US30"), None);
        assert_eq!(currencies("XAU"), None);
    }
}
