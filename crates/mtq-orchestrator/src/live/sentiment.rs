//! The LLM sentiment filter at the live driver's entry seam (see [`mtq_sentiment`]): asked for an
//! entry the risk checks allowed and nothing else held, just before it is sent, so a refused or
//! paused entry costs no provider request. Backtests do not call it (there is no past news to
//! ask about); `auto` mode with the filter off is unchanged.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mtq_core::{EventKind, Side, Signal, SignalKind};
use mtq_sentiment::{SentimentConfig, SentimentFilter};
use tracing::{info, warn};

use super::{LiveError, LiveTrader};
use crate::core::EntryRefusal;

/// The filter for `config`, when it is enabled.
pub(super) fn build(config: &SentimentConfig) -> Result<Option<Arc<SentimentFilter>>, LiveError> {
    if !config.enabled {
        return Ok(None);
    }
    let settings = config
        .validate(|var| std::env::var(var).ok())
        .map_err(|e| LiveError::Sentiment(e.to_string()))?;
    let filter = SentimentFilter::new(settings).map_err(|e| LiveError::Sentiment(e.to_string()))?;
    Ok(Some(Arc::new(filter)))
}

impl LiveTrader {
    /// The filter's verdict on `signal`'s entry, when the filter is on and applies to its
    /// symbol: the refusal to record with the signal (if it refuses) and the verdict's event,
    /// which the journal stores with the signal whether allowed or refused.
    pub(super) async fn sentiment_verdict(
        &self,
        signal: &Signal,
        now: DateTime<Utc>,
    ) -> Option<(Option<EntryRefusal>, EventKind)> {
        let filter = self.sentiment.as_ref()?;
        let side = match signal.kind {
            SignalKind::Buy => Side::Buy,
            SignalKind::Sell => Side::Sell,
            SignalKind::Close | SignalKind::Hold => return None,
        };
        let symbol = signal.symbol.as_str();
        if !filter.applies_to(symbol) {
            return None;
        }
        let verdict = filter.check(symbol, side, now).await;
        let refusal = if verdict.allowed {
            info!(%symbol, pair_score = ?verdict.pair_score, "{}", verdict.reason);
            None
        } else {
            warn!(%symbol, pair_score = ?verdict.pair_score, "entry refused: {}", verdict.reason);
            Some(EntryRefusal::Sentiment {
                reason: verdict.reason.clone(),
            })
        };
        let event = EventKind::SentimentVerdict {
            signal: signal.clone(),
            allowed: verdict.allowed,
            pair_score: verdict.pair_score,
            reason: verdict.reason,
        };
        Some((refusal, event))
    }

    /// A reload that changes `sentiment:` rebuilds the filter (its cache and day counters
    /// start again); one that cannot be built keeps the old filter and says why.
    pub(super) fn reload_sentiment(&mut self, old: &SentimentConfig, new: &SentimentConfig) {
        if old == new {
            return;
        }
        match build(new) {
            Ok(filter) => self.sentiment = filter,
            Err(e) => warn!("sentiment filter not reloaded: {e}"),
        }
    }
}
