//! The control channel into the live driver, over the simulated broker: every operator command
//! goes through the same executor, intents and records as the strategy's orders, is checked for
//! the sender's role twice, and is recorded with its actor.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mtq_core::testkit::{self, BarBuilder};
use mtq_core::{
    Bar, DomainEvent, EventKind, ExitReason, ManualClock, Position, Side, Symbol, Ticket, Timeframe,
};
use mtq_orchestrator::config::{self, ConfigSource};
use mtq_orchestrator::{
    Actor, CollectEvents, ControlCommand, ControlOutcome, ControlRefusal, ControlRequest,
    LiveOptions, LiveTrader, MemoryIntentStore, RiskMemory, Role, StoreError, TradeLedger,
    TradingState, run_live,
};
use mtq_sim::{SimBroker, SimConfig, Simulator};
use rust_decimal_macros::dec;
use tokio::sync::oneshot;

/// EURUSD on `position` (it enters whenever it does not hold the side the averages point to),
/// breakeven after 5 pips, manual orders allowed.
const CONFIG: &str = r#"
modifications:
  enable_breakeven: true
  breakeven_trigger_pips: 5
  breakeven_offset_pips: 1
  enable_trailing_stop: false
  enable_partial_close: false
emergency:
  max_daily_loss_percent: 50
  close_all_on_stop: false
api:
  manual_orders: true
currencies:
  - symbol: EURUSD
    strategy_type: position
    timeframe: M5
    fast_period: 3
    slow_period: 6
    sl_pips: 20
    tp_pips: 60
    cooldown_seconds: 0
    risk_percent: 0.5
    max_position_size: 1
"#;

fn t0() -> DateTime<Utc> {
    "2024-03-04T08:00:00Z".parse().unwrap()
}

fn eurusd() -> Symbol {
    testkit::symbol("EURUSD")
}

/// The `i`th M5 bar, closing at `close`.
fn bar(i: i64, close: f64) -> Bar {
    BarBuilder::new()
        .at(t0() + Duration::minutes(5 * i))
        .ohlc(close + 0.0002, close + 0.0004, close - 0.0002, close)
        .tick_volume(50)
        .spread(8)
        .build()
}

/// A falling market: 3 pips a bar.
fn falling(i: i64) -> f64 {
    1.1000 - 0.0003 * i as f64
}

struct Remembers(RiskMemory);

#[async_trait::async_trait]
impl TradeLedger for Remembers {
    async fn open_positions(&self) -> Result<Vec<(Ticket, DateTime<Utc>)>, StoreError> {
        Ok(Vec::new())
    }

    async fn risk_memory(
        &self,
        _day_start: DateTime<Utc>,
        _peak_since: DateTime<Utc>,
    ) -> Result<RiskMemory, StoreError> {
        Ok(self.0.clone())
    }
}

struct Rig {
    broker: Arc<SimBroker>,
    clock: Arc<ManualClock>,
    events: Arc<CollectEvents>,
    trader: LiveTrader,
    next: i64,
}

/// A trader warmed up on 12 falling bars, the market still falling.
async fn rig_with(text: &str, memory: RiskMemory) -> Rig {
    let sim = Simulator::new(SimConfig::default(), [testkit::eurusd()]).unwrap();
    let broker = Arc::new(SimBroker::new(sim));
    for i in 0..12 {
        broker
            .push_bar(&eurusd(), Timeframe::M5, bar(i, falling(i)))
            .unwrap();
    }
    let cfg = config::load(&ConfigSource::Text(text.into()), &[]).unwrap();
    let clock = Arc::new(ManualClock::new(t0() + Duration::minutes(60)));
    let events = Arc::new(CollectEvents::default());
    let (trader, _) = LiveTrader::start(
        broker.clone(),
        Arc::new(cfg),
        Arc::new(MemoryIntentStore::new()),
        clock.clone(),
        events.clone(),
        Some(Arc::new(Remembers(memory))),
        LiveOptions {
            kill_file: None,
            ..LiveOptions::default()
        },
    )
    .await
    .unwrap();
    Rig {
        broker,
        clock,
        events,
        trader,
        next: 12,
    }
}

async fn rig() -> Rig {
    rig_with(CONFIG, RiskMemory::default()).await
}

fn actor(role: Role) -> Actor {
    Actor {
        id: format!("key-{role}"),
        role,
        via: "api".into(),
    }
}

impl Rig {
    /// The next bar closes at `close` and the trader runs a cycle.
    async fn step(&mut self, close: f64) {
        self.broker
            .push_bar(&eurusd(), Timeframe::M5, bar(self.next, close))
            .unwrap();
        self.next += 1;
        self.clock.set(t0() + Duration::minutes(5 * self.next));
        self.trader.cycle().await.unwrap();
    }

    /// The market keeps falling for `n` bars.
    async fn fall(&mut self, n: i64) {
        for _ in 0..n {
            let i = self.next;
            self.step(falling(i)).await;
        }
    }

    async fn send(
        &mut self,
        command: ControlCommand,
        role: Role,
    ) -> Result<ControlOutcome, ControlRefusal> {
        let (reply, answer) = oneshot::channel();
        let req = ControlRequest {
            command,
            actor: actor(role),
            reply,
        };
        self.trader.handle_command(req, None).await;
        answer.await.unwrap()
    }

    async fn positions(&self) -> Vec<Position> {
        mtq_connector::Broker::positions(self.broker.as_ref())
            .await
            .unwrap()
    }

    fn events(&self) -> Vec<DomainEvent> {
        self.events.events()
    }

    fn count(&self, pred: impl Fn(&EventKind) -> bool) -> usize {
        self.events().iter().filter(|e| pred(&e.kind)).count()
    }
}

fn is_intent(k: &EventKind) -> bool {
    matches!(k, EventKind::OrderIntent { .. })
}

#[tokio::test]
async fn pausing_entries_stops_new_orders_while_management_continues() {
    let mut r = rig().await;
    r.fall(1).await;
    let open = r.positions().await;
    assert_eq!(open.len(), 1, "the strategy sells into the falling market");
    assert_eq!(r.count(is_intent), 1);

    r.send(ControlCommand::PauseEntries, Role::Trader)
        .await
        .unwrap();
    assert_eq!(r.trader.snapshot().trading, TradingState::EntriesPaused);
    // The operator closes the sell: the strategy would sell again, but entries are paused.
    let ticket = open[0].ticket;
    r.send(
        ControlCommand::ClosePosition {
            ticket,
            volume: None,
        },
        Role::Trader,
    )
    .await
    .unwrap();
    r.fall(2).await;
    assert!(r.positions().await.is_empty());
    assert_eq!(r.count(is_intent), 1, "no new order while paused");
    assert!(r.count(|k| matches!(k, EventKind::SignalRecorded { refusal: Some(why), .. } if why.to_string().contains("paused"))) >= 1);

    r.send(ControlCommand::ResumeEntries, Role::Trader)
        .await
        .unwrap();
    r.fall(1).await;
    let reopened = r.positions().await;
    assert_eq!(reopened.len(), 1, "entries resume");

    // Management runs while paused: the new sell's stop moves to breakeven as the market falls.
    r.send(ControlCommand::PauseEntries, Role::Trader)
        .await
        .unwrap();
    r.fall(3).await;
    assert!(
        r.count(|k| matches!(k, EventKind::PositionModified { ticket, .. } if *ticket == reopened[0].ticket)) >= 1,
        "breakeven still runs while entries are paused"
    );
}

#[tokio::test]
async fn an_operator_close_records_the_trade_with_the_exit_reason_operator() {
    let mut r = rig().await;
    r.fall(1).await;
    let p = r.positions().await.remove(0);
    // A part first, then the rest.
    let part = r
        .send(
            ControlCommand::ClosePosition {
                ticket: p.ticket,
                volume: Some(dec!(0.01)),
            },
            Role::Trader,
        )
        .await
        .unwrap();
    assert_eq!(part.actions, 1);
    assert_eq!(r.positions().await[0].volume, p.volume - dec!(0.01));
    r.send(
        ControlCommand::CloseAll {
            symbol: Some(eurusd()),
        },
        Role::Trader,
    )
    .await
    .unwrap();
    assert!(r.positions().await.is_empty());
    let exits = r.count(|k| {
        matches!(k, EventKind::PositionExit { ticket, reason: ExitReason::Operator } if *ticket == p.ticket)
    });
    assert_eq!(exits, 2, "each close is an operator exit");
    // The closing deals are recorded at the next look at the broker.
    r.fall(1).await;
    assert!(
        r.count(
            |k| matches!(k, EventKind::PositionClosed { deal } if deal.position == Some(p.ticket))
        ) >= 2
    );
}

#[tokio::test]
async fn closing_an_unknown_ticket_or_more_than_is_open_is_refused() {
    let mut r = rig().await;
    r.fall(1).await;
    let p = r.positions().await.remove(0);
    let unknown = ControlCommand::ClosePosition {
        ticket: Ticket(999_999),
        volume: None,
    };
    assert_eq!(
        r.send(unknown, Role::Trader).await,
        Err(ControlRefusal::UnknownPosition(Ticket(999_999)))
    );
    let too_much = ControlCommand::ClosePosition {
        ticket: p.ticket,
        volume: Some(p.volume + dec!(1)),
    };
    assert!(matches!(
        r.send(too_much, Role::Trader).await,
        Err(ControlRefusal::Invalid(_))
    ));
    assert_eq!(r.positions().await.len(), 1);
}

#[tokio::test]
async fn a_manual_trip_halts_trading_until_an_admin_resets_it_with_a_reason() {
    let mut r = rig().await;
    r.send(
        ControlCommand::TripKillSwitch {
            reason: "news at 14:30".into(),
        },
        Role::Trader,
    )
    .await
    .unwrap();
    assert_eq!(r.trader.snapshot().kill_switch, "halted");
    r.fall(2).await;
    assert_eq!(r.count(is_intent), 0, "no entry while halted");
    assert!(r.positions().await.is_empty());

    let reset = |reason: &str| ControlCommand::ResetKillSwitch {
        reason: reason.into(),
    };
    assert!(matches!(
        r.send(reset("reviewed"), Role::Trader).await,
        Err(ControlRefusal::Forbidden {
            need: Role::Admin,
            ..
        })
    ));
    assert!(matches!(
        r.send(reset("  "), Role::Admin).await,
        Err(ControlRefusal::Invalid(_))
    ));
    assert_eq!(r.trader.snapshot().kill_switch, "halted");
    r.send(reset("reviewed the news"), Role::Admin)
        .await
        .unwrap();
    assert_eq!(r.trader.snapshot().kill_switch, "active");
    r.fall(1).await;
    assert_eq!(r.count(is_intent), 1, "trading resumes after the reset");
}

#[tokio::test]
async fn a_manual_trip_remembered_by_the_records_holds_after_a_restart() {
    let memory = RiskMemory {
        manual_kill: Some("news at 14:30".into()),
        ..RiskMemory::default()
    };
    let mut r = rig_with(CONFIG, memory).await;
    let snap = r.trader.snapshot();
    assert_eq!(snap.kill_switch, "halted");
    assert!(snap.kill_switch_reason.contains("news at 14:30"));
    r.fall(2).await;
    assert_eq!(r.count(is_intent), 0);
    assert_eq!(r.trader.snapshot().kill_switch, "halted");
}

#[tokio::test]
async fn a_stop_loss_and_take_profit_modification_reaches_the_broker() {
    let mut r = rig().await;
    r.fall(1).await;
    let p = r.positions().await.remove(0);
    assert_eq!(p.side, Side::Sell);
    let tp = p.open_price - dec!(0.0100);
    r.send(
        ControlCommand::ModifyPosition {
            ticket: p.ticket,
            sl: None,
            tp: Some(tp),
        },
        Role::Trader,
    )
    .await
    .unwrap();
    let after = r.positions().await.remove(0);
    assert_eq!((after.sl, after.tp), (p.sl, Some(tp)));
    assert_eq!(
        r.count(|k| matches!(k, EventKind::PositionModified { tp: Some(x), .. } if *x == tp)),
        1
    );
    // A sell's stop loss below the market breaks the rule book: refused before the broker.
    let wrong = ControlCommand::ModifyPosition {
        ticket: p.ticket,
        sl: Some(p.open_price - dec!(0.0050)),
        tp: None,
    };
    assert!(matches!(
        r.send(wrong, Role::Trader).await,
        Err(ControlRefusal::Invalid(_))
    ));
    assert_eq!(r.positions().await[0].sl, p.sl);
}

fn manual(key: &str, volume: rust_decimal::Decimal) -> ControlCommand {
    ControlCommand::ManualOrder {
        idempotency_key: key.into(),
        symbol: eurusd(),
        side: Side::Buy,
        volume,
        // About 18 pips under the ask: 0.1 lots risk some $18 of the $50 (0.5%) allowed.
        sl: Some(dec!(1.0950)),
        tp: None,
    }
}

#[tokio::test]
async fn a_manual_order_sent_twice_with_one_key_executes_once() {
    let mut r = rig().await;
    let first = r
        .send(manual("order-42", dec!(0.1)), Role::Trader)
        .await
        .unwrap();
    assert!(!first.duplicate);
    assert_eq!(first.client_order_ids, vec!["mtq~order-42".to_string()]);
    let second = r
        .send(manual("order-42", dec!(0.1)), Role::Trader)
        .await
        .unwrap();
    assert!(second.duplicate);
    assert_eq!(r.positions().await.len(), 1);
    assert_eq!(r.count(is_intent), 1);
}

#[tokio::test]
async fn a_manual_order_meets_the_configuration_and_the_risk_rules() {
    let mut r = rig_with(
        &CONFIG.replace("manual_orders: true", "manual_orders: false"),
        RiskMemory::default(),
    )
    .await;
    assert_eq!(
        r.send(manual("k1", dec!(0.1)), Role::Trader).await,
        Err(ControlRefusal::ManualOrdersDisabled)
    );

    let mut r = rig().await;
    // Above the symbol's max_position_size of 1 lot.
    assert!(matches!(
        r.send(manual("k2", dec!(2)), Role::Trader).await,
        Err(ControlRefusal::Invalid(m)) if m.contains("max_position_size")
    ));
    // 0.5 lots to that stop risk some $90: more than the 0.5% sizing allows.
    assert!(matches!(
        r.send(manual("k4", dec!(0.5)), Role::Trader).await,
        Err(ControlRefusal::Invalid(m)) if m.contains("at most")
    ));
    // A key that cannot be a client order id.
    assert!(matches!(
        r.send(manual("no spaces", dec!(0.1)), Role::Trader).await,
        Err(ControlRefusal::Invalid(_))
    ));
    // The kill switch refuses it as it refuses a signal's entry.
    r.send(
        ControlCommand::TripKillSwitch {
            reason: "test".into(),
        },
        Role::Trader,
    )
    .await
    .unwrap();
    assert!(matches!(
        r.send(manual("k3", dec!(0.1)), Role::Trader).await,
        Err(ControlRefusal::KillSwitch { .. })
    ));
    assert!(r.positions().await.is_empty());
    assert_eq!(r.count(is_intent), 0);
}

#[tokio::test]
async fn commands_from_too_weak_a_role_are_refused_by_the_handle_and_by_the_driver() {
    let mut r = rig().await;
    let handle = r.trader.control();
    // The handle refuses before queueing: no driver needs to run.
    let refused = handle
        .send(ControlCommand::PauseEntries, actor(Role::Viewer))
        .await;
    assert!(matches!(
        refused,
        Err(ControlRefusal::Forbidden {
            need: Role::Trader,
            ..
        })
    ));
    // The driver checks again, and records the refusal with its actor.
    assert!(matches!(
        r.send(ControlCommand::ReloadConfig, Role::Trader).await,
        Err(ControlRefusal::Forbidden {
            need: Role::Admin,
            ..
        })
    ));
    assert!(!r.trader.entries_paused());
    let audit: Vec<_> = r
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::OperatorCommand {
                command,
                actor,
                accepted,
                ..
            } => Some((command, actor, accepted)),
            _ => None,
        })
        .collect();
    assert_eq!(
        audit,
        vec![("reload_config".to_string(), "key-trader".to_string(), false)]
    );
}

#[tokio::test]
async fn every_accepted_command_is_recorded_with_its_actor_and_published() {
    let mut r = rig().await;
    let handle = r.trader.control();
    let mut events = handle.subscribe();
    r.send(
        ControlCommand::SetSymbolEnabled {
            symbol: eurusd(),
            enabled: false,
        },
        Role::Trader,
    )
    .await
    .unwrap();
    assert!(handle.snapshot().disabled_symbols.contains(&eurusd()));
    r.fall(1).await;
    assert_eq!(r.count(is_intent), 0, "a disabled symbol takes no entries");
    let unknown = ControlCommand::SetSymbolEnabled {
        symbol: Symbol::new("XAUUSD").unwrap(),
        enabled: false,
    };
    assert_eq!(
        r.send(unknown, Role::Trader).await,
        Err(ControlRefusal::UnknownSymbol("XAUUSD".into()))
    );
    let first = events.try_recv().unwrap();
    assert!(matches!(
        first.kind,
        EventKind::OperatorCommand { ref command, ref role, accepted: true, .. }
            if command == "set_symbol_enabled" && role == "trader"
    ));
    assert!(
        handle.snapshot().cycle >= 1,
        "a snapshot follows each cycle"
    );
}

#[tokio::test]
async fn run_live_answers_commands_between_cycles_and_a_stop_ends_the_session() {
    let mut r = rig().await;
    let handle = r.trader.control();
    let (_tx, shutdown) = tokio::sync::watch::channel(false);
    let operator = async {
        let paused = handle
            .send(ControlCommand::PauseEntries, actor(Role::Trader))
            .await
            .unwrap();
        assert!(paused.message.contains("paused"));
        assert_eq!(handle.snapshot().trading, TradingState::EntriesPaused);
        handle
            .send(ControlCommand::Stop, actor(Role::Trader))
            .await
            .unwrap();
    };
    // The driver's future runs beside the operator's in one task, as under `serve`.
    let (summary, ()) = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        tokio::join!(
            run_live(
                r.trader,
                std::time::Duration::from_millis(20),
                None,
                shutdown
            ),
            operator
        )
    })
    .await
    .expect("the session ends after a stop");
    let summary = summary.unwrap();
    assert!(summary.events > 0);
    // The trader is gone: a late command is answered, not left waiting.
    assert_eq!(
        handle
            .send(ControlCommand::ResumeEntries, actor(Role::Trader))
            .await,
        Err(ControlRefusal::Stopping)
    );
    let recorded = r.events.events();
    assert!(matches!(
        recorded.last().map(|e| &e.kind),
        Some(EventKind::Session { .. })
    ));
}

/// Places a buy limit 50 pips under the market with `magic`, straight at the simulated broker.
async fn buy_limit(r: &Rig, id: &str, magic: u64) -> Ticket {
    use mtq_core::{ClientOrderId, Magic, OrderKind, OrderRequest};
    let req = OrderRequest {
        magic: Magic(magic),
        ..OrderRequest::pending(
            ClientOrderId::new(id).unwrap(),
            eurusd(),
            Side::Buy,
            OrderKind::Limit,
            dec!(0.10),
            dec!(1.0500),
        )
    };
    let out = mtq_connector::Broker::send_order(r.broker.as_ref(), &req)
        .await
        .unwrap();
    out.order.expect("the pending order's ticket")
}

async fn pending(r: &Rig) -> Vec<Ticket> {
    mtq_connector::Broker::pending_orders(r.broker.as_ref())
        .await
        .unwrap()
        .iter()
        .map(|o| o.ticket)
        .collect()
}

#[tokio::test]
async fn cancelling_a_pending_order_deletes_it_at_the_broker_and_only_our_own() {
    let mut r = rig().await;
    let magic = r.trader.core().config().trader.magic;
    let ours = buy_limit(&r, "pend-ours", magic).await;
    let theirs = buy_limit(&r, "pend-theirs", magic + 1).await;
    assert_eq!(pending(&r).await.len(), 2);
    let done = r
        .send(ControlCommand::CancelOrder { ticket: ours }, Role::Trader)
        .await
        .unwrap();
    assert_eq!(done.actions, 1);
    assert_eq!(pending(&r).await, vec![theirs]);
    // Another EA's order, and one already gone, are unknown to this trader.
    for t in [theirs, ours] {
        assert_eq!(
            r.send(ControlCommand::CancelOrder { ticket: t }, Role::Trader)
                .await,
            Err(ControlRefusal::UnknownOrder(t))
        );
    }
    assert_eq!(pending(&r).await, vec![theirs]);
    // A viewer may not cancel.
    assert!(matches!(
        r.send(ControlCommand::CancelOrder { ticket: theirs }, Role::Viewer)
            .await,
        Err(ControlRefusal::Forbidden { .. })
    ));
    assert_eq!(
        r.count(
            |k| matches!(k, EventKind::OperatorCommand { command, .. } if command == "cancel_order")
        ),
        4
    );
}

fn tested(out: &ControlOutcome) -> mtq_orchestrator::SignalTest {
    serde_json::from_value(out.detail.clone().expect("a signal test reports")).unwrap()
}

#[tokio::test]
async fn a_signal_test_shows_the_signal_and_the_risk_verdict_and_sends_nothing() {
    let mut r = rig().await;
    let orders_before = r.count(is_intent);
    // Falling averages and no position: the strategy sells, and the risk rules size it.
    let out = r
        .send(
            ControlCommand::TestSignal { symbol: eurusd() },
            Role::Trader,
        )
        .await
        .unwrap();
    let t = tested(&out);
    assert_eq!(
        t.signal.as_ref().map(|s| s.kind),
        Some(mtq_core::SignalKind::Sell),
        "{t:?}"
    );
    assert_eq!(t.verdict, "allowed", "{t:?}");
    assert!(t.volume.is_some_and(|v| v > rust_decimal::Decimal::ZERO));
    assert_eq!(t.bar_time, Some(bar(11, 0.0).time));
    assert!(r.positions().await.is_empty(), "a test sent an order");
    assert_eq!(r.count(is_intent), orders_before);
    // With the kill switch tripped the same signal is refused, and says by which rule.
    r.send(
        ControlCommand::TripKillSwitch {
            reason: "news".into(),
        },
        Role::Trader,
    )
    .await
    .unwrap();
    let t = tested(
        &r.send(
            ControlCommand::TestSignal { symbol: eurusd() },
            Role::Trader,
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        (t.verdict.as_str(), t.rule.as_deref()),
        ("refused", Some("kill_switch")),
        "{t:?}"
    );
    assert!(matches!(
        r.send(
            ControlCommand::TestSignal {
                symbol: Symbol::new("GBPUSD").unwrap()
            },
            Role::Trader
        )
        .await,
        Err(ControlRefusal::UnknownSymbol(_))
    ));
}

#[tokio::test]
async fn manual_mode_records_the_strategy_as_advice_and_sends_only_operator_orders() {
    let text = CONFIG.replace("api:\n", "trader:\n  mode: manual\napi:\n");
    let mut r = rig_with(&text, RiskMemory::default()).await;
    r.fall(1).await;
    assert!(
        r.positions().await.is_empty(),
        "the strategy's sell is advice only"
    );
    assert_eq!(r.count(is_intent), 0, "nothing is sent");
    let advice = |k: &EventKind| {
        matches!(k, EventKind::SignalRecorded { refusal: Some(why), .. }
            if why.code() == "manual_mode" && why.to_string().contains("advice only"))
    };
    assert_eq!(r.count(advice), 1);

    // An operator's order executes.
    r.send(manual("op-1", dec!(0.1)), Role::Trader)
        .await
        .unwrap();
    assert_eq!(r.count(is_intent), 1);
    let open = r.positions().await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].side, Side::Buy);

    // The strategy would reverse the operator's buy into a sell: advice again, nothing closed.
    r.fall(1).await;
    let still = r.positions().await;
    assert_eq!(still.len(), 1, "the operator's position stays");
    assert_eq!(still[0].ticket, open[0].ticket);
    assert_eq!(r.count(is_intent), 1, "no order from the strategy");
    assert_eq!(r.count(advice), 2);
}

fn semi(ttl: u64) -> String {
    CONFIG.replace(
        "api:\n",
        &format!("trader:\n  mode: semi\n  approval_ttl_seconds: {ttl}\napi:\n"),
    )
}

fn approvals_in(out: &ControlOutcome) -> Vec<mtq_core::Approval> {
    serde_json::from_value(out.detail.clone().expect("a listing reports")).unwrap()
}

/// The last published form of each approval, by id.
fn published_approvals(r: &Rig) -> std::collections::BTreeMap<u64, mtq_core::Approval> {
    r.events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Approval { approval } => Some((approval.id, *approval)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn semi_mode_holds_the_entry_until_approved_and_sends_it_once() {
    use mtq_core::ApprovalState;
    let mut r = rig_with(&semi(600), RiskMemory::default()).await;
    r.fall(1).await;
    assert!(
        r.positions().await.is_empty(),
        "nothing sent before approval"
    );
    assert_eq!(r.count(is_intent), 0);
    let waiting = |k: &EventKind| matches!(k, EventKind::SignalRecorded { refusal: Some(why), .. } if why.code() == "awaiting_approval");
    assert_eq!(r.count(waiting), 1);
    let list = approvals_in(
        &r.send(ControlCommand::ListApprovals, Role::Viewer)
            .await
            .unwrap(),
    );
    assert_eq!(list.len(), 1);
    let a = &list[0];
    assert_eq!(a.state, ApprovalState::Pending);
    assert_eq!(
        (a.request.side, a.signal.kind),
        (Side::Sell, mtq_core::SignalKind::Sell)
    );
    assert_eq!(a.expires - a.created, Duration::seconds(600));
    assert_eq!(published_approvals(&r)[&a.id].state, ApprovalState::Pending);

    // A viewer may list but not decide.
    assert!(matches!(
        r.send(ControlCommand::Approve { id: a.id }, Role::Viewer)
            .await,
        Err(ControlRefusal::Forbidden { .. })
    ));
    let out = r
        .send(ControlCommand::Approve { id: a.id }, Role::Trader)
        .await
        .unwrap();
    assert_eq!((out.actions, out.duplicate), (1, false), "{out:?}");
    assert_eq!(
        out.client_order_ids,
        vec![a.request.client_order_id.to_string()]
    );
    let open = r.positions().await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].comment, a.request.client_order_id.as_str());
    // Approving again sends nothing; rejecting an approved entry is refused.
    let again = r
        .send(ControlCommand::Approve { id: a.id }, Role::Trader)
        .await
        .unwrap();
    assert_eq!((again.actions, again.duplicate), (0, true));
    assert_eq!(
        r.send(ControlCommand::Reject { id: a.id }, Role::Trader)
            .await,
        Err(ControlRefusal::ApprovalDecided {
            id: a.id,
            state: ApprovalState::Approved
        })
    );
    assert_eq!(r.count(is_intent), 1, "exactly one order");
    assert_eq!(r.positions().await.len(), 1);
    let stored = &published_approvals(&r)[&a.id];
    assert_eq!(stored.state, ApprovalState::Approved);
    assert_eq!(stored.decided_by.as_deref(), Some("key-trader"));
    assert!(
        r.send(ControlCommand::Approve { id: 7 }, Role::Trader)
            .await
            .is_err_and(|e| e == ControlRefusal::UnknownApproval(7))
    );
}

#[tokio::test]
async fn an_approved_entry_is_not_refused_by_the_cooldown_its_own_proposal_started() {
    // A 15-minute cooldown, approved at once: the cooldown the entry started when it was
    // proposed is its own. Before the fix the approval was refused ("cooling down") until the
    // cooldown ran out, so an operator could only approve late.
    let text = semi(3600).replace("cooldown_seconds: 0", "cooldown_seconds: 900");
    let mut r = rig_with(&text, RiskMemory::default()).await;
    r.fall(1).await;
    let list = approvals_in(
        &r.send(ControlCommand::ListApprovals, Role::Viewer)
            .await
            .unwrap(),
    );
    assert_eq!(list.len(), 1, "{list:?}");
    let out = r
        .send(ControlCommand::Approve { id: list[0].id }, Role::Trader)
        .await
        .unwrap();
    assert_eq!((out.actions, out.duplicate), (1, false), "{out:?}");
    assert_eq!(r.positions().await.len(), 1);

    // The entry it sent starts a cooldown that still holds the next one: an operator order
    // within the 900 s is refused by it (the order's own risk checks), naming the cooldown.
    let refused = r.send(manual("op-cool", dec!(0.1)), Role::Trader).await;
    assert!(
        matches!(&refused, Err(ControlRefusal::Invalid(why)) if why.contains("cooling down")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn semi_mode_sends_nothing_for_a_rejected_or_expired_entry() {
    use mtq_core::ApprovalState;
    let mut r = rig_with(&semi(60), RiskMemory::default()).await;
    r.fall(1).await;
    let first = approvals_in(
        &r.send(ControlCommand::ListApprovals, Role::Viewer)
            .await
            .unwrap(),
    )[0]
    .clone();
    let out = r
        .send(ControlCommand::Reject { id: first.id }, Role::Trader)
        .await
        .unwrap();
    assert_eq!(out.actions, 0);
    let again = r
        .send(ControlCommand::Reject { id: first.id }, Role::Trader)
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(
        r.send(ControlCommand::Approve { id: first.id }, Role::Trader)
            .await,
        Err(ControlRefusal::ApprovalDecided {
            id: first.id,
            state: ApprovalState::Rejected
        })
    );

    // The next bar's entry waits too; nobody answers within its 60 seconds (a bar is 5 minutes).
    r.fall(1).await;
    let second = approvals_in(
        &r.send(ControlCommand::ListApprovals, Role::Viewer)
            .await
            .unwrap(),
    )
    .into_iter()
    .find(|a| a.state == ApprovalState::Pending)
    .expect("a second entry waits");
    r.fall(1).await;
    let expired = &published_approvals(&r)[&second.id];
    assert_eq!(expired.state, ApprovalState::Expired);
    assert!(expired.decided_by.is_none());
    assert_eq!(
        r.send(ControlCommand::Approve { id: second.id }, Role::Trader)
            .await,
        Err(ControlRefusal::ApprovalDecided {
            id: second.id,
            state: ApprovalState::Expired
        })
    );
    assert_eq!(
        published_approvals(&r)[&first.id].state,
        ApprovalState::Rejected
    );
    assert!(r.positions().await.is_empty());
    assert_eq!(r.count(is_intent), 0, "nothing was sent");
}

#[tokio::test]
async fn semi_mode_asks_once_while_an_entry_of_the_same_side_waits() {
    use mtq_core::ApprovalState;
    // Ten minutes to decide, bars of five: the next bars' entries find the first one waiting.
    let mut r = rig_with(&semi(600), RiskMemory::default()).await;
    r.fall(1).await;
    r.fall(1).await;
    let waiting = |k: &EventKind| matches!(k, EventKind::SignalRecorded { refusal: Some(why), .. } if why.code() == "awaiting_approval");
    assert!(
        r.count(waiting) >= 2,
        "each bar's entry signal is recorded as waiting"
    );
    let list = approvals_in(
        &r.send(ControlCommand::ListApprovals, Role::Viewer)
            .await
            .unwrap(),
    );
    assert_eq!(list.len(), 1, "one approval, not one a bar: {list:?}");
    assert_eq!(published_approvals(&r).len(), 1);
    // Once it is decided, the next entry asks again.
    r.send(ControlCommand::Reject { id: list[0].id }, Role::Trader)
        .await
        .unwrap();
    r.fall(1).await;
    let list = approvals_in(
        &r.send(ControlCommand::ListApprovals, Role::Viewer)
            .await
            .unwrap(),
    );
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(
        list.iter()
            .filter(|a| a.state == ApprovalState::Pending)
            .count(),
        1
    );
    assert_eq!(r.count(is_intent), 0, "nothing was sent");
}

#[tokio::test]
async fn an_approval_ttl_out_of_range_is_refused_at_load_with_the_key_named() {
    for ttl in [0, 9, 86_401] {
        let err = config::load(&ConfigSource::Text(semi(ttl)), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("trader.approval_ttl_seconds") && err.contains("10 to 86400"),
            "{err}"
        );
    }
}
