//! Several accounts in one process: the portfolio limits across them and each one's connection
//! state. The accounts here are control channels answered the way the live driver answers
//! pause and resume (the driver itself is covered by `live_control`), so each test sets the
//! figures it needs exactly.

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use mtq_core::testkit::at;
use mtq_core::{
    AccountInfo, Currency, Decimal, DomainEvent, ErrorSource, EventKind, Magic, MarginMode,
    Position, Side, Symbol, Ticket,
};
use mtq_orchestrator::config::PortfolioSection;
use mtq_orchestrator::{
    ConnectionJournal, ConnectionWatch, ControlCommand, ControlPort, FleetMember, LiveSnapshot,
    PortfolioBreach, PortfolioGuard, TradingState, control_channel, currency_exposure,
    portfolio_breach, watch_connection,
};
use proptest::prelude::*;
use rust_decimal_macros::dec;
use tokio::sync::watch;

fn account() -> AccountInfo {
    AccountInfo {
        login: 1,
        server: "Sim".into(),
        currency: Currency::USD,
        balance: dec!(10000),
        equity: dec!(10000),
        margin: dec!(0),
        free_margin: dec!(10000),
        margin_level: None,
        leverage: 100,
        margin_mode: MarginMode::Hedging,
    }
}

fn position(symbol: &str, side: Side, volume: Decimal) -> Position {
    Position {
        ticket: Ticket(1),
        symbol: Symbol::new(symbol).unwrap(),
        side,
        volume,
        open_price: dec!(1.1),
        open_time: at("2024-03-04T10:00:00Z"),
        sl: None,
        tp: None,
        current_price: dec!(1.1),
        swap: dec!(0),
        profit: dec!(0),
        magic: Magic(1),
        comment: String::new(),
    }
}

fn snapshot(name: &str, pnl: Decimal, positions: Vec<Position>) -> LiveSnapshot {
    let mut s = LiveSnapshot::starting(name, at("2024-03-04T10:00:00Z"));
    s.account = Some(account());
    s.daily_pnl = pnl;
    s.positions = positions;
    s.health.broker_connected = true;
    s
}

/// An account whose driver answers pause and resume as the live driver does.
struct Fake {
    member: FleetMember,
    tx: watch::Sender<Arc<LiveSnapshot>>,
}

fn fake(name: &str, pnl: Decimal) -> Fake {
    let (handle, port) = control_channel(snapshot(name, pnl, Vec::new()));
    let ControlPort {
        mut commands,
        snapshots,
        ..
    } = port;
    let tx = snapshots.clone();
    tokio::spawn(async move {
        while let Some(req) = commands.recv().await {
            let mut s = (**snapshots.borrow()).clone();
            s.trading = match req.command {
                ControlCommand::PauseEntries => TradingState::EntriesPaused,
                ControlCommand::ResumeEntries => TradingState::Running,
                _ => s.trading,
            };
            snapshots.send_replace(Arc::new(s));
            let _ = req.reply.send(Ok(mtq_orchestrator::ControlOutcome {
                message: "ok".into(),
                actions: 0,
                client_order_ids: Vec::new(),
                duplicate: false,
                detail: None,
            }));
        }
    });
    Fake {
        member: FleetMember {
            name: name.into(),
            control: handle,
        },
        tx,
    }
}

impl Fake {
    fn set(&self, f: impl FnOnce(&mut LiveSnapshot)) {
        let mut s = (**self.tx.borrow()).clone();
        f(&mut s);
        self.tx.send_replace(Arc::new(s));
    }
    fn trading(&self) -> TradingState {
        self.member.control.snapshot().trading
    }
}

async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(StdDuration::from_millis(20)).await;
}

fn limits(loss: Option<Decimal>, lots: Option<Decimal>) -> PortfolioSection {
    PortfolioSection {
        max_daily_loss: loss,
        max_currency_exposure_lots: lots,
    }
}

#[test]
fn a_buy_of_eurusd_is_long_eur_and_short_usd() {
    let e = currency_exposure(&[
        position("EURUSD", Side::Buy, dec!(1.0)),
        position("USDJPY", Side::Buy, dec!(0.5)),
        position("GBPUSD", Side::Sell, dec!(0.2)),
    ]);
    let c = |s: &str| e.get(&Currency::new(s).unwrap()).copied();
    assert_eq!(c("EUR"), Some(dec!(1.0)));
    assert_eq!(c("USD"), Some(dec!(-0.3)));
    assert_eq!(c("JPY"), Some(dec!(-0.5)));
    assert_eq!(c("GBP"), Some(dec!(-0.2)));
}

#[test]
fn the_daily_loss_limit_counts_every_account_that_has_read_its_broker() {
    let l = limits(Some(dec!(500)), None);
    let a = snapshot("a", dec!(-300), Vec::new());
    let b = snapshot("b", dec!(-150), Vec::new());
    assert_eq!(portfolio_breach(&l, [&a, &b]), None);
    let c = snapshot("c", dec!(-50), Vec::new());
    assert_eq!(
        portfolio_breach(&l, [&a, &b, &c]),
        Some(PortfolioBreach::DailyLoss {
            loss: dec!(500),
            limit: dec!(500)
        })
    );
    // An account still starting (no account read) counts for nothing.
    let mut starting = snapshot("d", dec!(-1000), Vec::new());
    starting.account = None;
    assert_eq!(portfolio_breach(&l, [&a, &starting]), None);
}

#[test]
fn the_exposure_limit_adds_the_same_currency_across_accounts() {
    let l = limits(None, Some(dec!(2)));
    let a = snapshot("a", dec!(0), vec![position("EURUSD", Side::Buy, dec!(1.5))]);
    let b = snapshot("b", dec!(0), vec![position("EURGBP", Side::Buy, dec!(0.4))]);
    assert_eq!(portfolio_breach(&l, [&a, &b]), None);
    let c = snapshot("c", dec!(0), vec![position("EURJPY", Side::Buy, dec!(0.1))]);
    let breach = portfolio_breach(&l, [&a, &b, &c]).unwrap();
    assert_eq!(
        breach,
        PortfolioBreach::CurrencyExposure {
            currency: Currency::new("EUR").unwrap(),
            lots: dec!(2.0),
            limit: dec!(2)
        }
    );
    assert!(breach.to_string().contains("EUR"), "{breach}");
}

proptest! {
    /// Whatever the accounts' figures, the verdict is the sum's: a loss at or beyond the limit
    /// is a breach, anything less is not, and the order of the accounts does not matter.
    #[test]
    fn the_daily_loss_verdict_is_the_sums(pnls in proptest::collection::vec(-1_000i64..1_000, 1..8), limit in 1i64..2_000) {
        let l = limits(Some(Decimal::from(limit)), None);
        let snaps: Vec<_> = pnls.iter().map(|p| snapshot("x", Decimal::from(*p), Vec::new())).collect();
        let total: i64 = pnls.iter().sum();
        let forward = portfolio_breach(&l, snaps.iter());
        let backward = portfolio_breach(&l, snaps.iter().rev());
        prop_assert_eq!(&forward, &backward);
        prop_assert_eq!(forward.is_some(), -total >= limit);
    }
}

#[tokio::test]
async fn the_portfolio_limit_pauses_entries_on_every_account_and_holds_for_the_day() {
    let (a, b) = (fake("a", dec!(-100)), fake("b", dec!(-100)));
    let mut guard = PortfolioGuard::new(
        limits(Some(dec!(500)), None),
        vec![a.member.clone(), b.member.clone()],
    );
    assert_eq!(guard.check(), None);
    settle().await;
    assert_eq!(
        (a.trading(), b.trading()),
        (TradingState::Running, TradingState::Running)
    );
    // One account's loss takes the total over the limit: both stop entering.
    a.set(|s| s.daily_pnl = dec!(-450));
    assert!(matches!(
        guard.check(),
        Some(PortfolioBreach::DailyLoss { .. })
    ));
    settle().await;
    assert_eq!(
        (a.trading(), b.trading()),
        (TradingState::EntriesPaused, TradingState::EntriesPaused)
    );
    // The P&L recovers within the day: the halt holds.
    a.set(|s| s.daily_pnl = dec!(0));
    assert!(guard.check().is_some());
    // An operator resumes one account: the guard pauses it again while the limit holds.
    b.set(|s| s.trading = TradingState::Running);
    guard.check();
    settle().await;
    assert_eq!(b.trading(), TradingState::EntriesPaused);
    // The next day the halt lifts and entries resume everywhere.
    let next_day: DateTime<Utc> = at("2024-03-05T00:05:00Z");
    a.set(|s| s.at = next_day);
    b.set(|s| {
        s.at = next_day;
        s.daily_pnl = dec!(0);
    });
    assert_eq!(guard.check(), None);
    settle().await;
    assert_eq!(
        (a.trading(), b.trading()),
        (TradingState::Running, TradingState::Running)
    );
    assert!(guard.halted().is_none());
}

#[tokio::test]
async fn an_exposure_halt_lifts_when_the_exposure_falls_back() {
    let (a, b) = (fake("a", dec!(0)), fake("b", dec!(0)));
    let mut guard = PortfolioGuard::new(
        limits(None, Some(dec!(1))),
        vec![a.member.clone(), b.member.clone()],
    );
    a.set(|s| s.positions = vec![position("EURUSD", Side::Buy, dec!(0.6))]);
    b.set(|s| s.positions = vec![position("EURUSD", Side::Buy, dec!(0.6))]);
    assert!(matches!(
        guard.check(),
        Some(PortfolioBreach::CurrencyExposure { .. })
    ));
    settle().await;
    assert_eq!(b.trading(), TradingState::EntriesPaused);
    b.set(|s| s.positions.clear());
    assert_eq!(guard.check(), None);
    settle().await;
    assert_eq!(
        (a.trading(), b.trading()),
        (TradingState::Running, TradingState::Running)
    );
}

#[tokio::test]
async fn an_account_that_does_not_answer_does_not_hold_up_the_others() {
    // `stuck` never takes a command (its driver is in a long cycle).
    let (stuck, _port) = control_channel(snapshot("stuck", dec!(-600), Vec::new()));
    let b = fake("b", dec!(0));
    let mut guard = PortfolioGuard::new(
        limits(Some(dec!(500)), None),
        vec![
            FleetMember {
                name: "stuck".into(),
                control: stuck,
            },
            b.member.clone(),
        ],
    );
    assert!(guard.check().is_some());
    settle().await;
    assert_eq!(b.trading(), TradingState::EntriesPaused);
}

/// What the watcher wrote.
#[derive(Default)]
struct Journal {
    changes: Mutex<Vec<(String, bool, String)>>,
    beats: Mutex<Vec<DateTime<Utc>>>,
}

impl ConnectionJournal for Journal {
    fn changed(
        &self,
        account: &str,
        connected: bool,
        reason: &str,
        _hb: Option<DateTime<Utc>>,
        _at: DateTime<Utc>,
    ) -> Result<(), String> {
        self.changes
            .lock()
            .unwrap()
            .push((account.into(), connected, reason.into()));
        Ok(())
    }
    fn heartbeat(&self, _account: &str, at: DateTime<Utc>) -> Result<(), String> {
        self.beats.lock().unwrap().push(at);
        Ok(())
    }
}

#[tokio::test]
async fn every_change_of_an_accounts_link_is_written_with_its_reason() {
    let a = fake("a", dec!(0));
    let journal = Arc::new(Journal::default());
    let (stop_tx, stop) = watch::channel(false);
    let link = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let probe_link = link.clone();
    let w = ConnectionWatch {
        account: "a".into(),
        control: a.member.control.clone(),
        journal: journal.clone(),
        probe: Some(Arc::new(move || {
            probe_link.load(std::sync::atomic::Ordering::SeqCst)
        })),
        heartbeat_every: StdDuration::from_millis(0),
        poll_every: StdDuration::from_millis(10),
    };
    let task = tokio::spawn(watch_connection(w, stop));
    settle().await;
    // The driver is seen alive, then the terminal goes away and comes back.
    a.set(|s| s.health.loop_alive = Some(at("2024-03-04T10:00:05Z")));
    settle().await;
    link.store(false, std::sync::atomic::Ordering::SeqCst);
    settle().await;
    link.store(true, std::sync::atomic::Ordering::SeqCst);
    settle().await;
    a.set(|s| s.health.intent_store_ok = false);
    settle().await;
    stop_tx.send(true).unwrap();
    task.await.unwrap();
    let changes = journal.changes.lock().unwrap().clone();
    let states: Vec<bool> = changes.iter().map(|c| c.1).collect();
    assert_eq!(states, [true, false, true, true, false], "{changes:?}");
    assert_eq!(changes[0].2, "connected");
    assert!(changes[1].2.contains("not connected"), "{changes:?}");
    assert!(
        changes[3].2.contains("database refuses writes"),
        "{changes:?}"
    );
    assert_eq!(changes[4].2, "stopped");
    assert!(!journal.beats.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_disconnect_carries_the_drivers_last_error() {
    let (handle, port) = control_channel(snapshot("a", dec!(0), Vec::new()));
    let journal = Arc::new(Journal::default());
    let (stop_tx, stop) = watch::channel(false);
    let w = ConnectionWatch {
        account: "a".into(),
        control: handle,
        journal: journal.clone(),
        probe: None,
        heartbeat_every: StdDuration::from_secs(30),
        poll_every: StdDuration::from_millis(10),
    };
    let task = tokio::spawn(watch_connection(w, stop));
    settle().await;
    let kind = EventKind::Error {
        source: ErrorSource::Cycle,
        message: "broker: read timed out after 10000 ms".into(),
    };
    port.events
        .send(DomainEvent::new(at("2024-03-04T10:01:00Z"), kind))
        .unwrap();
    settle().await;
    let mut s = (**port.snapshots.borrow()).clone();
    s.health.broker_connected = false;
    port.snapshots.send_replace(Arc::new(s));
    settle().await;
    stop_tx.send(true).unwrap();
    task.await.unwrap();
    let changes = journal.changes.lock().unwrap().clone();
    assert!(!changes[1].1, "{changes:?}");
    assert!(changes[1].2.contains("timed out"), "{changes:?}");
}
