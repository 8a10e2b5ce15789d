//! The driver's fast paths against its full steps.

use std::sync::Arc;

use mtq_core::Timeframe;
use rust_decimal_macros::dec;

use super::*;
use crate::testkit::random_walk;
use crate::{SetupOptions, Sizing};

fn setup(manage: bool, fill: FillTiming) -> BacktestSetup {
    let mut s = SetupOptions {
        symbol: "EURUSD".into(),
        strategy: Some("crossover".into()),
        params: vec![
            ("fast_period".into(), "8".into()),
            ("slow_period".into(), "21".into()),
            ("sl_pips".into(), "25".into()),
            ("tp_pips".into(), "40".into()),
        ],
        timeframe: Timeframe::M5,
        sizing: Some(Sizing::Risk(dec!(1))),
        commission_per_lot: Some(dec!(3.5)),
        fill,
        ..SetupOptions::default()
    }
    .build()
    .unwrap();
    if manage {
        let mut c = (*s.config).clone();
        let m = &mut c.risk.modifications;
        m.enable_breakeven = true;
        m.breakeven_trigger_pips = dec!(10);
        m.enable_trailing_stop = true;
        m.trailing_activation_pips = dec!(15);
        m.trailing_stop_pips = dec!(10);
        s.config = Arc::new(c);
    }
    s
}

/// The daily curve is the every-bar curve's last point of each UTC day, and both runs agree
/// on everything else.
#[test]
fn the_daily_curve_keeps_each_days_last_point() {
    let bars = random_walk(
        3_000,
        17,
        Timeframe::M5,
        "2024-01-01T00:00:00Z".parse().unwrap(),
        1.1,
        9,
    );
    let every = Backtest::new(setup(false, FillTiming::NextOpen))
        .unwrap()
        .run(&bars);
    let daily = Backtest::new(setup(false, FillTiming::NextOpen))
        .unwrap()
        .with_equity_detail(EquityDetail::Daily)
        .run(&bars);
    let mut expected: Vec<EquityPoint> = Vec::new();
    for p in &every.equity {
        match expected.last_mut() {
            Some(last) if last.time.date_naive() == p.time.date_naive() => *last = *p,
            _ => expected.push(*p),
        }
    }
    assert!(expected.len() > 5, "{}", expected.len());
    // The drawdown the driver tracks with integer thresholds is the curve's own.
    let (mut peak, mut money, mut pct) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for p in &every.equity {
        peak = peak.max(p.equity);
        money = money.max(peak - p.equity);
        pct = pct.max((peak - p.equity) * Decimal::ONE_HUNDRED / peak);
    }
    assert!(money > Decimal::ZERO);
    assert_eq!(every.max_drawdown_money, money);
    use rust_decimal::prelude::ToPrimitive;
    assert_eq!(
        every.max_drawdown_pct.to_bits(),
        pct.round_dp(4).to_f64().unwrap().to_bits()
    );
    assert_eq!(daily.equity, expected);
    assert_eq!(daily.trades, every.trades);
    assert_eq!(
        daily.max_drawdown_pct.to_bits(),
        every.max_drawdown_pct.to_bits()
    );
    assert_eq!(daily.max_drawdown_money, every.max_drawdown_money);
}

/// The daily closes are the every-bar curve's first point and each UTC day's last, and the
/// statistics read from them are the every-bar curve's, bit for bit: over runs that start and
/// end mid-day, on both fill timings, with and without the quiet steps.
#[test]
fn daily_closes_give_the_every_bar_statistics() {
    for (seed, fill, quiet) in [
        (5, FillTiming::NextOpen, true),
        (6, FillTiming::NextOpen, false),
        (7, FillTiming::SignalClose, true),
    ] {
        let bars = random_walk(
            2_500,
            seed,
            Timeframe::M5,
            "2024-03-04T07:35:00Z".parse().unwrap(),
            1.1,
            9,
        );
        let run = |detail| {
            let mut b = Backtest::new(setup(false, fill))
                .unwrap()
                .with_equity_detail(detail);
            b.quiet.enabled = quiet;
            b.run(&bars)
        };
        let every = run(EquityDetail::EveryBar);
        let closes = run(EquityDetail::DailyCloses);
        let mut expected: Vec<EquityPoint> = vec![every.equity[0]];
        for p in &every.equity[1..] {
            let first_only = expected.len() == 1;
            match expected.last_mut() {
                Some(last) if !first_only && last.time.date_naive() == p.time.date_naive() => {
                    *last = *p;
                }
                _ => expected.push(*p),
            }
        }
        assert!(expected.len() > 5 && every.trades.len() > 20, "{seed}");
        assert_eq!(closes.equity, expected, "{seed}");
        assert_eq!(closes.trades, every.trades);
        let (a, b) = (crate::Stats::of(&every), crate::Stats::of(&closes));
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "{seed}");
        assert!(a.sharpe.is_some());
    }
}

/// Daily loss and drawdown limits tight enough to trip in a few days, closing all on a stop.
fn tighten_limits(s: &mut BacktestSetup) {
    let mut c = (*s.config).clone();
    c.risk.emergency.max_daily_loss_percent = Some(dec!(0.5));
    c.risk.emergency.max_drawdown_percent = Some(dec!(3));
    c.risk.emergency.stop_on_daily_loss = true;
    c.risk.emergency.stop_on_max_drawdown = true;
    c.risk.emergency.close_all_on_stop = true;
    s.config = Arc::new(c);
}

/// Quiet steps give exactly what full steps give (trades, every equity point, drawdown,
/// refusals), with the kill switch tripping, swaps charged, other strategies and sizings,
/// and take most bars; on every curve detail, and across the blocks a spread override is
/// copied in (12,000 bars: two block ends inside the run).
#[test]
fn quiet_steps_change_nothing() {
    type Tweak = fn(&mut BacktestSetup);
    let strategy = |name: &str, params: &[(&str, &str)]| {
        let mut s = setup(false, FillTiming::NextOpen);
        let opts = SetupOptions {
            symbol: "EURUSD".into(),
            strategy: Some(name.into()),
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            timeframe: Timeframe::M5,
            sizing: s.sizing,
            commission_per_lot: Some(dec!(3.5)),
            ..SetupOptions::default()
        };
        s = opts.build().unwrap();
        s
    };
    let tight_limits: Tweak = tighten_limits;
    // The trading day starts at 17:00 in New York, away from the server's midnight rollover.
    let heavy_swaps: Tweak = |s| {
        s.spec.swap_long = dec!(-25);
        s.spec.swap_short = dec!(-18);
        let mut c = (*s.config).clone();
        c.risk.global.trading_day = mtq_risk::TradingDayConfig {
            timezone: chrono_tz::America::New_York,
            start: mtq_risk::ClockTime::hm(17, 0).unwrap(),
        };
        s.config = Arc::new(c);
    };
    // No swaps: a rollover charges nothing, so day boundaries in a position can be quiet; the
    // trading day then rolls inside a quiet run, with the daily limits tight.
    let swap_free_tight: Tweak = |s| {
        s.spec.swap_long = Decimal::ZERO;
        s.spec.swap_short = Decimal::ZERO;
        tighten_limits(s);
    };
    let equity_sizing: Tweak = |s| s.sizing = Some(Sizing::Equity(dec!(0.5)));
    // All in at 1:500: a few pips against the position reach the stop-out level first.
    let stop_outs: Tweak = |s| {
        s.sizing = Some(Sizing::Equity(dec!(1)));
        s.sim.leverage = 500;
    };
    let fixed_sizing: Tweak = |s| {
        s.sizing = Some(Sizing::Fixed(dec!(0.3)));
        s.spread_points = Some(14);
    };
    let none: Tweak = |_| {};
    let base = [
        ("crossover", none),
        ("crossover, tight limits", tight_limits),
        ("crossover, swaps", heavy_swaps),
        ("crossover, swap-free, tight limits", swap_free_tight),
        ("crossover, equity sizing", equity_sizing),
        ("crossover, fixed lots", fixed_sizing),
        ("crossover, stop-outs", stop_outs),
    ];
    let mut cases: Vec<(&str, BacktestSetup, Tweak)> = base
        .into_iter()
        .map(|(name, tweak)| (name, setup(false, FillTiming::NextOpen), tweak))
        .collect();
    cases.extend([
        (
            "slow crossover",
            strategy(
                "crossover",
                &[
                    ("fast_period", "50"),
                    ("slow_period", "200"),
                    ("sl_pips", "60"),
                ],
            ),
            heavy_swaps,
        ),
        (
            "wide stops, tight limits",
            strategy(
                "crossover",
                &[
                    ("fast_period", "8"),
                    ("slow_period", "21"),
                    ("sl_pips", "90"),
                ],
            ),
            tight_limits,
        ),
        ("rsi, tight limits", strategy("rsi", &[]), tight_limits),
        ("bollinger", strategy("bollinger", &[]), none),
        ("macd", strategy("macd", &[]), none),
    ]);
    let bars = random_walk(
        12_000,
        41,
        Timeframe::M5,
        "2024-01-01T00:00:00Z".parse().unwrap(),
        1.1,
        9,
    );
    // The optimiser's strategies read series computed once over the bars.
    let cache = Arc::new(mtq_strategies::shared::SeriesCache::new(&bars).unwrap());
    let grid_like = strategy(
        "crossover",
        &[
            ("fast_period", "6"),
            ("slow_period", "25"),
            ("sl_pips", "15"),
            ("tp_pips", "0"),
            ("cooldown_seconds", "900"),
        ],
    );
    cases.push(("shared series, grid-like", grid_like, none));
    cases.push((
        "shared series, tight limits",
        strategy("crossover", &[("sl_pips", "60"), ("tp_pips", "30")]),
        tight_limits,
    ));
    for (name, mut s, tweak) in cases {
        tweak(&mut s);
        let shared = name.starts_with("shared");
        let details = [
            EquityDetail::EveryBar,
            EquityDetail::Daily,
            EquityDetail::DailyCloses,
        ];
        for detail in details {
            let run = |quiet: bool| {
                let mut b = Backtest::new(s.clone()).unwrap().with_equity_detail(detail);
                if shared {
                    let entry = &s.config.currencies[0].entry;
                    let strategy =
                        mtq_strategies::registry::build_entry_shared(entry, &cache).unwrap();
                    b = b.with_strategy(strategy).unwrap();
                }
                b.quiet.enabled = quiet;
                b.run_counting(&bars)
            };
            let ((a, quiet), (b, none)) = (run(true), run(false));
            assert_eq!(none, 0);
            // Once the kill switch has stopped trading, no bar is quiet.
            let share = if name.contains("tight") { 20 } else { 2 };
            assert!(
                quiet * share > bars.len(),
                "{name}: only {quiet} of {} bars were quiet",
                bars.len()
            );
            assert!(a.trades.len() > 5, "{name}: {} trades", a.trades.len());
            let first_diff = a.equity.iter().zip(&b.equity).position(|(x, y)| x != y);
            assert_eq!(
                first_diff.map(|i| (i, a.equity[i], b.equity[i])),
                None,
                "{name}"
            );
            assert_eq!(a, b, "{name}");
            if name.contains("stop-outs") {
                let reasons: std::collections::BTreeSet<&str> =
                    a.trades.iter().map(|t| t.exit_reason).collect();
                assert!(reasons.contains("stop_out"), "{reasons:?}");
            }
            if name.contains("tight") {
                assert!(
                    a.refusals.keys().any(|k| k.contains("daily loss")),
                    "{name}: {:?}",
                    a.refusals
                );
            }
        }
    }
}

/// The driver's own marking of positions to the quote gives what copying them out of the
/// simulator on every bar gives: the same trades and the same equity after every bar.
#[test]
fn marking_to_the_quote_equals_copying_from_the_simulator() {
    let bars = random_walk(
        6_000,
        31,
        Timeframe::M5,
        "2024-01-01T00:00:00Z".parse().unwrap(),
        1.1,
        9,
    );
    for manage in [false, true] {
        for fill in [FillTiming::NextOpen, FillTiming::SignalClose] {
            let fast = Backtest::new(setup(manage, fill)).unwrap();
            assert_eq!(fast.manages, manage);
            let mut slow = Backtest::new(setup(manage, fill)).unwrap();
            slow.view.marked.copy_always();
            let (a, b) = (fast.run(&bars), slow.run(&bars));
            assert!(a.trades.len() > 50, "{}", a.trades.len());
            assert_eq!(a.trades, b.trades, "manage {manage}, {fill:?}");
            assert_eq!(a.equity.len(), b.equity.len());
            let first_diff = a.equity.iter().zip(&b.equity).position(|(x, y)| x != y);
            assert_eq!(
                first_diff.map(|i| (i, a.equity[i], b.equity[i])),
                None,
                "manage {manage}, {fill:?}"
            );
            if manage {
                assert!(
                    a.trades
                        .iter()
                        .any(|t| t.exit_reason == "stop_loss" && t.profit > Decimal::ZERO)
                );
            }
        }
    }
}

/// Every bar closes once on the event stream, in time order, at the open where the core takes
/// it, and quiet steps publish exactly the events full steps publish.
#[test]
fn every_bar_closes_once_on_the_event_stream_quiet_or_not() {
    use std::sync::Mutex;
    let bars = random_walk(
        4_000,
        23,
        Timeframe::M5,
        "2024-01-01T00:00:00Z".parse().unwrap(),
        1.1,
        9,
    );
    let run = |quiet: bool| {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        let mut b = Backtest::new(setup(false, FillTiming::NextOpen))
            .unwrap()
            .with_events(move |e| sink.lock().unwrap().push(e));
        b.quiet.enabled = quiet;
        let (result, quiet_bars) = b.run_counting(&bars);
        let events = std::mem::take(&mut *events.lock().unwrap());
        (result, quiet_bars, events)
    };
    let (a, quiet, fast) = run(true);
    let (b, _, full) = run(false);
    assert!(quiet * 2 > bars.len(), "only {quiet} quiet bars");
    assert_eq!(a, b);
    assert_eq!(fast, full);
    let closed: Vec<(DateTime<Utc>, Bar)> = full
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::BarClosed { bar, timeframe, .. } => {
                assert_eq!(*timeframe, Timeframe::M5);
                Some((e.time, *bar))
            }
            _ => None,
        })
        .collect();
    assert_eq!(closed.len(), bars.len());
    // The next bar's open (after a weekend, Monday's); the last bar's close for the last.
    let last = bars[bars.len() - 1].time + chrono::Duration::minutes(5);
    let opens = bars[1..].iter().map(|b| b.time).chain([last]);
    for (((time, bar), expected), open) in closed.iter().zip(&bars).zip(opens) {
        assert_eq!(bar, expected);
        assert_eq!(*time, open);
    }
    let signals = full
        .iter()
        .filter(|e| matches!(e.kind, EventKind::SignalRecorded { .. }))
        .count();
    assert_eq!(signals, a.signals);
}

/// The Python-parity settings (volumes in single units of contract size 1, all-in sizing,
/// leverage 1): a point is worth a fraction of a cent, and the bars between trades still step as
/// quiet ones, with exactly the results of full steps.
#[test]
fn single_unit_volumes_step_quiet_bars_with_the_full_steps_results() {
    // A history from 1900 too: the simulator's clock starts at 1970 and must still move.
    for start in ["2024-01-01T00:00:00Z", "1900-01-01T00:00:00Z"] {
        single_unit_run(start);
    }
}

fn single_unit_run(start: &str) {
    let bars = random_walk(20_000, 23, Timeframe::H1, start.parse().unwrap(), 1.1, 0);
    let run = |quiet: bool| {
        let s = SetupOptions {
            symbol: "EURUSD".into(),
            strategy: Some("crossover".into()),
            params: vec![
                ("fast_period".into(), "10".into()),
                ("slow_period".into(), "20".into()),
                ("sl_pips".into(), "5000".into()),
                ("tp_pips".into(), "0".into()),
            ],
            timeframe: Timeframe::H1,
            symbol_spec: Some(std::path::PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/unit_eurusd.yaml"
            ))),
            sizing: Some(Sizing::Equity(dec!(1.0))),
            leverage: Some(1),
            spread_points: Some(0),
            commission_rate: Some(dec!(0.0002)),
            ..SetupOptions::default()
        }
        .build()
        .unwrap();
        let mut b = Backtest::new(s).unwrap();
        b.quiet.enabled = quiet;
        b.run_counting(&bars)
    };
    let (fast, quiet) = run(true);
    let (full, _) = run(false);
    assert!(fast.trades.len() > 500, "{} trades", fast.trades.len());
    assert!(
        quiet * 2 > bars.len(),
        "only {quiet} quiet bars from {start}"
    );
    assert_eq!(fast, full);
}

/// A spread override is applied only where it changes a bar: one that every bar already carries
/// leaves the bars as they are (and gives what no override gives), another is applied to every
/// bar (and gives what bars carrying it give).
#[test]
fn a_spread_override_gives_what_bars_carrying_it_give() {
    let start = "2024-01-01T00:00:00Z".parse().unwrap();
    let bars = random_walk(6_000, 29, Timeframe::M5, start, 1.1, 9);
    assert!(bars.iter().all(|b| b.spread == 9));
    let wide: Vec<Bar> = bars.iter().map(|b| Bar { spread: 60, ..*b }).collect();
    let run = |spread: Option<u32>, bars: &[Bar]| {
        let mut s = setup(false, FillTiming::NextOpen);
        s.spread_points = spread;
        Backtest::new(s).unwrap().run(bars)
    };
    let plain = run(None, &bars);
    assert!(plain.trades.len() > 20, "{} trades", plain.trades.len());
    assert_eq!(run(Some(9), &bars), plain);
    assert_eq!(run(Some(9), &wide), plain);
    let wide_plain = run(None, &wide);
    assert_ne!(wide_plain, plain, "the spread should matter here");
    assert_eq!(run(Some(60), &bars), wide_plain);
    assert_eq!(run(Some(60), &wide), wide_plain);
}

/// The pass before a run: time order, and whether an override changes any bar (the first, the
/// last or one between).
#[test]
fn the_survey_finds_disorder_and_bars_an_override_changes() {
    let start = "2024-01-01T00:00:00Z".parse().unwrap();
    let bars = random_walk(50, 3, Timeframe::M5, start, 1.1, 9);
    assert_eq!(survey(&[], Some(9)), (true, false));
    assert_eq!(survey(&[], None), (true, false));
    assert_eq!(survey(&bars, None), (true, false));
    assert_eq!(survey(&bars, Some(9)), (true, false));
    assert_eq!(survey(&bars, Some(0)), (true, true));
    assert_eq!(survey(&bars[..1], Some(8)), (true, true));
    for k in [0, 17, 49] {
        let mut one = bars.clone();
        one[k].spread = 12;
        assert_eq!(survey(&one, Some(9)), (true, true), "bar {k}");
        assert_eq!(survey(&one, Some(12)), (true, true), "bar {k}");
    }
    let mut swapped = bars.clone();
    swapped.swap(20, 21);
    assert_eq!(survey(&swapped, Some(9)), (false, false));
    assert_eq!(survey(&swapped, None), (false, false));
    let mut twice = bars;
    twice[31].time = twice[30].time;
    assert_eq!(survey(&twice, Some(7)), (false, true));
}

/// A bar out of order stops quiet steps from its block on, and only from there: the blocks
/// before it still take them, and the run gives what full steps give.
#[test]
fn a_bar_out_of_order_stops_quiet_steps_from_its_block_on() {
    let start = "2024-01-01T00:00:00Z".parse().unwrap();
    let mut bars = random_walk(12_000, 41, Timeframe::M5, start, 1.1, 9);
    bars.swap(10_000, 10_001);
    // Blocks start at bars 0, 4096 and 8192: the third holds the swapped pair.
    assert_eq!(BLOCK, 4096);
    let run = |quiet: bool| {
        let mut b = Backtest::new(setup(false, FillTiming::NextOpen)).unwrap();
        b.quiet.enabled = quiet;
        b.run_counting(&bars)
    };
    let ((a, quiet), (b, _)) = (run(true), run(false));
    assert!(
        quiet * 3 > 2 * BLOCK && quiet < 2 * BLOCK,
        "{quiet} quiet bars"
    );
    assert!(a.trades.len() > 5, "{} trades", a.trades.len());
    assert_eq!(a, b);
}
