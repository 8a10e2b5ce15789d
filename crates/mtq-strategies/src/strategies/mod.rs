//! Every strategy, one module each. Each module's docs state its rules.

mod bollinger;
mod break_retest;
mod crossover;
mod ema_trend;
mod j_hook;
mod ma_rsi;
mod macd;
mod macd_mtf;
mod multi_indicator;
mod position;
mod rsi;
mod smart_money;
mod stochastic_cross;
mod zero_lag;

pub use bollinger::{Bollinger, BollingerMode, BollingerParams};
pub use break_retest::{BreakRetest, BreakRetestParams};
pub use crossover::{Crossover, CrossoverParams};
pub use ema_trend::{EmaTrend, EmaTrendParams};
pub use j_hook::{JHook, JHookParams};
pub use ma_rsi::{MaRsi, MaRsiParams};
pub use macd::{MacdParams, MacdStrategy};
pub use macd_mtf::{MacdMtf, MacdMtfParams};
pub use multi_indicator::{MultiIndicator, MultiIndicatorParams};
pub use position::{PositionParams, PositionStrategy};
pub use rsi::{RsiParams, RsiStrategy};
pub use smart_money::{SmartMoney, SmartMoneyParams};
pub use stochastic_cross::{StochasticCross, StochasticCrossParams};
pub use zero_lag::{ZeroLag, ZeroLagParams};
