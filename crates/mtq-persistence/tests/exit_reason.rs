//! Every closed trade gets its exit reason as a column: from the closing deal (stop loss, take
//! profit, stop-out) and from what MTQ knew before it (its own close, a stop it moved), both
//! when the writer takes the events one at a time and when one batch holds the whole trade.

mod common;

use common::fixtures::*;
use common::{TestDb, demo_account, t};
use mtq_core::{DealReason, DomainEvent, EventKind, ExitReason, Ticket};
use mtq_persistence::*;
use rust_decimal_macros::dec;

on_both_backends!(closed_trades_store_their_exit_reason);

/// A trade's events: opened, the hint MTQ publishes (if any), closed by a deal with `reason`.
fn story(n: u64, ticket: u64, hint: Option<ExitReason>, reason: DealReason) -> Vec<DomainEvent> {
    let mut events = vec![DomainEvent::new(
        t(10, 0),
        EventKind::PositionOpened {
            position: position(ticket, n),
        },
    )];
    if let Some(reason) = hint {
        events.push(DomainEvent::new(
            t(10, 5),
            EventKind::PositionExit {
                ticket: Ticket(ticket),
                reason,
            },
        ));
    }
    let deal = mtq_core::Deal {
        reason,
        ..closing_deal(
            ticket * 10,
            ticket,
            dec!(0.10),
            dec!(1.08127),
            dec!(0),
            t(10, 10),
        )
    };
    events.push(DomainEvent::new(
        t(10, 10),
        EventKind::PositionClosed { deal },
    ));
    events
}

fn closed_trades_store_their_exit_reason(db: &TestDb) {
    let mut store = db.open();
    let account = demo_account(&mut store).id;
    let cases = [
        (None, DealReason::StopLoss, ExitReason::StopLoss),
        (None, DealReason::TakeProfit, ExitReason::TakeProfit),
        (None, DealReason::StopOut, ExitReason::StopOut),
        (None, DealReason::Expert, ExitReason::Signal),
        (
            Some(ExitReason::Breakeven),
            DealReason::StopLoss,
            ExitReason::Breakeven,
        ),
        (
            Some(ExitReason::Trailing),
            DealReason::StopLoss,
            ExitReason::Trailing,
        ),
        (
            Some(ExitReason::Trailing),
            DealReason::TakeProfit,
            ExitReason::TakeProfit,
        ),
        (
            Some(ExitReason::KillSwitch),
            DealReason::Expert,
            ExitReason::KillSwitch,
        ),
        (
            Some(ExitReason::Operator),
            DealReason::Expert,
            ExitReason::Operator,
        ),
    ];
    let mut one_at_a_time = StoreSink::new(db.open(), Some(account)).unwrap();
    let mut one_batch = StoreSink::new(db.open(), Some(account)).unwrap();
    for (i, (hint, deal, want)) in cases.into_iter().enumerate() {
        let i = u64::try_from(i).unwrap();
        let (a, b) = (100 + i, 200 + i);
        for e in story(a, a, hint, deal) {
            one_at_a_time.write_batch(std::slice::from_ref(&e)).unwrap();
        }
        one_batch.write_batch(&story(b, b, hint, deal)).unwrap();
        for ticket in [a, b] {
            let row = store.trade(Some(account), Ticket(ticket)).unwrap().unwrap();
            assert_eq!(row.status, TradeStatus::Closed, "{row:?}");
            assert_eq!(
                row.exit_reason,
                Some(want),
                "{hint:?} then {deal:?}: {row:?}"
            );
        }
    }
}
