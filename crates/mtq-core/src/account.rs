//! The trading account.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::Currency;

/// How the account holds positions (`ACCOUNT_MARGIN_MODE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MarginMode {
    /// Many positions per symbol, in both directions; each order opens its own position.
    Hedging,
    /// One position per symbol; orders add to, reduce or reverse it.
    Netting,
}

/// Account state (MT5 `ACCOUNT_*`). Money is in `currency`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountInfo {
    pub login: u64,
    pub server: String,
    pub currency: Currency,
    pub balance: Decimal,
    pub equity: Decimal,
    pub margin: Decimal,
    pub free_margin: Decimal,
    /// Equity / margin in percent; `None` while no margin is used.
    pub margin_level: Option<Decimal>,
    /// 1:N.
    pub leverage: u32,
    pub margin_mode: MarginMode,
}
