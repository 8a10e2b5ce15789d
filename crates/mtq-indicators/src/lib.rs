//! mtq-indicators

pub mod batch;
mod error;
pub mod stream;

pub use error::IndicatorError;
