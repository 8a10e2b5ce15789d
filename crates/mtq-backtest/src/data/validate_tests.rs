//! The sanity rules at load: refused rows name the file and line (or the cache file and
//! record), repairs and gaps come back as warnings.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::*;

const HEADER: &str = "time,open,high,low,close\n";

/// A CSV of daily bars from `(date, close)` pairs, open = high = low = close.
fn csv(rows: &[(&str, f64)]) -> String {
    let mut s = String::from(HEADER);
    for (t, c) in rows {
        let _ = writeln!(s, "{t},{c},{c},{c},{c}");
    }
    s
}

fn parse(text: &str) -> Result<MarketData, DataError> {
    parse_text(text, "data.csv", None, &TimeZoneSpec::Utc)
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mtq-rules-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn load(path: &Path, use_cache: bool) -> Result<(MarketData, LoadedFile), DataError> {
    load_file(
        path,
        &ImportOptions {
            use_cache,
            ..ImportOptions::default()
        },
    )
}

/// A GOOG-like daily series: from 50 to 3000 over 16 years, weekdays only, with daily moves of
/// up to +-8% and a few large ones (+16%, -12%).
fn goog_daily() -> String {
    let mut s = String::from(HEADER);
    let mut t = chrono::NaiveDate::from_ymd_opt(2006, 1, 2).unwrap();
    let days = 4_100;
    let mut rng = mtq_core::SplitMix64::new(7);
    let mut prev = 50.0_f64;
    for i in 0..days {
        let trend = 50.0 * 60f64.powf(f64::from(i) / f64::from(days));
        let shock = match i {
            700 => 0.16,
            1900 => -0.12,
            _ => (rng.next_f64() - 0.5) * 0.16,
        };
        let close = (trend * (1.0 + shock)).max(1.0);
        let (hi, lo) = (prev.max(close) * 1.01, prev.min(close) * 0.99);
        let _ = writeln!(s, "{t},{prev:.2},{hi:.2},{lo:.2},{close:.2}");
        prev = close;
        t = t.succ_opt().unwrap();
        while matches!(
            chrono::Datelike::weekday(&t),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        ) {
            t = t.succ_opt().unwrap();
        }
    }
    s
}

#[test]
fn prices_outside_the_sane_range_are_refused_naming_file_and_line() {
    for bad in ["1e308", "1e20", "10000001"] {
        let text = csv(&[
            ("2024-03-04", 1.1),
            ("2024-03-05", 1.1),
            ("2024-03-06", 1.1),
        ])
        .replace(
            "2024-03-05,1.1,1.1,1.1,1.1",
            &format!("2024-03-05,1.1,{bad},1.1,1.1"),
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.starts_with("data.csv: line 3: high") && err.contains("sane range"),
            "{bad}: {err}"
        );
    }
    // Below the symbol's point: nothing is quoted there.
    let rules = DataRules {
        min_price: 0.01,
        ..DataRules::default()
    };
    let mut data = parse(&csv(&[("2024-03-04", 0.005), ("2024-03-05", 0.005)])).unwrap();
    let (row, problem) = validate::check(&mut data, &rules, chrono::Utc::now()).unwrap_err();
    assert_eq!(row, 0);
    assert!(
        matches!(problem, RowProblem::OutOfRange { .. }),
        "{problem}"
    );
}

#[test]
fn a_price_ten_times_the_previous_close_is_refused_but_a_real_stock_series_loads() {
    let text = csv(&[
        ("2024-03-04", 1.10),
        ("2024-03-05", 1.11),
        ("2024-03-06", 11.2),
        ("2024-03-07", 1.12),
    ]);
    let err = parse(&text).unwrap_err().to_string();
    assert!(
        err.starts_with("data.csv: line 4: open 11.2 is 10.1x away from the previous close 1.11"),
        "{err}"
    );
    // One bar whose high is a hundred times its low.
    let text = "time,open,high,low,close\n2024-03-04,1.1,110,1.1,1.1\n2024-03-05,1.1,1.1,1.1,1.1\n";
    let err = parse(text).unwrap_err().to_string();
    assert!(err.contains("line 2: high 110 is 100.0x the low"), "{err}");
    // Fifty to three thousand with its biggest days: nothing refused, nothing to warn about.
    let dir = temp_dir("goog");
    let src = dir.join("GOOG_D1.csv");
    std::fs::write(&src, goog_daily()).unwrap();
    let (data, info) = load(&src, false).unwrap();
    assert_eq!(data.len(), 4_100);
    assert!(info.warnings.is_empty(), "{:?}", info.warnings);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bar_dated_far_from_its_neighbours_is_refused_with_its_line() {
    for (at, date) in [(2, "9999-12-31"), (4, "9999-12-31"), (3, "1970-01-01")] {
        let mut rows = vec![
            ("2024-03-04", 1.1),
            ("2024-03-05", 1.1),
            ("2024-03-06", 1.1),
            ("2024-03-07", 1.1),
        ];
        rows[at - 1].0 = date;
        let err = parse(&csv(&rows)).unwrap_err().to_string();
        let want = format!("data.csv: line {}: dated {date}", at + 1);
        assert!(err.starts_with(&want), "{err}");
    }
    // A date in the future, though near its neighbours.
    let next_year = chrono::Utc::now().date_naive() + chrono::Duration::days(60);
    let later = next_year + chrono::Duration::days(1);
    let (a, b) = (next_year.to_string(), later.to_string());
    let err = parse(&csv(&[(&a, 1.1), (&b, 1.1)]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2") && err.contains("in the future"),
        "{err}"
    );
}

#[test]
fn unsorted_rows_are_sorted_and_duplicates_dropped_with_a_count() {
    let dir = temp_dir("order");
    let src = dir.join("bars.csv");
    std::fs::write(
        &src,
        csv(&[
            ("2024-03-06", 1.3),
            ("2024-03-04", 1.1),
            ("2024-03-05", 1.2),
            ("2024-03-05", 9.9),
            ("2024-03-04", 9.9),
            ("2024-03-06", 9.9),
        ]),
    )
    .unwrap();
    let (data, info) = load(&src, false).unwrap();
    let MarketData::Bars(bars) = data else {
        panic!("ticks")
    };
    let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
    assert_eq!(
        closes,
        [1.1, 1.2, 1.3],
        "sorted, the first row of each time kept"
    );
    let shown: Vec<String> = info.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(
        shown[0].starts_with("rows not in time order: sorted"),
        "{shown:?}"
    );
    assert!(
        shown[1].starts_with("dropped 3 duplicate timestamps"),
        "{shown:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn gaps_beyond_the_limit_are_summed_up_in_one_warning() {
    let dir = temp_dir("gaps");
    let src = dir.join("bars.csv");
    std::fs::write(
        &src,
        csv(&[
            ("2024-01-02", 1.1),
            ("2024-01-03", 1.1),
            ("2024-01-20", 1.1),
            ("2024-01-21", 1.1),
            ("2024-03-01", 1.1),
        ]),
    )
    .unwrap();
    let (_, info) = load(&src, false).unwrap();
    let shown: Vec<String> = info.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        ["2 gaps longer than 7 days 0 h; the largest is 40 days 0 h after 2024-01-21 00:00 UTC"]
    );
    // No limit, no warning.
    let (_, info) = load_file(
        &src,
        &ImportOptions {
            rules: DataRules {
                max_gap: None,
                ..DataRules::default()
            },
            ..ImportOptions::default()
        },
    )
    .unwrap();
    assert!(info.warnings.is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

/// The byte offset of bar record `record` in a cache file.
fn record_offset(cache: &[u8], record: usize) -> usize {
    let klen = usize::try_from(u64::from_le_bytes(cache[9..17].try_into().unwrap())).unwrap();
    8 + 1 + 8 + klen + 8 + record * 60
}

#[test]
fn a_corrupted_cache_record_is_refused_naming_the_cache_file_and_record() {
    let dir = temp_dir("cache");
    let src = dir.join("EURUSD_D1.csv");
    std::fs::write(
        &src,
        csv(&[
            ("2024-03-04", 1.1),
            ("2024-03-05", 1.1),
            ("2024-03-06", 1.1),
        ]),
    )
    .unwrap();
    let (first, info) = load(&src, true).unwrap();
    assert!(matches!(info.cache, CacheStatus::Written(_)), "{info:?}");
    // Damage record 1 on disk: every price becomes 1e308, as a flipped exponent would.
    let cache = cache_path(&src);
    let mut bytes = std::fs::read(&cache).unwrap();
    let at = record_offset(&bytes, 1);
    for field in 0..4 {
        let p = at + 8 + field * 8;
        bytes[p..p + 8].copy_from_slice(&1e308_f64.to_le_bytes());
    }
    std::fs::write(&cache, &bytes).unwrap();
    let err = load(&src, true).unwrap_err();
    assert!(
        matches!(err, DataError::CacheRecord { record: 1, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{}: record 1: open 1e308", cache.display()))
            && text.contains("re-import with `mtq-trader import --data")
            && text.contains("EURUSD_D1.csv"),
        "{text}"
    );
    // A record moved out of order is refused like a text row far from its neighbours.
    let mut bytes = std::fs::read(&cache).unwrap();
    let at = record_offset(&bytes, 1);
    let good = first.clone();
    let MarketData::Bars(b) = &good else { panic!() };
    for field in 0..4 {
        let p = at + 8 + field * 8;
        bytes[p..p + 8].copy_from_slice(&b[1].close.to_le_bytes());
    }
    bytes[at..at + 8].copy_from_slice(&253_402_214_400_i64.to_le_bytes()); // 9999-12-31
    std::fs::write(&cache, &bytes).unwrap();
    let text = load(&src, true).unwrap_err().to_string();
    assert!(text.contains("record 1: dated 9999-12-31"), "{text}");
    // Without the cache the text loads as before.
    let (again, _) = load(&src, false).unwrap();
    assert_eq!(again, first);
    std::fs::remove_dir_all(&dir).ok();
}
