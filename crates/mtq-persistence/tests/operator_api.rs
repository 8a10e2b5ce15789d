//! What the operator API stores and reads: credentials, history pages, a trade's story, the
//! equity curve and the CSV export, on SQLite and on PostgreSQL when `MTQ_TEST_DATABASE_URL`
//! is set.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::fixtures::*;
use common::{TestDb, demo_account, t};
use diesel::{QueryableByName, RunQueryDsl};
use mtq_core::{DomainEvent, EventKind, Position, Symbol, Ticket};
use mtq_persistence::*;
use rust_decimal_macros::dec;

on_both_backends!(
    api_keys_are_found_by_key_id_touched_and_revoked_once,
    a_role_other_than_viewer_trader_or_admin_is_refused,
    usernames_are_unique_and_users_can_be_disabled,
    a_rotated_refresh_token_points_at_its_successor_and_a_replay_revokes_every_token,
    an_expired_or_unknown_refresh_token_is_not_rotated,
    trade_pages_visit_every_trade_once_newest_first_even_with_equal_times,
    trade_pages_filter_by_symbol_strategy_status_and_entry_time,
    a_trade_detail_holds_its_signal_orders_and_transitions,
    signal_pages_filter_by_fate_and_keep_the_refusal,
    order_pages_filter_by_state,
    event_pages_filter_by_kind_so_config_changes_are_listed,
    the_equity_curve_keeps_the_last_snapshot_of_each_step,
    the_equity_curve_never_returns_more_than_the_bound,
    the_csv_export_writes_every_trade_page_by_page,
    an_order_detail_lists_its_transitions_and_unknown_ids_are_none,
    closed_bars_come_back_oldest_first_per_symbol_and_timeframe_once_each,
);

fn an_order_detail_lists_its_transitions_and_unknown_ids_are_none(db: &TestDb) {
    let mut store = db.open();
    let account = Some(demo_account(&mut store).id);
    store
        .record_intent(account, &request(1), Some("a"), t(9, 0))
        .unwrap();
    store
        .record_outcome(account, &coid(1), &outcome(1), t(9, 1))
        .unwrap();
    let id = store
        .orders_page(
            &OrderFilter {
                account,
                ..OrderFilter::default()
            },
            PageRequest::default(),
        )
        .unwrap()
        .items[0]
        .id;
    let d = store.order_detail(id).unwrap().expect("the order");
    assert_eq!(d.order.request.client_order_id, coid(1));
    assert_eq!(
        d.transitions.iter().map(|t| t.state).collect::<Vec<_>>(),
        [OrderState::Intent, OrderState::Done]
    );
    assert_eq!(store.order_detail(id + 1_000).unwrap(), None);
}

fn closed_bars_come_back_oldest_first_per_symbol_and_timeframe_once_each(db: &TestDb) {
    use mtq_core::{Bar, Timeframe};
    let mut store = db.open();
    let account = demo_account(&mut store).id;
    let closed = |symbol: &str, tf: Timeframe, minute: u32, close: f64| {
        let time = t(9, minute);
        DomainEvent::new(
            time + tf.duration(),
            EventKind::BarClosed {
                symbol: Symbol::new(symbol).unwrap(),
                timeframe: tf,
                bar: Bar {
                    time,
                    open: close,
                    high: close,
                    low: close,
                    close,
                    tick_volume: 1,
                    real_volume: 0,
                    spread: 0,
                },
            },
        )
    };
    let mut events: Vec<DomainEvent> = (0..6u32)
        .map(|i| closed("EURUSD", Timeframe::M5, 5 * i, 1.1 + f64::from(i) / 1000.0))
        .collect();
    // A replayed bar (a restart), another symbol and another timeframe.
    events.push(closed("EURUSD", Timeframe::M5, 25, 1.105));
    events.push(closed("GBPUSD", Timeframe::M5, 0, 1.3));
    events.push(closed("EURUSD", Timeframe::M1, 1, 1.2));
    write_story(db, account, events);
    let bars = store
        .closed_bars(Some(account), "EURUSD", Timeframe::M5, t(12, 0), 4)
        .unwrap();
    assert_eq!(
        bars.iter().map(|b| b.time).collect::<Vec<_>>(),
        [t(9, 15), t(9, 20), t(9, 25)],
        "the newest 4 rows hold 3 distinct bars"
    );
    let before = store
        .closed_bars(Some(account), "EURUSD", Timeframe::M5, t(9, 12), 100)
        .unwrap();
    assert_eq!(before.len(), 2, "bars closed before 09:12: 09:00 and 09:05");
    assert_eq!(
        store
            .closed_bars(Some(account), "EURUSD", Timeframe::M1, t(12, 0), 100)
            .unwrap()
            .len(),
        1
    );
}

fn key(key_id: &str, role: &str) -> NewApiKey {
    NewApiKey {
        key_id: key_id.into(),
        name: format!("{key_id} key"),
        role: role.into(),
        secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
        created_at: t(8, 0),
    }
}

fn api_keys_are_found_by_key_id_touched_and_revoked_once(db: &TestDb) {
    let mut store = db.open();
    let created = store.create_api_key(&key("mtq_k1", "viewer")).unwrap();
    store.create_api_key(&key("mtq_k2", "admin")).unwrap();
    assert!(
        store.create_api_key(&key("mtq_k1", "admin")).is_err(),
        "a key id is unique"
    );
    assert_eq!(store.api_key("mtq_k1").unwrap(), Some(created));
    assert_eq!(store.api_key("nope").unwrap(), None);

    assert!(store.touch_api_key("mtq_k1", t(9, 0)).unwrap());
    assert!(!store.touch_api_key("nope", t(9, 0)).unwrap());
    assert_eq!(
        store.api_key("mtq_k1").unwrap().unwrap().last_used_at,
        Some(t(9, 0))
    );

    assert!(store.revoke_api_key("mtq_k1", t(10, 0)).unwrap());
    assert!(
        !store.revoke_api_key("mtq_k1", t(11, 0)).unwrap(),
        "already revoked"
    );
    let k = store.api_key("mtq_k1").unwrap().unwrap();
    assert_eq!(k.revoked_at, Some(t(10, 0)));
    assert!(k.is_revoked());
    let all = store.api_keys().unwrap();
    assert_eq!(
        all.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>(),
        ["mtq_k1", "mtq_k2"]
    );
    assert!(
        !format!("{k:?}").contains("argon2id"),
        "Debug leaves the hash out"
    );
}

fn a_role_other_than_viewer_trader_or_admin_is_refused(db: &TestDb) {
    let mut store = db.open();
    assert!(store.create_api_key(&key("mtq_k1", "root")).is_err());
    let user = NewUser {
        username: "ops".into(),
        password_hash: "$argon2id$x".into(),
        role: "superuser".into(),
        created_at: t(8, 0),
    };
    assert!(store.create_user(&user).is_err());
    assert!(store.api_keys().unwrap().is_empty());
}

fn user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        password_hash: "$argon2id$v=19$hash".into(),
        role: "trader".into(),
        created_at: t(8, 0),
    }
}

fn usernames_are_unique_and_users_can_be_disabled(db: &TestDb) {
    let mut store = db.open();
    let alice = store.create_user(&user("alice")).unwrap();
    assert!(store.create_user(&user("alice")).is_err());
    assert_eq!(store.user_by_name("alice").unwrap(), Some(alice.clone()));
    assert_eq!(store.user(alice.id).unwrap(), Some(alice));
    assert_eq!(store.user_by_name("bob").unwrap(), None);

    assert!(store.set_password_hash("alice", "$argon2id$new").unwrap());
    assert!(!store.set_password_hash("bob", "$argon2id$new").unwrap());
    assert!(store.set_user_disabled("alice", Some(t(9, 0))).unwrap());
    let a = store.user_by_name("alice").unwrap().unwrap();
    assert_eq!(a.password_hash, "$argon2id$new");
    assert!(a.is_disabled());
    assert!(store.set_user_disabled("alice", None).unwrap());
    assert!(!store.user_by_name("alice").unwrap().unwrap().is_disabled());
    assert_eq!(store.users().unwrap().len(), 1);
}

fn token(hash: &str, user_id: i64, issued: DateTime<Utc>) -> NewRefreshToken {
    NewRefreshToken {
        token_hash: hash.into(),
        user_id,
        issued_at: issued,
        expires_at: issued + Duration::days(30),
    }
}

fn a_rotated_refresh_token_points_at_its_successor_and_a_replay_revokes_every_token(db: &TestDb) {
    let mut store = db.open();
    let alice = store.create_user(&user("alice")).unwrap();
    let first = store
        .insert_refresh_token(&token("h1", alice.id, t(8, 0)))
        .unwrap();
    store
        .insert_refresh_token(&token("h9", alice.id, t(8, 0)))
        .unwrap();

    let Rotation::Rotated(second) = store
        .rotate_refresh_token("h1", &token("h2", alice.id, t(9, 0)), t(9, 0))
        .unwrap()
    else {
        panic!("a valid token rotates");
    };
    let old = store.refresh_token("h1").unwrap().unwrap();
    assert_eq!(old.revoked_at, Some(t(9, 0)));
    assert_eq!(old.replaced_by, Some(second.id));
    assert_eq!(old.id, first.id);

    // The old token presented again: someone holds a copy. Every live token of the user goes.
    let replay = store
        .rotate_refresh_token("h1", &token("h3", alice.id, t(10, 0)), t(10, 0))
        .unwrap();
    assert_eq!(
        replay,
        Rotation::Reused {
            user_id: alice.id,
            revoked: 2
        }
    );
    assert!(store.refresh_token("h3").unwrap().is_none(), "no new token");
    for hash in ["h2", "h9"] {
        assert!(
            store
                .refresh_token(hash)
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some()
        );
    }
}

fn an_expired_or_unknown_refresh_token_is_not_rotated(db: &TestDb) {
    let mut store = db.open();
    let alice = store.create_user(&user("alice")).unwrap();
    store
        .insert_refresh_token(&token("h1", alice.id, t(8, 0)))
        .unwrap();
    let later = t(8, 0) + Duration::days(31);
    assert_eq!(
        store
            .rotate_refresh_token("h1", &token("h2", alice.id, later), later)
            .unwrap(),
        Rotation::Expired
    );
    assert_eq!(
        store
            .rotate_refresh_token("nope", &token("h3", alice.id, t(9, 0)), t(9, 0))
            .unwrap(),
        Rotation::Unknown
    );
    assert!(store.refresh_token("h2").unwrap().is_none());
    assert!(store.revoke_refresh_token("h1", t(9, 0)).unwrap());
    assert!(!store.revoke_refresh_token("h1", t(9, 0)).unwrap());
    assert_eq!(
        store.revoke_user_refresh_tokens(alice.id, t(9, 0)).unwrap(),
        0
    );
}

fn pos(ticket: u64, symbol: &str, open: DateTime<Utc>) -> Position {
    Position {
        symbol: Symbol::new(symbol).unwrap(),
        open_time: open,
        ..position(ticket, ticket)
    }
}

/// `n` trades of the account: EURUSD and GBPUSD in turn, strategies `a` and `b` in turn, two
/// per entry time (so equal times must be ordered by id), every third one left open.
fn seed_trades(store: &mut Store, account: AccountId, n: u64) {
    for i in 0..n {
        let symbol = if i % 2 == 0 { "EURUSD" } else { "GBPUSD" };
        let strategy = if i % 4 < 2 { "a" } else { "b" };
        let open = t(0, 0) + Duration::minutes(i64::try_from(i / 2).unwrap());
        store
            .open_trade(Some(account), &pos(100 + i, symbol, open), Some(strategy))
            .unwrap();
        if i % 3 != 0 {
            let deal = closing_deal(
                9_000 + i,
                100 + i,
                dec!(0.10),
                dec!(1.085),
                dec!(10),
                open + Duration::hours(1),
            );
            assert!(store.apply_close(Some(account), &deal, None).unwrap());
        }
    }
}

fn all_pages(store: &mut Store, f: &TradeFilter, limit: u32) -> (Vec<TradeRecord>, usize) {
    let mut page = PageRequest::first(limit);
    let (mut out, mut pages) = (Vec::new(), 0);
    loop {
        let p = store.trades_page(f, page).unwrap();
        assert!(p.items.len() <= limit as usize);
        pages += 1;
        out.extend(p.items);
        match p.next {
            // The cursor travels as text, as it does through the API.
            Some(c) => page.after = Some(Cursor::parse(&c.to_string()).unwrap()),
            None => return (out, pages),
        }
    }
}

fn trade_pages_visit_every_trade_once_newest_first_even_with_equal_times(db: &TestDb) {
    let mut store = db.open();
    let account = demo_account(&mut store).id;
    seed_trades(&mut store, account, 23);
    let filter = TradeFilter {
        account: Some(account),
        ..TradeFilter::default()
    };
    let (trades, pages) = all_pages(&mut store, &filter, 5);
    assert_eq!(pages, 5);
    assert_eq!(trades.len(), 23);
    let mut tickets: Vec<u64> = trades.iter().map(|t| t.ticket.0).collect();
    assert!(
        trades
            .windows(2)
            .all(|w| (w[0].entry_time, w[0].id) > (w[1].entry_time, w[1].id)),
        "newest first by (entry time, id)"
    );
    tickets.sort_unstable();
    tickets.dedup();
    assert_eq!(tickets.len(), 23, "no trade twice");

    // A trade recorded meanwhile does not shift later pages.
    let first = store.trades_page(&filter, PageRequest::first(5)).unwrap();
    store
        .open_trade(Some(account), &pos(999, "EURUSD", t(23, 0)), Some("a"))
        .unwrap();
    let second = store
        .trades_page(
            &filter,
            PageRequest {
                limit: 5,
                after: first.next,
            },
        )
        .unwrap();
    assert_eq!(second.items[0].id, trades[5].id);

    let huge = store
        .trades_page(&filter, PageRequest::first(10_000))
        .unwrap();
    assert_eq!(huge.items.len(), 24, "clamped to 500, all fit");
}

fn trade_pages_filter_by_symbol_strategy_status_and_entry_time(db: &TestDb) {
    let mut store = db.open();
    let account = demo_account(&mut store).id;
    seed_trades(&mut store, account, 24);
    let base = TradeFilter {
        account: Some(account),
        ..TradeFilter::default()
    };
    let gbp = TradeFilter {
        symbol: Some("GBPUSD".into()),
        ..base.clone()
    };
    let (trades, _) = all_pages(&mut store, &gbp, 4);
    assert_eq!(trades.len(), 12);
    assert!(trades.iter().all(|t| t.symbol.as_str() == "GBPUSD"));

    let b_open = TradeFilter {
        strategy: Some("b".into()),
        status: Some(TradeStatus::Open),
        ..base.clone()
    };
    let (trades, _) = all_pages(&mut store, &b_open, 500);
    let expected = (0..24u64).filter(|i| i % 4 >= 2 && i % 3 == 0).count();
    assert_eq!(trades.len(), expected);
    assert!(
        trades
            .iter()
            .all(|t| t.strategy.as_deref() == Some("b") && t.status == TradeStatus::Open)
    );

    // Entry times are minutes 0..12, two trades each: [3, 5) holds four.
    let window = TradeFilter {
        from: Some(t(0, 3)),
        to: Some(t(0, 5)),
        ..base
    };
    let (trades, _) = all_pages(&mut store, &window, 3);
    assert_eq!(trades.len(), 4);

    let other = TradeFilter {
        account: Some(AccountId(account.0 + 1)),
        ..TradeFilter::default()
    };
    assert!(
        store
            .trades_page(&other, PageRequest::default())
            .unwrap()
            .items
            .is_empty()
    );
}

fn write_story(db: &TestDb, account: AccountId, events: Vec<DomainEvent>) {
    let sink = StoreSink::new(db.open(), Some(account)).unwrap();
    let (tx, writer) = EventWriter::spawn(sink, WriterConfig::default()).unwrap();
    for e in events {
        tx.blocking_send(e).unwrap();
    }
    drop(tx);
    let report = writer.join().unwrap();
    assert!(report.unwritten.is_empty());
}

fn a_trade_detail_holds_its_signal_orders_and_transitions(db: &TestDb) {
    let mut store = db.open();
    let account = demo_account(&mut store).id;
    write_story(db, account, trade_story(1, 77));
    let page = store
        .trades_page(
            &TradeFilter {
                account: Some(account),
                ..TradeFilter::default()
            },
            PageRequest::default(),
        )
        .unwrap();
    let id = page.items[0].id;
    let detail = store.trade_detail(id).unwrap().unwrap();
    assert_eq!(detail.trade.ticket, Ticket(77));
    let signal = detail.signal.expect("the signal that opened it");
    assert_eq!(signal.signal.strategy, "ma_crossover");
    assert_eq!(signal.refusal, None);
    assert_eq!(detail.orders.len(), 1);
    let order = &detail.orders[0];
    assert_eq!(order.order.request.client_order_id, coid(1));
    assert_eq!(
        order
            .transitions
            .iter()
            .map(|t| t.state)
            .collect::<Vec<_>>(),
        [OrderState::Intent, OrderState::Done]
    );
    assert_eq!(store.trade_detail(id + 1_000).unwrap(), None);
}

fn signal_pages_filter_by_fate_and_keep_the_refusal(db: &TestDb) {
    let mut store = db.open();
    let account = Some(demo_account(&mut store).id);
    for i in 0..10u32 {
        let mut s = signal(if i < 5 { "a" } else { "b" });
        s.time = t(9, i);
        let refusal =
            (i % 2 == 1).then(|| mtq_core::SignalRefusal::Text("daily loss limit reached".into()));
        store
            .record_signal(account, &s, refusal.as_ref(), t(9, i))
            .unwrap();
    }
    let refused = SignalFilter {
        account,
        executed: Some(false),
        ..SignalFilter::default()
    };
    let p = store.signals_page(&refused, PageRequest::first(3)).unwrap();
    assert_eq!(p.items.len(), 3);
    assert_eq!(p.items[0].signal.time, t(9, 9), "newest first");
    assert!(
        p.items
            .iter()
            .all(|s| s.refusal.as_deref() == Some("daily loss limit reached"))
    );
    let rest = store
        .signals_page(
            &refused,
            PageRequest {
                limit: 3,
                after: p.next,
            },
        )
        .unwrap();
    assert_eq!(rest.items.len(), 2);
    assert_eq!(rest.next, None);

    let acted_b = SignalFilter {
        account,
        strategy: Some("b".into()),
        executed: Some(true),
        ..SignalFilter::default()
    };
    let p = store
        .signals_page(&acted_b, PageRequest::default())
        .unwrap();
    assert_eq!(
        p.items.iter().map(|s| s.signal.time).collect::<Vec<_>>(),
        [t(9, 8), t(9, 6)]
    );
}

fn order_pages_filter_by_state(db: &TestDb) {
    let mut store = db.open();
    let account = Some(demo_account(&mut store).id);
    for n in 1..=6u64 {
        let at = t(9, u32::try_from(n).unwrap());
        store
            .record_intent(account, &request(n), Some("a"), at)
            .unwrap();
        if n % 2 == 0 {
            store
                .record_outcome(account, &coid(n), &outcome(n), at)
                .unwrap();
        }
    }
    let done = OrderFilter {
        account,
        state: Some(OrderState::Done),
        ..OrderFilter::default()
    };
    let p = store.orders_page(&done, PageRequest::default()).unwrap();
    assert_eq!(
        p.items
            .iter()
            .map(|o| o.request.client_order_id.clone())
            .collect::<Vec<_>>(),
        [coid(6), coid(4), coid(2)]
    );
    let intents = OrderFilter {
        account,
        state: Some(OrderState::parse("intent").unwrap()),
        ..OrderFilter::default()
    };
    assert_eq!(
        store
            .orders_page(&intents, PageRequest::default())
            .unwrap()
            .items
            .len(),
        3
    );
}

fn event_pages_filter_by_kind_so_config_changes_are_listed(db: &TestDb) {
    let mut store = db.open();
    let account = demo_account(&mut store).id;
    let mut events = trade_story(1, 77);
    for m in [5, 6] {
        events.push(DomainEvent::new(
            t(12, m),
            EventKind::ConfigReloaded {
                detail: format!("risk_percent 1.0 -> 0.{m}"),
            },
        ));
    }
    write_story(db, account, events);
    let changes = EventFilter {
        account: Some(account),
        kind: Some("config_reloaded".into()),
        ..EventFilter::default()
    };
    let p = store.events_page(&changes, PageRequest::default()).unwrap();
    assert_eq!(
        p.items
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>(),
        ["risk_percent 1.0 -> 0.6", "risk_percent 1.0 -> 0.5"]
    );
    let everything = EventFilter {
        account: Some(account),
        ..EventFilter::default()
    };
    let all = store
        .events_page(&everything, PageRequest::first(4))
        .unwrap();
    assert_eq!(all.items.len(), 4);
    assert!(all.next.is_some());
    let since = EventFilter {
        from: Some(t(12, 6)),
        ..everything
    };
    assert_eq!(
        store
            .events_page(&since, PageRequest::default())
            .unwrap()
            .items
            .len(),
        1
    );
}

fn the_equity_curve_keeps_the_last_snapshot_of_each_step(db: &TestDb) {
    let mut store = db.open();
    let account = Some(demo_account(&mut store).id);
    // One snapshot a minute for two hours, equity = 10000 + minute.
    for m in 0..120i64 {
        let info = account_info(dec!(10000) + rust_decimal::Decimal::from(m));
        store
            .record_snapshot(account, t(8, 0) + Duration::minutes(m), &info)
            .unwrap();
    }
    let curve = store
        .equity_curve(account, t(8, 0), t(10, 0), Duration::minutes(15))
        .unwrap();
    assert_eq!(curve.step, Duration::minutes(15));
    assert_eq!(curve.points.len(), 8);
    assert_eq!(curve.points[0].time, t(8, 14));
    assert_eq!(curve.points[0].equity, dec!(10014));
    assert_eq!(curve.points[7].equity, dec!(10119));
    let other = store
        .equity_curve(None, t(8, 0), t(10, 0), Duration::minutes(15))
        .unwrap();
    assert!(
        other.points.is_empty(),
        "snapshots without an account are apart"
    );
}

fn the_equity_curve_never_returns_more_than_the_bound(db: &TestDb) {
    let mut store = db.open();
    let account = Some(demo_account(&mut store).id);
    for s in 0..3_000i64 {
        store
            .record_snapshot(
                account,
                t(8, 0) + Duration::seconds(s),
                &account_info(dec!(10000)),
            )
            .unwrap();
    }
    let curve = store
        .equity_curve(account, t(8, 0), t(9, 0), Duration::seconds(1))
        .unwrap();
    assert!(
        curve.points.len() <= MAX_EQUITY_POINTS,
        "{}",
        curve.points.len()
    );
    assert!(curve.step > Duration::seconds(1));
    assert!(curve.points.len() > MAX_EQUITY_POINTS / 2);
}

fn the_csv_export_writes_every_trade_page_by_page(db: &TestDb) {
    let mut store = db.open();
    let account = demo_account(&mut store).id;
    seed_trades(&mut store, account, 3);
    for i in 0..600u64 {
        let mut p = pos(10_000 + i, "EURUSD", t(1, 0));
        p.comment = "=HYPERLINK(\"x\"), evil".into();
        store.open_trade(Some(account), &p, None).unwrap();
    }
    let mut out = Vec::new();
    let filter = TradeFilter {
        account: Some(account),
        ..TradeFilter::default()
    };
    let n = write_trades_csv(&mut store, &filter, &mut out).unwrap();
    assert_eq!(n, 603);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 604);
    assert_eq!(lines[0], TRADE_CSV_HEADER.trim_end());
    let columns = lines[0].split(',').count();
    assert!(
        lines[1].ends_with(",\"'=HYPERLINK(\"\"x\"\"), evil\""),
        "quoted and neutralised: {}",
        lines[1]
    );
    // The closed seed trade: net profit = 10 - 0.35 - 0.12.
    let closed = lines
        .iter()
        .find(|l| l.contains(",102,"))
        .expect("ticket 102");
    assert!(closed.contains(",9.53,"), "{closed}");
    assert_eq!(closed.split(',').count(), columns);
}

#[test]
fn a_cursor_round_trips_and_anything_else_is_refused() {
    let c = {
        let store_free = Cursor::parse("18e0b3f1a2c00.2a").unwrap();
        assert_eq!(Cursor::parse(&store_free.to_string()).unwrap(), store_free);
        store_free
    };
    assert_eq!(c.to_string(), "18e0b3f1a2c00.2a");
    for bad in [
        "",
        "abc",
        "1.",
        ".1",
        "zz.1",
        "1.-1",
        "ffffffffffffffffff.1",
        "1.2.3",
    ] {
        assert!(Cursor::parse(bad).is_err(), "{bad:?}");
    }
}

#[derive(QueryableByName)]
struct PlanRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

/// The pages the API serves most are one index range scan, with no sort, on SQLite's planner.
#[test]
fn history_pages_read_an_index_in_order_without_sorting() {
    let db = TestDb::sqlite("plans");
    let mut store = db.open();
    let queries = [
        "SELECT * FROM trades WHERE account_id = 1 AND (entry_time < 'x' OR (entry_time = 'x' AND id < 5)) ORDER BY entry_time DESC, id DESC LIMIT 101",
        "SELECT * FROM trades WHERE account_id = 1 AND symbol = 'EURUSD' ORDER BY entry_time DESC, id DESC LIMIT 101",
        "SELECT * FROM trades ORDER BY entry_time DESC, id DESC LIMIT 101",
        "SELECT * FROM signals WHERE account_id = 1 ORDER BY time DESC, id DESC LIMIT 101",
        "SELECT * FROM orders WHERE account_id = 1 AND state = 'done' ORDER BY created_at DESC, id DESC LIMIT 101",
        "SELECT * FROM events WHERE kind = 'config_reloaded' ORDER BY time DESC, id DESC LIMIT 101",
    ];
    for q in queries {
        let plan: Vec<PlanRow> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {q}"))
            .load(store.connection())
            .unwrap();
        let plan: Vec<String> = plan.into_iter().map(|r| r.detail).collect();
        assert!(
            plan.iter()
                .any(|d| d.contains("USING INDEX") || d.contains("USING COVERING INDEX")),
            "{q}: {plan:?}"
        );
        assert!(
            !plan.iter().any(|d| d.contains("TEMP B-TREE")),
            "{q} sorts: {plan:?}"
        );
    }
}
