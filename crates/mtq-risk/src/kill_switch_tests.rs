use mtq_core::{Currency, Side};
use rust_decimal_macros::dec;

use super::*;
use crate::RiskState;
use crate::session::TradingDayConfig;
use crate::testkit::*;

fn conditions() -> KillSwitchConditions {
    KillSwitchConditions {
        emergency_stop: false,
        kill_file_present: false,
        trading_day: t("2024-03-04T10:00:00Z").date_naive(),
        daily_loss: None,
        drawdown: None,
        consecutive_order_failures: 0,
    }
}

fn open_positions() -> Vec<Position> {
    vec![
        position(
            1,
            "EURUSD",
            Side::Buy,
            dec!(0.5),
            dec!(1.1),
            Some(dec!(1.098)),
        ),
        position(
            2,
            "USDJPY",
            Side::Sell,
            dec!(0.3),
            dec!(150),
            Some(dec!(151)),
        ),
    ]
}

#[test]
fn emergency_stop_halts_and_closes_every_position_when_configured() {
    let cfg = EmergencyConfig {
        emergency_stop: true,
        close_all_on_stop: true,
        ..EmergencyConfig::default()
    };
    let mut ks = KillSwitch::new();
    let c = KillSwitchConditions {
        emergency_stop: true,
        ..conditions()
    };
    let tr = ks
        .update(&cfg, t("2024-03-04T10:00:00Z"), &c, &open_positions())
        .unwrap();
    assert_eq!(
        (tr.from, tr.to),
        (KillSwitchState::Active, KillSwitchState::Halted)
    );
    assert_eq!(tr.trigger, Some(Trigger::EmergencyStop));
    assert_eq!(tr.close.len(), 2);
    assert!(
        tr.close
            .iter()
            .all(|a| a.reason() == ActionReason::KillSwitch)
    );
    assert_eq!(tr.close[1].ticket(), mtq_core::Ticket(2));
    assert_eq!(
        tr.event().kind,
        EventKind::KillSwitch {
            state: KillSwitchState::Halted,
            reason: "emergency.emergency_stop is set in the config".into(),
        }
    );
    // Nothing changes while the condition holds: no repeated events or closes.
    assert!(
        ks.update(&cfg, t("2024-03-04T10:01:00Z"), &c, &[])
            .is_none()
    );
}

#[test]
fn without_close_all_on_stop_halting_closes_nothing() {
    let cfg = EmergencyConfig::default();
    let mut ks = KillSwitch::new();
    let c = KillSwitchConditions {
        kill_file_present: true,
        ..conditions()
    };
    let tr = ks
        .update(&cfg, t("2024-03-04T10:00:00Z"), &c, &open_positions())
        .unwrap();
    assert!(tr.close.is_empty());
    assert_eq!(tr.reason, "the kill-switch file is present");
}

#[test]
fn removing_the_kill_switch_file_returns_to_active_with_an_event() {
    let cfg = EmergencyConfig::default();
    let mut ks = KillSwitch::new();
    let file = KillSwitchConditions {
        kill_file_present: true,
        ..conditions()
    };
    ks.update(&cfg, t("2024-03-04T10:00:00Z"), &file, &[])
        .unwrap();
    let tr = ks
        .update(&cfg, t("2024-03-04T10:05:00Z"), &conditions(), &[])
        .unwrap();
    assert_eq!(
        (tr.from, tr.to),
        (KillSwitchState::Halted, KillSwitchState::Active)
    );
    assert_eq!(tr.trigger, None);
    assert!(ks.entry_refusal().is_none());
}

#[test]
fn the_daily_loss_limit_goes_reduce_only_until_the_next_trading_day() {
    let cfg = EmergencyConfig::default();
    let mut s = RiskState::new(TradingDayConfig::default());
    let start = account(Currency::USD, dec!(10000));
    s.observe_account(t("2024-03-04T08:00:00Z"), &start);
    let mut losing = start.clone();
    losing.equity = dec!(9400);
    let tr = s
        .update_kill_switch(&cfg, t("2024-03-04T12:00:00Z"), false, &losing, &[])
        .unwrap();
    assert_eq!(tr.to, KillSwitchState::ReduceOnly);
    assert_eq!(tr.trigger, Some(Trigger::DailyLoss));
    assert!(
        tr.reason.starts_with("daily loss limit reached"),
        "{}",
        tr.reason
    );
    // Equity recovers the same day: still reduce-only (latched).
    assert!(
        s.update_kill_switch(&cfg, t("2024-03-04T13:00:00Z"), false, &start, &[])
            .is_none()
    );
    let refusal = s.kill_switch().entry_refusal().unwrap();
    assert!(
        refusal
            .to_string()
            .starts_with("trading is reduce-only: daily loss"),
        "{refusal}"
    );
    // The next trading day clears it.
    let next = t("2024-03-05T00:00:00Z");
    s.observe_account(next, &start);
    let tr = s
        .update_kill_switch(&cfg, next, false, &start, &[])
        .unwrap();
    assert_eq!(tr.to, KillSwitchState::Active);
}

#[test]
fn drawdown_halts_and_stays_halted_until_an_operator_resets() {
    let cfg = EmergencyConfig::default();
    let mut s = RiskState::new(TradingDayConfig::default());
    let now = t("2024-03-04T08:00:00Z");
    let mut acc = account(Currency::USD, dec!(10000));
    s.observe_account(now, &acc);
    s.restore(None, Some(dec!(12000)));
    let tr = s.update_kill_switch(&cfg, now, false, &acc, &[]).unwrap();
    assert_eq!(
        (tr.to, tr.trigger),
        (KillSwitchState::Halted, Some(Trigger::Drawdown))
    );
    acc.equity = dec!(11900);
    assert!(s.update_kill_switch(&cfg, now, false, &acc, &[]).is_none());
    s.kill_switch_mut().reset();
    let tr = s.update_kill_switch(&cfg, now, false, &acc, &[]).unwrap();
    assert_eq!(tr.to, KillSwitchState::Active);
}

#[test]
fn repeated_order_failures_halt_trading() {
    let cfg = EmergencyConfig {
        max_consecutive_order_failures: Some(3),
        ..EmergencyConfig::default()
    };
    let mut ks = KillSwitch::new();
    let now = t("2024-03-04T10:00:00Z");
    let two = KillSwitchConditions {
        consecutive_order_failures: 2,
        ..conditions()
    };
    assert!(ks.update(&cfg, now, &two, &[]).is_none());
    let three = KillSwitchConditions {
        consecutive_order_failures: 3,
        ..conditions()
    };
    let tr = ks.update(&cfg, now, &three, &[]).unwrap();
    assert_eq!(tr.to, KillSwitchState::Halted);
    assert!(
        tr.reason.contains("3 orders failed in a row"),
        "{}",
        tr.reason
    );
}

#[test]
fn the_most_severe_trigger_decides_and_escalation_is_an_event() {
    let cfg = EmergencyConfig {
        close_all_on_stop: true,
        ..EmergencyConfig::default()
    };
    let mut ks = KillSwitch::new();
    let now = t("2024-03-04T10:00:00Z");
    let loss = KillSwitchConditions {
        daily_loss: Some(crate::Refusal::DailyLossMoney {
            loss: dec!(600),
            limit: dec!(500),
            currency: Currency::USD,
        }),
        ..conditions()
    };
    let tr = ks.update(&cfg, now, &loss, &open_positions()).unwrap();
    assert_eq!(tr.to, KillSwitchState::ReduceOnly);
    assert!(tr.close.is_empty(), "reduce-only closes nothing");
    let both = KillSwitchConditions {
        emergency_stop: true,
        ..loss
    };
    let tr = ks.update(&cfg, now, &both, &open_positions()).unwrap();
    assert_eq!(
        (tr.from, tr.to),
        (KillSwitchState::ReduceOnly, KillSwitchState::Halted)
    );
    assert_eq!(tr.close.len(), 2);
}

#[test]
fn a_manual_stop_holds_until_reset() {
    let cfg = EmergencyConfig::default();
    let mut ks = KillSwitch::new();
    let now = t("2024-03-04T10:00:00Z");
    let tr = ks
        .trip_manually(&cfg, now, StopAction::ReduceOnly, "news at 14:30", &[])
        .unwrap();
    assert_eq!(tr.reason, "stopped by hand: news at 14:30");
    assert!(ks.update(&cfg, now, &conditions(), &[]).is_none());
    assert!(!ks.state().allows_entries());
    assert!(ks.state().allows_management());
    ks.reset();
    assert_eq!(
        ks.update(&cfg, now, &conditions(), &[]).unwrap().to,
        KillSwitchState::Active
    );
}
