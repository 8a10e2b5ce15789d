//! Market conditions: what kind of market a strategy is looking at.
//!
//! - [`TrendDetector`]: bullish / bearish / ranging from ADX strength and the slope of a moving
//!   average measured in ATRs.
//! - [`VolatilityRegime`]: where today's ATR sits among its own recent values (a percentile).
//! - [`sessions_at`]: which of the Sydney, Tokyo, London and New York sessions are open at an
//!   instant, in UTC, with each city's daylight saving time applied (IANA time zones).
//! - [`LiquidityMonitor`]: tick volume and spread against their norms for the same session mix.

mod liquidity;
mod session;
mod trend;
mod volatility;

pub use liquidity::{Liquidity, LiquidityConfig, LiquidityMonitor, LiquidityReading};
pub use session::{ActiveSessions, Session, market_open, sessions_at};
pub use trend::{TrendConfig, TrendDetector, TrendReading, TrendState};
pub use volatility::{Regime, VolatilityConfig, VolatilityReading, VolatilityRegime};
