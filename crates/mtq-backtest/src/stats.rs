//! The statistics of a backtest, computed with `mtq-analytics`' conventions (daily returns,
//! Sharpe on 252 days, drawdown from the running peak).

use mtq_analytics::{ClosedTrade, TradeAccumulator, return_stats};
use mtq_core::Decimal;
use serde::Serialize;

use crate::driver::BacktestResult;

/// The numbers `report.json` calls `stats` and the table the CLI prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stats {
    pub initial_balance: Decimal,
    pub final_balance: Decimal,
    pub final_equity: Decimal,
    /// Final equity minus initial balance.
    pub net_profit: Decimal,
    /// Net profit in percent of the initial balance.
    pub return_pct: f64,
    pub trades: u64,
    pub wins: u64,
    pub losses: u64,
    /// Percent of trades with a positive net profit (0 to 100).
    pub win_rate: f64,
    /// Gross profit / |gross loss| of the trades' net profits; `null` without a losing trade.
    pub profit_factor: Option<f64>,
    pub gross_profit: Decimal,
    pub gross_loss: Decimal,
    pub expectancy: Decimal,
    pub average_win: Decimal,
    pub average_loss: Decimal,
    pub largest_win: Decimal,
    pub largest_loss: Decimal,
    pub total_commission: Decimal,
    pub total_swap: Decimal,
    /// Largest fall of equity from its running peak, percent of the peak, over every bar.
    pub max_drawdown_pct: f64,
    pub max_drawdown: Decimal,
    /// Mean / sample standard deviation of daily returns x sqrt(252); `null` under two days.
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    /// Compound annual growth rate, percent.
    pub cagr_pct: Option<f64>,
    pub sqn: Option<f64>,
    pub bars: usize,
    pub signals: usize,
}

impl Stats {
    pub fn of(r: &BacktestResult) -> Self {
        // The trades' figures and the daily returns are independent: worked out side by side.
        // The drawdown is the driver's, tracked bar by bar: only the returns are read here.
        let ((ts, commission, swap), eq) = rayon::join(
            || {
                let mut acc = TradeAccumulator::new();
                let (mut commission, mut swap) = (Decimal::ZERO, Decimal::ZERO);
                for t in &r.trades {
                    commission += t.commission;
                    swap += t.swap;
                    acc.push(&ClosedTrade {
                        symbol: t.symbol.clone(),
                        strategy: None,
                        entry_time: t.entry_time,
                        exit_time: t.exit_time,
                        net_profit: t.net_profit,
                    });
                }
                (acc.finish(), commission, swap)
            },
            || return_stats(&r.equity),
        );
        let net = r.final_equity - r.initial_balance;
        let return_pct = if r.initial_balance.is_zero() {
            0.0
        } else {
            to_f64(net * Decimal::ONE_HUNDRED / r.initial_balance)
        };
        Self {
            initial_balance: r.initial_balance,
            final_balance: r.final_balance,
            final_equity: r.final_equity,
            net_profit: net,
            return_pct,
            trades: ts.trades,
            wins: ts.wins,
            losses: ts.losses,
            win_rate: ts.win_rate * 100.0,
            profit_factor: ts.profit_factor,
            gross_profit: ts.gross_profit,
            gross_loss: ts.gross_loss,
            expectancy: ts.expectancy.round_dp(2),
            average_win: ts.average_win.round_dp(2),
            average_loss: ts.average_loss.round_dp(2),
            largest_win: ts.largest_win,
            largest_loss: ts.largest_loss,
            total_commission: commission,
            total_swap: swap,
            max_drawdown_pct: r.max_drawdown_pct,
            max_drawdown: r.max_drawdown_money,
            sharpe: eq.as_ref().and_then(|e| e.sharpe),
            sortino: eq.as_ref().and_then(|e| e.sortino),
            cagr_pct: eq.as_ref().and_then(|e| e.cagr).map(|c| c * 100.0),
            sqn: ts.sqn,
            bars: r.bars,
            signals: r.signals,
        }
    }

    /// The table the CLI prints: one `name  value` line each.
    pub fn table(&self) -> String {
        let opt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.2}"));
        let rows: Vec<(&str, String)> = vec![
            ("initial balance", self.initial_balance.to_string()),
            ("final equity", self.final_equity.to_string()),
            (
                "net profit",
                format!("{} ({:.2}%)", self.net_profit, self.return_pct),
            ),
            ("trades", self.trades.to_string()),
            ("win rate", format!("{:.2}%", self.win_rate)),
            ("profit factor", opt(self.profit_factor)),
            ("expectancy", self.expectancy.to_string()),
            (
                "average win / loss",
                format!("{} / {}", self.average_win, self.average_loss),
            ),
            (
                "largest win / loss",
                format!("{} / {}", self.largest_win, self.largest_loss),
            ),
            ("commission", self.total_commission.to_string()),
            ("swap", self.total_swap.to_string()),
            (
                "max drawdown",
                format!("{:.2}% ({})", self.max_drawdown_pct, self.max_drawdown),
            ),
            ("sharpe", opt(self.sharpe)),
            ("sortino", opt(self.sortino)),
            (
                "cagr",
                self.cagr_pct
                    .map_or_else(|| "-".into(), |c| format!("{c:.2}%")),
            ),
            ("sqn", opt(self.sqn)),
            ("bars", self.bars.to_string()),
            ("signals", self.signals.to_string()),
        ];
        let mut out = String::new();
        for (k, v) in rows {
            out.push_str(&format!("{k:<20} {v}\n"));
        }
        out
    }
}

pub(crate) fn to_f64(d: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64().unwrap_or(0.0)
}
