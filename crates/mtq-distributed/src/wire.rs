//! What travels over NATS: the run description, work items, chunk results, and the bars.
//!
//! Items and results are JSON (readable with the `nats` CLI); every float of a result travels as
//! its IEEE-754 bits, so a worker's numbers reach the database exactly as it computed them.
//! Bars travel once per data set, as fixed-width little-endian records named by their SHA-256.

use mtq_backtest::optimize::{Evaluation, PortableSearch, PortableSetup};
use mtq_core::{Bar, Decimal};
use mtq_persistence::NewOptimizationResult;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::DistributedError;

/// The MTQ version a worker must share with the submitter to take its items: results of two
/// versions are never mixed in one run.
pub const MTQ_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Most parameter sets in one work item: its result (about 300 bytes a set) then stays well
/// under NATS's default 1 MiB message limit.
pub const MAX_CHUNK_SETS: u32 = 1_000;

/// One symbol and strategy of a run: everything a worker needs besides the bars.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    pub job: u32,
    /// `optimization_runs.id` of this job.
    pub db_run: i64,
    pub setup: PortableSetup,
    pub search: PortableSearch,
    /// SHA-256 (hex) of the encoded bars.
    pub data_hash: String,
    pub bars: usize,
    /// Parameter sets in the search.
    pub sets: u64,
    /// Walk-forward: this job optimises one in-sample window of the data.
    #[serde(default)]
    pub window: Option<WindowSpec>,
}

/// A walk-forward window as a job: window `index` of the walk `walk` (one per symbol and
/// strategy), whose in-sample bars are `from..to` of the job's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    pub walk: u32,
    pub index: u32,
    pub from: usize,
    pub to: usize,
}

/// A walk-forward run's window lengths, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkSpec {
    pub in_sample_secs: i64,
    pub out_of_sample_secs: i64,
}

/// A run as published: its key, the version that made it, and its jobs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    pub key: String,
    pub version: String,
    pub jobs: Vec<JobSpec>,
    /// Set for a walk-forward: its jobs are windows, stitched by the coordinator.
    #[serde(default)]
    pub walk_forward: Option<WalkSpec>,
}

/// One chunk of one job's parameter sets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItem {
    pub version: String,
    pub run: String,
    pub job: u32,
    pub chunk: u32,
    pub first_set: u64,
    pub sets: u32,
    pub data_hash: String,
}

/// One evaluated set; floats as bits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetResult {
    pub index: u64,
    /// The parameters as JSON text, as `optimization_results.parameters` stores them.
    pub params: String,
    pub eligible: bool,
    pub score: u64,
    pub net_profit: Decimal,
    pub profit_factor: Option<u64>,
    pub sharpe: Option<u64>,
    pub max_drawdown_pct: u64,
    pub trades: u64,
    pub win_rate: u64,
}

impl SetResult {
    pub fn of(index: u64, e: &Evaluation) -> Self {
        Self {
            index,
            params: e.params.to_string(),
            eligible: e.eligible,
            score: e.score.to_bits(),
            net_profit: e.stats.net_profit,
            profit_factor: e.stats.profit_factor.map(f64::to_bits),
            sharpe: e.stats.sharpe.map(f64::to_bits),
            max_drawdown_pct: e.stats.max_drawdown_pct.to_bits(),
            trades: e.stats.trades,
            win_rate: e.stats.win_rate.to_bits(),
        }
    }

    /// The database row, as `mtq-trader optimize` stores a local run's (a score that is not
    /// finite is stored as -1e300).
    pub fn row(&self) -> NewOptimizationResult {
        let score = f64::from_bits(self.score);
        NewOptimizationResult {
            parameters: self.params.clone(),
            score: if score.is_finite() { score } else { -1e300 },
            net_profit: self.net_profit,
            profit_factor: self.profit_factor.map(f64::from_bits),
            sharpe: self.sharpe.map(f64::from_bits),
            max_drawdown_pct: f64::from_bits(self.max_drawdown_pct),
            trades: u32::try_from(self.trades).unwrap_or(u32::MAX),
            win_rate: f64::from_bits(self.win_rate),
        }
    }
}

/// A worker's answer to a work item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChunkResult {
    pub version: String,
    pub run: String,
    pub job: u32,
    pub chunk: u32,
    pub worker: String,
    pub seconds: f64,
    /// Sets the strategy refused, with the first reason.
    pub invalid: u32,
    pub invalid_reason: Option<String>,
    pub results: Vec<SetResult>,
}

/// A worker's refusal of an item, published for the submitter to show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    pub run: String,
    pub job: u32,
    pub chunk: u32,
    pub worker: String,
    pub reason: String,
}

/// Bytes per encoded bar.
const BAR_BYTES: usize = 64;

/// The bars as fixed-width little-endian records (time in seconds and nanoseconds, the four
/// prices as IEEE-754 bits, volumes, spread): decoding gives the same bars bit for bit.
pub fn encode_bars(bars: &[Bar]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bars.len() * BAR_BYTES);
    for b in bars {
        out.extend_from_slice(&b.time.timestamp().to_le_bytes());
        out.extend_from_slice(&b.time.timestamp_subsec_nanos().to_le_bytes());
        for p in [b.open, b.high, b.low, b.close] {
            out.extend_from_slice(&p.to_bits().to_le_bytes());
        }
        out.extend_from_slice(&b.tick_volume.to_le_bytes());
        out.extend_from_slice(&b.real_volume.to_le_bytes());
        out.extend_from_slice(&b.spread.to_le_bytes());
    }
    out
}

pub fn decode_bars(bytes: &[u8]) -> Result<Vec<Bar>, DistributedError> {
    if !bytes.len().is_multiple_of(BAR_BYTES) {
        return Err(DistributedError::Data(format!(
            "{} bytes is not a whole number of {BAR_BYTES}-byte bars",
            bytes.len()
        )));
    }
    bytes
        .chunks_exact(BAR_BYTES)
        .map(|r| {
            let u64_at = |i: usize| {
                let mut a = [0u8; 8];
                a.copy_from_slice(&r[i..i + 8]);
                u64::from_le_bytes(a)
            };
            let u32_at = |i: usize| {
                let mut a = [0u8; 4];
                a.copy_from_slice(&r[i..i + 4]);
                u32::from_le_bytes(a)
            };
            let secs = i64::from_le_bytes(u64_at(0).to_le_bytes());
            let time = chrono::DateTime::from_timestamp(secs, u32_at(8)).ok_or_else(|| {
                DistributedError::Data(format!("bar time {secs} is out of range"))
            })?;
            Ok(Bar {
                time,
                open: f64::from_bits(u64_at(12)),
                high: f64::from_bits(u64_at(20)),
                low: f64::from_bits(u64_at(28)),
                close: f64::from_bits(u64_at(36)),
                tick_volume: u64_at(44),
                real_volume: u64_at(52),
                spread: u32_at(60),
            })
        })
        .collect()
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_survive_encoding_bit_for_bit() {
        let start = chrono::DateTime::from_timestamp(1_672_617_600, 0).unwrap();
        let mut bars =
            mtq_core::testkit::random_walk(500, 3, mtq_core::Timeframe::M5, start, 1.1, 8);
        bars[3].real_volume = u64::MAX;
        bars[4].spread = u32::MAX;
        bars[5].close = -0.0;
        let back = decode_bars(&encode_bars(&bars)).unwrap();
        assert_eq!(back.len(), bars.len());
        for (a, b) in bars.iter().zip(&back) {
            assert_eq!(a.time, b.time);
            assert_eq!(
                [a.open, a.high, a.low, a.close].map(f64::to_bits),
                [b.open, b.high, b.low, b.close].map(f64::to_bits)
            );
            assert_eq!(
                (a.tick_volume, a.real_volume, a.spread),
                (b.tick_volume, b.real_volume, b.spread)
            );
        }
    }

    #[test]
    fn truncated_bar_data_is_refused_with_its_size() {
        let e = decode_bars(&[0u8; 61]).unwrap_err().to_string();
        assert!(e.contains("61 bytes"), "{e}");
    }

    /// A result of the most sets an item holds, each with four parameters and every figure at
    /// its longest, stays under half of NATS's default 1 MiB message limit.
    #[test]
    fn the_largest_result_fits_a_nats_message_with_room_to_spare() {
        let set = |index| SetResult {
            index,
            params: r#"{"fast_period":100,"slow_period":200,"sl_pips":12.5,"tp_pips":37.5}"#.into(),
            eligible: true,
            score: (-1.234_567_890_123_456_7e-300_f64).to_bits(),
            net_profit: Decimal::new(-123_456_789_012, 2),
            profit_factor: Some(f64::MAX.to_bits()),
            sharpe: Some(f64::MIN.to_bits()),
            max_drawdown_pct: f64::MAX.to_bits(),
            trades: u64::from(u32::MAX),
            win_rate: f64::MAX.to_bits(),
        };
        let result = ChunkResult {
            version: MTQ_VERSION.into(),
            run: "r1796478686218p4194304".into(),
            job: u32::MAX,
            chunk: u32::MAX,
            worker: "a-rather-long-worker-host-name.example.internal-4194304".into(),
            seconds: 1.0 / 3.0,
            invalid: 0,
            invalid_reason: None,
            results: (0..u64::from(MAX_CHUNK_SETS))
                .map(|i| set(u64::MAX - i))
                .collect(),
        };
        let bytes = serde_json::to_vec(&result).unwrap().len();
        let item = WorkItem {
            version: MTQ_VERSION.into(),
            run: result.run,
            job: u32::MAX,
            chunk: u32::MAX,
            first_set: u64::MAX,
            sets: MAX_CHUNK_SETS,
            data_hash: "f".repeat(64),
        };
        let item_bytes = serde_json::to_vec(&item).unwrap().len();
        println!("largest result {bytes} bytes, largest item {item_bytes} bytes");
        assert!(bytes < 512 * 1024, "{bytes}");
        assert!(item_bytes < 512, "{item_bytes}");
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
