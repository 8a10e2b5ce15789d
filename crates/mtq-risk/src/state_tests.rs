use mtq_core::{Currency, Magic, Side, Ticket};
use rust_decimal_macros::dec;

use super::*;
use crate::testkit::*;

fn deal(entry: DealEntry, profit: Decimal) -> Deal {
    Deal {
        ticket: Ticket(9),
        order: None,
        position: None,
        symbol: None,
        side: Some(Side::Buy),
        entry,
        reason: mtq_core::DealReason::Expert,
        volume: Decimal::ZERO,
        price: Decimal::ZERO,
        commission: Decimal::ZERO,
        swap: Decimal::ZERO,
        profit,
        time: t("2024-03-04T12:00:00Z"),
        magic: Magic(7),
        comment: String::new(),
    }
}

fn emergency() -> EmergencyConfig {
    EmergencyConfig::default()
}

#[test]
fn the_day_loss_counts_realised_and_floating_since_the_day_began() {
    let mut s = RiskState::new(TradingDayConfig::default());
    let mut acc = account(Currency::USD, dec!(10000));
    s.observe_account(t("2024-03-04T00:05:00Z"), &acc);
    // A 300 USD loss was closed and 250 USD more is floating.
    s.record_deal(&deal(DealEntry::Out, dec!(-300)));
    acc.balance = dec!(9700);
    acc.equity = dec!(9450);
    let now = t("2024-03-04T15:00:00Z");
    s.observe_account(now, &acc);
    assert_eq!(s.day().unwrap().realised, dec!(-300));
    let r = s.daily_loss_refusal(&emergency(), now, &acc).unwrap();
    assert_eq!(r.code(), "daily_loss_percent");
    assert!(r.to_string().contains("lost 550 USD today (5.5%"), "{r}");
}

#[test]
fn a_new_trading_day_starts_from_the_equity_it_opens_with() {
    let mut s = RiskState::new(TradingDayConfig::default());
    let acc = account(Currency::USD, dec!(9000));
    s.observe_account(
        t("2024-03-04T23:00:00Z"),
        &account(Currency::USD, dec!(10000)),
    );
    assert!(
        s.daily_loss_refusal(&emergency(), t("2024-03-04T23:30:00Z"), &acc)
            .is_some()
    );
    // Before the first snapshot of the new day nothing counts as lost yet...
    let tomorrow = t("2024-03-05T00:01:00Z");
    assert!(s.daily_loss_refusal(&emergency(), tomorrow, &acc).is_none());
    // ...and after it the day starts at 9,000.
    s.observe_account(tomorrow, &acc);
    assert_eq!(s.day().unwrap().start_equity, dec!(9000));
    assert!(s.daily_loss_refusal(&emergency(), tomorrow, &acc).is_none());
}

#[test]
fn the_money_limit_trips_before_the_percent_limit_when_it_is_lower() {
    let mut s = RiskState::new(TradingDayConfig::default());
    let now = t("2024-03-04T10:00:00Z");
    s.observe_account(now, &account(Currency::EUR, dec!(10000)));
    let mut acc = account(Currency::EUR, dec!(10000));
    acc.equity = dec!(9800);
    let cfg = EmergencyConfig {
        max_daily_loss_money: Some(dec!(200)),
        ..emergency()
    };
    let r = s.daily_loss_refusal(&cfg, now, &acc).unwrap();
    assert_eq!(
        r.to_string(),
        "daily loss limit reached: lost 200 EUR today, the limit is 200 EUR"
    );
}

#[test]
fn deposits_are_not_profit_and_withdrawals_are_not_drawdown() {
    let mut s = RiskState::new(TradingDayConfig::default());
    let now = t("2024-03-04T10:00:00Z");
    s.observe_account(now, &account(Currency::USD, dec!(10000)));
    s.record_deal(&deal(DealEntry::Balance, dec!(-5000)));
    let acc = account(Currency::USD, dec!(5000));
    s.observe_account(now, &acc);
    assert!(s.daily_loss_refusal(&emergency(), now, &acc).is_none());
    assert!(s.drawdown_refusal(&emergency(), &acc).is_none());
    assert_eq!(s.equity_peak(), Some(dec!(5000)));
}

#[test]
fn drawdown_is_measured_from_the_equity_peak() {
    let mut s = RiskState::new(TradingDayConfig::default());
    let now = t("2024-03-04T10:00:00Z");
    s.observe_account(now, &account(Currency::USD, dec!(12000)));
    let mut acc = account(Currency::USD, dec!(12000));
    acc.equity = dec!(10800);
    let r = s.drawdown_refusal(&emergency(), &acc).unwrap();
    assert_eq!(
        r.to_string(),
        "drawdown 10% from the equity peak 12000 USD reaches the 10% limit"
    );
    s.reset_equity_peak(acc.equity);
    assert!(s.drawdown_refusal(&emergency(), &acc).is_none());
}

#[test]
fn order_failures_count_in_a_row_and_a_success_clears_them() {
    let mut s = RiskState::new(TradingDayConfig::default());
    s.record_order_failure();
    assert_eq!(s.record_order_failure(), 2);
    s.record_order_success();
    assert_eq!(s.consecutive_order_failures(), 0);
    s.record_entry(&sym("EURUSD"), t("2024-03-04T10:00:00Z"));
    assert_eq!(
        s.last_entry(&sym("EURUSD")),
        Some(t("2024-03-04T10:00:00Z"))
    );
}
