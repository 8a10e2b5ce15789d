use std::collections::BTreeMap;

use mtq_core::{Currency, StaticRates};
use rust_decimal_macros::dec;

use super::*;
use crate::session::{ClockTime, TradingDayConfig, TradingSession};
use crate::testkit::*;

struct World {
    config: RiskConfig,
    symbol_config: SymbolRiskConfig,
    state: RiskState,
    account: AccountInfo,
    positions: Vec<Position>,
    specs: BTreeMap<Symbol, SymbolSpec>,
    rates: StaticRates,
    now: DateTime<Utc>,
}

impl World {
    fn new() -> Self {
        let specs = ["EURUSD", "GBPUSD", "USDJPY", "EURGBP", "XAUUSD"]
            .into_iter()
            .map(|n| (sym(n), spec(n)))
            .collect();
        let now = t("2024-03-04T10:00:00Z");
        let account = account(Currency::USD, dec!(10000));
        let mut state = RiskState::new(TradingDayConfig::default());
        state.observe_account(now, &account);
        Self {
            config: RiskConfig::default(),
            symbol_config: SymbolRiskConfig::default(),
            state,
            account,
            positions: Vec::new(),
            specs,
            rates: rates(),
            now,
        }
    }

    fn ctx(&self) -> CheckContext<'_> {
        CheckContext {
            now: self.now,
            config: &self.config,
            symbol_config: &self.symbol_config,
            state: &self.state,
            account: &self.account,
            positions: &self.positions,
            specs: &self.specs,
            rates: &self.rates,
        }
    }
}

fn buy_eurusd() -> EntryIntent {
    EntryIntent {
        symbol: sym("EURUSD"),
        side: Side::Buy,
        entry: dec!(1.10020),
        sl: Some(dec!(1.09820)),
        bid: dec!(1.10000),
        ask: dec!(1.10020),
    }
}

fn code(r: Result<(), Refusal>) -> &'static str {
    r.err().map_or("allowed", |r| r.code())
}

#[test]
fn a_plain_entry_is_sized_and_allowed() {
    let w = World::new();
    let sized = plan_entry(&w.ctx(), &buy_eurusd()).unwrap();
    assert_eq!(sized.volume, dec!(0.5));
    assert!(entry_refusals(&w.ctx(), &buy_eurusd(), sized.volume).is_empty());
}

#[test]
fn the_portfolio_and_symbol_position_caps_refuse_the_next_entry() {
    let mut w = World::new();
    w.config.global.max_concurrent_trades = 2;
    w.positions = vec![
        position(
            1,
            "USDJPY",
            Side::Buy,
            dec!(0.1),
            dec!(150),
            Some(dec!(149)),
        ),
        position(
            2,
            "GBPUSD",
            Side::Buy,
            dec!(0.1),
            dec!(1.25),
            Some(dec!(1.24)),
        ),
    ];
    let r = check_max_positions(&w.ctx(), &buy_eurusd(), Decimal::ZERO);
    assert_eq!(
        r.unwrap_err().to_string(),
        "2 positions are open, the portfolio maximum is 2"
    );
    w.symbol_config.max_total_positions = 1;
    w.positions[0].symbol = sym("EURUSD");
    w.positions[0].side = Side::Sell;
    assert_eq!(
        code(check_symbol_positions(
            &w.ctx(),
            &buy_eurusd(),
            Decimal::ZERO
        )),
        "max_symbol_positions"
    );
}

#[test]
fn stacking_is_refused_unless_allowed_and_then_capped_per_direction() {
    let mut w = World::new();
    w.positions = vec![position(
        1,
        "EURUSD",
        Side::Buy,
        dec!(0.1),
        dec!(1.1),
        Some(dec!(1.09)),
    )];
    assert_eq!(
        code(check_stacking(&w.ctx(), &buy_eurusd(), Decimal::ZERO)),
        "stacking_not_allowed"
    );
    let sell = EntryIntent {
        side: Side::Sell,
        sl: Some(dec!(1.102)),
        ..buy_eurusd()
    };
    assert_eq!(
        code(check_stacking(&w.ctx(), &sell, Decimal::ZERO)),
        "allowed"
    );
    w.symbol_config.allow_position_stacking = true;
    w.symbol_config.max_positions_same_direction = 2;
    assert_eq!(
        code(check_stacking(&w.ctx(), &buy_eurusd(), Decimal::ZERO)),
        "allowed"
    );
    w.positions.push(position(
        2,
        "EURUSD",
        Side::Buy,
        dec!(0.1),
        dec!(1.1),
        Some(dec!(1.09)),
    ));
    let r = check_stacking(&w.ctx(), &buy_eurusd(), Decimal::ZERO).unwrap_err();
    assert_eq!(
        r.to_string(),
        "EURUSD: 2 buy positions are open, the maximum in one direction is 2"
    );
}

#[test]
fn a_stacked_entry_is_sized_with_less_risk() {
    let mut w = World::new();
    w.symbol_config.allow_position_stacking = true;
    w.symbol_config.max_positions_same_direction = 3;
    w.positions = vec![position(
        1,
        "EURUSD",
        Side::Buy,
        dec!(0.5),
        dec!(1.1),
        Some(dec!(1.098)),
    )];
    let sized = plan_entry(&w.ctx(), &buy_eurusd()).unwrap();
    assert_eq!(sized.volume, dec!(0.25));
}

#[test]
fn the_cooldown_counts_from_the_last_entry_on_the_symbol() {
    let mut w = World::new();
    w.symbol_config.cooldown_seconds = 60;
    w.state
        .record_entry(&sym("EURUSD"), w.now - chrono::Duration::seconds(45));
    let r = check_cooldown(&w.ctx(), &buy_eurusd(), Decimal::ZERO).unwrap_err();
    assert_eq!(
        r.to_string(),
        "EURUSD: cooling down, 15 s left of 60 s since the last entry"
    );
    w.now += chrono::Duration::seconds(15);
    assert_eq!(
        code(check_cooldown(&w.ctx(), &buy_eurusd(), Decimal::ZERO)),
        "allowed"
    );
}

#[test]
fn a_wide_spread_is_refused() {
    let mut w = World::new();
    w.symbol_config.max_spread_pips = Some(dec!(2.5));
    assert_eq!(
        code(check_spread(&w.ctx(), &buy_eurusd(), Decimal::ZERO)),
        "allowed"
    );
    let wide = EntryIntent {
        ask: dec!(1.10030),
        ..buy_eurusd()
    };
    let r = check_spread(&w.ctx(), &wide, Decimal::ZERO).unwrap_err();
    assert_eq!(
        r.to_string(),
        "EURUSD: spread 3 pips is wider than the 2.5 pips allowed"
    );
}

#[test]
fn entries_outside_the_trading_hours_are_refused() {
    let mut w = World::new();
    w.symbol_config.trading_hours = vec![TradingSession {
        start: ClockTime::hm(12, 0).unwrap(),
        end: ClockTime::hm(16, 0).unwrap(),
        days: vec![chrono::Weekday::Mon],
        timezone: chrono_tz::Tz::UTC,
    }];
    assert_eq!(
        code(check_trading_hours(&w.ctx(), &buy_eurusd(), Decimal::ZERO)),
        "outside_trading_hours"
    );
    w.now = t("2024-03-04T12:30:00Z");
    assert_eq!(
        code(check_trading_hours(&w.ctx(), &buy_eurusd(), Decimal::ZERO)),
        "allowed"
    );
}

#[test]
fn margin_after_the_trade_must_stay_above_the_thresholds() {
    let mut w = World::new();
    // 4 lots EURUSD at 1.1002 and 1:100 need 4,400.80 USD: 5,599.20 stays free, level 227%.
    assert_eq!(
        code(check_margin(&w.ctx(), &buy_eurusd(), dec!(4))),
        "allowed"
    );
    w.config.global.min_free_margin = dec!(6000);
    let r = check_margin(&w.ctx(), &buy_eurusd(), dec!(4)).unwrap_err();
    assert_eq!(
        r.to_string(),
        "free margin after the trade would be 5599.2 USD, below the 6000 USD required"
    );
    w.config.global.min_free_margin = Decimal::ZERO;
    // 5 lots need 5,501 USD against 10,000 equity: a 181.79% margin level, below 200%.
    let r = check_margin(&w.ctx(), &buy_eurusd(), dec!(5)).unwrap_err();
    assert_eq!(
        r.to_string(),
        "margin level after the trade would be 181.79%, below the 200% required"
    );
    assert_eq!(
        code(check_margin(&w.ctx(), &buy_eurusd(), dec!(20))),
        "free_margin"
    );
}

#[test]
fn total_open_risk_is_held_to_portfolio_risk_percent() {
    let mut w = World::new();
    w.config.global.portfolio_risk_percent = dec!(2);
    // 150 USD already at risk; 0.5 lot more risks 100 USD: 250 > 200.
    w.positions = vec![position(
        1,
        "USDJPY",
        Side::Buy,
        dec!(1),
        dec!(150),
        Some(dec!(149.775)),
    )];
    let r = check_portfolio_risk(&w.ctx(), &buy_eurusd(), dec!(0.5)).unwrap_err();
    assert_eq!(
        r.to_string(),
        "open risk would reach 250 USD (2.5% of balance), above portfolio_risk_percent 2%"
    );
    assert_eq!(
        code(check_portfolio_risk(&w.ctx(), &buy_eurusd(), dec!(0.25))),
        "allowed"
    );
}

#[test]
fn correlated_longs_against_the_dollar_hit_the_usd_exposure_cap() {
    let mut w = World::new();
    w.config.global.max_currency_exposure_percent = Some(dec!(1500));
    // Long 1 lot GBPUSD at 1.25: short 125,000 USD (1250% of equity).
    w.positions = vec![position(
        1,
        "GBPUSD",
        Side::Buy,
        dec!(1),
        dec!(1.25),
        Some(dec!(1.24)),
    )];
    let r = check_currency_exposure(&w.ctx(), &buy_eurusd(), dec!(0.5)).unwrap_err();
    assert_eq!(
        r.to_string(),
        "net USD exposure would reach 1800.1% of equity, above the 1500% cap"
    );
    // Selling EURUSD instead reduces the USD short: allowed.
    let sell = EntryIntent {
        side: Side::Sell,
        entry: dec!(1.1),
        sl: Some(dec!(1.102)),
        ..buy_eurusd()
    };
    assert_eq!(
        code(check_currency_exposure(&w.ctx(), &sell, dec!(0.5))),
        "allowed"
    );
    // A per-currency override raises the cap for USD only.
    w.config
        .global
        .currency_exposure_caps
        .insert(Currency::USD, dec!(2000));
    assert_eq!(
        code(check_currency_exposure(&w.ctx(), &buy_eurusd(), dec!(0.5))),
        "allowed"
    );
}

#[test]
fn after_the_daily_loss_limit_no_entry_passes_and_the_reason_says_so() {
    let mut w = World::new();
    w.account.equity = dec!(9500);
    let r = plan_entry(&w.ctx(), &buy_eurusd()).unwrap_err();
    assert_eq!(r.code(), "daily_loss_percent");
    let refusals = entry_refusals(&w.ctx(), &buy_eurusd(), dec!(0.5));
    assert_eq!(refusals.len(), 1, "{refusals:?}");
}

#[test]
fn a_tripped_kill_switch_refuses_first() {
    let mut w = World::new();
    w.config.emergency.emergency_stop = true;
    let cfg = w.config.emergency.clone();
    let (now, acc) = (w.now, w.account.clone());
    w.state
        .update_kill_switch(&cfg, now, false, &acc, &[])
        .unwrap();
    let r = plan_entry(&w.ctx(), &buy_eurusd()).unwrap_err();
    assert_eq!(
        r.to_string(),
        "trading is halted: emergency.emergency_stop is set in the config"
    );
}

#[test]
fn an_unknown_symbol_is_refused_by_name() {
    let w = World::new();
    let intent = EntryIntent {
        symbol: sym("NZDUSD"),
        ..buy_eurusd()
    };
    let r = plan_entry(&w.ctx(), &intent).unwrap_err();
    assert_eq!(
        r.to_string(),
        "no symbol specification for NZDUSD: add it to the symbol specs"
    );
}
