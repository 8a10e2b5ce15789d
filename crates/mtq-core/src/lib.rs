//! # mtq-core: MTQ's domain model
//!
//! Owns the types every other MTQ crate speaks: [`Symbol`] and [`Currency`]; [`Timeframe`] with
//! MT5's bar alignment; [`Bar`] and [`Tick`]; orders ([`OrderRequest`], [`OrderOutcome`],
//! [`Retcode`]); [`Position`], [`PendingOrder`], [`Deal`]; [`AccountInfo`]; [`SymbolSpec`] with price,
//! volume and pip arithmetic; MT5's rule book for trade requests ([`rules`]: trade mode, stops and
//! freeze levels), shared by the simulator and the MT5 connector; [`Signal`]; [`DomainEvent`] with its typed reasons ([`SignalRefusal`], [`Refusal`],
//! [`KillSwitchState`], [`ErrorSource`]); and the [`Clock`] trait.
//!
//! It does no I/O: no network, no files, no clock reads except [`SystemClock`].
//!
//! With the `testkit` feature (for members' `[dev-dependencies]` only) it also carries the
//! workspace's canonical test fixtures: [`testkit`].
//!
//! Two rules run through it:
//! - **Series are `f64`, money is `Decimal`.** Bars, ticks and signal levels are `f64` as MT5 and
//!   TA-Lib use them. Anything sent to a broker or counted as money (prices normalised to the symbol,
//!   volumes, balances, P&L) is [`rust_decimal::Decimal`]. Convert once, at the order boundary, with
//!   [`SymbolSpec::normalize_price_f64`] and [`SymbolSpec::normalize_volume`].
//! - **Parse at the edge, then trust the types.** Constructors validate and their errors name
//!   what to fix.
//!
//! ```
//! use mtq_core::{Currency, StaticRates, SymbolSpec};
//! use rust_decimal_macros::dec;
//!
//! let spec = SymbolSpec::builtin("USDJPY").unwrap();
//! // A strategy's f64 level becomes a broker price on the tick grid...
//! assert_eq!(spec.normalize_price_f64(151.23456).unwrap(), dec!(151.235));
//! // ...a risk model's volume is rounded down, never up...
//! assert_eq!(spec.normalize_volume(dec!(0.537)), Some(dec!(0.53)));
//! // ...and a pip of one lot is worth 1000 JPY, here converted into a USD account.
//! let rates = StaticRates::new().with(Currency::USD, Currency::JPY, dec!(125));
//! assert_eq!(spec.pip_value(dec!(1), Currency::USD, &rates), Some(dec!(8)));
//! ```

mod account;
mod approval;
mod error;
mod event;
mod fx;
mod grid;
mod ids;
mod market;
mod num;
mod order;
mod position;
mod refusal;
mod retcode;
mod rng;
pub mod rules;
mod signal;
mod spec;
mod symbol;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
mod time;

pub use account::{AccountInfo, MarginMode};
pub use approval::{Approval, ApprovalState};
pub use error::CoreError;
pub use event::{DomainEvent, EventKind};
pub use fx::{FxRates, StaticRates};
pub use grid::{grid_points, mark_price, normalize_price, point_scale};
pub use ids::{ClientOrderId, MAX_COMMENT_LEN, Magic, Ticket};
pub use market::{Bar, Tick};
pub use num::{decimal_of, decimal_to_f64, decimal_units, margin_level, ratio_half_even};
pub use order::{FillPolicy, OrderKind, OrderOutcome, OrderRequest, Side};
pub use position::{Deal, DealEntry, DealReason, ExitReason, PendingOrder, Position};
pub use refusal::{
    EntryRefusal, ErrorSource, KillSwitchState, KillSwitchTrigger, Refusal, SignalRefusal,
};
pub use retcode::{Retcode, RetcodeClass};
pub use rng::SplitMix64;
pub use signal::{ModelReading, ModelStatus, Signal, SignalKind};
pub use spec::{ExecutionMode, FillingFlags, SwapMode, SymbolSpec, TradeMode};
pub use symbol::{Currency, MAX_SYMBOL_LEN, Symbol};
pub use time::{Clock, ManualClock, SystemClock, Timeframe};

/// Re-exported so downstream crates use the same `Decimal`.
pub use rust_decimal::Decimal;
