//! End to end against the real `mtq-trader serve` on the simulated broker: the operator API's
//! commands go over HTTP into the running trader's control channel and reach the broker, the
//! database file and the WebSocket, as an operator would see them.

mod serve_kit;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use serve_kit::{ACCOUNT, PATIENCE, Serve, num};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Waits for an open position of MTQ's strategies and returns it.
async fn a_position(s: &Serve) -> Value {
    s.until("an open position", |s| async move {
        s.positions().await.into_iter().next()
    })
    .await
}

fn ticket(p: &Value) -> u64 {
    p["ticket"].as_u64().expect("a position's ticket")
}

/// How many orders the trader has recorded.
async fn orders(s: &Serve) -> usize {
    s.all("orders").await.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_entries_stops_new_orders_while_open_positions_are_still_managed() {
    let s = Serve::start("pause").await;
    s.until("three open positions", |s| async move {
        (s.positions().await.len() >= 3).then_some(())
    })
    .await;
    let r = s
        .send("POST", &format!("{ACCOUNT}/trading/pause"), &[], "")
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let open: BTreeSet<u64> = s.positions().await.iter().map(ticket).collect();
    assert_eq!(
        s.get(ACCOUNT).await["trading"].as_str(),
        Some("entries_paused")
    );
    // Orders sent in the cycle before the pause may still be on their way to the records.
    s.cycles(3).await;
    let before = orders(&s).await;
    // Management goes on: a position open at the pause is closed (its stop or target) and the
    // trade recorded, while no order goes out.
    s.until("a position open at the pause to close", |s| {
        let open = open.clone();
        async move {
            let now: BTreeSet<u64> = s.positions().await.iter().map(ticket).collect();
            open.iter().any(|t| !now.contains(t)).then_some(())
        }
    })
    .await;
    s.cycles(40).await;
    assert_eq!(orders(&s).await, before, "an order went out while paused");
    let closed = s.all("trades").await;
    assert!(
        closed
            .iter()
            .any(|t| open.contains(&t["ticket"].as_u64().unwrap_or_default())
                && t["status"] == "closed"),
        "no trade open at the pause was recorded closed"
    );
    // And entries come back on resume: the pause, not the market, held them.
    let r = s
        .send("POST", &format!("{ACCOUNT}/trading/resume"), &[], "")
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    s.until("an order after resuming", |s| async move {
        (orders(s).await > before).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_position_through_the_api_closes_it_at_the_broker_and_records_exit_reason_operator()
 {
    let s = Serve::start("close").await;
    // A position may reach its stop before the command arrives: then take the next one.
    let closed = s
        .until("a position closed by the operator", |s| async move {
            let t = ticket(&a_position(s).await);
            let r = s
                .send("POST", &format!("{ACCOUNT}/positions/{t}/close"), &[], "{}")
                .await;
            (r.status == 200 && r.json()["actions"] == 1).then_some(t)
        })
        .await;
    // The snapshot (the broker's positions) is published after each cycle.
    s.until("the broker to stop showing the position", |s| async move {
        s.positions()
            .await
            .iter()
            .all(|p| ticket(p) != closed)
            .then_some(())
    })
    .await;
    // The SQLite file itself, not the API, says why the trade ended.
    let db = s.db_path();
    let reason = s
        .until("the close to be recorded", |_| {
            let db = db.clone();
            async move { exit_reason(&db, closed).filter(|r| !r.is_empty()) }
        })
        .await;
    assert_eq!(reason, "operator");
}

/// The `exit_reason` of the trade of `ticket` in the SQLite file (empty while it is open).
fn exit_reason(db: &std::path::Path, ticket: u64) -> Option<String> {
    use diesel::{Connection, QueryableByName, RunQueryDsl, sql_types::Text};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        r: String,
    }
    let mut c = diesel::SqliteConnection::establish(db.to_str()?).ok()?;
    let rows: Vec<Row> = diesel::sql_query(format!(
        "SELECT COALESCE(exit_reason, '') AS r FROM trades WHERE ticket = {ticket} AND status = 'closed'"
    ))
    .load(&mut c)
    .ok()?;
    rows.into_iter().next().map(|r| r.r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_switch_trip_halts_trading_and_is_still_tripped_after_a_restart() {
    let mut s = Serve::start("kill").await;
    a_position(&s).await;
    let r = s
        .send(
            "POST",
            &format!("{ACCOUNT}/kill-switch/trip"),
            &[],
            r#"{"reason":"e2e: news ahead"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let account = s.get(ACCOUNT).await;
    assert_eq!(account["kill_switch"], "halted", "{account}");
    s.cycles(3).await;
    let before = orders(&s).await;
    s.cycles(30).await;
    assert_eq!(orders(&s).await, before, "an order went out while halted");

    s.stop();
    s.spawn().await;
    let account = s.get(ACCOUNT).await;
    assert_eq!(
        account["kill_switch"], "halted",
        "after the restart: {account}"
    );
    assert!(
        account["kill_switch_reason"]
            .as_str()
            .is_some_and(|r| r.contains("e2e: news ahead")),
        "{account}"
    );
    // The new session opens nothing: its first orders would come within these cycles.
    s.cycles(40).await;
    assert!(
        s.positions().await.is_empty(),
        "a position opened while halted"
    );
    assert_eq!(orders(&s).await, 0, "an order went out after the restart");

    // A trader may not reset it; an admin can, with a reason, and trading starts again.
    let r = s
        .send(
            "POST",
            &format!("{ACCOUNT}/kill-switch/reset"),
            &[],
            r#"{"reason":"e2e"}"#,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = s
        .send_admin(
            "POST",
            &format!("{ACCOUNT}/kill-switch/reset"),
            r#"{"reason":"e2e: checked"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.get(ACCOUNT).await["kill_switch"], "active");
    a_position(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modifying_sl_and_tp_reaches_the_broker() {
    let s = Serve::start("modify").await;
    let (t, sl, tp) = s
        .until("a position modified", |s| async move {
            let p = a_position(s).await;
            let t = ticket(&p);
            let open = num(&p["open_price"])?;
            // Far from the price (200 pips on the 4/5-digit pairs, 2 yen on USDJPY) so that
            // neither is hit before the test reads it back.
            let away = if p["symbol"] == "USDJPY" { 2.0 } else { 0.02 };
            let (sl, tp) = if p["side"] == "buy" {
                (open - away, open + away)
            } else {
                (open + away, open - away)
            };
            let digits = if p["symbol"] == "USDJPY" { 3 } else { 5 };
            let body = format!(r#"{{"sl":"{sl:.digits$}","tp":"{tp:.digits$}"}}"#);
            let r = s
                .send("PATCH", &format!("{ACCOUNT}/positions/{t}"), &[], &body)
                .await;
            (r.status == 200).then_some((t, sl, tp))
        })
        .await;
    // The snapshot is read from the broker each cycle.
    s.until("the broker to report the new SL/TP", |s| async move {
        let p = s.get(&format!("{ACCOUNT}/positions/{t}")).await;
        let close = |v: &Value, want: f64| num(v).is_some_and(|x| (x - want).abs() < 1e-6);
        (close(&p["sl"], sl) && close(&p["tp"], tp)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_order_sent_twice_with_one_idempotency_key_executes_once() {
    let s = Serve::start("manual").await;
    // The risk rules want a stop: 30 pips under the price a EURUSD position shows (the
    // most the per-trade risk allows at the minimum volume).
    let price = s
        .until("a EURUSD price", |s| async move {
            s.positions()
                .await
                .iter()
                .find(|p| p["symbol"] == "EURUSD")
                .and_then(|p| num(&p["current_price"]))
        })
        .await;
    let body = format!(
        r#"{{"symbol":"EURUSD","side":"buy","volume":"0.01","sl":"{:.5}"}}"#,
        price - 0.003
    );
    let body = body.as_str();
    let key = [("Idempotency-Key", "e2e-once-1")];
    let first = s
        .send("POST", &format!("{ACCOUNT}/orders"), &key, body)
        .await;
    assert_eq!(first.status, 200, "{}", first.text());
    let first = first.json();
    assert_eq!(first["duplicate"], false, "{first}");
    assert_eq!(first["actions"], 1, "{first}");
    let second = s
        .send("POST", &format!("{ACCOUNT}/orders"), &key, body)
        .await;
    assert_eq!(second.status, 200, "{}", second.text());
    let second = second.json();
    assert_eq!(second["duplicate"], true, "{second}");
    assert_eq!(second["actions"], 0, "{second}");
    assert_eq!(first["client_order_ids"], second["client_order_ids"]);
    let id = first["client_order_ids"][0]
        .as_str()
        .expect("a client order id")
        .to_string();
    // One order recorded under that id, and one position at the broker from it.
    let order = s
        .until("the manual order's record with its position", |s| {
            let id = id.clone();
            async move {
                let mine: Vec<Value> = s
                    .all("orders")
                    .await
                    .into_iter()
                    .filter(|o| o["client_order_id"].as_str() == Some(id.as_str()))
                    .collect();
                assert!(mine.len() <= 1, "orders recorded for {id}: {mine:?}");
                mine.into_iter().find(|o| o["position"].as_u64().is_some())
            }
        })
        .await;
    let position = order["position"].as_u64();
    assert_eq!(num(&order["filled_volume"]), Some(0.01), "{order}");
    // The broker's deals, as recorded: one trade from that position, of the order's volume.
    let trades = s
        .until("the manual order's trade", |s| async move {
            let t: Vec<Value> = s
                .all("trades")
                .await
                .into_iter()
                .filter(|t| t["ticket"].as_u64() == position)
                .collect();
            (!t.is_empty()).then_some(t)
        })
        .await;
    assert_eq!(trades.len(), 1, "{trades:?}");
    assert_eq!(num(&trades[0]["volume"]), Some(0.01), "{trades:?}");
    let recorded = s
        .all("orders")
        .await
        .into_iter()
        .filter(|o| o["client_order_id"].as_str() == Some(id.as_str()))
        .count();
    assert_eq!(recorded, 1, "orders recorded for {id}");
}

/// The next text frame of `ws` as JSON, within `wait`.
async fn next_json<S>(ws: &mut S, wait: Duration) -> Option<Value>
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let m = tokio::time::timeout_at(deadline, ws.next())
            .await
            .ok()??
            .ok()?;
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).ok();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_receives_every_trade_in_order_without_a_gap() {
    let s = Serve::start("ws-trades").await;
    // Entries held while subscribing, so every trade opened afterwards is one the client must see.
    let pause = format!("{ACCOUNT}/trading/pause");
    assert_eq!(s.send("POST", &pause, &[], "").await.status, 200);
    // The trades of the last orders before the pause reach the records within a few cycles.
    s.cycles(5).await;
    let known: BTreeSet<u64> = s
        .all("trades")
        .await
        .iter()
        .filter_map(|t| t["ticket"].as_u64())
        .collect();
    let (mut ws, _) = tokio_tungstenite::connect_async(s.ws_url().await)
        .await
        .expect("connecting the WebSocket");
    ws.send(Message::Text(
        r#"{"op":"subscribe","channels":["trades:default"]}"#.into(),
    ))
    .await
    .unwrap();
    let snap = next_json(&mut ws, PATIENCE).await.expect("the snapshot");
    assert_eq!(
        (snap["type"].as_str(), snap["seq"].as_u64()),
        (Some("snapshot"), Some(1))
    );
    let resume = format!("{ACCOUNT}/trading/resume");
    assert_eq!(s.send("POST", &resume, &[], "").await.status, 200);

    let mut seq = 1;
    let mut opened: Vec<u64> = Vec::new();
    let mut closed: Vec<u64> = Vec::new();
    let mut paused = false;
    let deadline = Instant::now() + PATIENCE;
    // Reads until ten trades opened (then entries pause) and a quiet spell after the pause.
    loop {
        let wait = if paused {
            Duration::from_secs(3)
        } else {
            PATIENCE
        };
        let Some(m) = next_json(&mut ws, wait).await else {
            assert!(
                paused,
                "the trades channel went quiet before ten trades opened"
            );
            break;
        };
        assert!(
            Instant::now() < deadline,
            "the trades channel never went quiet"
        );
        assert_eq!(m["ch"], "trades:default", "{m}");
        seq += 1;
        assert_eq!(m["seq"].as_u64(), Some(seq), "a gap or reorder before {m}");
        let kind = &m["data"]["kind"];
        match kind["type"].as_str() {
            Some("position_opened") => {
                let t = kind["position"]["ticket"].as_u64().expect("ticket");
                assert!(
                    opened.last().is_none_or(|l| *l < t),
                    "out of order: {t} after {opened:?}"
                );
                opened.push(t);
            }
            Some("position_closed") => {
                if let Some(t) = kind["deal"]["position"].as_u64() {
                    closed.push(t);
                }
            }
            _ => {}
        }
        if opened.len() >= 10 && !paused {
            assert_eq!(s.send("POST", &pause, &[], "").await.status, 200);
            s.cycles(3).await;
            paused = true;
        }
    }
    // Every trade the records hold from after the subscription came over the socket.
    let recorded: BTreeSet<u64> = s
        .all("trades")
        .await
        .iter()
        .filter_map(|t| t["ticket"].as_u64())
        .filter(|t| !known.contains(t))
        .collect();
    let seen: BTreeSet<u64> = opened.iter().copied().collect();
    assert_eq!(seen, recorded, "trades opened vs trades recorded");
    // A close seen for a trade opened in the window came after its open.
    for t in &closed {
        if seen.contains(t) {
            assert!(opened.contains(t));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_websocket_client_is_disconnected_while_the_cycle_cadence_holds() {
    let s = Serve::start("ws-stall").await;
    let window = Duration::from_secs(10);
    let baseline = cadence(&s, window).await;

    // A client that subscribes to every channel and never reads what it asked for. Linux
    // grows a loopback connection's send buffer to megabytes, which the event stream alone
    // (some 30 KB/s here) would take minutes to fill; so the client also keeps asking for
    // snapshots (a resubscribe), and its unread answers fill the buffers in seconds.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket
        .connect(s.authority().parse().unwrap())
        .await
        .expect("connecting the stalled client");
    let (stalled, _) = tokio_tungstenite::client_async(s.ws_url().await, stream)
        .await
        .expect("the stalled client's handshake");
    let (mut asks, mut stalled) = stalled.split();
    let asking = tokio::spawn(async move {
        let all = r#"{"op":"subscribe","channels":["system","account:default","positions:default","trades:default","orders:default","signals:default","bars:default"]}"#;
        while asks.send(Message::Text(all.into())).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    // The server says when it lets the client go; the cadence is measured up to then.
    let (c0, t0) = (s.cycle().await, Instant::now());
    s.until(
        "the server to disconnect the stalled client",
        |s| async move {
            let log = std::fs::read_to_string(s.dir.join("serve.log")).unwrap_or_default();
            log.contains("fell behind and was disconnected")
                .then_some(())
        },
    )
    .await;
    let (c1, t1) = (s.cycle().await, Instant::now());
    asking.abort();
    let during = (c1 - c0) as f64 / (t1 - t0).as_secs_f64();
    eprintln!(
        "cycles per second: {baseline:.2} before, {during:.2} over the {:.1} s the stalled client was connected",
        (t1 - t0).as_secs_f64()
    );
    assert!(
        during >= baseline * 0.5,
        "cycles per second: {baseline:.2} before, {during:.2} with a stalled client"
    );

    // Now read: what the kernel buffered, then the server's goodbye (1013, or the connection
    // ends). A client still served would receive new messages for ever instead.
    let read = tokio::time::timeout(PATIENCE, async {
        let mut n = 0u64;
        while let Some(m) = stalled.next().await {
            match m {
                Ok(Message::Close(frame)) => return (n, frame.map(|f| f.code)),
                Ok(_) => n += 1,
                Err(_) => return (n, None),
            }
        }
        (n, None)
    })
    .await;
    let (n, code) = read.expect("the stalled client was never disconnected");
    if let Some(code) = code {
        assert_eq!(code, CloseCode::Again, "closed after {n} messages");
    }
    // The trader went on meanwhile.
    s.cycles(5).await;
}

/// Cycles per second over `window`, from the account's cycle counter.
async fn cadence(s: &Serve, window: Duration) -> f64 {
    let (c0, t0) = (s.cycle().await, Instant::now());
    tokio::time::sleep(window).await;
    let (c1, t1) = (s.cycle().await, Instant::now());
    (c1 - c0) as f64 / (t1 - t0).as_secs_f64()
}
