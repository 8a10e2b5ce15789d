//! The read routes added for the dashboard (performance, orders, symbols, strategies, quotes,
//! logs) and order cancelling, over real HTTP against the server's SQLite database.

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::{get, position, send, start};
use mtq_core::{Deal, DealEntry, DealReason, ExitReason, Magic, Side, Symbol, Ticket};
use mtq_persistence::{Store, TradeRepo};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const A: &str = "/api/v1/accounts/default";

/// Records a trade on `symbol` opened at `day` 10:00 and closed at 12:00 for `profit`.
fn closed_trade(
    store: &mut Store,
    ticket: u64,
    symbol: &str,
    strategy: &str,
    day: u32,
    profit: Decimal,
    reason: ExitReason,
) {
    let open = Utc.with_ymd_and_hms(2026, 3, day, 10, 0, 0).unwrap();
    let mut p = position(ticket, symbol);
    p.open_time = open;
    store.open_trade(None, &p, Some(strategy)).unwrap();
    store.set_exit_reason(None, p.ticket, reason).unwrap();
    let deal = Deal {
        ticket: Ticket(ticket + 1000),
        order: None,
        position: Some(p.ticket),
        symbol: Some(Symbol::new(symbol).unwrap()),
        side: Some(Side::Sell),
        entry: DealEntry::Out,
        reason: match reason {
            ExitReason::TakeProfit => DealReason::TakeProfit,
            ExitReason::StopLoss => DealReason::StopLoss,
            _ => DealReason::Expert,
        },
        volume: p.volume,
        price: dec!(1.09),
        commission: Decimal::ZERO,
        swap: Decimal::ZERO,
        profit,
        time: open + Duration::hours(2),
        magic: Magic(7),
        comment: String::new(),
    };
    assert!(store.apply_close(None, &deal, None).unwrap());
}

fn seed(db_url: &str) {
    let mut store = Store::open(db_url).unwrap();
    // Monday 2 March, Tuesday 3 March, Monday 9 March 2026.
    closed_trade(
        &mut store,
        1,
        "EURUSD",
        "ma_crossover",
        2,
        dec!(100),
        ExitReason::TakeProfit,
    );
    closed_trade(
        &mut store,
        2,
        "GBPUSD",
        "ma_crossover",
        3,
        dec!(-40),
        ExitReason::StopLoss,
    );
    closed_trade(
        &mut store,
        3,
        "EURUSD",
        "rsi",
        9,
        dec!(60),
        ExitReason::Operator,
    );
}

const RANGE: &str = "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_counts_the_closed_trades_of_the_range() {
    let s = start(true).await;
    seed(&s.db_url);
    let r = get(s.addr, &format!("{A}/performance?{RANGE}"), &s.viewer).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(
        (v["trades"].as_u64(), v["wins"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(v["net_profit"], "120");
    assert_eq!(v["profit_factor"].as_f64(), Some(4.0));
    let none = get(
        s.addr,
        &format!("{A}/performance?from=2026-03-04T00:00:00Z&to=2026-03-05T00:00:00Z"),
        &s.viewer,
    )
    .await;
    assert_eq!(none.json()["trades"].as_u64(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periods_split_the_trades_by_day_week_and_month() {
    // The performance routes on their own connection, as `serve` runs them.
    let s = common::start_with_analytics_connection().await;
    seed(&s.db_url);
    let daily = get(
        s.addr,
        &format!("{A}/performance/periods?period=daily&{RANGE}"),
        &s.viewer,
    )
    .await;
    assert_eq!(daily.status, 200, "{}", daily.body);
    let starts: Vec<String> = daily
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["start"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(starts, ["2026-03-02", "2026-03-03", "2026-03-09"]);
    let weekly = get(
        s.addr,
        &format!("{A}/performance/periods?period=weekly&{RANGE}"),
        &s.viewer,
    )
    .await
    .json();
    assert_eq!(weekly.as_array().unwrap().len(), 2);
    assert_eq!(weekly[0]["net_profit"], "60");
    assert_eq!(weekly[1]["net_profit"], "60");
    let monthly = get(
        s.addr,
        &format!("{A}/performance/periods?period=monthly&{RANGE}"),
        &s.viewer,
    )
    .await
    .json();
    assert_eq!(monthly[0]["start"], "2026-03-01");
    assert_eq!(monthly[0]["trades"].as_u64(), Some(3));
    let bad = get(
        s.addr,
        &format!("{A}/performance/periods?period=hourly"),
        &s.viewer,
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(bad.json()["field"], "period");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_split_the_trades_by_symbol_strategy_and_exit_reason() {
    let s = start(true).await;
    seed(&s.db_url);
    let keys = |v: serde_json::Value| -> Vec<(String, String)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["key"].as_str().unwrap().to_string(),
                    g["net_profit"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let by = |what: &'static str| {
        let addr = s.addr;
        let key = s.viewer.clone();
        async move {
            get(
                addr,
                &format!("{A}/performance/groups?by={what}&{RANGE}"),
                &key,
            )
            .await
        }
    };
    let sym = by("symbol").await;
    assert_eq!(sym.status, 200, "{}", sym.body);
    assert_eq!(
        keys(sym.json()),
        [
            ("EURUSD".into(), "160".into()),
            ("GBPUSD".into(), "-40".into())
        ]
    );
    assert_eq!(
        keys(by("strategy").await.json()),
        [
            ("ma_crossover".into(), "60".into()),
            ("rsi".into(), "60".into())
        ]
    );
    let exits = keys(by("exit_reason").await.json());
    assert_eq!(exits.len(), 3, "{exits:?}");
    assert!(
        exits.contains(&("operator".into(), "60".into())),
        "{exits:?}"
    );
    let backwards = get(
        s.addr,
        &format!(
            "{A}/performance/groups?by=symbol&from=2026-04-01T00:00:00Z&to=2026-03-01T00:00:00Z"
        ),
        &s.viewer,
    )
    .await;
    assert_eq!(backwards.status, 422);
    assert_eq!(
        get(s.addr, "/api/v1/accounts/other/performance", &s.viewer)
            .await
            .status,
        404
    );
}

/// Records a buy limit at the broker's ticket 555: intent, then placed.
fn placed_order(db_url: &str) {
    use mtq_core::{ClientOrderId, OrderKind, OrderOutcome, OrderRequest, Retcode};
    use mtq_persistence::OrderRepo;
    let mut store = Store::open(db_url).unwrap();
    let id = ClientOrderId::new("mtq-limit-1").unwrap();
    let req = OrderRequest::pending(
        id.clone(),
        Symbol::new("EURUSD").unwrap(),
        Side::Buy,
        OrderKind::Limit,
        dec!(0.10),
        dec!(1.05),
    );
    let now = Utc::now();
    store
        .record_intent(None, &req, Some("ma_crossover"), now)
        .unwrap();
    let out = OrderOutcome {
        retcode: Retcode::Placed,
        deal: None,
        order: Some(Ticket(555)),
        position: None,
        volume: Decimal::ZERO,
        price: Decimal::ZERO,
        bid: dec!(1.08),
        ask: dec!(1.0801),
        comment: String::new(),
        time: now,
    };
    assert!(store.record_outcome(None, &id, &out, now).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_shows_its_transitions_and_a_pending_one_can_be_cancelled() {
    let s = start(true).await;
    placed_order(&s.db_url);
    let r = get(s.addr, &format!("{A}/orders/1"), &s.viewer).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let o = r.json();
    assert_eq!(
        (o["state"].as_str(), o["order_ticket"].as_u64()),
        (Some("placed"), Some(555))
    );
    let states: Vec<&str> = o["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["intent", "placed"]);
    assert_eq!(
        get(s.addr, &format!("{A}/orders/2"), &s.viewer)
            .await
            .status,
        404
    );
    assert_eq!(
        get(s.addr, &format!("{A}/orders/x"), &s.viewer)
            .await
            .status,
        404
    );

    // Not pending at the broker any more: the driver says it does not know it.
    let gone = send(s.addr, "DELETE", &format!("{A}/orders/1"), &s.trader, "").await;
    assert_eq!(gone.status, 404, "{}", gone.body);
    // Pending at the broker: deleted through the control channel.
    let mut pending = mtq_core::PendingOrder {
        ticket: Ticket(555),
        symbol: Symbol::new("EURUSD").unwrap(),
        side: Side::Buy,
        kind: mtq_core::OrderKind::Limit,
        volume: dec!(0.10),
        price: dec!(1.05),
        stop_limit: None,
        sl: None,
        tp: None,
        time_setup: Utc::now(),
        expiration: None,
        magic: Magic(7),
        comment: "mtq-limit-1".into(),
    };
    pending.comment.truncate(31);
    s.port.as_ref().unwrap().send_modify(|snap| {
        let mut new = (**snap).clone();
        new.pending = vec![pending.clone()];
        *snap = std::sync::Arc::new(new);
    });
    let ok = send(s.addr, "DELETE", &format!("{A}/orders/1"), &s.trader, "").await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(matches!(
        s.commands.lock().unwrap().last(),
        Some(mtq_orchestrator::ControlCommand::CancelOrder { ticket }) if *ticket == Ticket(555)
    ));
    assert_eq!(
        send(s.addr, "DELETE", &format!("{A}/orders/9"), &s.trader, "")
            .await
            .status,
        404
    );
    assert_eq!(
        send(s.addr, "DELETE", &format!("{A}/orders/1"), &s.viewer, "")
            .await
            .status,
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_that_is_not_pending_cannot_be_cancelled() {
    let s = start(true).await;
    seed(&s.db_url);
    placed_order(&s.db_url);
    {
        use mtq_persistence::OrderRepo;
        let mut store = Store::open(&s.db_url).unwrap();
        let id = mtq_core::ClientOrderId::new("mtq-limit-1").unwrap();
        store
            .record_state(
                None,
                &id,
                mtq_persistence::OrderState::Done,
                None,
                "filled",
                Utc::now(),
            )
            .unwrap();
    }
    let r = send(s.addr, "DELETE", &format!("{A}/orders/1"), &s.trader, "").await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["reason"], "not_pending");
    assert!(s.commands.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_read_recent_log_lines_filtered_by_level_and_time() {
    let logs = mtq_api::LogBuffer::new(3);
    let buf = logs.clone();
    let s = common::start_with(true, move |mut o| {
        o.logs = Some(buf);
        o
    })
    .await;
    let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
    for (i, level) in (0i64..).zip([
        tracing::Level::ERROR,
        tracing::Level::INFO,
        tracing::Level::WARN,
        tracing::Level::DEBUG,
    ]) {
        logs.push(t0 + Duration::seconds(i), level, "mtq", format!("line {i}"));
    }
    let r = get(s.addr, "/api/v1/logs?level=warn", &s.admin).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let msgs: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        msgs,
        ["line 2"],
        "the buffer keeps 3 lines; only one is warn or worse"
    );
    let all = get(
        s.addr,
        "/api/v1/logs?level=trace&since=2026-03-02T10:00:02Z",
        &s.admin,
    )
    .await
    .json();
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(get(s.addr, "/api/v1/logs", &s.trader).await.status, 403);
    let bad = get(s.addr, "/api/v1/logs?level=loud", &s.admin).await;
    assert_eq!(
        (bad.status, bad.json()["field"].as_str()),
        (422, Some("level"))
    );
    let off = start(true).await;
    assert_eq!(get(off.addr, "/api/v1/logs", &off.admin).await.status, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symbols_strategies_and_quotes_come_from_the_traders_snapshot() {
    let s = start(true).await;
    let r = get(s.addr, &format!("{A}/symbols"), &s.viewer).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v[0]["symbol"], "EURUSD");
    assert_eq!(v[0]["enabled"], true);
    assert_eq!(v[0]["spec"]["digits"].as_u64(), Some(5));
    assert_eq!(v[0]["spec"]["trade_mode"], "full");
    // An operator's switch shows.
    s.port.as_ref().unwrap().send_modify(|snap| {
        let mut new = (**snap).clone();
        new.disabled_symbols.insert(Symbol::new("EURUSD").unwrap());
        *snap = std::sync::Arc::new(new);
    });
    let one = get(s.addr, &format!("{A}/symbols/EURUSD"), &s.viewer)
        .await
        .json();
    assert_eq!(
        (
            one["enabled"].as_bool(),
            one["disabled_by_operator"].as_bool()
        ),
        (Some(false), Some(true))
    );
    assert_eq!(
        get(s.addr, &format!("{A}/symbols/XAUUSD"), &s.viewer)
            .await
            .status,
        404
    );

    let st = get(s.addr, &format!("{A}/strategies"), &s.viewer)
        .await
        .json();
    assert_eq!(st[0]["name"], "ma_crossover");
    assert_eq!(st[0]["parameters"]["fast_period"].as_u64(), Some(10));
    assert!(st[0]["parameters"].get("symbol").is_none());
    assert_eq!(st[0]["symbols"][0], "EURUSD");

    let q = get(s.addr, &format!("{A}/symbols/EURUSD/quote"), &s.viewer).await;
    assert_eq!(q.status, 200, "{}", q.body);
    let q = q.json();
    assert_eq!(
        (q["bid"].as_str(), q["ask"].as_str(), q["spread"].as_str()),
        (Some("1.08595"), Some("1.08605"), Some("0.00010"))
    );
    let none = start(false).await;
    assert_eq!(
        get(none.addr, &format!("{A}/symbols"), &none.viewer)
            .await
            .status,
        409
    );
}

/// Journals `n` closed M5 bars of EURUSD, closes rising 1 pip a bar, as the trader does.
fn journal_bars(db_url: &str, n: i64) -> Vec<f64> {
    use mtq_core::{Bar, DomainEvent, EventKind, Timeframe};
    use mtq_persistence::{EventSink, StoreSink};
    let mut sink = StoreSink::new(Store::open(db_url).unwrap(), None).unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap();
    let mut closes = Vec::new();
    let events: Vec<DomainEvent> = (0..n)
        .map(|i| {
            let close = 1.08 + 0.0001 * i as f64;
            closes.push(close);
            let bar = Bar {
                time: t0 + Duration::minutes(5 * i),
                open: close - 0.00005,
                high: close + 0.0002,
                low: close - 0.0002,
                close,
                tick_volume: 10,
                real_volume: 0,
                spread: 1,
            };
            DomainEvent::new(
                bar.time + Duration::minutes(5),
                EventKind::BarClosed {
                    symbol: Symbol::new("EURUSD").unwrap(),
                    timeframe: Timeframe::M5,
                    bar,
                },
            )
        })
        .collect();
    sink.write_batch(&events).unwrap();
    closes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bars_come_with_the_strategys_indicators_aligned_to_them() {
    let s = start(true).await;
    let closes = journal_bars(&s.db_url, 40);
    let r = get(
        s.addr,
        &format!("{A}/symbols/EURUSD/bars?limit=25"),
        &s.viewer,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(
        (v["timeframe"].as_str(), v["strategy"].as_str()),
        (Some("M5"), Some("ma_crossover"))
    );
    let bars = v["bars"].as_array().unwrap();
    assert_eq!(bars.len(), 25);
    assert_eq!(bars[24]["close"].as_f64(), Some(closes[39]));
    let names: Vec<&str> = v["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["SMA(10)", "SMA(20)"]);
    // The slow average of the newest bar: the mean of the last 20 closes, from bars before the
    // first one returned as well.
    let slow = v["indicators"][1]["values"].as_array().unwrap();
    assert_eq!(slow.len(), 25);
    let want: f64 = closes[20..].iter().sum::<f64>() / 20.0;
    assert!(
        (slow[24].as_f64().unwrap() - want).abs() < 1e-9,
        "{} vs {want}",
        slow[24]
    );
    // Bar 15 is the first returned: the fast average has its 10 bars from before the window,
    // the slow one not yet its 20.
    assert!(v["indicators"][0]["values"][0].as_f64().is_some());
    assert!(slow[0].is_null() && slow[4].as_f64().is_some(), "{slow:?}");

    let bad = get(
        s.addr,
        &format!("{A}/symbols/EURUSD/bars?timeframe=M7"),
        &s.viewer,
    )
    .await;
    assert_eq!(
        (bad.status, bad.json()["field"].as_str()),
        (422, Some("timeframe"))
    );
    assert_eq!(
        get(s.addr, &format!("{A}/symbols/XAUUSD/bars"), &s.viewer)
            .await
            .status,
        404
    );
    let h1 = get(
        s.addr,
        &format!("{A}/symbols/EURUSD/bars?timeframe=H1"),
        &s.viewer,
    )
    .await
    .json();
    assert_eq!(h1["bars"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_now_goes_through_the_driver_and_returns_its_verdict() {
    let s = start(true).await;
    let r = send(
        s.addr,
        "POST",
        &format!("{A}/symbols/EURUSD/test"),
        &s.trader,
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(
        (v["verdict"].as_str(), v["rule"].as_str()),
        (Some("refused"), Some("max_positions"))
    );
    assert_eq!(v["bars"].as_u64(), Some(31));
    assert!(matches!(
        s.commands.lock().unwrap().last(),
        Some(mtq_orchestrator::ControlCommand::TestSignal { .. })
    ));
    let unknown = send(
        s.addr,
        "POST",
        &format!("{A}/symbols/XAUUSD/test"),
        &s.trader,
        "",
    )
    .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let none = start(false).await;
    let r = send(
        none.addr,
        "POST",
        &format!("{A}/symbols/EURUSD/test"),
        &none.trader,
        "",
    )
    .await;
    assert_eq!(r.status, 409);
}
