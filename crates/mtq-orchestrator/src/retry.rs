//! How often and how patiently the executor retries.

use std::time::Duration;

use mtq_core::SplitMix64;

/// Retry and reconciliation limits for the order executor.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Sends of one intent at most (only for codes that say it was not executed).
    pub max_attempts: u32,
    /// First backoff; doubles each attempt.
    pub base_delay: Duration,
    /// Longest backoff.
    pub max_delay: Duration,
    /// Reads of the broker's positions, orders and deals before an unknown outcome is declared
    /// not found.
    pub reconcile_attempts: u32,
    pub reconcile_delay: Duration,
    /// How far back (and forward, for clock skew) to search the deal history when reconciling.
    pub history_window: chrono::Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            reconcile_attempts: 4,
            reconcile_delay: Duration::from_secs(1),
            history_window: chrono::Duration::days(2),
        }
    }
}

impl RetryPolicy {
    /// Backoff before retry number `attempt` (0-based): exponential, capped, with "equal jitter"
    /// (half fixed, half random) so that many symbols retrying at once spread out.
    pub fn backoff(&self, attempt: u32, rng: &mut SplitMix64) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        let half = exp / 2;
        let half_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rng.below_inclusive(half_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jittered_within_bounds() {
        let p = RetryPolicy::default();
        let mut rng = SplitMix64::new(3);
        for attempt in 0..20 {
            let exp = p
                .base_delay
                .saturating_mul(1 << attempt.min(16))
                .min(p.max_delay);
            let d = p.backoff(attempt, &mut rng);
            assert!(d >= exp / 2 && d <= exp, "attempt {attempt}: {d:?}");
        }
        assert!(p.backoff(30, &mut rng) <= p.max_delay);
    }
}
