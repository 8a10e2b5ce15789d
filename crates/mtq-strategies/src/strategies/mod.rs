//! Every strategy, one module each. Each module's docs state its rules.

pub mod bollinger;
pub mod break_retest;
pub mod crossover;
pub mod ema_trend;
pub mod j_hook;
pub mod ma_rsi;
pub mod macd;
pub mod macd_mtf;
pub mod multi_indicator;
pub mod position;
pub mod rsi;
pub mod smart_money;
pub mod stochastic_cross;
pub mod zero_lag;

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
