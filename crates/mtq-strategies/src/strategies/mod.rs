//! Every strategy, one module each. Each module's docs state its rules.

mod crossover;
mod position;

pub use crossover::{Crossover, CrossoverParams};
pub use position::{PositionParams, PositionStrategy};
