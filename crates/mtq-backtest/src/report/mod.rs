//! The report directory: `report.json`, `trades.csv`, `equity.csv`, `equity.png`, `equity.svg`
//! and `report.html`, one self-contained interactive page (candles with trade markers, equity and
//! drawdown, a sortable trades table; see [`page`]) that opens offline. Optimisations and
//! walk-forwards get their own `report.html` (a heat map of two parameters; the windows).

mod page;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mtq_analytics::{ChartOptions, EquityPoint, svg_string, write_png};
use mtq_core::Bar;
use serde::Serialize;

use crate::BacktestError;
use crate::driver::BacktestResult;
use crate::optimize::{Optimization, WalkForward};
use crate::stats::Stats;
use crate::trades::TradeRecord;
use page::esc;

/// Rows of the refusals table in `report.html`; `report.json` always has them all.
const HTML_TRADE_ROWS: usize = 2_000;
/// Points drawn in the charts: a long curve is thinned to at most this many (every n-th point,
/// plus the last), which a 1200-pixel chart cannot tell apart.
const CHART_POINTS: usize = 4_000;

#[derive(Serialize)]
struct ReportJson<'a> {
    symbol: &'a str,
    strategy: &'a str,
    params: &'a serde_json::Value,
    from: Option<String>,
    to: Option<String>,
    stats: &'a Stats,
    refusals: &'a std::collections::BTreeMap<String, usize>,
    order_failures: &'a std::collections::BTreeMap<String, usize>,
    refused: &'a [crate::Refused],
    trades: &'a [TradeRecord],
}

/// The files written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFiles {
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), BacktestError> {
    std::fs::write(path, bytes).map_err(|source| BacktestError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn thin(curve: &[EquityPoint]) -> Vec<EquityPoint> {
    if curve.len() <= CHART_POINTS {
        return curve.to_vec();
    }
    let step = curve.len().div_ceil(CHART_POINTS);
    let mut out: Vec<EquityPoint> = curve.iter().step_by(step).copied().collect();
    if let Some(last) = curve.last()
        && out.last() != Some(last)
    {
        out.push(*last);
    }
    out
}

/// Writes every report file into `dir` (created if missing); `report.html` has no candles (see
/// [`write_report_with_bars`]).
pub fn write_report(
    dir: &Path,
    r: &BacktestResult,
    stats: &Stats,
) -> Result<ReportFiles, BacktestError> {
    write_report_with_bars(dir, r, stats, &[])
}

/// Writes every report file into `dir` (created if missing), with `bars` (the run's, oldest
/// first) as the candles of `report.html`.
pub fn write_report_with_bars(
    dir: &Path,
    r: &BacktestResult,
    stats: &Stats,
    bars: &[Bar],
) -> Result<ReportFiles, BacktestError> {
    std::fs::create_dir_all(dir).map_err(|source| BacktestError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    let rfc =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);

    let json = ReportJson {
        symbol: r.symbol.as_str(),
        strategy: &r.strategy,
        params: &r.params,
        from: r.first_bar.map(rfc),
        to: r.last_bar.map(rfc),
        stats,
        refusals: &r.refusals,
        order_failures: &r.order_failures,
        refused: &r.refused,
        trades: &r.trades,
    };
    let path = dir.join("report.json");
    let text = serde_json::to_string_pretty(&json).map_err(|e| BacktestError::Write {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    write(&path, text.as_bytes())?;
    files.push(path);

    let path = dir.join("trades.csv");
    write(&path, trades_csv(&r.trades).as_bytes())?;
    files.push(path);

    let path = dir.join("equity.csv");
    let mut csv = String::with_capacity(r.equity.len() * 40 + 16);
    csv.push_str("time,equity\n");
    for p in &r.equity {
        let _ = writeln!(csv, "{},{}", rfc(p.time), p.equity);
    }
    write(&path, csv.as_bytes())?;
    files.push(path);

    let curve = thin(&r.equity);
    let opts = ChartOptions {
        title: format!("{} {} — equity and drawdown", r.symbol, r.strategy),
        ..ChartOptions::default()
    };
    let chart_err = |path: &Path, e: mtq_analytics::ChartError| BacktestError::Chart {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if !curve.is_empty() {
        let path = dir.join("equity.png");
        write_png(&curve, &path, &opts).map_err(|e| chart_err(&path, e))?;
        files.push(path);
        let path = dir.join("equity.svg");
        let svg = svg_string(&curve, &opts).map_err(|e| chart_err(&path, e))?;
        write(&path, svg.as_bytes())?;
        files.push(path);
    }

    let path = dir.join("report.html");
    let data = page::BacktestData::new(bars, &r.equity, &r.trades);
    let title = format!("{} {} backtest", r.symbol, r.strategy);
    let text = page::page(&title, &html(r, stats, !bars.is_empty()), &data)
        .map_err(|e| json_err(&path, e))?;
    write(&path, text.as_bytes())?;
    files.push(path);
    Ok(ReportFiles {
        dir: dir.to_path_buf(),
        files,
    })
}

/// `trades.csv`: one row per trade, the same fields as `report.json`'s `trades`.
pub fn trades_csv(trades: &[TradeRecord]) -> String {
    let mut s = String::with_capacity(trades.len() * 160 + 160);
    s.push_str("symbol,side,volume,entry_time,entry_price,exit_time,exit_price,commission,swap,profit,net_profit,exit_reason\n");
    let rfc =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    for t in trades {
        let side = match t.side {
            mtq_core::Side::Buy => "buy",
            mtq_core::Side::Sell => "sell",
        };
        let _ = writeln!(
            s,
            "{},{side},{},{},{},{},{},{},{},{},{},{}",
            t.symbol,
            t.volume,
            rfc(t.entry_time),
            t.entry_price,
            rfc(t.exit_time),
            t.exit_price,
            t.commission,
            t.swap,
            t.profit,
            t.net_profit,
            t.exit_reason
        );
    }
    s
}

fn json_err(path: &Path, e: serde_json::Error) -> BacktestError {
    BacktestError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    }
}

/// Each refused signal and order, so a user sees why an entry did not trade.
fn refused_html(h: &mut String, refused: &[crate::Refused]) {
    if refused.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "\n<h2>Refused signals and orders ({})</h2>\n",
        refused.len()
    );
    if refused.len() > HTML_TRADE_ROWS {
        let _ = write!(
            h,
            "<p>The first {HTML_TRADE_ROWS}; <code>report.json</code> has them all.</p>"
        );
    }
    h.push_str("<table><tr><th class=\"l\">time</th><th class=\"l\">refused at</th><th class=\"l\">side</th><th class=\"l\">reason</th></tr>\n");
    for x in refused.iter().take(HTML_TRADE_ROWS) {
        let side = match x.side {
            Some(mtq_core::Side::Buy) => "buy",
            Some(mtq_core::Side::Sell) => "sell",
            None => "",
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{side}</td><td class=\"l\">{}</td></tr>",
            x.time.format("%Y-%m-%d %H:%M"),
            x.at,
            esc(&x.reason)
        );
    }
    h.push_str("</table>");
}

/// The page's body: what stays static HTML (the run, its statistics, its refusals) and the
/// places `report.js` draws into.
fn html(r: &BacktestResult, stats: &Stats, candles: bool) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let title = format!("{} {} backtest", r.symbol, r.strategy);
    let _ = writeln!(h, "<h1>{}</h1>", esc(&title));
    let span = match (r.first_bar, r.last_bar) {
        (Some(a), Some(b)) => format!(
            "{} to {}",
            a.format("%Y-%m-%d %H:%M"),
            b.format("%Y-%m-%d %H:%M")
        ),
        _ => "no bars".into(),
    };
    let _ = write!(
        h,
        "<p>{span} UTC · {} bars · parameters <code>{}</code></p>\n<h2>Statistics</h2>\n<table>",
        r.bars,
        esc(&r.params.to_string())
    );
    for line in stats.table().lines() {
        let (k, v) = line.split_at(line.len().min(20));
        let _ = write!(
            h,
            "<tr><th class=\"l\">{}</th><td>{}</td></tr>",
            esc(k.trim()),
            esc(v.trim())
        );
    }
    h.push_str("</table>\n");
    if candles {
        h.push_str("<h2>Price and trades</h2>\n<p class=\"muted\">Arrows mark entries, circles exits (with the trade's number, exit reason and net P&amp;L). Scroll and zoom with the mouse; click a trade in the table to show it here.</p>\n<div id=\"candles\" class=\"chart\"></div>\n");
        if r.bars > page::MAX_BARS {
            let _ = writeln!(
                h,
                "<p class=\"muted\">The newest {} bars are drawn.</p>",
                page::MAX_BARS
            );
        }
    }
    h.push_str("<h2>Equity and drawdown</h2>\n");
    if r.equity.is_empty() {
        h.push_str("<p>No equity curve.</p>\n");
    } else {
        h.push_str("<div id=\"equity\" class=\"chart small\"></div>\n<div id=\"drawdown\" class=\"chart small\"></div>\n<noscript><p>The charts need JavaScript; <code>equity.png</code> beside this file draws the same curve.</p></noscript>\n");
    }
    for (name, map) in [
        ("Refused signals", &r.refusals),
        ("Refused orders", &r.order_failures),
    ] {
        if map.is_empty() {
            continue;
        }
        let _ = write!(
            h,
            "\n<h2>{name}</h2>\n<table><tr><th class=\"l\">reason</th><th>count</th></tr>"
        );
        for (k, v) in map {
            let _ = write!(h, "<tr><td class=\"l\">{}</td><td>{v}</td></tr>", esc(k));
        }
        h.push_str("</table>");
    }
    refused_html(&mut h, &r.refused);
    let _ = write!(
        h,
        "\n<h2>Trades ({})</h2>\n<p class=\"muted\">Click a column to sort by it (again: the other way).",
        r.trades.len()
    );
    if r.trades.len() > page::MAX_TRADES {
        let _ = write!(
            h,
            " The first {} trades; <code>trades.csv</code> has them all.",
            page::MAX_TRADES
        );
    }
    h.push_str("</p>\n<div id=\"trades\" class=\"scroll\"></div>\n");
    h
}

/// `report.html` of an optimisation: a heat map of two parameters (any two, any metric, chosen
/// on the page) and every evaluated set in a sortable table.
pub fn write_optimization_html(dir: &Path, o: &Optimization) -> Result<PathBuf, BacktestError> {
    let path = dir.join("report.html");
    let title = format!("Optimisation by {}", o.objective);
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{}</h1>\n<p>{} of {} parameter sets evaluated ({} invalid{}); at least {} trades to rank. \
<code>optimization.json</code> and <code>results.csv</code> have the same results.</p>\n\
<h2>Heat map</h2>\n<div id=\"heatmap\"></div>\n<h2>Results</h2>\n\
<p class=\"muted\">Best first; click a column to sort by it.</p>\n<div id=\"results\" class=\"scroll\"></div>\n",
        esc(&title),
        o.evaluated,
        o.grid_size,
        o.invalid,
        o.invalid_reason
            .as_deref()
            .map_or_else(String::new, |r| format!(": {}", esc(r))),
        o.min_trades,
    );
    let text = page::page(&title, &body, &page::OptimizationData::new(o))
        .map_err(|e| json_err(&path, e))?;
    write(&path, text.as_bytes())?;
    Ok(path)
}

/// `report.html` of a walk-forward: its windows on a timeline and in a sortable table, and the
/// stitched out-of-sample equity (whose full report is `out_of_sample/report.html`).
pub fn write_walk_forward_html(dir: &Path, wf: &WalkForward) -> Result<PathBuf, BacktestError> {
    let path = dir.join("report.html");
    let title = "Walk-forward";
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{title}</h1>\n<p>{} windows; out of sample: net {} over {} trades, max drawdown {:.2}%{}. \
The stitched out-of-sample run has its own report: <a href=\"out_of_sample/report.html\">out_of_sample/report.html</a>.</p>\n\
<h2>Windows</h2>\n<p class=\"muted\">Grey: in sample (optimised); coloured: out of sample (traded with the best set), green for a profit, red for a loss.</p>\n\
<div id=\"timeline\"></div>\n<div id=\"windows\" class=\"scroll\"></div>\n\
<h2>Out-of-sample equity and drawdown</h2>\n<div id=\"equity\" class=\"chart small\"></div>\n<div id=\"drawdown\" class=\"chart small\"></div>\n",
        wf.windows.len(),
        wf.out_of_sample.net_profit,
        wf.out_of_sample.trades,
        wf.out_of_sample.max_drawdown_pct,
        wf.efficiency
            .map_or_else(String::new, |e| format!(", walk-forward efficiency {e:.2}")),
    );
    let text = page::page(title, &body, &page::WalkForwardData::new(wf))
        .map_err(|e| json_err(&path, e))?;
    write(&path, text.as_bytes())?;
    Ok(path)
}
