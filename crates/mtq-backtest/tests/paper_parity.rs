//! A paper session and a backtest over the same bars make the same trades.
//!
//! The paper session (`mtq_orchestrator::paper`) runs the live driver (`LiveTrader`) on the
//! simulated broker: each bar opens, the trader's cycle sees the bar that just closed and its
//! orders fill at the open, then the bar runs its course. The backtest's default
//! `FillTiming::NextOpen` runs the same cycle synchronously on `Simulator`, so with the same
//! configuration (breakeven and trailing stops on, commission, cooldown) and the same bars every
//! closing deal must match: side, volume, price, profit.
//!
//! One known difference is left out of the comparison: the paper session adds its symbols to
//! the simulator without a timeframe, so SL/TP fills inside a bar are stamped with the bar's open
//! time, where the backtest stamps them with an estimated time inside the bar. Exit times are
//! therefore compared to the bar.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mtq_backtest::{Backtest, BacktestResult, FillTiming, SetupOptions};
use mtq_core::{Bar, DealEntry, Decimal, EventKind, Side, SymbolSpec, Timeframe};
use mtq_orchestrator::config::{ConfigSource, load};
use mtq_orchestrator::paper::{CollectEvents, PaperOptions, run_paper_session};
use mtq_orchestrator::{EventOutlet, MemoryIntentStore};
use mtq_sim::synthetic::{SyntheticFeed, default_pairs};

const CONFIG: &str = r#"
global:
  max_concurrent_trades: 6
  portfolio_risk_percent: 6.0
modifications:
  enable_breakeven: true
  breakeven_trigger_pips: 15
  breakeven_offset_pips: 1
  enable_trailing_stop: true
  trailing_activation_pips: 25
  trailing_stop_pips: 15
  trailing_step_pips: 2
emergency:
  max_daily_loss_percent: 5.0
  max_drawdown_percent: 15.0
currencies:
  - symbol: EURUSD
    risk_percent: 0.5
    strategy_type: crossover
    timeframe: M5
    fast_period: 10
    slow_period: 20
    sl_pips: 20
    tp_pips: 40
    cooldown_seconds: 900
broker:
  deposit: 10000
  leverage: 100
  commission_per_lot: 3.5
"#;

/// A closing deal: exit bar, side of the closed position, volume, price, profit.
type Close = (DateTime<Utc>, Side, Decimal, Decimal, Decimal);

fn bar_of(t: DateTime<Utc>) -> DateTime<Utc> {
    Timeframe::M5.open_time(t, 0)
}

fn paper(opts: &PaperOptions) -> (Vec<Close>, Decimal, usize) {
    let config = Arc::new(load(&ConfigSource::Text(CONFIG.into()), &[]).unwrap());
    let events = Arc::new(CollectEvents::default());
    let outlet: Arc<dyn EventOutlet> = events.clone();
    let summary = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(run_paper_session(
            config,
            opts,
            Arc::new(MemoryIntentStore::new()),
            outlet,
        ))
        .unwrap();
    let closes = events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::PositionClosed { deal } if deal.entry == DealEntry::Out => Some((
                bar_of(deal.time),
                deal.side?.opposite(),
                deal.volume,
                deal.price,
                deal.profit,
            )),
            _ => None,
        })
        .collect();
    (closes, summary.final_balance, summary.closed_trades)
}

fn feed_bars(opts: &PaperOptions) -> (Vec<Bar>, SymbolSpec) {
    let models: Vec<_> = default_pairs()
        .into_iter()
        .filter(|m| m.spec.symbol.as_str() == "EURUSD")
        .collect();
    let end = opts.start + Duration::weeks(i64::from(opts.weeks));
    let feed = SyntheticFeed::new(models, opts.start, end, opts.seed);
    let spec = feed.specs().remove(0);
    (feed.map(|(_, b)| b).collect(), spec)
}

fn backtest(fill: FillTiming, bars: &[Bar], spec: SymbolSpec) -> BacktestResult {
    let dir = std::env::temp_dir().join(format!("mtq-parity-{}-{fill:?}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.yaml");
    std::fs::write(&path, CONFIG).unwrap();
    let mut setup = SetupOptions {
        symbol: "EURUSD".into(),
        config: Some(path),
        timeframe: Timeframe::M5,
        fill,
        ..SetupOptions::default()
    }
    .build()
    .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    setup.spec = spec;
    Backtest::new(setup)
        .unwrap()
        .with_close_at_end(false)
        .run(bars)
}

fn options() -> PaperOptions {
    PaperOptions {
        weeks: 2,
        kill_file: None,
        ..PaperOptions::default()
    }
}

#[test]
fn paper_session_and_backtest_make_the_same_trades() {
    let opts = options();
    let (theirs, paper_balance, paper_closed) = paper(&opts);
    let (bars, spec) = feed_bars(&opts);
    let r = backtest(FillTiming::NextOpen, &bars, spec);
    assert!(theirs.len() >= 20, "{} paper trades", theirs.len());
    let ours: Vec<Close> = r
        .trades
        .iter()
        .map(|t| {
            (
                bar_of(t.exit_time),
                t.side,
                t.volume,
                t.exit_price,
                t.profit,
            )
        })
        .collect();
    // The session publishes a closing deal at the cycle after it, so a close in the very last
    // cycle is in its balance and its count but not among its events.
    assert_eq!(ours.len(), paper_closed);
    assert!(
        ours.len() - theirs.len() <= 1,
        "{} vs {}",
        ours.len(),
        theirs.len()
    );
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(a, b, "closing deal {i}: backtest vs paper");
    }
    assert_eq!(r.final_balance, paper_balance);
    // Breakeven and trailing stops took part.
    assert!(
        r.trades
            .iter()
            .any(|t| t.exit_reason == "stop_loss" && t.profit > Decimal::ZERO)
    );
}

#[test]
fn close_fills_take_the_same_first_signal_one_bar_earlier() {
    let opts = options();
    let (bars, spec) = feed_bars(&opts);
    let next = backtest(FillTiming::NextOpen, &bars, spec.clone());
    let close = backtest(FillTiming::SignalClose, &bars, spec);
    let (a, b) = (&close.trades[0], &next.trades[0]);
    assert_eq!(a.side, b.side);
    assert_eq!(b.entry_time, a.entry_time + Duration::minutes(5));
}
