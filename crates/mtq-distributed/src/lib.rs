//! # mtq-distributed: optimisation beyond one machine, over NATS JetStream
//!
//! Owns the transport of `mtq-backtest`'s optimisation work: publishing a run (its bars once, by
//! content hash, to a JetStream object store; its parameter sets as chunked work items on a
//! work-queue stream), the worker that evaluates items with the optimiser's own code
//! ([`SetEvaluator`](mtq_backtest::optimize::SetEvaluator)), and the collector that stores each
//! set's result exactly once in `optimization_results` (unique by run and set), with
//! `optimization_chunks` as the run's ledger for progress, `--status`, `--cancel` and `--resume`.
//!
//! It does not evaluate anything itself (that is `mtq-backtest`'s), nor schedule: JetStream's
//! work-queue stream and its ack wait decide who does what and redeliver what a dead worker held.
//! See `docs/distributed.md` for running a cluster, message sizes and costs.
//!
//! The wire format keeps numbers exact: bars travel as IEEE-754 bits, and so do a result's
//! floats.
//!
//! ```
//! use mtq_distributed::wire::{decode_bars, encode_bars, sha256_hex};
//!
//! let start = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
//! let bars = mtq_core::testkit::random_walk(100, 1, mtq_core::Timeframe::M5, start, 1.1, 8);
//! let bytes = encode_bars(&bars);
//! // The object's name is its content's hash: a worker checks what it fetched against it.
//! let name = format!("bars-{}", sha256_hex(&bytes));
//! assert_eq!(name.len(), 5 + 64);
//! assert_eq!(decode_bars(&bytes)?, bars);
//! # Ok::<(), mtq_distributed::DistributedError>(())
//! ```

pub mod cli;
pub mod coordinator;
mod error;
pub mod nats;
pub mod wire;
pub mod worker;

pub use error::DistributedError;
