//! The interactive pages: `report.html` of a backtest, of an optimisation and of a walk-forward.
//! Each is one self-contained file that opens offline: its styles, its data (JSON in a
//! `<script type="application/json">`), the vendored lightweight-charts (`mtq-dashboard`'s one
//! copy, with its licence and notice) and `report.js` are all inline; nothing is fetched.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use mtq_analytics::EquityPoint;
use mtq_core::Bar;
use mtq_dashboard::vendor;
use serde::Serialize;

use crate::optimize::{Optimization, WalkForward};
use crate::stats::to_f64;
use crate::trades::TradeRecord;

const CSS: &str = include_str!("report.css");
const JS: &str = include_str!("report.js");

/// Candles in a backtest page: the newest this many (about a year and a half of M5). More would
/// make a file of tens of megabytes; `report.json` and the data file have them all.
pub(crate) const MAX_BARS: usize = 150_000;
/// Equity points in a page: a longer curve is thinned (every n-th point, plus the last).
pub(crate) const MAX_EQUITY_POINTS: usize = 50_000;
/// Trades in a page's table and markers; `trades.csv` has them all.
pub(crate) const MAX_TRADES: usize = 20_000;

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page around `body`: styles, data, the chart library, the script, the attribution.
pub(crate) fn page<T: Serialize>(
    title: &str,
    body: &str,
    data: &T,
) -> Result<String, serde_json::Error> {
    // `<` only ever occurs inside JSON strings, where `\u003c` means the same: no `</script>` or
    // `<!--` can end the data element early.
    let json = serde_json::to_string(data)?.replace('<', "\\u003c");
    let mut h = String::with_capacity(vendor::LIGHTWEIGHT_CHARTS_JS.len() + json.len() + 32 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"generator\" content=\"MTQ {}\"><title>{}</title>\n<style>\n{CSS}</style></head>\n<body>\n{body}\n",
        env!("CARGO_PKG_VERSION"),
        esc(title),
    );
    let _ = write!(
        h,
        "<footer class=\"muted\">Made by MTQ {}. Charts by TradingView Lightweight Charts™ {} \
(Apache-2.0), Copyright © 2025 TradingView, Inc., https://www.tradingview.com/.\n\
<details><summary>Licence and notice of the chart library</summary><pre>{}\n\n{}</pre></details></footer>\n",
        env!("CARGO_PKG_VERSION"),
        vendor::LIGHTWEIGHT_CHARTS_VERSION,
        esc(vendor::LIGHTWEIGHT_CHARTS_NOTICE),
        esc(vendor::LIGHTWEIGHT_CHARTS_LICENSE),
    );
    let _ = write!(
        h,
        "<script type=\"application/json\" id=\"mtq-data\">{json}</script>\n<script>\n{}\n</script>\n<script>\n{JS}</script>\n</body></html>\n",
        vendor::LIGHTWEIGHT_CHARTS_JS
    );
    Ok(h)
}

fn secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// At most `max` points, every n-th plus the last; one point per second (the charts need
/// strictly increasing times: of several at one time, the last counts).
pub(crate) fn equity_series(curve: &[EquityPoint], max: usize) -> Vec<(i64, f64)> {
    let mut out: Vec<(i64, f64)> = Vec::with_capacity(curve.len().min(max) + 1);
    let step = curve.len().div_ceil(max.max(1)).max(1);
    let mut push = |p: &EquityPoint| {
        let t = secs(p.time);
        let v = to_f64(p.equity);
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 = v,
            Some(last) if last.0 > t => {}
            _ => out.push((t, v)),
        }
    };
    for p in curve.iter().step_by(step) {
        push(p);
    }
    if let Some(last) = curve.last() {
        push(last);
    }
    out
}

#[derive(Serialize)]
struct TradeRow {
    n: usize,
    side: &'static str,
    volume: f64,
    entry_time: i64,
    entry_price: f64,
    exit_time: i64,
    exit_price: f64,
    commission: f64,
    swap: f64,
    profit: f64,
    net_profit: f64,
    exit_reason: &'static str,
}

fn side(s: mtq_core::Side) -> &'static str {
    match s {
        mtq_core::Side::Buy => "buy",
        mtq_core::Side::Sell => "sell",
    }
}

fn trade_rows(trades: &[TradeRecord]) -> Vec<TradeRow> {
    trades
        .iter()
        .take(MAX_TRADES)
        .enumerate()
        .map(|(i, t)| TradeRow {
            n: i + 1,
            side: side(t.side),
            volume: to_f64(t.volume),
            entry_time: secs(t.entry_time),
            entry_price: to_f64(t.entry_price),
            exit_time: secs(t.exit_time),
            exit_price: to_f64(t.exit_price),
            commission: to_f64(t.commission),
            swap: to_f64(t.swap),
            profit: to_f64(t.profit),
            net_profit: to_f64(t.net_profit),
            exit_reason: t.exit_reason,
        })
        .collect()
}

/// A backtest page's data.
#[derive(Serialize)]
pub(crate) struct BacktestData {
    kind: &'static str,
    /// Decimal places of the symbol's prices, as the trades carry them.
    digits: u32,
    /// `[time, open, high, low, close]`, oldest first.
    bars: Vec<(i64, f64, f64, f64, f64)>,
    equity: Vec<(i64, f64)>,
    trades: Vec<TradeRow>,
}

impl BacktestData {
    pub(crate) fn new(bars: &[Bar], equity: &[EquityPoint], trades: &[TradeRecord]) -> Self {
        let digits = trades
            .iter()
            .map(|t| t.entry_price.scale().max(t.exit_price.scale()))
            .max()
            .unwrap_or(5)
            .clamp(0, 8);
        let from = bars.len().saturating_sub(MAX_BARS);
        let mut rows: Vec<(i64, f64, f64, f64, f64)> = Vec::with_capacity(bars.len() - from);
        for b in &bars[from..] {
            let t = secs(b.time);
            // The chart needs strictly increasing times: a repeated or older bar is skipped.
            if rows.last().is_some_and(|l| l.0 >= t) {
                continue;
            }
            rows.push((t, b.open, b.high, b.low, b.close));
        }
        Self {
            kind: "backtest",
            digits,
            bars: rows,
            equity: equity_series(equity, MAX_EQUITY_POINTS),
            trades: trade_rows(trades),
        }
    }
}

#[derive(Serialize)]
struct ResultRow<'a> {
    params: &'a serde_json::Value,
    score: f64,
    eligible: bool,
    net_profit: f64,
    trades: u64,
    win_rate: f64,
    profit_factor: Option<f64>,
    sharpe: Option<f64>,
    max_drawdown_pct: f64,
}

/// An optimisation page's data: every evaluated set, best first.
#[derive(Serialize)]
pub(crate) struct OptimizationData<'a> {
    kind: &'static str,
    objective: String,
    /// The ranged parameters, when known (else the page takes those with several values).
    ranged: Vec<String>,
    results: Vec<ResultRow<'a>>,
}

impl<'a> OptimizationData<'a> {
    pub(crate) fn new(o: &'a Optimization) -> Self {
        Self {
            kind: "optimization",
            objective: o.objective.to_string(),
            ranged: Vec::new(),
            results: o
                .results
                .iter()
                .map(|e| ResultRow {
                    params: &e.params,
                    score: e.score,
                    eligible: e.eligible,
                    net_profit: to_f64(e.stats.net_profit),
                    trades: e.stats.trades,
                    win_rate: e.stats.win_rate,
                    profit_factor: e.stats.profit_factor,
                    sharpe: e.stats.sharpe,
                    max_drawdown_pct: e.stats.max_drawdown_pct,
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct WindowRow<'a> {
    index: usize,
    in_sample_from: i64,
    in_sample_to: i64,
    out_of_sample_from: i64,
    out_of_sample_to: i64,
    best: Option<&'a serde_json::Value>,
    in_sample_score: Option<f64>,
    oos_net_profit: Option<f64>,
    oos_trades: Option<u64>,
    oos_win_rate: Option<f64>,
    oos_max_drawdown_pct: Option<f64>,
}

/// A walk-forward page's data: the windows and the stitched out-of-sample equity.
#[derive(Serialize)]
pub(crate) struct WalkForwardData<'a> {
    kind: &'static str,
    windows: Vec<WindowRow<'a>>,
    equity: Vec<(i64, f64)>,
}

impl<'a> WalkForwardData<'a> {
    pub(crate) fn new(wf: &'a WalkForward) -> Self {
        Self {
            kind: "walk_forward",
            windows: wf
                .windows
                .iter()
                .map(|w| WindowRow {
                    index: w.index,
                    in_sample_from: secs(w.in_sample_from),
                    in_sample_to: secs(w.in_sample_to),
                    out_of_sample_from: secs(w.out_of_sample_from),
                    out_of_sample_to: secs(w.out_of_sample_to),
                    best: w.best.as_ref(),
                    in_sample_score: w.in_sample_score,
                    oos_net_profit: w.out_of_sample.as_ref().map(|s| to_f64(s.net_profit)),
                    oos_trades: w.out_of_sample.as_ref().map(|s| s.trades),
                    oos_win_rate: w.out_of_sample.as_ref().map(|s| s.win_rate),
                    oos_max_drawdown_pct: w.out_of_sample.as_ref().map(|s| s.max_drawdown_pct),
                })
                .collect(),
            equity: equity_series(&wf.equity, MAX_EQUITY_POINTS),
        }
    }
}
