//! # mtq-risk: sizing, pre-trade checks, portfolio limits, the kill switch and position management
//!
//! Owns every decision about how much to trade and whether to trade at all, as pure functions and
//! small state shared by the trader core, the backtester and the API:
//!
//! - **Sizing** ([`size_position`]): risk a percentage of balance or equity over the stop-loss
//!   distance, priced in the account currency with live rates (correct for EURUSD, USDJPY, EURGBP
//!   and gold in a USD, EUR or JPY account); rounded down to the volume step; refused, never
//!   rounded up, when even the minimum volume would risk too much. Also fixed volume and a
//!   fraction of the free margin, and smaller risk for each position stacked in one direction.
//! - **Pre-trade checks** ([`plan_entry`], [`GATE_CHECKS`], [`BOOK_CHECKS`]): each answers allow
//!   or a [`Refusal`] a trader understands: kill switch, trading hours, spread, cooldown, position
//!   counts and stacking, daily loss (realised and floating since the trading day began, in a
//!   configured timezone), drawdown from the equity peak, margin after the trade, total open risk
//!   against `portfolio_risk_percent`, and net exposure per currency.
//! - **The kill switch** ([`KillSwitch`]): active, reduce-only or halted; tripped by
//!   `emergency.emergency_stop`, the kill-switch file, the daily loss and drawdown limits and
//!   repeated order failures; every transition a [`KillSwitchTransition`] with its reason and,
//!   with `close_all_on_stop`, a close for every open position.
//! - **Position management** ([`manage_position`] and the rules beside it): breakeven, a
//!   trailing stop that never loosens, one partial close per position and a maximum holding time,
//!   each respecting the symbol's stops and freeze levels.
//!
//! It does no I/O and reads no clock: the caller passes the time, the account, the open
//! positions, the rates and whether the kill-switch file exists. It does not send orders, keep
//! the order book or decide *when* to trade; the orchestrator does.
//!
//! ## A trade through sizing and the checks
//!
//! ```
//! use mtq_core::{AccountInfo, Currency, MarginMode, Side, StaticRates, Symbol, SymbolSpec};
//! use mtq_risk::{
//!     CheckContext, EntryIntent, RiskConfig, RiskState, SymbolRiskConfig, plan_entry,
//! };
//! use rust_decimal_macros::dec;
//! use std::collections::BTreeMap;
//!
//! let eurusd = SymbolSpec::builtin("EURUSD").unwrap();
//! let specs = BTreeMap::from([(eurusd.symbol.clone(), eurusd)]);
//! let rates = StaticRates::new().with(Currency::EUR, Currency::USD, dec!(1.10));
//! let account = AccountInfo {
//!     login: 1, server: "Demo".into(), currency: Currency::USD,
//!     balance: dec!(10000), equity: dec!(10000), margin: dec!(0), free_margin: dec!(10000),
//!     margin_level: None, leverage: 100, margin_mode: MarginMode::Hedging,
//! };
//! let config = RiskConfig::default(); // 5% daily loss limit, 10% drawdown, ...
//! config.validate().unwrap();
//! let eurusd_cfg = SymbolRiskConfig { risk_percent: dec!(1), ..Default::default() };
//! let now = "2024-03-04T10:00:00Z".parse().unwrap();
//! let mut state = RiskState::new(config.global.trading_day.clone());
//! state.observe_account(now, &account);
//!
//! // Buy EURUSD at 1.10020 with a 20-pip stop: 1% of 10,000 USD is 100 USD, a lot loses
//! // 200 USD at the stop, so the trade is 0.5 lots.
//! let intent = EntryIntent {
//!     symbol: Symbol::new("EURUSD").unwrap(), side: Side::Buy,
//!     entry: dec!(1.10020), sl: Some(dec!(1.09820)), bid: dec!(1.10000), ask: dec!(1.10020),
//! };
//! let ctx = CheckContext {
//!     now, config: &config, symbol_config: &eurusd_cfg, state: &state, account: &account,
//!     positions: &[], specs: &specs, rates: &rates,
//! };
//! let sized = plan_entry(&ctx, &intent).unwrap();
//! assert_eq!(sized.volume, dec!(0.5));
//! assert_eq!(sized.risk, Some(dec!(100)));
//!
//! // At 0.01% (1 USD) even 0.01 lots, losing 2 USD at the stop, is too much: refused, not
//! // rounded up to the minimum.
//! let cautious = SymbolRiskConfig { risk_percent: dec!(0.01), ..eurusd_cfg.clone() };
//! let refusal = plan_entry(&CheckContext { symbol_config: &cautious, ..ctx }, &intent).unwrap_err();
//! assert_eq!(
//!     refusal.to_string(),
//!     "EURUSD: even the minimum volume 0.01 lots would risk 2 USD, more than the 1 USD allowed",
//! );
//!
//! // Once the day has lost 5% of its starting equity, no entry passes.
//! let losing = AccountInfo { equity: dec!(9450), ..account.clone() };
//! let refusal = plan_entry(&CheckContext { account: &losing, ..ctx }, &intent).unwrap_err();
//! assert_eq!(
//!     refusal.to_string(),
//!     "daily loss limit reached: lost 550 USD today (5.5% of the day's starting equity), the limit is 5%",
//! );
//!
//! // Stacking is off by default: with the first buy open, a second one is refused.
//! let open = [mtq_core::Position {
//!     ticket: mtq_core::Ticket(1), symbol: intent.symbol.clone(), side: Side::Buy,
//!     volume: dec!(0.5), open_price: dec!(1.10020), open_time: now, sl: Some(dec!(1.09820)),
//!     tp: None, current_price: dec!(1.10000), swap: dec!(0), profit: dec!(-10),
//!     magic: mtq_core::Magic(7), comment: String::new(),
//! }];
//! let refusal = plan_entry(&CheckContext { positions: &open, ..ctx }, &intent).unwrap_err();
//! assert_eq!(
//!     refusal.to_string(),
//!     "EURUSD: a buy position is already open and position stacking is off",
//! );
//! ```
//!
//! ## How the trader core calls it
//!
//! 1. On every account snapshot: [`RiskState::observe_account`], then
//!    [`RiskState::update_kill_switch`] with whether the kill-switch file exists; publish each
//!    transition's [`KillSwitchTransition::event`] and execute its closes.
//! 2. On every closed deal: [`RiskState::record_deal`]; on every order outcome
//!    [`RiskState::record_order_success`] or [`RiskState::record_order_failure`].
//! 3. On a signal: [`plan_entry`]; send the sized volume or record the refusal's text with the
//!    signal. After sending, [`RiskState::record_entry`] starts the symbol's cooldown.
//! 4. On every price update of an open position, while [`KillSwitchState::allows_management`]:
//!    [`manage_position`], remembering which tickets had their partial close.

mod action;
mod checks;
mod config;
mod exact;
mod exposure;
mod kill_switch;
pub mod levels;
mod manage;
mod money;
mod refusal;
mod session;
mod sizing;
mod state;
mod symbol_config;

#[cfg(test)]
mod testkit;

pub use action::{ActionReason, PositionAction};
pub use checks::{
    BOOK_CHECKS, Check, CheckContext, EntryIntent, GATE_CHECKS, check_cooldown,
    check_currency_exposure, check_daily_loss, check_drawdown, check_kill_switch, check_margin,
    check_max_positions, check_portfolio_risk, check_spread, check_stacking,
    check_symbol_positions, check_trading_hours, entry_refusals, plan_entry, sizing_request,
};
pub use config::{
    ConfigError, EmergencyConfig, ManagementConfig, PortfolioConfig, RiskBase, RiskConfig,
    SizingMode, StopAction,
};
pub use exposure::{CurrencyExposure, total_open_risk};
pub use kill_switch::{
    KillSwitch, KillSwitchConditions, KillSwitchState, KillSwitchTransition, Trigger,
};
pub use manage::{
    breakeven, manage_position, max_holding_time, partial_close, profit_pips, trailing_stop,
};
pub use money::{
    SpecLookup, loss_per_lot, open_risk, required_margin, tick_value, value_per_price_unit,
};
pub use refusal::Refusal;
pub use session::{ClockTime, TradingDayConfig, TradingSession, in_any_session};
pub use sizing::{
    MONEY_TOLERANCE, SizedVolume, SizingRequest, StoplessConfigError, check_stopless_entries,
    risk_budget, same_direction_count, size_position,
};
pub use state::{DayLedger, QuietBand, RiskState};
pub use symbol_config::SymbolRiskConfig;
