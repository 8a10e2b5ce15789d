//! The live trader against the fake terminal over real TCP, on the broker rules an operator
//! meets: a netting account with a position MTQ does not own, MTQ's own netting position
//! reduced and reversed by hand, a closed market, and a reversal whose close is refused.
//!
//! Timeouts are generous (a loaded two-core machine must pass); no test asserts a duration.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};
use mtq_connector::Broker;
use mtq_core::testkit::swing_bar;
use mtq_core::{Bar, DealEntry, EventKind, ManualClock, MarginMode, Side, Timeframe};
use mtq_mt5::fake::{FakeAccount, FakeReaction, FakeSymbol, FakeTerminal, field};
use mtq_mt5::{Mt5Broker, Mt5Config, Token};
use mtq_orchestrator::config::{self, AppConfig, ConfigSource};
use mtq_orchestrator::{CollectEvents, LiveOptions, LiveTrader, MemoryIntentStore, RetryPolicy};
use rust_decimal_macros::dec;

const TOKEN: &str = "test-token-0123";
const WAIT: Duration = Duration::from_secs(60);

/// One symbol trading a fast crossover on M1 bars; breakeven after 4 pips.
fn config(symbol: &str) -> AppConfig {
    let yaml = format!(
        r#"
modifications:
  enable_breakeven: true
  breakeven_trigger_pips: 4
  breakeven_offset_pips: 1
  enable_trailing_stop: false
  enable_partial_close: false
currencies:
  - symbol: {symbol}
    enabled: true
    risk_percent: 0.5
    strategy_type: crossover
    timeframe: M1
    fast_period: 2
    slow_period: 5
    sl_pips: 30
    tp_pips: 60
    cooldown_seconds: 0
"#
    );
    config::load(&ConfigSource::Text(yaml), &[]).unwrap()
}

struct Session {
    fake: FakeTerminal,
    broker: Arc<Mt5Broker>,
    clock: Arc<ManualClock>,
    events: Arc<CollectEvents>,
    config: AppConfig,
    symbol: String,
    base: f64,
    /// History far enough back that every bar is closed.
    start: DateTime<Utc>,
    bars: Vec<Bar>,
}

impl Session {
    async fn new(margin_mode: MarginMode, symbol: &str, base: f64) -> Self {
        let account = FakeAccount {
            margin_mode,
            ..FakeAccount::default()
        };
        let fake = FakeTerminal::new(
            account,
            vec![FakeSymbol::forex("EURUSD"), FakeSymbol::forex("GBPUSD")],
        );
        fake.set_quote("EURUSD", 1.08000, 1.08012);
        fake.set_quote("GBPUSD", 1.27000, 1.27015);
        let cfg = Mt5Config {
            request_timeout: Duration::from_secs(30),
            trade_timeout: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(120),
            ..Mt5Config::new(0, Token::new(TOKEN).unwrap())
        };
        let broker = Mt5Broker::listen(cfg).await.unwrap();
        fake.connect(broker.local_port(), TOKEN);
        broker.wait_connected(WAIT).await.unwrap();
        let start = (Utc::now() - chrono::Duration::hours(12))
            .duration_trunc(chrono::Duration::minutes(1))
            .unwrap();
        let mut s = Self {
            fake,
            broker: Arc::new(broker),
            clock: Arc::new(ManualClock::new(Utc::now())),
            events: Arc::new(CollectEvents::default()),
            config: config(symbol),
            symbol: symbol.to_string(),
            base,
            start,
            bars: Vec::new(),
        };
        s.bars = (0..12).map(|k| swing_bar(start, k, base)).collect();
        s.publish();
        s
    }

    fn magic(&self) -> u64 {
        self.config.trader.magic
    }

    fn publish(&self) {
        self.fake
            .set_rates(&self.symbol, Timeframe::M1, self.bars.clone());
        let last = self.bars.last().unwrap().close;
        self.fake.set_quote(&self.symbol, last, last + 0.00012);
    }

    async fn trader(&self) -> LiveTrader {
        let broker: Arc<dyn Broker> = self.broker.clone();
        let (trader, _) = LiveTrader::start(
            broker,
            Arc::new(self.config.clone()),
            Arc::new(MemoryIntentStore::new()),
            self.clock.clone(),
            self.events.clone(),
            None,
            LiveOptions {
                kill_file: None,
                retry: RetryPolicy {
                    base_delay: Duration::from_millis(10),
                    max_delay: Duration::from_millis(50),
                    reconcile_delay: Duration::from_millis(50),
                    ..RetryPolicy::default()
                },
                ..LiveOptions::default()
            },
        )
        .await
        .unwrap();
        trader
    }

    /// The next bar closes; the clock moves a minute; one cycle.
    async fn next_bar(&mut self, trader: &mut LiveTrader) {
        let k = i64::try_from(self.bars.len()).unwrap();
        self.bars.push(swing_bar(self.start, k, self.base));
        self.publish();
        self.clock.advance(chrono::Duration::minutes(1));
        trader.cycle().await.unwrap();
    }

    /// A cycle a second later, with no new bar.
    async fn idle_cycle(&self, trader: &mut LiveTrader) {
        self.clock.advance(chrono::Duration::seconds(1));
        trader.cycle().await.unwrap();
    }

    /// Entry signals recorded for the session's symbol, with their refusals.
    fn entry_signals(&self) -> Vec<(Side, Option<String>)> {
        self.events
            .events()
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::SignalRecorded { signal, refusal }
                    if signal.symbol.as_str() == self.symbol =>
                {
                    let side = match signal.kind {
                        mtq_core::SignalKind::Buy => Side::Buy,
                        mtq_core::SignalKind::Sell => Side::Sell,
                        _ => return None,
                    };
                    Some((side, refusal.map(|r| r.to_string())))
                }
                _ => None,
            })
            .collect()
    }

    fn errors(&self, source: &str) -> Vec<String> {
        self.events
            .events()
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::Error { source: s, message } if s.as_str() == source => Some(message),
                _ => None,
            })
            .collect()
    }
}

fn order_side(body: &serde_json::Value) -> Side {
    if field(body, "order_type")
        .as_str()
        .unwrap_or("")
        .starts_with("ORDER_TYPE_BUY")
    {
        Side::Buy
    } else {
        Side::Sell
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netting_never_trades_a_symbol_holding_a_position_mtq_does_not_own() {
    let mut s = Session::new(MarginMode::Netting, "GBPUSD", 1.27).await;
    // The user opened GBPUSD by hand; start-up reports it "ignored".
    let theirs = s
        .fake
        .trade_by_hand("GBPUSD", Side::Buy, dec!(0.26), 0)
        .unwrap();
    let mut trader = s.trader().await;
    for _ in 0..24 {
        s.next_bar(&mut trader).await;
    }
    let signals = s.entry_signals();
    assert!(signals.len() >= 2, "the crossover signals: {signals:?}");
    for (side, refusal) in &signals {
        let refusal = refusal.as_deref().unwrap_or_default();
        assert!(
            refusal.contains("netting account") && refusal.contains(&theirs.to_string()),
            "{side:?} refused with {refusal:?}"
        );
    }
    assert!(
        s.fake.orders_sent().is_empty(),
        "{:?}",
        s.fake.orders_sent()
    );
    // Said once, not every signal.
    let said = s.errors("netting");
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("does not own"), "{said:?}");
    let open = s.fake.open_positions();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].2, dec!(0.26), "the user's position is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netting_reductions_and_a_reversal_of_mtqs_position_are_recorded_by_position() {
    let mut s = Session::new(MarginMode::Netting, "EURUSD", 1.08).await;
    // MTQ's position from an earlier run (its magic number).
    let ours = s
        .fake
        .trade_by_hand("EURUSD", Side::Buy, dec!(0.26), s.magic())
        .unwrap();
    let mut trader = s.trader().await;
    // The user sells 0.06 by hand: MTQ's position is reduced to 0.20. (No new bar: no signal.)
    s.fake.trade_by_hand("EURUSD", Side::Sell, dec!(0.06), 0);
    s.idle_cycle(&mut trader).await;
    // The user sells 0.46: one DEAL_ENTRY_INOUT closes the 0.20 and opens 0.26 the other way.
    s.fake.trade_by_hand("EURUSD", Side::Sell, dec!(0.46), 0);
    s.idle_cycle(&mut trader).await;
    let closes: Vec<_> = s
        .events
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::PositionClosed { deal } => Some(deal),
            _ => None,
        })
        .collect();
    assert_eq!(closes.len(), 2, "{closes:?}");
    assert!(
        closes
            .iter()
            .all(|d| d.position == Some(mtq_core::Ticket(ours)))
    );
    assert_eq!(
        (closes[0].entry, closes[0].volume),
        (DealEntry::Out, dec!(0.06))
    );
    assert_eq!(
        (closes[1].entry, closes[1].volume),
        (DealEntry::InOut, dec!(0.20)),
        "only the part that closed MTQ's position"
    );
    let total: rust_decimal::Decimal = closes.iter().map(|d| d.volume).sum();
    assert_eq!(total, dec!(0.26), "never more than the position's volume");
    // What is left is the user's: MTQ does not trade EURUSD while it is open.
    for _ in 0..16 {
        s.next_bar(&mut trader).await;
    }
    assert!(
        s.fake.orders_sent().is_empty(),
        "{:?}",
        s.fake.orders_sent()
    );
    assert!(
        s.entry_signals()
            .iter()
            .all(|(_, r)| r.as_deref().is_some_and(|r| r.contains("does not own")))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_market_is_not_asked_every_cycle_and_trading_resumes_when_it_opens() {
    let s = Session::new(MarginMode::Hedging, "EURUSD", 1.08).await;
    // MTQ's buy from 1.08000, 15 pips in profit: breakeven wants to move its stop every cycle.
    s.fake
        .trade_by_hand("EURUSD", Side::Buy, dec!(0.10), s.magic())
        .unwrap();
    s.fake.set_quote("EURUSD", 1.08150, 1.08162);
    s.fake.set_market_closed("EURUSD", true);
    let mut trader = s.trader().await;
    for _ in 0..1_000 {
        s.idle_cycle(&mut trader).await;
    }
    let sent = s.fake.modifications().len();
    assert!(
        (1..=6).contains(&sent),
        "1,000 cycles with the market closed sent {sent} modifications"
    );
    // The market opens: the next try (within the 30-minute cap) moves the stop.
    s.fake.set_market_closed("EURUSD", false);
    s.clock.advance(chrono::Duration::minutes(31));
    trader.cycle().await.unwrap();
    assert_eq!(s.fake.modifications().len(), sent + 1);
    let open = s.fake.open_positions();
    assert!(open[0].3 > dec!(1.08), "stop at breakeven: {open:?}");
    // And no more modifications once it is there.
    for _ in 0..5 {
        s.idle_cycle(&mut trader).await;
    }
    assert_eq!(s.fake.modifications().len(), sent + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reversal_whose_close_is_refused_sends_no_opposite_entry() {
    let mut s = Session::new(MarginMode::Hedging, "EURUSD", 1.08).await;
    let ours = s
        .fake
        .trade_by_hand("EURUSD", Side::Buy, dec!(0.10), s.magic())
        .unwrap();
    s.fake.react_next(
        "position_close",
        FakeReaction::Retcode {
            retcode: 10018,
            comment: "Market closed".into(),
        },
    );
    let mut trader = s.trader().await;
    // Bars until the first sell signal (the reversal).
    for _ in 0..24 {
        s.next_bar(&mut trader).await;
        if s.entry_signals()
            .iter()
            .any(|(side, _)| *side == Side::Sell)
        {
            break;
        }
    }
    let signals = s.entry_signals();
    let (_, refusal) = signals
        .iter()
        .find(|(side, _)| *side == Side::Sell)
        .expect("a sell signal");
    let refusal = refusal.as_deref().unwrap_or_default();
    assert!(
        refusal.contains("reversal not sent") && refusal.contains(&ours.to_string()),
        "{refusal:?}"
    );
    assert_eq!(s.fake.closes().len(), 1, "the close was tried");
    assert!(
        !s.fake
            .orders_sent()
            .iter()
            .any(|o| order_side(o) == Side::Sell),
        "no sell while the buy is open: {:?}",
        s.fake.orders_sent()
    );
    let errors = s.errors("close");
    assert!(errors.iter().any(|e| e.contains("10018")), "{errors:?}");
    // The signal lapsed; the next sell signal closes (the market is open now) and then sells.
    for _ in 0..24 {
        s.next_bar(&mut trader).await;
        if s.fake
            .orders_sent()
            .iter()
            .any(|o| order_side(o) == Side::Sell)
        {
            break;
        }
    }
    let requests = s.fake.requests();
    let close_at = requests
        .iter()
        .rposition(|r| r.kind == "position_close")
        .unwrap();
    let sell_at = requests
        .iter()
        .position(|r| r.kind == "order_send" && order_side(&r.body) == Side::Sell)
        .expect("the next reversal sells");
    assert!(close_at < sell_at, "closed first, then sold");
    assert!(
        !s.fake.open_positions().iter().any(|p| p.0 == ours),
        "the buy is closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netting_mtq_reverses_its_own_position_by_closing_its_ticket_then_entering() {
    let mut s = Session::new(MarginMode::Netting, "EURUSD", 1.08).await;
    let ours = s
        .fake
        .trade_by_hand("EURUSD", Side::Buy, dec!(0.10), s.magic())
        .unwrap();
    let mut trader = s.trader().await;
    for _ in 0..24 {
        s.next_bar(&mut trader).await;
        if s.fake
            .orders_sent()
            .iter()
            .any(|o| order_side(o) == Side::Sell)
        {
            break;
        }
    }
    // The close names MTQ's position; the entry after it opens a position of its own.
    let closes = s.fake.closes();
    assert_eq!(closes.len(), 1, "{closes:?}");
    assert_eq!(field(&closes[0], "position").as_u64(), Some(ours));
    s.idle_cycle(&mut trader).await;
    let events: Vec<EventKind> = s.events.events().into_iter().map(|e| e.kind).collect();
    let closed: Vec<_> = events
        .iter()
        .filter_map(|k| match k {
            EventKind::PositionClosed { deal } => Some(deal),
            _ => None,
        })
        .collect();
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(closed[0].position, Some(mtq_core::Ticket(ours)));
    assert_eq!(
        (closed[0].entry, closed[0].volume),
        (DealEntry::Out, dec!(0.10))
    );
    let opened: Vec<_> = events
        .iter()
        .filter_map(|k| match k {
            EventKind::PositionOpened { position } => Some(position),
            _ => None,
        })
        .collect();
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_ne!(opened[0].ticket, mtq_core::Ticket(ours));
    assert_eq!(opened[0].side, Side::Sell);
    let open = s.fake.open_positions();
    assert_eq!(open.len(), 1, "one position per symbol: {open:?}");
    assert_eq!(open[0].0, opened[0].ticket.0);
}
