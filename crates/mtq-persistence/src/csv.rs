//! Trades as CSV (RFC 4180), for the API's export: a header, then one line per trade, written
//! page by page so an export of any size streams in bounded memory.

use std::io::Write;

use crate::{HistoryRepo, PageRequest, TradeFilter, TradeRecord};

/// The columns of [`trade_csv_row`], in order.
pub const TRADE_CSV_HEADER: &str = "id,ticket,symbol,side,volume,closed_volume,entry_time,entry_price,\
exit_time,exit_price,sl,tp,commission,swap,profit,net_profit,pips,strategy,magic,status,exit_reason,comment\r\n";

/// One trade as a CSV line, `\r\n` included. Text fields are quoted when needed, and a text
/// field a spreadsheet would take for a formula (`=`, `+`, `-`, `@` first) is prefixed with `'`.
pub fn trade_csv_row(t: &TradeRecord) -> String {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let fields = [
        t.id.to_string(),
        t.ticket.0.to_string(),
        text(t.symbol.as_str()),
        match t.side {
            mtq_core::Side::Buy => "buy".into(),
            mtq_core::Side::Sell => "sell".into(),
        },
        t.volume.to_string(),
        t.closed_volume.to_string(),
        t.entry_time
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        t.entry_price.to_string(),
        opt(t
            .exit_time
            .map(|x| x.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))),
        opt(t.exit_price.map(|d| d.to_string())),
        opt(t.sl.map(|d| d.to_string())),
        opt(t.tp.map(|d| d.to_string())),
        t.commission.to_string(),
        t.swap.to_string(),
        t.profit.to_string(),
        t.net_profit().to_string(),
        opt(t.pips.map(|d| d.to_string())),
        text(t.strategy.as_deref().unwrap_or("")),
        t.magic.0.to_string(),
        t.status.as_str().to_string(),
        t.exit_reason
            .map_or_else(String::new, |r| r.as_str().to_string()),
        text(&t.comment),
    ];
    let mut line = fields.join(",");
    line.push_str("\r\n");
    line
}

/// A text field: neutralised against formula injection, quoted when it holds a separator, a
/// quote or a line break.
fn text(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// What [`write_trades_csv`] can fail on.
#[derive(Debug, thiserror::Error)]
pub enum CsvExportError {
    #[error(transparent)]
    Database(#[from] crate::PersistenceError),
    #[error("writing the CSV export failed")]
    Write(#[source] std::io::Error),
}

/// Writes the header and every trade `filter` selects, newest first, reading
/// [`MAX_PAGE_LIMIT`](crate::MAX_PAGE_LIMIT) rows at a time; returns how many trades.
pub fn write_trades_csv<S, W>(
    store: &mut S,
    filter: &TradeFilter,
    out: &mut W,
) -> std::result::Result<u64, CsvExportError>
where
    S: HistoryRepo + ?Sized,
    W: Write + ?Sized,
{
    out.write_all(TRADE_CSV_HEADER.as_bytes())
        .map_err(CsvExportError::Write)?;
    let mut page = PageRequest::first(crate::MAX_PAGE_LIMIT);
    let mut n = 0u64;
    loop {
        let p = store.trades_page(filter, page)?;
        for t in &p.items {
            out.write_all(trade_csv_row(t).as_bytes())
                .map_err(CsvExportError::Write)?;
            n += 1;
        }
        match p.next {
            Some(c) => page.after = Some(c),
            None => return Ok(n),
        }
    }
}
