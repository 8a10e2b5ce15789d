//! Trade statistics: counts, sums, ratios, streaks and SQN, over any set of closed trades.

use std::collections::{BTreeMap, HashMap};

use chrono::Duration;
use mtq_core::Symbol;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::ClosedTrade;

/// Statistics of a set of closed trades. A win is a trade with positive net profit, a loss one
/// with negative net profit; a trade that nets exactly zero is neither and ends both streaks.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct TradeStats {
    pub trades: u64,
    pub wins: u64,
    pub losses: u64,
    pub net_profit: Decimal,
    /// Sum of winning trades.
    pub gross_profit: Decimal,
    /// Sum of losing trades (zero or negative).
    pub gross_loss: Decimal,
    /// wins / trades, 0..=1; 0 with no trades.
    pub win_rate: f64,
    /// gross profit / |gross loss|; `None` when there is no loss.
    pub profit_factor: Option<f64>,
    /// Average net profit per trade; zero with no trades.
    pub expectancy: Decimal,
    pub average_win: Decimal,
    /// Zero or negative.
    pub average_loss: Decimal,
    pub largest_win: Decimal,
    /// Zero or negative.
    pub largest_loss: Decimal,
    pub longest_winning_streak: u64,
    pub longest_losing_streak: u64,
    /// System Quality Number: sqrt(trades) x mean / sample standard deviation of the trades' net
    /// profit (money, since the risk of each trade is not known); `None` under two trades or with
    /// no dispersion.
    pub sqn: Option<f64>,
    pub average_holding: Duration,
}

/// Builds [`TradeStats`] one trade at a time, in exit order; O(1) per trade.
#[derive(Clone, Debug, Default)]
pub struct TradeAccumulator {
    s: TradeStats,
    win_streak: u64,
    loss_streak: u64,
    holding_secs: i128,
    // Welford's running mean and sum of squared deviations, for SQN.
    mean: f64,
    m2: f64,
}

impl TradeAccumulator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, t: &ClosedTrade) {
        let p = t.net_profit;
        let s = &mut self.s;
        s.trades += 1;
        s.net_profit += p;
        if p.is_sign_positive() && !p.is_zero() {
            s.wins += 1;
            s.gross_profit += p;
            s.largest_win = s.largest_win.max(p);
            self.win_streak += 1;
            self.loss_streak = 0;
        } else if p.is_sign_negative() && !p.is_zero() {
            s.losses += 1;
            s.gross_loss += p;
            s.largest_loss = s.largest_loss.min(p);
            self.loss_streak += 1;
            self.win_streak = 0;
        } else {
            self.win_streak = 0;
            self.loss_streak = 0;
        }
        s.longest_winning_streak = s.longest_winning_streak.max(self.win_streak);
        s.longest_losing_streak = s.longest_losing_streak.max(self.loss_streak);
        self.holding_secs += i128::from(t.holding_time().num_seconds());
        // `to_f64`, bit for bit, without its 128-bit division for every trade.
        let x = mtq_core::decimal_to_f64(p);
        let n = count_f64(s.trades);
        let delta = x - self.mean;
        self.mean += delta / n;
        self.m2 += delta * (x - self.mean);
    }

    pub fn finish(&self) -> TradeStats {
        let mut s = self.s.clone();
        if s.trades == 0 {
            return s;
        }
        let n = Decimal::from(s.trades);
        s.win_rate = count_f64(s.wins) / count_f64(s.trades);
        s.profit_factor = (!s.gross_loss.is_zero())
            .then(|| ratio(s.gross_profit, -s.gross_loss))
            .flatten();
        s.expectancy = s.net_profit / n;
        if s.wins > 0 {
            s.average_win = s.gross_profit / Decimal::from(s.wins);
        }
        if s.losses > 0 {
            s.average_loss = s.gross_loss / Decimal::from(s.losses);
        }
        if s.trades >= 2 {
            let sd = (self.m2 / (count_f64(s.trades) - 1.0)).sqrt();
            if sd > 0.0 {
                s.sqn = Some(count_f64(s.trades).sqrt() * self.mean / sd);
            }
        }
        let avg = self.holding_secs / i128::from(s.trades);
        s.average_holding = Duration::seconds(i64::try_from(avg).unwrap_or(i64::MAX));
        s
    }
}

/// Statistics of `trades`, which must be in exit order for the streaks to mean anything.
pub fn trade_stats(trades: &[ClosedTrade]) -> TradeStats {
    let mut acc = TradeAccumulator::new();
    for t in trades {
        acc.push(t);
    }
    acc.finish()
}

/// Statistics of all trades and per symbol and per strategy, in one pass.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Breakdown {
    pub all: TradeStats,
    pub by_symbol: BTreeMap<Symbol, TradeStats>,
    /// Trades with no known strategy are under `"unknown"`.
    pub by_strategy: BTreeMap<String, TradeStats>,
}

/// The key trades with no known strategy are grouped under.
pub const UNKNOWN_STRATEGY: &str = "unknown";

pub fn breakdown(trades: &[ClosedTrade]) -> Breakdown {
    let mut all = TradeAccumulator::new();
    let mut by_symbol: HashMap<&Symbol, TradeAccumulator> = HashMap::new();
    let mut by_strategy: HashMap<&str, TradeAccumulator> = HashMap::new();
    for t in trades {
        all.push(t);
        by_symbol.entry(&t.symbol).or_default().push(t);
        by_strategy
            .entry(t.strategy.as_deref().unwrap_or(UNKNOWN_STRATEGY))
            .or_default()
            .push(t);
    }
    Breakdown {
        all: all.finish(),
        by_symbol: by_symbol
            .into_iter()
            .map(|(k, a)| (k.clone(), a.finish()))
            .collect(),
        by_strategy: by_strategy
            .into_iter()
            .map(|(k, a)| (k.to_string(), a.finish()))
            .collect(),
    }
}

/// Counts as f64: exact below 2^53, far beyond any trade count.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn count_f64(n: u64) -> f64 {
    n as f64
}

/// a / b as f64; `None` when b is zero.
pub(crate) fn ratio(a: Decimal, b: Decimal) -> Option<f64> {
    a.checked_div(b).and_then(|r| r.to_f64())
}
