//! Text decoding and the small, fast field parsers the importers share.
//!
//! MT5 writes exports as UTF-16 LE with a BOM by default ("Unicode"), or as UTF-8/ANSI when asked;
//! spreadsheets add a UTF-8 BOM; Windows tools write CRLF. All of them end up as one `String`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use super::{DataError, TimeZoneSpec};

/// Decodes a file's bytes: UTF-16 (with a BOM, or detected from zero bytes), UTF-8 with or
/// without a BOM. Invalid UTF-8 is an error naming the file and line.
pub(crate) fn decode(bytes: &[u8], file: &str) -> Result<String, DataError> {
    let utf16 = |be: bool, body: &[u8]| -> Result<String, DataError> {
        if !body.len().is_multiple_of(2) {
            return Err(DataError::Encoding {
                file: file.to_string(),
                reason: "UTF-16 text with an odd number of bytes".into(),
            });
        }
        let units = body.chunks_exact(2).map(|c| {
            if be {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|e| DataError::Encoding {
                file: file.to_string(),
                reason: format!("invalid UTF-16: {e}"),
            })
    };
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(false, rest),
        [0xFE, 0xFF, rest @ ..] => utf16(true, rest),
        [0xEF, 0xBB, 0xBF, rest @ ..] => utf8(rest, file),
        // BOM-less UTF-16: ASCII text has a zero in every other byte.
        [a, 0, b, 0, ..] if *a != 0 && *b != 0 => utf16(false, bytes),
        [0, a, 0, b, ..] if *a != 0 && *b != 0 => utf16(true, bytes),
        _ => utf8(bytes, file),
    }
}

fn utf8(bytes: &[u8], file: &str) -> Result<String, DataError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            Err(DataError::Parse {
                file: file.to_string(),
                line,
                reason: "not valid UTF-8 (save the export as UTF-8 or Unicode)".into(),
            })
        }
    }
}

/// Splits one line into fields: tabs when the line has one, else commas, else semicolons,
/// else runs of spaces.
pub(crate) fn delimiter_of(header: &str) -> Delim {
    if header.contains('\t') {
        Delim::Char('\t')
    } else if header.contains(',') {
        Delim::Char(',')
    } else if header.contains(';') {
        Delim::Char(';')
    } else {
        Delim::Space
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delim {
    Char(char),
    Space,
}

/// Fills `out` with the trimmed fields of `line` (reusing its storage).
pub(crate) fn split<'a>(line: &'a str, delim: Delim, out: &mut Vec<&'a str>) {
    out.clear();
    match delim {
        Delim::Char(c) => out.extend(line.split(c).map(str::trim)),
        Delim::Space => out.extend(line.split_whitespace()),
    }
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    let mut v: u32 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    Some(v)
}

/// `YYYY.MM.DD`, `YYYY-MM-DD` or `YYYY/MM/DD`.
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || !matches!(b[4], b'.' | b'-' | b'/') || b[7] != b[4] {
        return None;
    }
    let y = i32::try_from(digits(&b[0..4])?).ok()?;
    NaiveDate::from_ymd_opt(y, digits(&b[5..7])?, digits(&b[8..10])?)
}

/// `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fff` (any number of fraction digits, kept to nanoseconds).
pub(crate) fn parse_time(s: &str) -> Option<NaiveTime> {
    let b = s.as_bytes();
    if b.len() < 5 || b[2] != b':' {
        return None;
    }
    let (h, m) = (digits(&b[0..2])?, digits(&b[3..5])?);
    let (sec, nano) = match b.len() {
        5 => (0, 0),
        8 if b[5] == b':' => (digits(&b[6..8])?, 0),
        n if n > 9 && b[5] == b':' && b[8] == b'.' => {
            let frac = &b[9..];
            let take = frac.len().min(9);
            let mut nano = digits(&frac[..take])?;
            for _ in take..9 {
                nano *= 10;
            }
            (digits(&b[6..8])?, nano)
        }
        _ => return None,
    };
    NaiveTime::from_hms_nano_opt(h, m, sec, nano)
}

/// A generic CSV time: RFC 3339 with an offset (`2024-03-04T10:00:00Z`), or a local time
/// `YYYY-MM-DD[ T]HH:MM[:SS[.fff]]`, or a date alone, or Unix seconds. Local times are read in `tz`.
pub(crate) fn parse_datetime(s: &str, tz: &TimeZoneSpec) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.len() >= 10
        && let Some(date) = parse_date(&s[..10])
    {
        if s.len() == 10 {
            return tz.to_utc(date.and_time(NaiveTime::MIN));
        }
        let sep = s.as_bytes()[10];
        if sep == b' ' || sep == b'T' {
            let rest = &s[11..];
            if let Some(t) = parse_time(rest) {
                return tz.to_utc(NaiveDateTime::new(date, t));
            }
            // An explicit offset or Z: RFC 3339.
            if let Ok(dt) = DateTime::parse_from_rfc3339(&format!("{}T{rest}", &s[..10])) {
                return Some(dt.with_timezone(&Utc));
            }
        }
        return None;
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .ok()
            .and_then(|t| DateTime::from_timestamp(t, 0));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_with_and_without_bom_decodes() {
        let text = "<DATE>\t<OPEN>\r\n";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode(&le, "f").unwrap(), text);
        let bare: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(decode(&bare, "f").unwrap(), text);
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(decode(&be, "f").unwrap(), text);
    }

    #[test]
    fn utf8_bom_is_stripped_and_bad_bytes_name_the_line() {
        assert_eq!(decode(b"\xEF\xBB\xBFtime\n", "f").unwrap(), "time\n");
        let err = decode(b"a\nb\n\xFF\n", "data.csv").unwrap_err().to_string();
        assert!(err.contains("data.csv") && err.contains("line 3"), "{err}");
    }

    #[test]
    fn dates_and_times_in_mt5_and_iso_forms() {
        assert_eq!(
            parse_date("2024.03.04"),
            NaiveDate::from_ymd_opt(2024, 3, 4)
        );
        assert_eq!(parse_date("2024-03-04"), parse_date("2024.03.04"));
        assert_eq!(parse_date("2024.03-04"), None);
        assert_eq!(parse_date("2024.13.04"), None);
        assert_eq!(
            parse_time("10:05:07.250"),
            NaiveTime::from_hms_milli_opt(10, 5, 7, 250)
        );
        assert_eq!(parse_time("10:05"), NaiveTime::from_hms_opt(10, 5, 0));
        assert_eq!(parse_time("1005"), None);
        let utc = TimeZoneSpec::Utc;
        let want: DateTime<Utc> = "2024-03-04T10:00:00Z".parse().unwrap();
        for s in [
            "2024-03-04 10:00:00",
            "2024-03-04T10:00",
            "2024-03-04T12:00:00+02:00",
            "1709546400",
        ] {
            assert_eq!(parse_datetime(s, &utc), Some(want), "{s}");
        }
        assert_eq!(parse_datetime("04/03/2024 10:00", &utc), None);
    }
}
