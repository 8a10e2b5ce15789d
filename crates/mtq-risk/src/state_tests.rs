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

mod quiet {
    use proptest::prelude::*;

    use super::*;

    /// A limit in hundredths (of a percent or of the account currency), or none.
    fn limit() -> impl Strategy<Value = Option<Decimal>> {
        prop_oneof![
            Just(None),
            (0i64..3_000).prop_map(|v| Some(Decimal::new(v, 2)))
        ]
    }

    proptest! {
        /// Whenever the quick test says the kill switch is quiet, the full evaluation changes
        /// nothing: over random equity paths with deposits, days and limits, including equities
        /// a cent either side of each limit.
        #[test]
        fn a_quiet_kill_switch_is_one_the_full_evaluation_leaves_alone(
            money in limit(),
            percent in limit(),
            drawdown in limit(),
            stops in (any::<bool>(), any::<bool>()),
            steps in proptest::collection::vec((-400i64..400, 0u8..20, 0i64..300), 1..60),
        ) {
            let cfg = EmergencyConfig {
                max_daily_loss_money: money.map(|m| m * Decimal::ONE_HUNDRED),
                max_daily_loss_percent: percent,
                stop_on_daily_loss: stops.0,
                max_drawdown_percent: drawdown,
                stop_on_max_drawdown: stops.1,
                ..EmergencyConfig::default()
            };
            let mut s = RiskState::new(TradingDayConfig::default());
            s.set_emergency(&cfg);
            let mut acc = account(Currency::USD, dec!(10000));
            let mut now = t("2024-03-04T00:00:00Z");
            let mut quiet_seen = 0;
            for (cents, kind, minutes) in steps {
                now += chrono::Duration::minutes(minutes * 10);
                match kind {
                    0 => s.record_deal(&deal(DealEntry::Balance, Decimal::new(cents * 100, 2))),
                    // Exactly at a level the exact check trips at, and a cent either side.
                    1..=3 => {
                        let day = s.day().cloned();
                        if let (Some(d), Some(m)) = (day, cfg.max_daily_loss_money) {
                            acc.equity = d.start_equity + d.net_deposits - m
                                + Decimal::new(i64::from(kind) - 2, 2);
                        }
                    }
                    4..=6 => {
                        if let (Some(p), Some(peak)) = (cfg.max_drawdown_percent, s.equity_peak()) {
                            acc.equity = peak - peak * p / Decimal::ONE_HUNDRED
                                + Decimal::new(i64::from(kind) - 5, 2);
                        }
                    }
                    _ => acc.equity += Decimal::new(cents * 10, 2),
                }
                s.observe_account(now, &acc);
                let before = s.kill_switch().clone();
                let band = s.quiet_band(false, acc.equity.scale());
                if band.is_some_and(|b| acc.equity >= b.floor) {
                    quiet_seen += 1;
                    let mut full = s.clone();
                    prop_assert_eq!(full.update_kill_switch(&cfg, now, false, &acc, &[]), None);
                    prop_assert_eq!(full.kill_switch(), &before);
                }
                s.update_kill_switch(&cfg, now, false, &acc, &[]);
            }
            prop_assert!(quiet_seen <= 60);
        }
    }
}

#[test]
fn the_kill_switch_is_quiet_above_its_levels_and_not_at_them() {
    let cfg = EmergencyConfig {
        max_daily_loss_money: Some(dec!(500)),
        max_daily_loss_percent: Some(dec!(3)),
        stop_on_daily_loss: true,
        max_drawdown_percent: Some(dec!(10)),
        stop_on_max_drawdown: true,
        ..EmergencyConfig::default()
    };
    let mut s = RiskState::new(TradingDayConfig::default());
    let mut acc = account(Currency::USD, dec!(10000));
    let now = t("2024-03-04T10:00:00Z");
    s.observe_account(now, &acc);
    assert!(quiet(&mut s, &cfg, false, &acc));
    assert!(!quiet(&mut s, &cfg, true, &acc), "the kill file");
    // 3% of 10,000 is the nearer level: 9,700 trips, a cent above is quiet.
    acc.equity = dec!(9700.01);
    assert!(quiet(&mut s, &cfg, false, &acc));
    acc.equity = dec!(9700);
    assert!(!quiet(&mut s, &cfg, false, &acc));
    assert!(s.update_kill_switch(&cfg, now, false, &acc, &[]).is_some());
    // Tripped: never quiet again until reset, whatever the equity.
    acc.equity = dec!(20000);
    s.observe_account(now, &acc);
    assert!(!quiet(&mut s, &cfg, false, &acc));
}

/// The one quiet test as the trader core asks it for a snapshot.
fn quiet(s: &mut RiskState, cfg: &EmergencyConfig, kill_file: bool, acc: &AccountInfo) -> bool {
    s.set_emergency(cfg);
    s.quiet_band(kill_file, acc.equity.scale())
        .is_some_and(|b| acc.equity >= b.floor)
}

#[test]
fn without_its_limits_the_kill_switch_is_never_quiet() {
    let mut s = RiskState::new(TradingDayConfig::default());
    let acc = account(Currency::USD, dec!(10000));
    s.observe_account(t("2024-03-04T10:00:00Z"), &acc);
    assert_eq!(s.quiet_band(false, 2), None);
    s.set_emergency(&EmergencyConfig::default());
    assert!(s.quiet_band(false, 2).is_some());
}
