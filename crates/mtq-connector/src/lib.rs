//! # mtq-connector: the broker seam
//!
//! Owns the [`Broker`] trait every venue implements (the MT5 bridge in `mtq-mt5`, the simulated
//! broker in `mtq-sim`), the [`BrokerError`] it fails with, and re-exports MT5's [`Retcode`] with its
//! [`RetcodeClass`]: what the order executor may do after each code. It does not retry, reconcile
//! or log; that is the orchestrator's job.
//!
//! The trait mirrors what an MT5 terminal offers through a socket bridge: tickets, magic numbers,
//! comments (where MTQ puts its client order id), filling policies, and times already converted
//! from broker server time to UTC by the connector.
//!
//! ```
//! use std::sync::Arc;
//! use mtq_connector::{Broker, BrokerError, RetcodeClass};
//!
//! async fn balance(broker: Arc<dyn Broker>) -> Result<String, BrokerError> {
//!     let account = broker.account().await?;
//!     Ok(format!("{} {}", account.balance, account.currency))
//! }
//!
//! let err = BrokerError::rejected(mtq_connector::Retcode::Requote, "requote 1.08012/1.08019");
//! assert_eq!(err.class(), RetcodeClass::RetryWithFreshPrice);
//! assert!(err.to_string().contains("10004"));
//! ```

mod broker;
mod error;

pub use broker::{BarRange, Broker};
pub use error::BrokerError;
pub use mtq_core::{Retcode, RetcodeClass};

#[cfg(any(test, feature = "mock"))]
pub use broker::MockBroker;
