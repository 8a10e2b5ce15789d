//! The sanity rules at load: refused rows name the file and line, repairs and gaps come back as
//! warnings, on a cache hit too.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::validate::{Extremes, check};
use super::*;
use chrono::Duration;

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

/// Bars of a series with a gap (so a cache hit must report it again), its cache written.
fn cached_series_with_a_gap(dir: &Path) -> (PathBuf, MarketData, LoadedFile) {
    let src = dir.join("EURUSD_D1.csv");
    std::fs::write(
        &src,
        csv(&[
            ("2024-03-04", 1.1),
            ("2024-03-05", 1.10231),
            ("2024-03-20", 1.09876),
        ]),
    )
    .unwrap();
    let (first, info) = load(&src, true).unwrap();
    assert!(matches!(info.cache, CacheStatus::Written(_)), "{info:?}");
    (src, first, info)
}

#[test]
fn a_cache_hit_reports_the_same_gaps_as_the_text() {
    let dir = temp_dir("cache-gaps");
    let (src, first, written) = cached_series_with_a_gap(&dir);
    assert!(
        matches!(written.warnings[..], [DataWarning::Gaps { count: 1, .. }]),
        "{written:?}"
    );
    let (again, hit) = load(&src, true).unwrap();
    assert_eq!(hit.cache, CacheStatus::Hit);
    assert_eq!((again, hit.warnings), (first, written.warnings));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_damaged_or_old_cache_is_rebuilt_from_the_source() {
    let dir = temp_dir("cache");
    let (src, first, _) = cached_series_with_a_gap(&dir);
    let cache = cache_path(&src);
    let good = std::fs::read(&cache).unwrap();
    // Every byte of the payload a flipped bit away from what was checked: the CRC catches it,
    // and the cache is written again from the text (a price of 1e308 never comes in).
    for at in [good.len() - 1, good.len() - 40, good.len() - 70] {
        let mut bytes = good.clone();
        bytes[at] ^= 0x40;
        std::fs::write(&cache, &bytes).unwrap();
        let (data, info) = load(&src, true).unwrap();
        assert!(matches!(info.cache, CacheStatus::Written(_)), "{info:?}");
        assert_eq!(data, first);
        assert_eq!(std::fs::read(&cache).unwrap(), good);
    }
    // Truncated, or of the first format (60-byte records, checked on every read): rebuilt.
    for bytes in [&good[..good.len() - 4], b"MTQDATA1\x01garbage".as_slice()] {
        std::fs::write(&cache, bytes).unwrap();
        let (data, info) = load(&src, true).unwrap();
        assert!(matches!(info.cache, CacheStatus::Written(_)), "{info:?}");
        assert_eq!(data, first);
    }
    // Stricter rules than the cache was checked under: the text is checked again.
    let strict = ImportOptions {
        use_cache: true,
        rules: DataRules {
            max_jump: 1.001,
            ..DataRules::default()
        },
        ..ImportOptions::default()
    };
    let err = load_file(&src, &strict).unwrap_err();
    assert!(matches!(err, DataError::Row { line: 3, .. }), "{err:?}");
    // Without the cache the text loads as before.
    let (again, _) = load(&src, false).unwrap();
    assert_eq!(again, first);
    std::fs::remove_dir_all(&dir).ok();
}

/// Hourly bars from `(open, close, wick)` steps, prices on the 5-digit grid or not.
fn bars_of(steps: &[(f64, f64, f64)]) -> Vec<Bar> {
    let t0 = DateTime::from_timestamp(1_700_000_000 - 1_700_000_000 % 3600, 0).unwrap();
    steps
        .iter()
        .enumerate()
        .map(|(i, &(open, close, wick))| Bar {
            time: t0 + Duration::hours(i64::try_from(i).unwrap()),
            open,
            high: open.max(close) + wick,
            low: open.min(close) - wick,
            close,
            tick_volume: 1,
            real_volume: 0,
            spread: 0,
        })
        .collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// The cache trusts a series under another run's rules when its extremes are within them:
    /// that must be exactly when checking every row under those rules passes.
    #[test]
    fn extremes_within_rules_agree_with_checking_every_row(
        steps in proptest::collection::vec((0.5f64..2.0, 0.5f64..2.0, 0.0f64..0.3), 1..40),
        min_price in 0.0f64..0.6,
        max_price in 1.0f64..3.0,
        max_jump in 1.0f64..5.0,
    ) {
        let bars = bars_of(&steps);
        let rules = DataRules { min_price, max_price, max_jump, max_gap: None };
        let mut data = MarketData::Bars(bars);
        let e = Extremes::of(&data);
        let checked = check(&mut data, &rules, Utc::now()).is_ok();
        proptest::prop_assert_eq!(e.within(&rules), checked);
    }

    /// Whatever the prices (5-digit, or any f64), a cache hit gives back the bars bit for bit.
    #[test]
    fn a_cache_hit_gives_back_the_bars_bit_for_bit(
        steps in proptest::collection::vec((1u32..300_000, 1u32..300_000, 0u32..500), 3..60),
        raw in proptest::bool::ANY,
    ) {
        let to_price = |q: u32| {
            if raw { f64::from(q) / 99_991.0 } else { f64::from(q) / 100_000.0 }
        };
        let bars = bars_of(
            &steps
                .iter()
                .map(|&(o, c, w)| (to_price(o + 100_000), to_price(c + 100_000), to_price(w)))
                .collect::<Vec<_>>(),
        );
        let dir = temp_dir(&format!("prop-{}", u8::from(raw)));
        let src = dir.join("bars.csv");
        std::fs::write(&src, crate::testkit::to_csv(&bars)).unwrap();
        let opts = ImportOptions {
            use_cache: true,
            rules: DataRules { max_jump: 100.0, ..DataRules::default() },
            ..ImportOptions::default()
        };
        let (parsed, _) = load_file(&src, &opts).unwrap();
        let (hit, info) = load_file(&src, &opts).unwrap();
        proptest::prop_assert_eq!(info.cache, CacheStatus::Hit);
        let (MarketData::Bars(a), MarketData::Bars(b)) = (&parsed, &hit) else {
            panic!("bars expected")
        };
        for (x, y) in a.iter().zip(b) {
            proptest::prop_assert_eq!(
                [x.open, x.high, x.low, x.close].map(f64::to_bits),
                [y.open, y.high, y.low, y.close].map(f64::to_bits)
            );
        }
        proptest::prop_assert_eq!(parsed, hit);
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn a_cache_of_several_blocks_round_trips_and_damage_in_its_last_block_is_caught() {
    let dir = temp_dir("blocks");
    let src = dir.join("EURUSD_M5.csv");
    // 40,000 bars: three blocks of columns, the last one short.
    let bars = crate::testkit::bench_bars(40_000);
    std::fs::write(&src, crate::testkit::to_csv(&bars)).unwrap();
    let (parsed, info) = load(&src, true).unwrap();
    assert!(matches!(info.cache, CacheStatus::Written(_)), "{info:?}");
    let (hit, info) = load(&src, true).unwrap();
    assert_eq!(info.cache, CacheStatus::Hit);
    assert_eq!(hit, parsed);
    let cache = cache_path(&src);
    let mut bytes = std::fs::read(&cache).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 1;
    std::fs::write(&cache, &bytes).unwrap();
    let (again, info) = load(&src, true).unwrap();
    assert!(matches!(info.cache, CacheStatus::Written(_)), "{info:?}");
    assert_eq!(again, parsed);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_damaged_cache_is_rebuilt_with_a_warning_that_says_what_was_wrong() {
    let dir = temp_dir("damage");
    let (src, first, written) = cached_series_with_a_gap(&dir);
    let cache = cache_path(&src);
    let good = std::fs::read(&cache).unwrap();
    let mut flipped = good.clone();
    *flipped.last_mut().unwrap() ^= 0x01;
    let mut newer = good.clone();
    newer[7] = b'3';
    let cases: [(&str, Vec<u8>, CacheDamage); 6] = [
        ("last byte flipped", flipped, CacheDamage::Checksum),
        (
            "cut short",
            good[..good.len() - 4].to_vec(),
            CacheDamage::Length,
        ),
        (
            "cut inside the header",
            good[..20].to_vec(),
            CacheDamage::Length,
        ),
        (
            "a byte added",
            [good.as_slice(), &[0]].concat(),
            CacheDamage::Length,
        ),
        ("another format", newer, CacheDamage::OtherFormat),
        (
            "not a cache",
            b"time,open,high,low,close\n".to_vec(),
            CacheDamage::Header,
        ),
    ];
    for (what, bytes, damage) in cases {
        std::fs::write(&cache, &bytes).unwrap();
        let (data, info) = load(&src, true).unwrap();
        assert!(
            matches!(info.cache, CacheStatus::Written(_)),
            "{what}: {info:?}"
        );
        assert_eq!(data, first, "{what}");
        assert_eq!(
            info.warnings,
            [
                vec![DataWarning::CacheRebuilt(damage)],
                written.warnings.clone()
            ]
            .concat(),
            "{what}"
        );
        assert_eq!(std::fs::read(&cache).unwrap(), good, "{what}: rebuilt");
        // And the rebuilt cache is read again without a word.
        let (hit, info) = load(&src, true).unwrap();
        assert_eq!(info.cache, CacheStatus::Hit, "{what}");
        assert_eq!(
            (hit, info.warnings),
            (first.clone(), written.warnings.clone())
        );
    }
    let shown = DataWarning::CacheRebuilt(CacheDamage::Checksum).to_string();
    assert!(
        shown.contains(".mtqc") && shown.contains("CRC-32") && shown.contains("rebuilt"),
        "{shown}"
    );
    // A source that changed is not damage: its cache is replaced without a warning.
    std::fs::write(&src, csv(&[("2024-03-04", 1.1), ("2024-03-05", 1.2)])).unwrap();
    let (_, info) = load(&src, true).unwrap();
    assert!(matches!(info.cache, CacheStatus::Written(_)), "{info:?}");
    assert!(info.warnings.is_empty(), "{info:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_gap_threshold_in_whole_seconds_agrees_with_comparing_durations() {
    for limit in [
        Duration::days(7),
        Duration::seconds(3600),
        Duration::milliseconds(3_600_500),
        Duration::milliseconds(-1_500),
        Duration::zero(),
        Duration::MAX,
        Duration::MIN,
    ] {
        let above = super::cache::gap_threshold(Some(limit));
        for s in [
            -5, -2, -1, 0, 1, 3599, 3600, 3601, 604_799, 604_800, 604_801,
        ] {
            assert_eq!(s > above, Duration::seconds(s) > limit, "{limit} {s}");
        }
    }
    assert_eq!(super::cache::gap_threshold(None), i64::MAX);
}

#[test]
fn a_cache_hit_of_many_blocks_reports_the_gaps_and_step_the_text_does() {
    let dir = temp_dir("block-gaps");
    let src = dir.join("EURUSD_M5.csv");
    // 70,000 M5 bars over weekends: gaps of two days, some across the blocks' edges, and a
    // week-long hole in the fourth block's first rows.
    let mut bars = crate::testkit::bench_bars(70_000);
    for b in &mut bars[3 * 16_384 + 3..] {
        b.time += Duration::days(8);
    }
    std::fs::write(&src, crate::testkit::to_csv(&bars)).unwrap();
    for max_gap in [Duration::days(2), Duration::hours(47), Duration::days(7)] {
        let opts = ImportOptions {
            use_cache: true,
            rules: DataRules {
                max_gap: Some(max_gap),
                ..DataRules::default()
            },
            ..ImportOptions::default()
        };
        std::fs::remove_file(cache_path(&src)).ok();
        let (parsed, text) = load_file(&src, &opts).unwrap();
        assert!(matches!(text.cache, CacheStatus::Written(_)), "{text:?}");
        let (hit, info) = load_file(&src, &opts).unwrap();
        assert_eq!(info.cache, CacheStatus::Hit);
        assert_eq!(hit, parsed);
        assert_eq!(info.warnings, text.warnings, "{max_gap}");
        assert!(!info.warnings.is_empty(), "{max_gap}");
        assert_eq!(info.bar_step_secs, Some(300));
        assert_eq!(text.bar_step_secs, Some(300));
        let MarketData::Bars(b) = &hit else {
            panic!("bars expected")
        };
        assert_eq!(
            loaded_timeframe(b, std::slice::from_ref(&info)),
            infer_timeframe(b)
        );
        assert_eq!(infer_timeframe(b), Some(mtq_core::Timeframe::M5));
    }
    std::fs::remove_dir_all(&dir).ok();
}
