//! Domain values for scenarios: a EURUSD buy from signal to close.

use chrono::{DateTime, Utc};
use mtq_core::testkit;
use mtq_core::{
    AccountInfo, ClientOrderId, Currency, Deal, DealEntry, DealReason, DomainEvent, EventKind,
    Magic, OrderOutcome, OrderRequest, Position, Retcode, Side, Signal, SignalKind, Symbol, Ticket,
    Timeframe,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::t;

/// EURUSD, the symbol of every scenario here.
pub fn eurusd() -> Symbol {
    testkit::eurusd().symbol
}

pub fn coid(n: u64) -> ClientOrderId {
    ClientOrderId::new(&format!("mtq-1-EURUSD-{n:06}")).unwrap()
}

pub fn signal(strategy: &str) -> Signal {
    Signal::new(
        eurusd(),
        Timeframe::H1,
        t(9, 0),
        SignalKind::Buy,
        0.75,
        strategy,
        "fast MA crossed above slow",
    )
    .unwrap()
    .with_levels(Some(1.08125), Some(1.07925), Some(1.08525))
}

pub fn request(n: u64) -> OrderRequest {
    OrderRequest {
        sl: Some(dec!(1.07925)),
        tp: Some(dec!(1.08525)),
        magic: Magic(20240301),
        ..OrderRequest::market(coid(n), eurusd(), Side::Buy, dec!(0.10))
    }
}

pub fn outcome(position: u64) -> OrderOutcome {
    OrderOutcome {
        retcode: Retcode::Done,
        deal: Some(Ticket(position + 1_000)),
        order: Some(Ticket(position + 2_000)),
        position: Some(Ticket(position)),
        volume: dec!(0.10),
        price: dec!(1.08127),
        bid: dec!(1.08125),
        ask: dec!(1.08127),
        comment: "Request executed".into(),
        time: t(10, 0),
    }
}

pub fn position(ticket: u64, n: u64) -> Position {
    Position {
        ticket: Ticket(ticket),
        symbol: eurusd(),
        side: Side::Buy,
        volume: dec!(0.10),
        open_price: dec!(1.08127),
        open_time: t(10, 0),
        sl: Some(dec!(1.07925)),
        tp: Some(dec!(1.08525)),
        current_price: dec!(1.08127),
        swap: Decimal::ZERO,
        profit: Decimal::ZERO,
        magic: Magic(20240301),
        comment: coid(n).to_string(),
    }
}

/// The deal that opened `position` (0.10 lots at 1.08127, commission -0.35).
pub fn entry_deal(ticket: u64, position: u64, time: DateTime<Utc>) -> Deal {
    Deal {
        side: Some(Side::Buy),
        entry: DealEntry::In,
        reason: DealReason::Expert,
        swap: Decimal::ZERO,
        ..closing_deal(
            ticket,
            position,
            dec!(0.10),
            dec!(1.08127),
            Decimal::ZERO,
            time,
        )
    }
}

pub fn closing_deal(
    ticket: u64,
    position: u64,
    volume: Decimal,
    price: Decimal,
    profit: Decimal,
    time: DateTime<Utc>,
) -> Deal {
    Deal {
        ticket: Ticket(ticket),
        order: None,
        position: Some(Ticket(position)),
        symbol: Some(eurusd()),
        side: Some(Side::Sell),
        entry: DealEntry::Out,
        reason: DealReason::TakeProfit,
        volume,
        price,
        commission: dec!(-0.35),
        swap: dec!(-0.12),
        profit,
        time,
        magic: Magic(20240301),
        comment: String::new(),
    }
}

pub fn account_info(equity: Decimal) -> AccountInfo {
    AccountInfo {
        login: 5_001_234,
        server: "Demo-Server".into(),
        equity,
        margin: dec!(108.13),
        free_margin: equity - dec!(108.13),
        margin_level: Some(dec!(9250.48)),
        ..testkit::account(Currency::USD, dec!(10000))
    }
}

/// Signal, intent, fill, open, modify, close, snapshot, kill switch: one trade's whole story.
pub fn trade_story(n: u64, ticket: u64) -> Vec<DomainEvent> {
    let ev = |h, m, kind| DomainEvent::new(t(h, m), kind);
    vec![
        ev(
            9,
            0,
            EventKind::SignalRecorded {
                signal: signal("ma_crossover"),
                refusal: None,
            },
        ),
        ev(
            9,
            1,
            EventKind::OrderIntent {
                request: request(n),
            },
        ),
        ev(
            10,
            0,
            EventKind::OrderSucceeded {
                client_order_id: coid(n),
                outcome: outcome(ticket),
            },
        ),
        ev(
            10,
            0,
            EventKind::PositionOpened {
                position: position(ticket, n),
            },
        ),
        ev(
            10,
            30,
            EventKind::PositionModified {
                ticket: Ticket(ticket),
                sl: Some(dec!(1.08127)),
                tp: Some(dec!(1.08525)),
            },
        ),
        ev(
            11,
            0,
            EventKind::PositionClosed {
                deal: closing_deal(
                    ticket + 5_000,
                    ticket,
                    dec!(0.10),
                    dec!(1.08525),
                    dec!(39.80),
                    t(11, 0),
                ),
            },
        ),
        ev(
            11,
            1,
            EventKind::AccountSnapshot {
                account: account_info(dec!(10039.33)),
            },
        ),
        ev(
            11,
            2,
            EventKind::KillSwitch {
                state: mtq_core::KillSwitchState::Active,
                reason: "daily loss limit reset".into(),
            },
        ),
    ]
}
