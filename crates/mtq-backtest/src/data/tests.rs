// Parsed prices are compared exactly: the parser must give the very f64 the text spells.
#![allow(clippy::float_cmp)]

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn parse(text: &str) -> Result<MarketData, DataError> {
    parse_text(text, "test.csv", None, &TimeZoneSpec::Utc)
}

fn bars(text: &str) -> Vec<Bar> {
    match parse(text).unwrap() {
        MarketData::Bars(b) => b,
        MarketData::Ticks(_) => panic!("ticks"),
    }
}

const MT5_M5: &str = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\r\n\
2024.03.04\t10:00:00\t1.08500\t1.08600\t1.08400\t1.08550\t120\t0\t7\r\n\
2024.03.04\t10:05:00\t1.08550\t1.08700\t1.08500\t1.08650\t98\t0\t6\r\n";

#[test]
fn mt5_bar_export_with_crlf_reads_every_column() {
    let b = bars(MT5_M5);
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].time, utc("2024-03-04T10:00:00Z"));
    assert_eq!(
        (b[0].open, b[0].high, b[0].low, b[0].close),
        (1.085, 1.086, 1.084, 1.0855)
    );
    assert_eq!(
        (b[0].tick_volume, b[0].real_volume, b[0].spread),
        (120, 0, 7)
    );
    assert_eq!(b[1].spread, 6);
}

#[test]
fn mt5_export_as_utf16_with_bom_reads_like_utf8() {
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(MT5_M5.encode_utf16().flat_map(u16::to_le_bytes));
    let text = text::decode(&bytes, "x").unwrap();
    assert_eq!(parse(&text).unwrap(), parse(MT5_M5).unwrap());
}

#[test]
fn utf8_bom_before_the_header_is_ignored() {
    let with_bom = [b"\xEF\xBB\xBF".as_slice(), MT5_M5.as_bytes()].concat();
    let text = text::decode(&with_bom, "x").unwrap();
    assert_eq!(bars(&text), bars(MT5_M5));
}

#[test]
fn daily_export_without_time_column_opens_at_midnight() {
    let b = bars(
        "<DATE>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n\
         2024.03.04\t1.085\t1.090\t1.080\t1.088\t50000\t0\t5\n\
         2024.03.05\t1.088\t1.091\t1.083\t1.084\t48000\t0\t5\n",
    );
    assert_eq!(b[1].time, utc("2024-03-05T00:00:00Z"));
    assert_eq!(infer_timeframe(&b), Some(Timeframe::D1));
}

#[test]
fn missing_spread_column_leaves_spread_to_the_simulator() {
    let b = bars("time,open,high,low,close,volume\n2024-03-04 10:00:00,1.1,1.2,1.0,1.15,10\n");
    assert_eq!((b[0].spread, b[0].tick_volume), (0, 10));
}

#[test]
fn generic_csv_columns_in_any_order_with_iso_times() {
    let b = bars(
        "close,time,low,high,open,spread\n1.15,2024-03-04T10:00:00Z,1.0,1.2,1.1,12\n\
         1.16,2024-03-04T12:00:00+01:00,1.0,1.2,1.1,12\n",
    );
    assert_eq!(b[0].open, 1.1);
    assert_eq!(b[1].time, utc("2024-03-04T11:00:00Z"));
    assert_eq!(b[0].spread, 12);
}

#[test]
fn malformed_line_is_reported_with_file_and_number() {
    let text = "time,open,high,low,close\n2024-03-04 10:00,1.1,1.2,1.0,1.15\n\n2024-03-04 10:05,1.1,abc,1.0,1.15\n";
    let err = parse(text).unwrap_err().to_string();
    assert_eq!(err, "test.csv: line 4: bad high `abc`: expected a number");
    let err = parse("time,open,high,low,close\n2024-03-04 10:00,1.1,1.0,1.2,1.15\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("test.csv: line 2:") && err.contains("low"),
        "{err}"
    );
    let err = parse("time,open,high,low,close\n04.03.2024 10:00,1.1,1.2,1.0,1.15\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2: bad time `04.03.2024 10:00`"), "{err}");
    let err = parse("time,open,high,low,close\n2024-03-04 10:00,1.1,1.2\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2: missing `low`"), "{err}");
}

#[test]
fn header_without_prices_names_the_missing_column() {
    let err = parse("time,open,high,close\n2024-03-04 10:00,1,1,1\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("header") && err.contains("`low`"), "{err}");
}

#[test]
fn server_time_is_converted_to_utc() {
    let tz: TimeZoneSpec = "+02:00".parse().unwrap();
    let d = parse_text(MT5_M5, "f", None, &tz).unwrap();
    let MarketData::Bars(b) = d else { panic!() };
    assert_eq!(b[0].time, utc("2024-03-04T08:00:00Z"));
    // A zone with daylight saving: Athens is UTC+3 in July.
    let tz: TimeZoneSpec = "Europe/Athens".parse().unwrap();
    let text = MT5_M5.replace("2024.03.04", "2024.07.04");
    let MarketData::Bars(b) = parse_text(&text, "f", None, &tz).unwrap() else {
        panic!()
    };
    assert_eq!(b[0].time, utc("2024-07-04T07:00:00Z"));
    assert_eq!(tz.offset_secs_at(b[0].time), 3 * 3600);
    assert!("Mars/Olympus".parse::<TimeZoneSpec>().is_err());
    assert_eq!(
        "UTC-5".parse::<TimeZoneSpec>().unwrap(),
        TimeZoneSpec::Fixed(-18_000)
    );
}

#[test]
fn mt5_tick_export_carries_unchanged_bid_or_ask_forward() {
    let text = "<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>\n\
                2024.03.04\t10:00:00.100\t1.08500\t\t\t\t2\n\
                2024.03.04\t10:00:00.250\t1.08500\t1.08510\t\t\t6\n\
                2024.03.04\t10:00:01.000\t\t1.08520\t\t\t4\n\
                2024.03.04\t10:05:00.000\t1.08400\t1.08410\t\t\t6\n";
    let MarketData::Ticks(t) = parse(text).unwrap() else {
        panic!("bars")
    };
    // The first line has no ask yet: skipped.
    assert_eq!(t.len(), 3);
    assert_eq!((t[1].bid, t[1].ask), (1.085, 1.0852));
    assert_eq!(t[0].time, utc("2024-03-04T10:00:00.250Z"));
    let b = bars_from_ticks(&t, Timeframe::M5, 0.00001, 0);
    assert_eq!(b.len(), 2);
    assert_eq!(
        (b[0].open, b[0].close, b[0].tick_volume, b[0].spread),
        (1.085, 1.085, 2, 20)
    );
    assert_eq!(b[1].time, utc("2024-03-04T10:05:00Z"));
}

#[test]
fn resampling_m5_into_m15_keeps_extremes_and_alignment() {
    let b = bars(MT5_M5);
    let r = resample_bars(&b, Timeframe::M15, 0);
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].open, r[0].high, r[0].low, r[0].close),
        (1.085, 1.087, 1.084, 1.0865)
    );
    assert_eq!(r[0].tick_volume, 218);
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mtq-bt-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn second_load_reads_the_binary_cache_and_a_changed_source_is_parsed_again() {
    let dir = temp_dir("cache");
    let src = dir.join("EURUSD_M5.csv");
    std::fs::write(&src, MT5_M5).unwrap();
    let opts = ImportOptions {
        use_cache: true,
        ..ImportOptions::default()
    };
    let (first, info) = load_file(&src, &opts).unwrap();
    assert!(matches!(info.cache, CacheStatus::Written(_)), "{info:?}");
    let (second, info) = load_file(&src, &opts).unwrap();
    assert_eq!(info.cache, CacheStatus::Hit);
    assert_eq!(first, second);
    // Another time zone must not read the UTC cache.
    let shifted = ImportOptions {
        timezone: TimeZoneSpec::Fixed(3600),
        ..opts.clone()
    };
    let (moved, info) = load_file(&src, &shifted).unwrap();
    assert!(matches!(info.cache, CacheStatus::Written(_)));
    assert_ne!(moved, first);
    // A source that changed (different length) is parsed again.
    std::fs::write(
        &src,
        format!("{MT5_M5}2024.03.04\t10:10:00\t1.0865\t1.087\t1.086\t1.0868\t50\t0\t6\n"),
    )
    .unwrap();
    let (third, info) = load_file(&src, &opts).unwrap();
    assert!(matches!(info.cache, CacheStatus::Written(_)));
    assert_eq!(third.len(), 3);
    // A damaged cache is ignored, not trusted.
    std::fs::write(cache_path(&src), b"MTQDATA1 garbage").unwrap();
    let (fourth, info) = load_file(&src, &opts).unwrap();
    assert!(matches!(info.cache, CacheStatus::Written(_)));
    assert_eq!(fourth, third);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn ticks_round_trip_through_the_cache() {
    let dir = temp_dir("ticks");
    let src = dir.join("ticks.csv");
    std::fs::write(
        &src,
        "time,bid,ask\n2024-03-04T10:00:00.125Z,1.1,1.1001\n2024-03-04T10:00:01Z,1.1002,1.1003\n",
    )
    .unwrap();
    let opts = ImportOptions {
        use_cache: true,
        ..ImportOptions::default()
    };
    let (a, _) = load_file(&src, &opts).unwrap();
    let (b, info) = load_file(&src, &opts).unwrap();
    assert_eq!(info.cache, CacheStatus::Hit);
    assert_eq!(a, b);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn several_files_merge_in_time_order_without_duplicates() {
    let dir = temp_dir("merge");
    let a = dir.join("a.csv");
    let b = dir.join("b.csv");
    std::fs::write(
        &b,
        "time,open,high,low,close\n2024-03-04 10:05,1,1,1,1\n2024-03-04 10:10,1,1,1,1\n",
    )
    .unwrap();
    std::fs::write(
        &a,
        "time,open,high,low,close\n2024-03-04 10:00,1,1,1,1\n2024-03-04 10:05,2,2,2,2\n",
    )
    .unwrap();
    let (d, files) = load_files(&[a, b], &ImportOptions::default()).unwrap();
    let MarketData::Bars(bars) = d else { panic!() };
    assert_eq!(files.len(), 2);
    assert_eq!(bars.len(), 3);
    assert_eq!(bars[1].close, 2.0, "the first file's bar wins");
    let missing = load_files(&[dir.join("nope.csv")], &ImportOptions::default()).unwrap_err();
    assert!(missing.to_string().contains("nope.csv"), "{missing}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn seconds_between_bars_match_chrono_subtraction_on_one_day_and_across_days() {
    let t = |s: i64, ns: u32| DateTime::from_timestamp(s, ns).unwrap();
    for (a, b) in [
        (t(3_600, 0), t(7_200, 0)),
        (t(86_399, 0), t(86_400, 0)),
        (t(-2_208_988_800, 0), t(-2_208_985_200, 0)),
        (t(-1, 0), t(0, 0)),
        (t(7_200, 0), t(3_600, 0)),
        (t(100, 500_000_000), t(101, 0)),
        (t(100, 0), t(101, 999_999_999)),
        (t(86_000, 0), t(86_400 * 40 + 5, 0)),
    ] {
        assert_eq!(
            super::seconds_between(a, b),
            (b - a).num_seconds(),
            "{a} {b}"
        );
    }
}
