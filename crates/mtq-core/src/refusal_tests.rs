use chrono::TimeZone;
use rust_decimal_macros::dec;

use super::*;
use crate::{DomainEvent, EventKind, Signal, SignalKind, Timeframe};

fn eurusd() -> Symbol {
    crate::testkit::symbol("EURUSD")
}

fn spread_refusal() -> SignalRefusal {
    SignalRefusal::Risk(Refusal::SpreadTooWide {
        symbol: eurusd(),
        spread_pips: dec!(3.2),
        max_pips: dec!(2),
    })
}

fn signal_event(refusal: Option<SignalRefusal>) -> DomainEvent {
    let time = Utc.with_ymd_and_hms(2024, 3, 4, 10, 0, 0).unwrap();
    let signal = Signal::new(
        eurusd(),
        Timeframe::H1,
        time,
        SignalKind::Buy,
        0.5,
        "ma",
        "cross",
    )
    .unwrap();
    DomainEvent::new(time, EventKind::SignalRecorded { signal, refusal })
}

#[test]
fn a_typed_refusal_reads_as_the_sentence_it_replaced() {
    assert_eq!(
        spread_refusal().to_string(),
        "EURUSD: spread 3.2 pips is wider than the 2 pips allowed"
    );
    let hold = SignalRefusal::Hold {
        reason: "blocked buy: adx: 12 below 20".into(),
    };
    assert_eq!(hold.to_string(), "hold: blocked buy: adx: 12 below 20");
    assert_eq!(
        SignalRefusal::NothingToClose.to_string(),
        "nothing to close"
    );
}

#[test]
fn a_refusal_round_trips_through_json_with_its_code_and_numbers() {
    let e = signal_event(Some(spread_refusal()));
    let json = serde_json::to_string(&e).unwrap();
    assert!(
        json.contains(r#""refusal":{"refused_by":"risk","code":"spread_too_wide""#),
        "{json}"
    );
    let back: DomainEvent = serde_json::from_str(&json).unwrap();
    assert_eq!(back, e);
    let entry = signal_event(Some(
        EntryRefusal::ReversalNotClosed { ticket: Ticket(7) }.into(),
    ));
    let back: DomainEvent = serde_json::from_str(&serde_json::to_string(&entry).unwrap()).unwrap();
    assert_eq!(back, entry);
}

#[test]
fn an_old_row_with_a_refusal_sentence_still_loads_and_writes_back_unchanged() {
    let old = "EURUSD: spread 3.2 pips is wider than the 2 pips allowed";
    let stored = serde_json::to_string(&signal_event(None))
        .unwrap()
        .replace(r#""refusal":null"#, &format!(r#""refusal":"{old}""#));
    let back: DomainEvent = serde_json::from_str(&stored).unwrap();
    let EventKind::SignalRecorded { refusal, .. } = &back.kind else {
        panic!("{back:?}");
    };
    assert_eq!(refusal, &Some(SignalRefusal::Text(old.into())));
    assert_eq!(refusal.as_ref().unwrap().to_string(), old);
    assert_eq!(serde_json::to_string(&back).unwrap(), stored);
}

#[test]
fn an_old_kill_switch_row_with_reduce_only_hyphenated_still_loads() {
    let stored = r#"{"time":"2024-03-04T10:00:00Z","kind":{"type":"kill_switch","state":"reduce-only","reason":"drawdown"}}"#;
    let back: DomainEvent = serde_json::from_str(stored).unwrap();
    assert_eq!(
        back.kind,
        EventKind::KillSwitch {
            state: KillSwitchState::ReduceOnly,
            reason: "drawdown".into()
        }
    );
    let written = serde_json::to_string(&back).unwrap();
    assert!(written.contains(r#""state":"reduce_only""#), "{written}");
    assert_eq!(KillSwitchState::ReduceOnly.to_string(), "reduce-only");
}

#[test]
fn an_error_source_keeps_the_name_it_was_stored_under() {
    let stored = r#"{"time":"2024-03-04T10:00:00Z","kind":{"type":"error","source":"intent_store","message":"down"}}"#;
    let back: DomainEvent = serde_json::from_str(stored).unwrap();
    assert_eq!(
        back.kind,
        EventKind::Error {
            source: ErrorSource::IntentStore,
            message: "down".into()
        }
    );
    assert_eq!(serde_json::to_string(&back).unwrap(), stored);
}

#[test]
fn summaries_drop_the_numbers_so_refusals_of_a_kind_count_together() {
    let a = Refusal::DailyLossPercent {
        loss: dec!(512.3),
        loss_percent: dec!(5.1),
        limit_percent: dec!(5),
        currency: Currency::USD,
    };
    let b = Refusal::DailyLossMoney {
        loss: dec!(90),
        limit: dec!(80),
        currency: Currency::USD,
    };
    assert_eq!(a.summary(), "daily loss limit reached: lost");
    assert_eq!(a.summary(), b.summary());
    assert_eq!(spread_refusal().summary(), "EURUSD: spread");
    let halted = Refusal::KillSwitch {
        state: KillSwitchState::Halted,
        trigger: Some(KillSwitchTrigger::DailyLoss),
        reason: a.to_string(),
    };
    assert_eq!(
        halted.summary(),
        "trading is halted: daily loss limit reached: lost"
    );
}
