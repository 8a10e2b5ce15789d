//! The text formats: MT5 bar and tick exports, and generic OHLCV (or bid/ask) CSV by header.

use chrono::{NaiveDateTime, NaiveTime};
use mtq_core::{Bar, Tick};

use super::text::{Delim, delimiter_of, parse_date, parse_datetime, parse_time, split};
use super::{DataError, DataRules, MarketData, TimeZoneSpec};

/// A text format MTQ reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataFormat {
    /// MT5 "Bars" export: `<DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> <TICKVOL> <VOL> <SPREAD>`;
    /// daily and longer bars come without `<TIME>`.
    Mt5Bars,
    /// MT5 "Ticks" export: `<DATE> <TIME> <BID> <ASK> <LAST> <VOLUME> <FLAGS>`; an empty bid or
    /// ask means "unchanged".
    Mt5Ticks,
    /// CSV with a header naming `time,open,high,low,close[,volume][,spread]` in any order (or
    /// `time,bid,ask` for ticks).
    Csv,
}

impl DataFormat {
    pub const NAMES: &'static str = "mt5-bars, mt5-ticks, csv";

    pub(crate) fn code(self) -> u8 {
        match self {
            Self::Mt5Bars => 1,
            Self::Mt5Ticks => 2,
            Self::Csv => 3,
        }
    }
}

impl std::str::FromStr for DataFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "mt5-bars" | "mt5" => Ok(Self::Mt5Bars),
            "mt5-ticks" => Ok(Self::Mt5Ticks),
            "csv" => Ok(Self::Csv),
            _ => Err(format!("unknown data format `{s}`: use {}", Self::NAMES)),
        }
    }
}

/// Column positions found in a header.
#[derive(Debug, Default)]
struct Columns {
    date: Option<usize>,
    time: Option<usize>,
    open: Option<usize>,
    high: Option<usize>,
    low: Option<usize>,
    close: Option<usize>,
    tick_volume: Option<usize>,
    real_volume: Option<usize>,
    spread: Option<usize>,
    bid: Option<usize>,
    ask: Option<usize>,
    last: Option<usize>,
}

impl Columns {
    fn from_header(fields: &[&str]) -> Self {
        let mut c = Self::default();
        for (i, f) in fields.iter().enumerate() {
            let name = f
                .trim_matches(|ch| ch == '<' || ch == '>' || ch == '"')
                .to_ascii_lowercase();
            let slot = match name.as_str() {
                "date" => &mut c.date,
                "time" | "datetime" | "timestamp" | "date_time" | "dt" => &mut c.time,
                "open" | "o" => &mut c.open,
                "high" | "h" => &mut c.high,
                "low" | "l" => &mut c.low,
                "close" | "c" => &mut c.close,
                "tickvol" | "tick_volume" | "volume" | "v" => &mut c.tick_volume,
                "vol" | "real_volume" => &mut c.real_volume,
                "spread" => &mut c.spread,
                "bid" => &mut c.bid,
                "ask" => &mut c.ask,
                "last" => &mut c.last,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(i);
            }
        }
        c
    }
}

/// Parses a whole decoded file and checks it under the default [`DataRules`] (sorted,
/// duplicates dropped). `file` names it in errors.
pub fn parse_text(
    text: &str,
    file: &str,
    format: Option<DataFormat>,
    tz: &TimeZoneSpec,
) -> Result<MarketData, DataError> {
    let (mut data, lines) = parse_rows(text, file, format, tz)?;
    super::validate::check(&mut data, &DataRules::default(), chrono::Utc::now())
        .map_err(|(i, problem)| DataError::row(file, lines[i], problem))?;
    Ok(data)
}

/// Parses a whole decoded file into rows as they stand, with the line number of each row.
pub(crate) fn parse_rows(
    text: &str,
    file: &str,
    format: Option<DataFormat>,
    tz: &TimeZoneSpec,
) -> Result<(MarketData, Vec<usize>), DataError> {
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(DataError::Empty {
            file: file.to_string(),
        });
    };
    let delim = delimiter_of(header);
    let mut fields = Vec::new();
    split(header, delim, &mut fields);
    let cols = Columns::from_header(&fields);
    let mt5 = header.contains("<DATE>");
    let ticks = cols.bid.is_some() && cols.open.is_none();
    let format = format.unwrap_or(match (mt5, ticks) {
        (true, true) => DataFormat::Mt5Ticks,
        (true, false) => DataFormat::Mt5Bars,
        _ => DataFormat::Csv,
    });
    let header_err = |reason: String| DataError::Header {
        file: file.to_string(),
        reason: format!("{reason} (header: `{}`)", header.trim()),
    };
    if cols.date.is_none() && cols.time.is_none() {
        return Err(header_err(
            "no time column: name one `time` (or `<DATE>` and `<TIME>`)".into(),
        ));
    }
    let reader = RowReader {
        file,
        tz,
        cols: &cols,
        mt5: format != DataFormat::Csv,
    };
    let mut lines_read = Vec::new();
    let data = if ticks || format == DataFormat::Mt5Ticks {
        if cols.bid.is_none() || cols.ask.is_none() {
            return Err(header_err(
                "a tick file needs `bid` and `ask` columns".into(),
            ));
        }
        MarketData::Ticks(reader.ticks(lines, delim, &mut lines_read)?)
    } else {
        for (name, c) in [
            ("open", cols.open),
            ("high", cols.high),
            ("low", cols.low),
            ("close", cols.close),
        ] {
            if c.is_none() {
                return Err(header_err(format!("missing column `{name}`")));
            }
        }
        MarketData::Bars(reader.bars(lines, delim, &mut lines_read)?)
    };
    if data.is_empty() {
        return Err(DataError::Empty {
            file: file.to_string(),
        });
    }
    Ok((data, lines_read))
}

struct RowReader<'a> {
    file: &'a str,
    tz: &'a TimeZoneSpec,
    cols: &'a Columns,
    /// MT5 layout: `<DATE>` and `<TIME>` apart, dates as `YYYY.MM.DD`.
    mt5: bool,
}

impl RowReader<'_> {
    fn err(&self, line: usize, reason: impl Into<String>) -> DataError {
        DataError::Parse {
            file: self.file.to_string(),
            line,
            reason: reason.into(),
        }
    }

    fn field<'f>(
        &self,
        f: &[&'f str],
        i: usize,
        name: &str,
        line: usize,
    ) -> Result<&'f str, DataError> {
        f.get(i)
            .copied()
            .ok_or_else(|| self.err(line, format!("missing `{name}` (column {})", i + 1)))
    }

    fn time(&self, f: &[&str], line: usize) -> Result<chrono::DateTime<chrono::Utc>, DataError> {
        let c = self.cols;
        match (c.date, c.time) {
            (Some(d), t) => {
                let ds = self.field(f, d, "date", line)?;
                let date = parse_date(ds).ok_or_else(|| {
                    self.err(line, format!("bad date `{ds}`: expected YYYY.MM.DD"))
                })?;
                let time = match t {
                    Some(t) => {
                        let ts = self.field(f, t, "time", line)?;
                        parse_time(ts).ok_or_else(|| {
                            self.err(line, format!("bad time `{ts}`: expected HH:MM[:SS[.fff]]"))
                        })?
                    }
                    None => NaiveTime::MIN,
                };
                self.tz
                    .to_utc(NaiveDateTime::new(date, time))
                    .ok_or_else(|| {
                        self.err(line, format!("{ds} {time} does not exist in {}", self.tz))
                    })
            }
            (None, Some(t)) => {
                let ts = self.field(f, t, "time", line)?;
                parse_datetime(ts, self.tz).ok_or_else(|| {
                    self.err(
                        line,
                        format!("bad time `{ts}`: expected RFC 3339, YYYY-MM-DD HH:MM:SS or Unix seconds"),
                    )
                })
            }
            (None, None) => Err(self.err(line, "no time column")),
        }
    }

    fn price(&self, f: &[&str], i: usize, name: &str, line: usize) -> Result<f64, DataError> {
        let s = self.field(f, i, name, line)?;
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.err(line, format!("bad {name} `{s}`: expected a number"))),
        }
    }

    fn count(
        &self,
        f: &[&str],
        i: Option<usize>,
        name: &str,
        line: usize,
    ) -> Result<u64, DataError> {
        let Some(i) = i else { return Ok(0) };
        let s = self.field(f, i, name, line)?;
        if s.is_empty() {
            return Ok(0);
        }
        if let Ok(v) = s.parse::<u64>() {
            return Ok(v);
        }
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 1.8e19 => {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(v as u64) // checked: whole, non-negative, below u64::MAX
            }
            _ => Err(self.err(
                line,
                format!("bad {name} `{s}`: expected a whole number of zero or more"),
            )),
        }
    }

    fn bars<'l>(
        &self,
        lines: impl Iterator<Item = (usize, &'l str)>,
        delim: Delim,
        lines_read: &mut Vec<usize>,
    ) -> Result<Vec<Bar>, DataError> {
        let c = self.cols;
        let (o, h, l, cl) = (
            c.open.unwrap_or(0),
            c.high.unwrap_or(0),
            c.low.unwrap_or(0),
            c.close.unwrap_or(0),
        );
        let mut out = Vec::new();
        let mut f = Vec::new();
        for (n, line) in lines {
            split(line, delim, &mut f);
            let spread = self.count(&f, c.spread, "spread", n)?;
            let bar = Bar {
                time: self.time(&f, n)?,
                open: self.price(&f, o, "open", n)?,
                high: self.price(&f, h, "high", n)?,
                low: self.price(&f, l, "low", n)?,
                close: self.price(&f, cl, "close", n)?,
                tick_volume: self.count(&f, c.tick_volume, "tick volume", n)?,
                real_volume: self.count(&f, c.real_volume, "volume", n)?,
                spread: u32::try_from(spread)
                    .map_err(|_| self.err(n, format!("spread {spread} is too large")))?,
            };
            bar.validate().map_err(|e| self.err(n, e.to_string()))?;
            out.push(bar);
            lines_read.push(n);
        }
        Ok(out)
    }

    fn ticks<'l>(
        &self,
        lines: impl Iterator<Item = (usize, &'l str)>,
        delim: Delim,
        lines_read: &mut Vec<usize>,
    ) -> Result<Vec<Tick>, DataError> {
        let c = self.cols;
        let (bi, ai) = (c.bid.unwrap_or(0), c.ask.unwrap_or(0));
        let mut out = Vec::new();
        let mut f = Vec::new();
        let (mut bid, mut ask, mut last) = (f64::NAN, f64::NAN, 0.0);
        for (n, line) in lines {
            split(line, delim, &mut f);
            let time = self.time(&f, n)?;
            // MT5 leaves a field empty when it did not change in that tick.
            let update = |i: usize, name: &str, slot: &mut f64| -> Result<(), DataError> {
                if f.get(i).is_some_and(|s| !s.is_empty()) {
                    *slot = self.price(&f, i, name, n)?;
                } else if !self.mt5 {
                    return Err(self.err(n, format!("missing `{name}`")));
                }
                Ok(())
            };
            update(bi, "bid", &mut bid)?;
            update(ai, "ask", &mut ask)?;
            if let Some(li) = c.last {
                update(li, "last", &mut last)?;
            }
            if !(bid > 0.0 && ask > 0.0) {
                // Before the first full quote (or a last-only tick): nothing to trade on yet.
                continue;
            }
            if ask < bid {
                return Err(self.err(n, format!("ask {ask} below bid {bid}")));
            }
            out.push(Tick {
                time,
                bid,
                ask,
                last,
                volume: self.count(&f, c.tick_volume, "volume", n)?,
            });
            lines_read.push(n);
        }
        Ok(out)
    }
}
