//! The trader core on crafted bars: entries are sized and carry deterministic ids, a replayed
//! bar is not traded twice, and refusals are recorded with the reason a trader reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use mtq_core::testkit::{BarBuilder, account_usd, minute, spec, symbol};
use mtq_core::{AccountInfo, Bar, Currency, EventKind, Side, StaticRates, Symbol, SymbolSpec};
use mtq_orchestrator::config::{self, ConfigSource, DEFAULT_CONFIG};
use mtq_orchestrator::{Command, MarketView, TraderCore};
use rust_decimal_macros::dec;

/// M5 bar `i` from Monday 08:00 UTC closing at `close`, opening 2 pips above it.
fn bar(i: i64, close: f64) -> Bar {
    BarBuilder::new()
        .at(minute(8 * 60 + 5 * i))
        .ohlc(close + 0.0002, close + 0.0004, close - 0.0002, close)
        .tick_volume(50)
        .spread(8)
        .build()
}

/// A flat $10,000 1:100 hedging account on the simulator's server.
fn account() -> AccountInfo {
    AccountInfo {
        server: "sim".into(),
        ..account_usd(dec!(10000))
    }
}

fn core(overrides: &[(&str, &str)]) -> TraderCore {
    let o: Vec<(String, String)> = overrides
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    // EURUSD on `position`: it enters whenever it does not hold the side the averages point to.
    let text = DEFAULT_CONFIG.replacen("strategy_type: crossover", "strategy_type: position", 1);
    let cfg = config::load(&ConfigSource::Text(text), &o).unwrap();
    let specs: BTreeMap<Symbol, SymbolSpec> =
        ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCAD", "USDCHF"]
            .iter()
            .map(|n| (symbol(n), spec(n)))
            .collect();
    TraderCore::new(Arc::new(cfg), specs, 0).unwrap()
}

fn falling() -> Vec<Bar> {
    (0..40)
        .map(|i| bar(i, 1.1000 - 0.0003 * f64::from(u8::try_from(i).unwrap())))
        .collect()
}

#[test]
fn a_falling_market_gives_a_sized_sell_with_a_deterministic_id_and_a_replay_gives_nothing() {
    let mut core = core(&[]);
    let eurusd = Symbol::new("EURUSD").unwrap();
    let bars = falling();
    core.warm_up(&eurusd, &bars[..39]);
    let acct = account();
    let rates = StaticRates::new().with(Currency::EUR, Currency::USD, dec!(1.09));
    let view = MarketView {
        now: bars[39].time,
        account: &acct,
        positions: &[],
        rates: &rates,
    };
    let commands = core.on_bar(&eurusd, &bars[39], view, dec!(1.08830), dec!(1.08838));
    let order = commands
        .iter()
        .find_map(|c| match c {
            Command::Submit(r) => Some(r.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no entry: {commands:?}"));
    assert_eq!(order.side, Side::Sell);
    // 0.5% of 10,000 = 50 USD over a 20-pip stop (200 USD a lot) plus 7 USD round-trip
    // commission a lot: 50 / 207 = 0.2415, rounded down to 0.24.
    assert!(order.volume == dec!(0.24), "{}", order.volume);
    assert_eq!(order.comment, order.client_order_id.as_str());
    assert!(order.client_order_id.as_str().starts_with("mtq-"));
    assert!(order.sl.unwrap() > dec!(1.0883));
    assert!(commands.iter().any(|c| matches!(c, Command::Record(e) if matches!(&e.kind, EventKind::SignalRecorded { refusal: None, .. }))));
    // The same bar again (a reconnect replaying history) is not traded twice.
    assert!(
        core.on_bar(&eurusd, &bars[39], view, dec!(1.08830), dec!(1.08838))
            .is_empty()
    );
}

#[test]
fn under_an_emergency_stop_the_signal_is_recorded_with_its_refusal_and_no_order_is_sent() {
    let mut core = core(&[("emergency.emergency_stop", "true")]);
    let eurusd = Symbol::new("EURUSD").unwrap();
    let bars = falling();
    core.warm_up(&eurusd, &bars[..39]);
    let acct = account();
    let rates = StaticRates::new();
    let view = MarketView {
        now: bars[39].time,
        account: &acct,
        positions: &[],
        rates: &rates,
    };
    let transition = core.on_account(view, false);
    assert!(
        matches!(&transition[0], Command::Record(e) if matches!(&e.kind, EventKind::KillSwitch { state, .. } if *state == mtq_core::KillSwitchState::Halted))
    );
    let commands = core.on_bar(&eurusd, &bars[39], view, dec!(1.08830), dec!(1.08838));
    assert!(!commands.iter().any(|c| matches!(c, Command::Submit(_))));
    let refusal = commands.iter().find_map(|c| match c {
        Command::Record(e) => match &e.kind {
            EventKind::SignalRecorded { refusal, .. } => refusal.clone(),
            _ => None,
        },
        _ => None,
    });
    assert!(
        refusal.is_some_and(|r| r.to_string().to_lowercase().contains("emergency")),
        "refusal names the emergency stop"
    );
}

#[test]
fn a_reload_applies_new_risk_to_new_trades_and_records_the_diff() {
    let mut core = core(&[]);
    let new = config::load(
        &ConfigSource::Text(DEFAULT_CONFIG.replacen("risk_percent: 0.5", "risk_percent: 0.25", 1)),
        &[],
    )
    .unwrap();
    let now = bar(0, 1.1).time;
    let out = core.reload(Arc::new(new), now);
    let Command::Record(e) = &out[0] else {
        panic!("{out:?}")
    };
    let EventKind::ConfigReloaded { detail } = &e.kind else {
        panic!()
    };
    assert!(
        detail.contains("currencies[0].risk_percent: 0.5 -> 0.25"),
        "{detail}"
    );
    assert_eq!(core.config().currencies[0].risk.risk_percent, dec!(0.25));
}

/// Three symbols behind one LSTM: a bar close announced for all of them first
/// (`CoreEvent::BarsClosing`, as the live cycle does) gives every symbol the same commands as
/// its bar alone, and the model's windows ran in batches.
#[test]
fn a_bar_close_prepared_for_all_symbols_gives_the_same_commands_and_batches_the_model() {
    use mtq_core::Timeframe;
    use mtq_core::testkit::{monday, random_walk};
    use mtq_orchestrator::CoreEvent;

    let lstm = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mtq-ml/tests/fixtures/onnx/lstm")
        .canonicalize()
        .unwrap();
    let names = ["EURUSD", "GBPUSD", "AUDUSD"];
    let mut text = String::from("currencies:\n");
    for n in names {
        text.push_str(&format!(
            "  - symbol: {n}\n    timeframe: H1\n    strategy_type: crossover\n    \
             fast_period: 2\n    slow_period: 5\n    sl_pips: 20\n    tp_pips: 40\n    \
             ml: {{models: [{{path: \"{}\"}}], threshold: 0.45}}\n",
            lstm.display()
        ));
    }
    let cfg = Arc::new(config::load(&ConfigSource::Text(text), &[]).unwrap());
    let specs: BTreeMap<Symbol, SymbolSpec> = names.iter().map(|n| (symbol(n), spec(n))).collect();
    let mut alone = TraderCore::new(Arc::clone(&cfg), specs.clone(), 0).unwrap();
    let mut together = TraderCore::new(cfg, specs, 0).unwrap();
    let syms: Vec<Symbol> = names.iter().map(|n| symbol(n)).collect();
    let bars: Vec<Vec<Bar>> = (0..names.len())
        .map(|k| random_walk(420, 40 + k as u64, Timeframe::H1, monday(), 1.1, 10))
        .collect();
    for (s, b) in syms.iter().zip(&bars) {
        alone.warm_up(s, &b[..300]);
        together.warm_up(s, &b[..300]);
    }
    let acct = account();
    let rates = StaticRates::new()
        .with(Currency::EUR, Currency::USD, dec!(1.1))
        .with(Currency::GBP, Currency::USD, dec!(1.1))
        .with(Currency::new("AUD").unwrap(), Currency::USD, dec!(1.1));
    let mut read = 0;
    for i in 300..420 {
        let closing: Vec<(Symbol, Bar)> = syms
            .iter()
            .cloned()
            .zip(bars.iter().map(|b| b[i]))
            .collect();
        together.process(CoreEvent::BarsClosing {
            bars: &closing,
            positions: &[],
        });
        for (s, bar) in &closing {
            let view = MarketView {
                now: bar.time + chrono::Duration::hours(1),
                account: &acct,
                positions: &[],
                rates: &rates,
            };
            let bid = rust_decimal::Decimal::from_f64_retain(bar.close)
                .unwrap()
                .round_dp(5);
            let ask = bid + dec!(0.0001);
            let want = alone.on_bar(s, bar, view, bid, ask);
            let got = together.on_bar(s, bar, view, bid, ask);
            let (want, got) = (format!("{want:?}"), format!("{got:?}"));
            assert_eq!(want, got, "{s} bar {i}");
            read += got.matches("probability: Some(").count();
        }
    }
    assert!(read > 30, "the model was read {read} times");
    let stats = together.model_batches();
    assert!(
        stats.batches > 10 && stats.windows >= 2 * stats.batches,
        "{stats:?}"
    );
    assert_eq!(alone.model_batches().batches, 0);
}
