//! What an optimisation maximises.

use serde::Serialize;

use crate::Stats;

/// The ranking objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    NetProfit,
    /// Gross profit / gross loss; a set without a losing trade scores 100 (and needs the minimum
    /// trade count like every other to rank).
    ProfitFactor,
    Sharpe,
    /// Return over drawdown, weighted by profit factor: `return% / max(maxDD%, 1) x min(PF, 3) / 3`
    /// (PF 3 when there is no loss). Rewards profit, punishes drawdown, discounts sets whose
    /// profit rests on few big winners.
    Composite,
}

impl Objective {
    pub const NAMES: &'static str = "net_profit, profit_factor, sharpe, composite";

    pub fn name(self) -> &'static str {
        match self {
            Self::NetProfit => "net_profit",
            Self::ProfitFactor => "profit_factor",
            Self::Sharpe => "sharpe",
            Self::Composite => "composite",
        }
    }

    /// The score of `s`; higher is better. Undefined ratios score -infinity (ranked last).
    pub fn score(self, s: &Stats) -> f64 {
        match self {
            Self::NetProfit => crate::stats::to_f64(s.net_profit),
            Self::ProfitFactor => match s.profit_factor {
                Some(pf) => pf,
                None if s.trades > 0 => 100.0,
                None => f64::NEG_INFINITY,
            },
            Self::Sharpe => s.sharpe.unwrap_or(f64::NEG_INFINITY),
            Self::Composite => {
                let pf = s.profit_factor.unwrap_or(3.0).min(3.0);
                s.return_pct / s.max_drawdown_pct.max(1.0) * pf / 3.0
            }
        }
    }
}

impl std::str::FromStr for Objective {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "net_profit" | "profit" => Ok(Self::NetProfit),
            "profit_factor" | "pf" => Ok(Self::ProfitFactor),
            "sharpe" => Ok(Self::Sharpe),
            "composite" => Ok(Self::Composite),
            _ => Err(format!("unknown objective `{s}`: use {}", Self::NAMES)),
        }
    }
}

impl std::fmt::Display for Objective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
