//! mtq-indicators

pub mod batch;
pub mod conditions;
mod error;
pub mod resample;
pub mod seeds;
pub mod stream;

pub use error::IndicatorError;
pub use resample::Resampler;
pub use seeds::Direction;
