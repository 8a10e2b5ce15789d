//! Invariants every strategy keeps on random FX-like series: deterministic, no signal before its
//! warm-up, stops on the losing side and targets on the winning side of the close, confidence
//! within 0..=1, never a panic.

use mtq_core::{Bar, Signal, SignalKind, Timeframe};
use mtq_strategies::{Context, registry};
use proptest::prelude::*;
use serde_json::{Value, json};

fn walk(seed: u64, n: usize) -> Vec<Bar> {
    mtq_core::testkit::xorshift_walk(seed, n, 0.004)
}

fn run(name: &str, params: &Value, bars: &[Bar]) -> (usize, Vec<(usize, Signal)>) {
    let mut s = registry::build(name, params).unwrap();
    let spec = mtq_core::testkit::eurusd();
    let ctx = Context::new(&spec, Timeframe::H1);
    let signals = bars
        .iter()
        .enumerate()
        .filter_map(|(i, b)| s.on_bar(b, &ctx).map(|sig| (i, sig)))
        .collect();
    (s.warmup_bars(), signals)
}

/// Small periods so that 300 bars exercise every strategy.
fn small(name: &str) -> Value {
    match name {
        "crossover" | "position" | "zero_lag" => json!({"fast_period": 3, "slow_period": 8}),
        "ema_trend" => {
            json!({"ema_fast": 3, "ema_mid": 6, "ema_slow": 12, "momentum_bias_filter": true})
        }
        "smart_money" | "break_retest" => json!({"swing_bars": 2}),
        "j_hook" => json!({"impulse_atr": 1.0}),
        _ => json!({}),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_strategy_keeps_its_invariants(seed in any::<u64>(), mode in 0usize..3) {
        let bars = walk(seed, 300);
        let stop_mode = ["fixed_pips", "atr", "structure"][mode];
        for name in registry::names() {
            let mut params = small(name);
            params["stop_mode"] = json!(stop_mode);
            let (warmup, first) = run(name, &params, &bars);
            let (_, second) = run(name, &params, &bars);
            prop_assert_eq!(&first, &second, "{} is not deterministic", name);
            for (i, s) in &first {
                let close = bars[*i].close;
                prop_assert!(*i >= warmup, "{} fired on bar {} before its warm-up {}", name, i, warmup);
                prop_assert!((0.0..=1.0).contains(&s.confidence));
                prop_assert_eq!(s.time, bars[*i].time);
                prop_assert_eq!(s.strategy.as_str(), name);
                let (sl, tp) = (s.sl.unwrap(), s.tp);
                match s.kind {
                    SignalKind::Buy => {
                        prop_assert!(sl < close, "{}: buy SL {} not below {}", name, sl, close);
                        prop_assert!(tp.is_none_or(|tp| tp > close));
                    }
                    SignalKind::Sell => {
                        prop_assert!(sl > close, "{}: sell SL {} not above {}", name, sl, close);
                        prop_assert!(tp.is_none_or(|tp| tp < close));
                    }
                    other => prop_assert!(false, "{}: unexpected {:?}", name, other),
                }
            }
        }
    }

    #[test]
    fn bars_with_non_finite_prices_never_panic(seed in any::<u64>(), at in 0usize..200) {
        let mut bars = walk(seed, 200);
        bars[at].close = f64::NAN;
        bars[at].high = f64::INFINITY;
        for name in registry::names() {
            let _ = run(name, &small(name), &bars);
        }
    }
}

/// The trader core's loop: higher-timeframe bars from [`HigherTimeframes`], history first.
#[test]
fn every_strategy_fires_on_a_long_random_walk_when_driven_like_the_trader_core() {
    use mtq_strategies::{HigherTimeframes, history_bars};

    let bars = walk(42, 3000);
    let spec = mtq_core::testkit::eurusd();
    for name in registry::names() {
        let mut s = registry::build(name, &small(name)).unwrap();
        let mut higher = HigherTimeframes::new(Timeframe::H1, s.higher_timeframes(), 0).unwrap();
        let history = history_bars(s.as_ref(), Timeframe::H1);
        let mut fired = 0;
        for (i, bar) in bars.iter().enumerate() {
            higher.update(bar).unwrap();
            let views = higher.views();
            let ctx = Context::new(&spec, Timeframe::H1).with_higher(views.as_slice());
            if s.on_bar(bar, &ctx).is_some() && i >= history {
                fired += 1;
            }
        }
        assert!(fired > 0, "{name} never fired on 3000 bars");
    }
}
