//! The report directory: `report.json`, `trades.csv`, `equity.csv`, `equity.png`, `equity.svg`
//! and a self-contained `report.html` (inline SVG and styles, no external files).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mtq_analytics::{ChartOptions, EquityPoint, svg_string, write_png};
use serde::Serialize;

use crate::BacktestError;
use crate::driver::BacktestResult;
use crate::stats::Stats;
use crate::trades::TradeRecord;

/// Rows of the trade table in `report.html`; `trades.csv` always has them all.
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

/// Writes every report file into `dir` (created if missing).
pub fn write_report(
    dir: &Path,
    r: &BacktestResult,
    stats: &Stats,
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
    let svg = if curve.is_empty() {
        None
    } else {
        let path = dir.join("equity.png");
        write_png(&curve, &path, &opts).map_err(|e| chart_err(&path, e))?;
        files.push(path);
        let path = dir.join("equity.svg");
        let svg = svg_string(&curve, &opts).map_err(|e| chart_err(&path, e))?;
        write(&path, svg.as_bytes())?;
        files.push(path);
        Some(svg)
    };

    let path = dir.join("report.html");
    write(&path, html(r, stats, svg.as_deref()).as_bytes())?;
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

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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

fn html(r: &BacktestResult, stats: &Stats, svg: Option<&str>) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let title = format!("{} {} backtest", r.symbol, r.strategy);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}\
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}}th{{background:#f3f3f3}}\
td.l,th.l{{text-align:left}}.neg{{color:#b00}}.pos{{color:#070}}svg{{max-width:100%;height:auto}}\
</style></head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
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
    h.push_str("</table>\n<h2>Equity and drawdown</h2>\n");
    match svg {
        Some(s) => h.push_str(
            s.trim_start_matches(|c| c != '<')
                .trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        ),
        None => h.push_str("<p>No equity curve.</p>"),
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
    let _ = write!(h, "\n<h2>Trades ({})</h2>\n", r.trades.len());
    if r.trades.len() > HTML_TRADE_ROWS {
        let _ = write!(
            h,
            "<p>The first {HTML_TRADE_ROWS} trades; <code>trades.csv</code> has them all.</p>"
        );
    }
    h.push_str("<table><tr><th>#</th><th class=\"l\">side</th><th>volume</th><th class=\"l\">entry</th><th>price</th><th class=\"l\">exit</th><th>price</th><th>commission</th><th>swap</th><th>profit</th><th>net</th><th class=\"l\">exit reason</th></tr>\n");
    for (i, t) in r.trades.iter().take(HTML_TRADE_ROWS).enumerate() {
        let class = if t.net_profit.is_sign_negative() {
            "neg"
        } else {
            "pos"
        };
        let side = match t.side {
            mtq_core::Side::Buy => "buy",
            mtq_core::Side::Sell => "sell",
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"l\">{side}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td class=\"l\">{}</td></tr>",
            i + 1,
            t.volume,
            t.entry_time.format("%Y-%m-%d %H:%M"),
            t.entry_price,
            t.exit_time.format("%Y-%m-%d %H:%M"),
            t.exit_price,
            t.commission,
            t.swap,
            t.profit,
            t.net_profit,
            t.exit_reason
        );
    }
    h.push_str("</table>\n</body></html>\n");
    h
}
