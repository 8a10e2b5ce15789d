//! Latency percentiles, nearest rank over every sample.

use std::time::Duration;

/// p50, p90, p99 and max of `samples` (sorted in place); `None` when empty.
pub(crate) fn percentiles(samples: &mut [Duration]) -> Option<[Duration; 4]> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let at = |p: f64| {
        let n = samples.len();
        // Nearest rank: the smallest sample with at least p of the samples at or below it.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
        samples[rank - 1]
    };
    Some([at(0.50), at(0.90), at(0.99), samples[samples.len() - 1]])
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let mut v: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let [p50, p90, p99, max] = percentiles(&mut v).unwrap();
        assert_eq!(
            [p50, p90, p99, max].map(|d| d.as_millis()),
            [50, 90, 99, 100]
        );
        assert!(percentiles(&mut []).is_none());
    }
}
