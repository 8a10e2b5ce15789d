//! The API's performance figures and the scheduled daily aggregation, on a real store: SQLite
//! always, PostgreSQL too when `MTQ_TEST_DATABASE_URL` is set.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use diesel::Connection;
use diesel::connection::SimpleConnection;
use mtq_analytics::*;
use mtq_core::{
    AccountInfo, Clock, Currency, Deal, DealEntry, DealReason, ExitReason, Magic, ManualClock,
    MarginMode, Position, Side, Symbol, Ticket,
};
use mtq_persistence::{
    ALL_ACCOUNTS, AccountId, AccountRepo, DailyPerformanceRepo, DatabaseUrl, NewAccount,
    SnapshotRepo, Store, TradeRepo,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

/// A database of its own: a SQLite file, or a PostgreSQL schema; removed when dropped.
struct Db {
    url: String,
    dir: Option<std::path::PathBuf>,
    pg: Option<(String, String)>,
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{name}_{}_{nanos}", std::process::id())
}

impl Db {
    fn sqlite(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mtq-analytics-{}", unique(name)));
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            url: format!("sqlite://{}", dir.join("t.db").display()),
            dir: Some(dir),
            pg: None,
        }
    }

    fn postgres(name: &str) -> Option<Self> {
        let Ok(base) = std::env::var("MTQ_TEST_DATABASE_URL") else {
            eprintln!("skipped {name} on PostgreSQL: MTQ_TEST_DATABASE_URL is not set");
            return None;
        };
        let schema = format!("mtq_a_{}", unique(name)).to_ascii_lowercase();
        let mut admin = diesel::PgConnection::establish(&base).unwrap();
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(Self {
            url: format!("{base}{sep}options=-csearch_path%3D{schema}"),
            dir: None,
            pg: Some((base, schema)),
        })
    }

    fn open(&self) -> Store {
        Store::open(&self.url).unwrap()
    }

    fn all(name: &str) -> Vec<Self> {
        let mut v = vec![Self::sqlite(name)];
        v.extend(Self::postgres(name));
        v
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
        if let Some((base, schema)) = &self.pg
            && let Ok(mut admin) = diesel::PgConnection::establish(base)
        {
            let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
        }
    }
}

fn at(day: u32, hour: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, day, hour, min, 0).unwrap()
}

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, day).unwrap()
}

fn account(store: &mut Store) -> AccountId {
    store
        .ensure_account(
            &NewAccount {
                broker: "B".into(),
                server: "S".into(),
                login: 1,
                currency: Currency::USD,
                margin_mode: MarginMode::Hedging,
                leverage: 100,
                label: String::new(),
            },
            at(1, 0, 0),
        )
        .unwrap()
        .id
}

fn snapshot(store: &mut Store, account: AccountId, time: DateTime<Utc>, equity: Decimal) {
    let info = AccountInfo {
        login: 1,
        server: "S".into(),
        currency: Currency::USD,
        balance: equity,
        equity,
        margin: Decimal::ZERO,
        free_margin: equity,
        margin_level: None,
        leverage: 100,
        margin_mode: MarginMode::Hedging,
    };
    store.record_snapshot(Some(account), time, &info).unwrap();
}

/// A closed trade: commission -1, so net = profit - 1.
#[allow(clippy::too_many_arguments)]
fn trade(
    store: &mut Store,
    account: AccountId,
    ticket: u64,
    symbol: &str,
    strategy: &str,
    exit: DateTime<Utc>,
    profit: Decimal,
    reason: DealReason,
) {
    let p = Position {
        ticket: Ticket(ticket),
        symbol: Symbol::new(symbol).unwrap(),
        side: Side::Buy,
        volume: dec!(0.1),
        open_price: dec!(1.08),
        open_time: exit - Duration::hours(1),
        sl: None,
        tp: None,
        current_price: dec!(1.08),
        swap: Decimal::ZERO,
        profit: Decimal::ZERO,
        magic: Magic(1),
        comment: String::new(),
    };
    store.open_trade(Some(account), &p, Some(strategy)).unwrap();
    let d = Deal {
        ticket: Ticket(ticket + 1000),
        order: None,
        position: Some(Ticket(ticket)),
        symbol: Some(p.symbol.clone()),
        side: Some(Side::Sell),
        entry: DealEntry::Out,
        reason,
        volume: dec!(0.1),
        price: dec!(1.09),
        commission: dec!(-1),
        swap: Decimal::ZERO,
        profit,
        time: exit,
        magic: Magic(1),
        comment: String::new(),
    };
    assert!(store.apply_close(Some(account), &d, None).unwrap());
}

/// Mon 4 March: +100 (EURUSD, a, tp), -50 (GBPUSD, b, sl); Tue 5: +30 (EURUSD, a, expert);
/// Mon 11: -20 (EURUSD, b, sl); Mon 1 April: +10. Commission -1 each. Equity 10,000 before.
fn seed(store: &mut Store) -> AccountId {
    let a = account(store);
    snapshot(store, a, at(1, 0, 0), dec!(10000));
    let tp = DealReason::TakeProfit;
    let sl = DealReason::StopLoss;
    trade(store, a, 1, "EURUSD", "a", at(4, 10, 0), dec!(101), tp);
    trade(store, a, 2, "GBPUSD", "b", at(4, 12, 0), dec!(-49), sl);
    trade(
        store,
        a,
        3,
        "EURUSD",
        "a",
        at(5, 10, 0),
        dec!(31),
        DealReason::Expert,
    );
    trade(store, a, 4, "EURUSD", "b", at(11, 10, 0), dec!(-19), sl);
    let april = Utc.with_ymd_and_hms(2024, 4, 1, 10, 0, 0).unwrap();
    trade(store, a, 5, "EURUSD", "a", april, dec!(11), tp);
    a
}

fn far() -> (DateTime<Utc>, DateTime<Utc>) {
    (
        at(1, 0, 0) - Duration::days(400),
        at(1, 0, 0) + Duration::days(400),
    )
}

#[test]
fn the_summary_counts_wins_losses_net_drawdown_and_expectancy() {
    for db in Db::all("summary") {
        let mut store = db.open();
        let a = seed(&mut store);
        let (from, to) = far();
        let s = performance_summary(&mut store, Some(a), from, to).unwrap();
        assert_eq!((s.trades, s.wins, s.losses), (5, 3, 2));
        assert_eq!(s.net_profit, dec!(70));
        assert_eq!(s.gross_profit, dec!(140));
        assert_eq!(s.gross_loss, dec!(-70));
        assert_eq!(s.profit_factor, Some(2.0));
        assert_eq!(s.expectancy, dec!(14));
        assert!((s.win_rate - 0.6).abs() < 1e-12);
        // Peak 10,100 after the first trade, then -50: the deepest fall.
        assert_eq!(s.max_drawdown, dec!(50));
        let pct = s.max_drawdown_pct.unwrap();
        assert!((pct - 50.0 / 10_100.0 * 100.0).abs() < 1e-9, "{pct}");
        assert!(
            s.sharpe.is_some(),
            "a starting equity and several days of returns"
        );

        // All accounts together have no equity to start from: money, but no percentage.
        let all = performance_summary(&mut store, None, from, to).unwrap();
        assert_eq!(all.net_profit, dec!(70));
        assert_eq!(all.max_drawdown_pct, None);
        assert_eq!(all.sharpe, None);

        let march_5 = performance_summary(&mut store, Some(a), at(5, 0, 0), at(6, 0, 0)).unwrap();
        assert_eq!((march_5.trades, march_5.net_profit), (1, dec!(30)));
    }
}

#[test]
fn days_weeks_and_months_group_trades_by_their_exit_date() {
    for db in Db::all("periods") {
        let mut store = db.open();
        let a = seed(&mut store);
        let (from, to) = far();
        let starts_and_net = |p| {
            performance_by_period(&mut db.open(), Some(a), p, from, to)
                .unwrap()
                .into_iter()
                .map(|x| (x.start, x.summary.net_profit))
                .collect::<Vec<_>>()
        };
        let april = NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
        assert_eq!(
            starts_and_net(Period::Day),
            [
                (date(4), dec!(50)),
                (date(5), dec!(30)),
                (date(11), dec!(-20)),
                (april, dec!(10))
            ]
        );
        assert_eq!(
            starts_and_net(Period::Week),
            [
                (date(4), dec!(80)),
                (date(11), dec!(-20)),
                (april, dec!(10))
            ]
        );
        assert_eq!(
            starts_and_net(Period::Month),
            [(date(1), dec!(60)), (april, dec!(10))]
        );
        // Each period's equity starts where the one before ended: March 11th falls from 10,080.
        let weeks = performance_by_period(&mut store, Some(a), Period::Week, from, to).unwrap();
        let pct = weeks[1].summary.max_drawdown_pct.unwrap();
        assert!((pct - 20.0 / 10_080.0 * 100.0).abs() < 1e-9, "{pct}");
        assert_eq!(
            Period::Week.periods_back(date(13), 2),
            NaiveDate::from_ymd_opt(2024, 2, 26).unwrap()
        );
        assert_eq!(
            Period::Month.periods_back(date(13), 1),
            NaiveDate::from_ymd_opt(2024, 2, 1).unwrap()
        );
    }
}

#[test]
fn groups_split_by_symbol_strategy_and_exit_reason() {
    for db in Db::all("groups") {
        let mut store = db.open();
        let a = seed(&mut store);
        let (from, to) = far();
        let mut by = |g| {
            performance_by(&mut store, Some(a), g, from, to)
                .unwrap()
                .into_iter()
                .map(|x| (x.key, x.summary.trades, x.summary.net_profit))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            by(GroupBy::Symbol),
            [
                ("EURUSD".to_string(), 4, dec!(120)),
                ("GBPUSD".to_string(), 1, dec!(-50))
            ]
        );
        assert_eq!(
            by(GroupBy::Strategy),
            [
                ("a".to_string(), 3, dec!(140)),
                ("b".to_string(), 2, dec!(-70))
            ]
        );
        assert_eq!(
            by(GroupBy::ExitReason),
            [
                (ExitReason::Signal.as_str().to_string(), 1, dec!(30)),
                (ExitReason::StopLoss.as_str().to_string(), 2, dec!(-70)),
                (ExitReason::TakeProfit.as_str().to_string(), 2, dec!(110)),
            ]
        );
    }
}

#[test]
fn crossing_midnight_aggregates_the_day_once() {
    for db in Db::all("midnight") {
        let mut store = db.open();
        let a = account(&mut store);
        let tp = DealReason::TakeProfit;
        trade(&mut store, a, 1, "EURUSD", "a", at(4, 10, 0), dec!(11), tp);
        let mut schedule = DailySchedule::default();
        // March 4th 23:59: the day has not ended; March 3rd (before any trade) is aggregated.
        assert_eq!(schedule.run_due(&mut store, at(4, 23, 59)).unwrap(), []);
        assert_eq!(store.last_day(ALL_ACCOUNTS).unwrap(), None);
        // 00:03, inside the grace period: still nothing.
        assert_eq!(schedule.run_due(&mut store, at(5, 0, 3)).unwrap(), []);
        // 00:05: March 4th is due, once.
        assert_eq!(
            schedule.run_due(&mut store, at(5, 0, 5)).unwrap(),
            [date(4)]
        );
        assert_eq!(schedule.run_due(&mut store, at(5, 0, 6)).unwrap(), []);
        assert_eq!(schedule.run_due(&mut store, at(5, 18, 0)).unwrap(), []);
        let rows = store.days(a.0, date(4), date(4)).unwrap();
        assert_eq!(
            (rows.len(), rows[0].trades, rows[0].net_profit),
            (1, 1, dec!(10))
        );
        assert_eq!(rows[0].computed_at, at(5, 0, 5));
        // The next midnight brings the next day.
        assert_eq!(schedule.next_due(at(5, 18, 0)), at(6, 0, 5));
        assert_eq!(
            schedule.run_due(&mut store, at(6, 0, 7)).unwrap(),
            [date(5)]
        );
    }
}

#[test]
fn a_restart_catches_up_the_days_missed_and_redoes_the_last_one() {
    for db in Db::all("catch_up") {
        let mut store = db.open();
        let a = account(&mut store);
        let tp = DealReason::TakeProfit;
        trade(&mut store, a, 1, "EURUSD", "a", at(2, 10, 0), dec!(11), tp);
        trade(&mut store, a, 2, "EURUSD", "a", at(4, 10, 0), dec!(21), tp);
        // Never aggregated: from the first trade's day to the last finished one.
        let mut first_run = DailySchedule::default();
        assert_eq!(
            first_run.run_due(&mut store, at(5, 1, 0)).unwrap(),
            [date(2), date(3), date(4)]
        );
        // A deal of March 4th recorded after it was aggregated (the trader was away), then a
        // restart two days later: the 4th again (replaced, not doubled), then the 5th and 6th.
        trade(&mut store, a, 3, "EURUSD", "a", at(4, 20, 0), dec!(31), tp);
        let mut restarted = DailySchedule::default();
        assert_eq!(
            restarted.run_due(&mut store, at(7, 9, 0)).unwrap(),
            [date(4), date(5), date(6)]
        );
        let day4 = store.days(a.0, date(4), date(4)).unwrap();
        assert_eq!(
            (day4.len(), day4[0].trades, day4[0].net_profit),
            (1, 2, dec!(50))
        );
        let all = store.days(ALL_ACCOUNTS, date(1), date(31)).unwrap();
        assert_eq!(all.len(), 5, "one all-accounts row per day, 2nd to 6th");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_task_aggregates_after_midnight_and_stops_when_told() {
    let db = Db::sqlite("background");
    let mut store = db.open();
    let a = account(&mut store);
    let tp = DealReason::TakeProfit;
    trade(&mut store, a, 1, "EURUSD", "a", at(4, 10, 0), dec!(11), tp);
    let clock = Arc::new(ManualClock::new(at(4, 23, 50)));
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let opts = DailyAggregationOptions {
        database: DatabaseUrl::parse(&db.url).unwrap(),
        clock: clock.clone(),
        grace: schedule::DEFAULT_GRACE,
        poll: std::time::Duration::from_millis(20),
    };
    let task = spawn_daily_aggregation(opts, shutdown);

    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        store.days(a.0, date(4), date(4)).unwrap(),
        [],
        "not before midnight"
    );

    clock.set(at(5, 0, 6));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let row = loop {
        if let Some(r) = store.days(a.0, date(4), date(4)).unwrap().pop() {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "March 4th never aggregated"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(row.computed_at, at(5, 0, 6));
    // Many more looks at the clock later, the day was written once.
    clock.set(at(5, 0, 30));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(store.days(a.0, date(4), date(4)).unwrap(), [row]);

    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), task)
        .await
        .expect("stops when told")
        .unwrap();
    assert!(clock.now() > at(5, 0, 0));
}
