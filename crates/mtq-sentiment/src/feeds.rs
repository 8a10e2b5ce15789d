//! Headlines from RSS 2.0, RSS 1.0 and Atom feeds (`feed-rs`): newest first, duplicates
//! dropped. A feed that fails is skipped with a warning; when every feed fails there are no
//! headlines to judge and the filter answers by its fail mode.

use chrono::{DateTime, Utc};

/// A feed larger than this is refused rather than parsed (a news feed is tens of kilobytes).
const MAX_FEED_BYTES: usize = 4 * 1024 * 1024;

/// Why no headline could be read.
#[derive(Debug, thiserror::Error)]
#[error("no feed could be read ({failed} failed); last error: {last}")]
pub struct FeedError {
    pub failed: usize,
    pub last: String,
}

/// Reads every feed and returns at most `max` headlines, newest first.
pub(crate) async fn headlines(
    http: &reqwest::Client,
    feeds: &[String],
    max: usize,
) -> Result<Vec<String>, FeedError> {
    let mut items: Vec<(Option<DateTime<Utc>>, String)> = Vec::new();
    let mut failed = 0;
    let mut last = String::new();
    for url in feeds {
        match read(http, url).await {
            Ok(mut got) => items.append(&mut got),
            Err(e) => {
                tracing::warn!(feed = %url, error = %e, "sentiment: feed skipped");
                failed += 1;
                last = format!("{url}: {e}");
            }
        }
    }
    if failed == feeds.len() {
        return Err(FeedError { failed, last });
    }
    // Newest first; undated entries last, in feed order.
    items.sort_by_key(|b| std::cmp::Reverse(b.0));
    let mut seen = std::collections::HashSet::new();
    Ok(items
        .into_iter()
        .map(|(_, t)| t)
        .filter(|t| seen.insert(t.to_lowercase()))
        .take(max)
        .collect())
}

async fn read(
    http: &reqwest::Client,
    url: &str,
) -> Result<Vec<(Option<DateTime<Utc>>, String)>, String> {
    let response = http.get(url).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status().as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_FEED_BYTES as u64)
    {
        return Err(format!("larger than {MAX_FEED_BYTES} bytes"));
    }
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if body.len() > MAX_FEED_BYTES {
        return Err(format!("larger than {MAX_FEED_BYTES} bytes"));
    }
    let feed = feed_rs::parser::parse(&body[..]).map_err(|e| format!("not a feed: {e}"))?;
    Ok(feed
        .entries
        .into_iter()
        .filter_map(|e| {
            let title = e.title?.content.trim().to_owned();
            (!title.is_empty()).then_some((e.published.or(e.updated), title))
        })
        .collect())
}
