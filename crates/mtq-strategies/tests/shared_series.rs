//! Strategies on shared series fire on exactly the bars, with exactly the signals, of the same
//! strategies on their own streaming indicators; and bars outside the cache's series are counted
//! and give no signal.

use std::sync::Arc;

use mtq_core::testkit::xorshift_walk as walk;
use mtq_core::{Bar, Position, Signal, Timeframe};
use mtq_strategies::shared::SeriesCache;
use mtq_strategies::strategies::{Crossover, CrossoverParams};
use mtq_strategies::{Context, MaType, Strategy, registry};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Every signal with its bar's index. The strategy holds a position on the side of its last
/// entry, so reversal reasons are exercised as well.
fn signals(mut s: Box<dyn Strategy>, bars: &[Bar]) -> Fired {
    let spec = mtq_core::testkit::eurusd();
    let mut held: Vec<Position> = Vec::new();
    let mut out = Vec::new();
    for (i, b) in bars.iter().enumerate() {
        let ctx = Context::new(&spec, Timeframe::H1).with_positions(&held);
        if let Some(sig) = s.on_bar(b, &ctx) {
            held = vec![position_of(&sig, b)];
            out.push((i, sig));
        }
    }
    out
}

fn position_of(sig: &Signal, bar: &Bar) -> Position {
    let side = match sig.kind {
        mtq_core::SignalKind::Sell => mtq_core::Side::Sell,
        _ => mtq_core::Side::Buy,
    };
    Position {
        ticket: mtq_core::Ticket(1),
        symbol: sig.symbol.clone(),
        side,
        volume: mtq_core::Decimal::ONE,
        open_price: mtq_core::Decimal::ONE,
        open_time: bar.time,
        sl: None,
        tp: None,
        current_price: mtq_core::Decimal::ONE,
        swap: mtq_core::Decimal::ZERO,
        profit: mtq_core::Decimal::ZERO,
        magic: mtq_core::Magic(0),
        comment: String::new(),
    }
}

/// Signals with the index of the bar that gave each.
type Fired = Vec<(usize, Signal)>;

/// The streaming strategy's signals and the shared one's, over `bars` (the cache's series).
fn both(name: &str, params: &Value, bars: &[Bar]) -> (Fired, Fired) {
    let cache = Arc::new(SeriesCache::new(bars).unwrap());
    let streaming = signals(registry::build(name, params).unwrap(), bars);
    let shared = signals(registry::build_shared(name, params, &cache).unwrap(), bars);
    assert_eq!((cache.resyncs(), cache.strays()), (0, 0));
    (streaming, shared)
}

fn ma_type() -> impl proptest::strategy::Strategy<Value = &'static str> {
    prop_oneof![Just("sma"), Just("ema"), Just("wma")]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn shared_crossover_fires_on_the_streaming_crossovers_bars_with_its_signals(
        seed in any::<u64>(),
        fast in 1usize..12,
        gap in 1usize..30,
        ma in ma_type(),
        atr_stops in any::<bool>(),
    ) {
        let bars = walk(seed, 1_500, 0.003);
        let mut params = json!({"fast_period": fast, "slow_period": fast + gap, "ma_type": ma});
        if atr_stops {
            params["stop_mode"] = json!("atr");
        }
        let (streaming, shared) = both("crossover", &params, &bars);
        prop_assert!(!streaming.is_empty());
        prop_assert_eq!(streaming, shared);
    }

    #[test]
    fn shared_position_strategy_matches_the_streaming_one(
        seed in any::<u64>(),
        fast in 1usize..8,
        gap in 1usize..20,
        ma in ma_type(),
    ) {
        let bars = walk(seed, 600, 0.003);
        let params = json!({"fast_period": fast, "slow_period": fast + gap, "ma_type": ma});
        let (streaming, shared) = both("position", &params, &bars);
        prop_assert!(!streaming.is_empty());
        prop_assert_eq!(streaming, shared);
    }
}

#[test]
fn a_long_walk_gives_the_same_crosses_for_sma_ema_and_wma() {
    let bars = walk(0x5EED, 50_000, 0.0008);
    for ma in ["sma", "ema", "wma"] {
        let params = json!({"fast_period": 10, "slow_period": 40, "ma_type": ma});
        let (streaming, shared) = both("crossover", &params, &bars);
        assert!(streaming.len() > 500, "{ma}: {} signals", streaming.len());
        assert_eq!(streaming, shared, "{ma}");
    }
}

#[test]
fn filters_wrap_the_shared_strategy_as_they_wrap_the_streaming_one() {
    let bars = walk(11, 3_000, 0.003);
    let params = json!({"fast_period": 5, "slow_period": 20,
                        "filters": {"trend": "with_signal", "cooldown_bars": 3}});
    let (streaming, shared) = both("crossover", &params, &bars);
    assert!(!streaming.is_empty());
    assert_eq!(streaming, shared);
}

#[test]
fn strategies_without_shared_series_are_built_as_usual() {
    let bars = walk(3, 800, 0.003);
    assert!(!registry::info("rsi").unwrap().shares_series());
    assert!(registry::info("crossover").unwrap().shares_series());
    let cache = Arc::new(SeriesCache::new(&bars).unwrap());
    let entry = json!({"strategy_type": "rsi", "rsi_period": 7});
    let shared = signals(registry::build_entry_shared(&entry, &cache).unwrap(), &bars);
    let streaming = signals(registry::build_entry(&entry).unwrap(), &bars);
    assert!(!streaming.is_empty());
    assert_eq!(streaming, shared);
    assert_eq!(cache.computed(), 0);
}

#[test]
fn one_cache_serves_every_parameter_set_computing_each_average_once() {
    let bars = walk(5, 2_000, 0.003);
    let cache = Arc::new(SeriesCache::new(&bars).unwrap());
    let mut sets = 0;
    for fast in [3, 5, 8] {
        for slow in [10, 20] {
            let entry = json!({"strategy_type": "crossover", "fast_period": fast,
                               "slow_period": slow, "ma_type": "ema"});
            let s = registry::build_entry_shared(&entry, &cache).unwrap();
            let streaming = signals(registry::build_entry(&entry).unwrap(), &bars);
            assert_eq!(signals(s, &bars), streaming);
            sets += 1;
        }
    }
    assert_eq!(sets, 6);
    // Five distinct periods: EMA 3, 5, 8, 10 and 20.
    assert_eq!(cache.computed(), 5);
}

#[test]
fn bars_outside_the_series_give_no_signal_and_are_counted() {
    let bars = walk(9, 1_000, 0.003);
    let cache = Arc::new(SeriesCache::new(&bars[..500]).unwrap());
    let params = CrossoverParams {
        fast_period: 3,
        slow_period: 9,
        ma_type: MaType::Sma,
        ..CrossoverParams::default()
    };
    let s = Crossover::shared(params.clone(), &cache).unwrap();
    assert!(Arc::ptr_eq(s.series_cache().unwrap(), &cache));
    assert!(
        Crossover::new(params.clone())
            .unwrap()
            .series_cache()
            .is_none()
    );
    let shared = signals(Box::new(s), &bars);
    let streaming = signals(Box::new(Crossover::new(params).unwrap()), &bars);
    // The first 500 bars are the cache's: the same signals; the other 500 give none.
    let inside: Vec<_> = streaming.into_iter().filter(|(i, _)| *i < 500).collect();
    assert!(!inside.is_empty());
    assert_eq!(shared, inside);
    assert_eq!((cache.resyncs(), cache.strays()), (0, 500));
}

#[test]
fn a_strategy_started_later_in_the_series_resyncs_by_time() {
    let bars = walk(21, 600, 0.003);
    let cache = Arc::new(SeriesCache::new(&bars).unwrap());
    let params = json!({"fast_period": 4, "slow_period": 12});
    let whole = signals(
        registry::build_shared("crossover", &params, &cache).unwrap(),
        &bars,
    );
    let later = signals(
        registry::build_shared("crossover", &params, &cache).unwrap(),
        &bars[200..],
    );
    // One search for the first bar; from there it reads the whole series' values, already warm.
    assert_eq!((cache.resyncs(), cache.strays()), (1, 0));
    let expected: Vec<usize> = whole.iter().map(|(i, _)| *i).filter(|i| *i > 200).collect();
    let got: Vec<usize> = later.iter().map(|(i, _)| i + 200).collect();
    assert_eq!(got, expected);
}
