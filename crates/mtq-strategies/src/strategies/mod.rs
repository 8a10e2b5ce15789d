//! Every strategy, one module each. Each module's docs state its rules.

mod bollinger;
mod crossover;
mod macd;
mod multi_indicator;
mod position;
mod rsi;

pub use bollinger::{Bollinger, BollingerMode, BollingerParams};
pub use crossover::{Crossover, CrossoverParams};
pub use macd::{MacdParams, MacdStrategy};
pub use multi_indicator::{MultiIndicator, MultiIndicatorParams};
pub use position::{PositionParams, PositionStrategy};
pub use rsi::{RsiParams, RsiStrategy};
