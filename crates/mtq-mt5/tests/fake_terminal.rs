//! The connector against the fake terminal over real TCP: every scenario of the bridge issue.
//!
//! Timeouts are generous (a loaded two-core machine must pass); no test asserts a duration.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mtq_connector::{BarRange, Broker, BrokerError, RetcodeClass};
use mtq_core::testkit::{BarBuilder, symbol};
use mtq_core::{
    Bar, ClientOrderId, DealEntry, FillingFlags, Magic, OrderKind, OrderRequest, Retcode, Side,
    Symbol, SystemClock, Timeframe,
};
use mtq_mt5::fake::{FakeAccount, FakeReaction, FakeSymbol, FakeTerminal, WireQuirks, field};
use mtq_mt5::{Mt5Broker, Mt5Config, Mt5Event, Token};
use mtq_orchestrator::{
    IntentState, MemoryIntentStore, OrderExecutor, RetryPolicy, find_at_broker,
};
use rust_decimal_macros::dec;

const TOKEN: &str = "test-token-0123";
const WAIT: Duration = Duration::from_secs(60);
const MAGIC: Magic = Magic(4242);

fn cfg() -> Mt5Config {
    Mt5Config {
        request_timeout: Duration::from_secs(30),
        trade_timeout: Duration::from_secs(30),
        heartbeat_interval: Duration::from_secs(1),
        heartbeat_timeout: Duration::from_secs(120),
        ..Mt5Config::new(0, Token::new(TOKEN).unwrap())
    }
    .with_suffix(".m")
}

fn terminal(symbols: Vec<FakeSymbol>) -> FakeTerminal {
    let fake = FakeTerminal::new(FakeAccount::default(), symbols);
    fake.set_quote("EURUSD.m", 1.08000, 1.08012);
    fake
}

async fn connected_with(cfg: Mt5Config, fake: &FakeTerminal) -> Arc<Mt5Broker> {
    let broker = Mt5Broker::listen(cfg).await.unwrap();
    fake.connect(broker.local_port(), TOKEN);
    broker.wait_connected(WAIT).await.unwrap();
    Arc::new(broker)
}

async fn connected() -> (Arc<Mt5Broker>, FakeTerminal) {
    let fake = terminal(vec![FakeSymbol::forex("EURUSD.m")]);
    (connected_with(cfg(), &fake).await, fake)
}

fn buy(id: &str, volume: rust_decimal::Decimal) -> OrderRequest {
    OrderRequest {
        magic: MAGIC,
        sl: Some(dec!(1.0750)),
        tp: Some(dec!(1.0900)),
        ..OrderRequest::market(
            ClientOrderId::new(id).unwrap(),
            symbol("EURUSD"),
            Side::Buy,
            volume,
        )
    }
}

fn executor(broker: &Arc<Mt5Broker>) -> OrderExecutor {
    let policy = RetryPolicy {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        reconcile_delay: Duration::from_millis(200),
        reconcile_attempts: 20,
        ..RetryPolicy::default()
    };
    let b: Arc<dyn Broker> = broker.clone();
    OrderExecutor::new(
        b,
        Arc::new(MemoryIntentStore::new()),
        Arc::new(SystemClock),
        policy,
    )
}

fn bars(from: DateTime<Utc>, n: i64) -> Vec<Bar> {
    (0..n)
        .map(|i| {
            let p = 1.08 + 0.0001 * i as f64;
            BarBuilder::new()
                .at(from + chrono::Duration::minutes(5 * i))
                .ohlc(p, p + 0.0005, p - 0.0005, p + 0.0002)
                .spread(12)
                .build()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normal_trading_through_the_bridge() {
    let (broker, fake) = connected().await;
    let hello = broker.hello().unwrap();
    assert_eq!(hello.login, FakeAccount::default().login);
    assert_eq!(hello.server_offset_secs, 7200);

    let account = broker.account().await.unwrap();
    assert_eq!(account.balance, dec!(10000));
    let spec = broker.symbol_spec(&symbol("EURUSD")).await.unwrap();
    assert_eq!((spec.symbol.clone(), spec.digits), (symbol("EURUSD"), 5));
    assert_eq!(
        broker.broker_symbol(&symbol("EURUSD")).await.unwrap(),
        "EURUSD.m"
    );

    // Open with stops; the terminal sees the broker's name, the id and the magic number.
    let out = broker
        .send_order(&buy("mtq-t1-0001", dec!(0.10)))
        .await
        .unwrap();
    assert_eq!(out.retcode, Retcode::Done);
    assert_eq!((out.volume, out.price), (dec!(0.1), dec!(1.08012)));
    let sent = fake.orders_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(field(&sent[0], "symbol"), "EURUSD.m");
    assert_eq!(field(&sent[0], "comment"), "mtq-t1-0001");
    assert_eq!(field(&sent[0], "magic"), 4242);
    assert_eq!(field(&sent[0], "type_filling"), "ORDER_FILLING_FOK");
    assert_eq!(field(&sent[0], "action"), "TRADE_ACTION_DEAL");
    assert_eq!(field(&sent[0], "order_type"), "ORDER_TYPE_BUY");

    let positions = broker.positions().await.unwrap();
    assert_eq!(positions.len(), 1);
    let pos = &positions[0];
    assert_eq!(
        (pos.symbol.clone(), pos.side, pos.magic),
        (symbol("EURUSD"), Side::Buy, MAGIC)
    );
    assert_eq!((pos.sl, pos.tp), (Some(dec!(1.075)), Some(dec!(1.09))));
    assert_eq!(pos.comment, "mtq-t1-0001");
    let age = (Utc::now() - pos.open_time).num_seconds().abs();
    assert!(
        age < 600,
        "open time not converted from server time: {}",
        pos.open_time
    );

    broker
        .modify_position(pos.ticket, Some(dec!(1.0780)), None)
        .await
        .unwrap();
    let m = fake.modifications();
    assert_eq!(m.len(), 1);
    assert_eq!(
        (field(&m[0], "sl"), field(&m[0], "tp")),
        (&1.078.into(), &0.into())
    );
    assert_eq!(field(&m[0], "position"), pos.ticket.0);
    assert_eq!(field(&m[0], "action"), "TRADE_ACTION_SLTP");

    let closed = broker
        .close_position(pos.ticket, Some(dec!(0.04)))
        .await
        .unwrap();
    assert_eq!(closed.volume, dec!(0.04));
    let c = fake.closes();
    assert_eq!(field(&c[0], "order_type"), "ORDER_TYPE_SELL");
    assert_eq!(field(&c[0], "position"), pos.ticket.0);
    assert_eq!(field(&c[0], "action"), "TRADE_ACTION_DEAL");
    assert_eq!(closed.position, Some(pos.ticket));
    broker.close_position(pos.ticket, None).await.unwrap();
    assert!(broker.positions().await.unwrap().is_empty());

    let deals = broker
        .deals(
            Utc::now() - chrono::Duration::hours(1),
            Utc::now() + chrono::Duration::hours(1),
        )
        .await
        .unwrap();
    let entries: Vec<DealEntry> = deals.iter().map(|d| d.entry).collect();
    assert_eq!(entries, vec![DealEntry::In, DealEntry::Out, DealEntry::Out]);
    assert_eq!(deals[0].comment, "mtq-t1-0001");
    assert_eq!(deals[0].symbol, Some(symbol("EURUSD")));

    // A pending order, then its cancellation.
    let limit = OrderRequest {
        magic: MAGIC,
        ..OrderRequest::pending(
            ClientOrderId::new("mtq-t1-0002").unwrap(),
            symbol("EURUSD"),
            Side::Buy,
            OrderKind::Limit,
            dec!(0.2),
            dec!(1.0700),
        )
    };
    let placed = broker.send_order(&limit).await.unwrap();
    assert_eq!(placed.retcode, Retcode::Placed);
    let orders = broker.pending_orders().await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(
        (orders[0].kind, orders[0].price),
        (OrderKind::Limit, dec!(1.07))
    );
    broker.cancel_order(orders[0].ticket).await.unwrap();
    assert_eq!(fake.cancels().len(), 1);
    assert_eq!(field(&fake.cancels()[0], "action"), "TRADE_ACTION_REMOVE");
    assert!(broker.pending_orders().await.unwrap().is_empty());
    let missing = broker.cancel_order(orders[0].ticket).await.unwrap_err();
    assert!(matches!(missing, BrokerError::NotFound(_)), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_and_bars_come_back_in_utc() {
    let (broker, fake) = connected().await;
    let tick = broker.last_tick(&symbol("EURUSD")).await.unwrap();
    assert_eq!((tick.bid, tick.ask), (1.08, 1.08012));
    let skew = (Utc::now() - tick.time).num_seconds().abs();
    assert!(skew < 600, "tick time {} is not UTC", tick.time);

    let t0: DateTime<Utc> = "2024-03-04T10:00:00Z".parse().unwrap();
    fake.set_rates("EURUSD.m", Timeframe::M5, bars(t0, 30));
    let last = broker
        .bars(&symbol("EURUSD"), Timeframe::M5, BarRange::Last(5))
        .await
        .unwrap();
    assert_eq!(last.len(), 5);
    assert_eq!(last[4].time, t0 + chrono::Duration::minutes(5 * 29));
    let range = broker
        .bars(
            &symbol("EURUSD"),
            Timeframe::M5,
            BarRange::Between(t0, t0 + chrono::Duration::minutes(10)),
        )
        .await
        .unwrap();
    let times: Vec<_> = range.iter().map(|b| b.time).collect();
    assert_eq!(
        times,
        vec![
            t0,
            t0 + chrono::Duration::minutes(5),
            t0 + chrono::Duration::minutes(10)
        ]
    );
    let rq = fake.requests_of("rates");
    assert_eq!(field(&rq[1], "from"), t0.timestamp() + 7200);
    assert_eq!(field(&rq[1], "timeframe"), "PERIOD_M5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_split_across_writes_is_reassembled() {
    let (broker, fake) = connected().await;
    fake.set_quirks(WireQuirks {
        split_replies: true,
        ..WireQuirks::default()
    });
    assert_eq!(broker.account().await.unwrap().login, 5_001_234);
    let out = broker
        .send_order(&buy("mtq-split-1", dec!(0.1)))
        .await
        .unwrap();
    assert_eq!(out.retcode, Retcode::Done);
    assert_eq!(broker.positions().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_messages_in_one_write_are_all_handled() {
    let (broker, fake) = connected().await;
    broker.subscribe_ticks(&[symbol("EURUSD")]).await.unwrap();
    let mut events = broker.events();
    fake.set_quirks(WireQuirks {
        coalesce: true,
        ..WireQuirks::default()
    });
    // Each reply arrives in one write behind a heartbeat and a tick push.
    let out = broker
        .send_order(&buy("mtq-coal-1", dec!(0.1)))
        .await
        .unwrap();
    assert_eq!(out.retcode, Retcode::Done);
    assert_eq!(broker.account().await.unwrap().login, 5_001_234);
    let tick = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(Mt5Event::Tick { symbol, tick }) = events.recv().await {
                return (symbol, tick);
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(tick.0, symbol("EURUSD"));
    assert_eq!(broker.stats().malformed_lines, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_lines_are_logged_and_survived() {
    let (broker, fake) = connected().await;
    fake.set_quirks(WireQuirks {
        garbage: true,
        ..WireQuirks::default()
    });
    assert_eq!(broker.account().await.unwrap().login, 5_001_234);
    let out = broker
        .send_order(&buy("mtq-junk-1", dec!(0.1)))
        .await
        .unwrap();
    assert_eq!(out.retcode, Retcode::Done);
    let stats = broker.stats();
    // Seven bad lines before each of the (at least) four replies.
    assert!(stats.malformed_lines >= 7 * 4, "{stats:?}");
    assert_eq!(stats.connections, 1);
    assert!(broker.is_connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_order_reply_is_an_unknown_outcome_and_reconciliation_finds_the_position() {
    let (broker, fake) = connected().await;
    fake.react_next("order_send", FakeReaction::ExecuteThenDisconnect);
    let order = buy("mtq-lost-0001", dec!(0.1));
    let err = broker.send_order(&order).await.unwrap_err();
    assert!(err.outcome_unknown(), "{err}");
    assert_eq!(err.class(), RetcodeClass::OutcomeUnknown);

    // The bridge reconnects; reading the broker's records finds what happened.
    let intent = mtq_orchestrator::Intent::new(order, Utc::now());
    let state = find_at_broker(
        broker.as_ref(),
        &intent,
        Utc::now(),
        chrono::Duration::days(2),
    )
    .await
    .unwrap();
    match state {
        Some(IntentState::Filled {
            position, volume, ..
        }) => {
            assert!(position.is_some());
            assert_eq!(volume, dec!(0.1));
        }
        other => panic!("expected a fill, got {other:?}"),
    }
    assert_eq!(
        fake.orders_sent().len(),
        1,
        "the order must never be resent"
    );
    assert!(fake.wait_connections(2, WAIT).await >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_executor_reconciles_a_lost_reply_without_resending() {
    let (broker, fake) = connected().await;
    fake.react_next("order_send", FakeReaction::ExecuteThenDisconnect);
    let sub = executor(&broker)
        .submit(buy("mtq-exec-0001", dec!(0.1)))
        .await
        .unwrap();
    assert!(
        matches!(sub.intent().state, IntentState::Filled { .. }),
        "{:?}",
        sub.intent().state
    );
    assert_eq!(fake.orders_sent().len(), 1);
    assert_eq!(fake.open_positions().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_request_in_flight_is_sent_again_after_reconnection() {
    let (broker, fake) = connected().await;
    fake.react_next("account", FakeReaction::DisconnectBeforeExecuting);
    let account = broker.account().await.unwrap();
    assert_eq!(account.login, 5_001_234);
    assert_eq!(fake.requests_of("account").len(), 2);
    assert!(fake.connections() >= 2);
    assert!(broker.stats().connections >= 2);

    // A reconnection initiated by the terminal side too. The drop reaches the connector
    // asynchronously: an order sent before it has seen the drop would go out on the dying
    // connection (and rightly never be resent), so wait for the new connection first.
    let before = fake.connections();
    fake.drop_connection();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while fake.connections() <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "the connector did not reconnect"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    broker.account().await.unwrap();
    let out = broker
        .send_order(&buy("mtq-recon-1", dec!(0.1)))
        .await
        .unwrap();
    assert_eq!(out.retcode, Retcode::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trade_request_lost_before_execution_is_still_never_resent() {
    let (broker, fake) = connected().await;
    fake.react_next("order_send", FakeReaction::DisconnectBeforeExecuting);
    let err = broker
        .send_order(&buy("mtq-gone-1", dec!(0.1)))
        .await
        .unwrap_err();
    assert!(err.outcome_unknown(), "{err}");
    assert_eq!(fake.orders_sent().len(), 1);
    let intent = mtq_orchestrator::Intent::new(buy("mtq-gone-1", dec!(0.1)), Utc::now());
    let found = find_at_broker(
        broker.as_ref(),
        &intent,
        Utc::now(),
        chrono::Duration::days(1),
    )
    .await
    .unwrap();
    assert_eq!(found, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requote_is_retried_with_a_fresh_price_then_done() {
    let (broker, fake) = connected().await;
    fake.react_next(
        "order_send",
        FakeReaction::Retcode {
            retcode: 10004,
            comment: "Requote".into(),
        },
    );
    let err = broker
        .send_order(&buy("mtq-rq-1", dec!(0.1)))
        .await
        .unwrap_err();
    assert_eq!(err.retcode(), Some(Retcode::Requote));
    assert_eq!(err.class(), RetcodeClass::RetryWithFreshPrice);

    fake.react_next(
        "order_send",
        FakeReaction::Retcode {
            retcode: 10004,
            comment: "Requote".into(),
        },
    );
    let sub = executor(&broker)
        .submit(buy("mtq-rq-2", dec!(0.1)))
        .await
        .unwrap();
    assert!(matches!(sub.intent().state, IntentState::Filled { .. }));
    // One requoted send each, then one that filled.
    assert_eq!(fake.orders_sent().len(), 3);
    assert_eq!(fake.open_positions().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_fill_10030_is_a_rejection_and_the_filling_follows_the_flags() {
    // The broker advertises FOK and IOC but its server takes only IOC.
    let mut lying = FakeSymbol::forex("EURUSD.m");
    lying.accepted_filling = FillingFlags::IOC;
    let mut gbp = FakeSymbol::forex("GBPUSD.m");
    gbp.spec.filling = FillingFlags(FillingFlags::IOC);
    gbp.accepted_filling = FillingFlags::IOC;
    let fake = terminal(vec![lying, gbp]);
    fake.set_quote("GBPUSD.m", 1.25, 1.25015);
    let broker = connected_with(cfg(), &fake).await;

    let err = broker
        .send_order(&buy("mtq-fill-1", dec!(0.1)))
        .await
        .unwrap_err();
    assert_eq!(err.retcode(), Some(Retcode::InvalidFill));
    assert_eq!(err.class(), RetcodeClass::Rejected);
    assert!(err.to_string().contains("10030"), "{err}");
    assert_eq!(fake.orders_sent().len(), 1);

    // A symbol that only allows IOC gets IOC, though the request asked for FOK.
    let gbp_order = OrderRequest {
        magic: MAGIC,
        ..OrderRequest::market(
            ClientOrderId::new("mtq-fill-2").unwrap(),
            Symbol::new("GBPUSD").unwrap(),
            Side::Sell,
            dec!(0.1),
        )
    };
    broker.send_order(&gbp_order).await.unwrap();
    assert_eq!(
        field(&fake.orders_sent()[1], "type_filling"),
        "ORDER_FILLING_IOC"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn algo_trading_disabled_10027_names_the_fix() {
    let (broker, fake) = connected().await;
    fake.set_algo_trading(false);
    let err = broker
        .send_order(&buy("mtq-algo-1", dec!(0.1)))
        .await
        .unwrap_err();
    assert_eq!(err.retcode(), Some(Retcode::ClientDisablesAutoTrading));
    assert_eq!(err.class(), RetcodeClass::Rejected);
    assert!(err.to_string().contains("Algo Trading"), "{err}");
    assert!(fake.open_positions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_fill_10010_reports_the_filled_volume() {
    let (broker, fake) = connected().await;
    fake.react_next("order_send", FakeReaction::Partial { filled: dec!(0.04) });
    let out = broker
        .send_order(&buy("mtq-part-1", dec!(0.1)))
        .await
        .unwrap();
    assert_eq!(out.retcode, Retcode::DonePartial);
    assert_eq!(out.volume, dec!(0.04));
    assert_eq!(broker.positions().await.unwrap()[0].volume, dec!(0.04));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_terminal_is_declared_dead_and_the_next_connection_serves() {
    let fake = terminal(vec![FakeSymbol::forex("EURUSD.m")]);
    let quick = Mt5Config {
        heartbeat_interval: Duration::from_millis(500),
        heartbeat_timeout: Duration::from_secs(3),
        ..cfg()
    };
    let broker = connected_with(quick, &fake).await;
    let mut events = broker.events();
    fake.go_silent(true);
    let reason = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(Mt5Event::Disconnected { reason }) = events.recv().await {
                return reason;
            }
        }
    })
    .await
    .unwrap();
    assert!(reason.contains("heartbeat"), "{reason}");
    fake.go_silent(false);
    assert_eq!(broker.account().await.unwrap().login, 5_001_234);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trade_reply_that_never_comes_times_out_as_unknown() {
    let fake = terminal(vec![FakeSymbol::forex("EURUSD.m")]);
    let impatient = Mt5Config {
        trade_timeout: Duration::from_secs(2),
        ..cfg()
    };
    let broker = connected_with(impatient, &fake).await;
    fake.react_next("order_send", FakeReaction::NoReply);
    let err = broker
        .send_order(&buy("mtq-slow-1", dec!(0.1)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BrokerError::Timeout {
                after_send: true,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.outcome_unknown());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_or_another_account_is_refused() {
    let broker = Mt5Broker::listen(cfg()).await.unwrap();
    let fake = terminal(vec![FakeSymbol::forex("EURUSD.m")]);
    fake.connect(broker.local_port(), "wrong-token-0000");
    let why = fake.wait_refused(WAIT).await.unwrap();
    assert!(why.contains("token"), "{why}");
    assert!(!why.contains(TOKEN));
    fake.stop();
    assert!(!broker.is_connected());
    assert!(broker.stats().refused >= 1);

    let pinned = Mt5Config {
        expected_login: Some(42),
        ..cfg()
    };
    let broker = Mt5Broker::listen(pinned).await.unwrap();
    let fake = terminal(vec![FakeSymbol::forex("EURUSD.m")]);
    fake.connect(broker.local_port(), TOKEN);
    let why = fake.wait_refused(WAIT).await.unwrap();
    assert!(why.contains("account"), "{why}");
    fake.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suffixed_symbol_is_discovered_in_the_brokers_list() {
    let fake = FakeTerminal::new(
        FakeAccount::default(),
        vec![
            FakeSymbol::forex("EURUSD.raw"),
            FakeSymbol::forex("GBPUSD.raw"),
        ],
    );
    fake.set_quote("EURUSD.raw", 1.08, 1.08008);
    let discovering = Mt5Config {
        symbols: Default::default(),
        ..cfg()
    }
    .with_discovery();
    let broker = connected_with(discovering, &fake).await;
    assert_eq!(
        broker.broker_symbol(&symbol("EURUSD")).await.unwrap(),
        "EURUSD.raw"
    );
    assert_eq!(fake.requests_of("symbols").len(), 1);
    let out = broker
        .send_order(&buy("mtq-disc-1", dec!(0.1)))
        .await
        .unwrap();
    assert_eq!(out.retcode, Retcode::Done);
    assert_eq!(
        broker.positions().await.unwrap()[0].symbol,
        symbol("EURUSD")
    );

    let err = broker
        .symbol_spec(&Symbol::new("USDJPY").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, BrokerError::UnknownSymbol(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_too_close_are_refused_before_anything_is_sent() {
    let mut tight = FakeSymbol::forex("EURUSD.m");
    tight.spec.stops_level = 50;
    let fake = terminal(vec![tight]);
    let broker = connected_with(cfg(), &fake).await;
    let order = OrderRequest {
        sl: Some(dec!(1.0798)),
        ..buy("mtq-stops-1", dec!(0.1))
    };
    let err = broker.send_order(&order).await.unwrap_err();
    assert_eq!(err.retcode(), Some(Retcode::InvalidStops));
    assert!(fake.orders_sent().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_at_the_freeze_level_nothing_is_closed_modified_or_cancelled() {
    // MetaQuotes' rule: allowed only when the distance is *more* than the freeze level.
    let mut frozen = FakeSymbol::forex("EURUSD.m");
    frozen.spec.freeze_level = 5;
    let fake = terminal(vec![frozen]);
    let broker = connected_with(cfg(), &fake).await;
    let ticket = broker
        .send_order(&buy("mtq-frz-1", dec!(0.1)))
        .await
        .unwrap()
        .position
        .unwrap();
    let limit = OrderRequest {
        magic: MAGIC,
        ..OrderRequest::pending(
            ClientOrderId::new("mtq-frz-2").unwrap(),
            symbol("EURUSD"),
            Side::Buy,
            OrderKind::Limit,
            dec!(0.1),
            dec!(1.07900),
        )
    };
    let order = broker.send_order(&limit).await.unwrap().order.unwrap();

    // The bid exactly 5 points above the SL (1.07500), the ask exactly 5 above the limit.
    fake.set_quote("EURUSD.m", 1.07505, 1.07905);
    let frozen = |r: Result<_, BrokerError>| r.map(|_| ()).unwrap_err().retcode();
    assert_eq!(
        frozen(broker.close_position(ticket, None).await),
        Some(Retcode::Frozen)
    );
    assert_eq!(
        frozen(
            broker
                .modify_position(ticket, Some(dec!(1.0700)), None)
                .await
        ),
        Some(Retcode::Frozen)
    );
    assert_eq!(
        frozen(broker.cancel_order(order).await),
        Some(Retcode::Frozen)
    );
    assert!(fake.closes().is_empty() && fake.modifications().is_empty());
    assert!(fake.cancels().is_empty());

    // One point further: all three go through.
    fake.set_quote("EURUSD.m", 1.07506, 1.07906);
    broker.cancel_order(order).await.unwrap();
    broker
        .modify_position(ticket, Some(dec!(1.0700)), None)
        .await
        .unwrap();
    broker.close_position(ticket, None).await.unwrap();
    assert_eq!(fake.closes().len(), 1);
}
