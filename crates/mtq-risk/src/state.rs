//! The small state risk decisions need between events: the trading day's P&L, the equity peak,
//! the last entry per symbol, order failures in a row and the kill switch.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use mtq_core::{AccountInfo, Deal, DealEntry, Decimal, Position, Symbol};
use serde::{Deserialize, Serialize};

use crate::Refusal;
use crate::config::EmergencyConfig;
use crate::kill_switch::{KillSwitch, KillSwitchConditions, KillSwitchTransition};
use crate::refusal::shown;
use crate::session::TradingDayConfig;

/// Profit and loss since the trading day began. The day's P&L is the change in equity since its
/// start less deposits: realised and floating together, commission and swap included.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayLedger {
    pub day: NaiveDate,
    /// Equity when the day began (its first observation).
    pub start_equity: Decimal,
    /// Deposits minus withdrawals since then; they are not profit or loss.
    pub net_deposits: Decimal,
    /// Closed P&L since then (profit, commission and swap of the day's deals), for reports.
    pub realised: Decimal,
}

impl DayLedger {
    pub fn new(day: NaiveDate, start_equity: Decimal) -> Self {
        Self {
            day,
            start_equity,
            net_deposits: Decimal::ZERO,
            realised: Decimal::ZERO,
        }
    }

    /// Today's P&L at `equity`: negative is a loss.
    pub fn pnl(&self, equity: Decimal) -> Decimal {
        equity - self.start_equity - self.net_deposits
    }
}

/// A trading day and the times it is known to cover: `from` (inclusive) to `until`.
#[derive(Clone, Copy, Debug)]
struct DayWindow {
    day: NaiveDate,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
}

impl DayWindow {
    fn covers(&self, now: DateTime<Utc>) -> bool {
        self.from <= now && now < self.until
    }
}

/// The equity level below which a loss or drawdown trigger could trip, for the limits it was
/// worked out with (`None`: no equity is safe, e.g. a limit of zero).
#[derive(Clone, Copy, Debug)]
struct QuietFloor {
    /// The [`QuietLimits`] it was worked out for.
    key: u64,
    scale: u32,
    floor: Option<Decimal>,
}

/// Risk state for one account. Feed it every account snapshot, closed deal, entry and order
/// outcome; the checks and the kill switch read it. It reads no clock: times come with the calls.
#[derive(Clone, Debug)]
pub struct RiskState {
    trading_day: TradingDayConfig,
    /// The trading day of the last observation and the instant until which it holds, so the
    /// time-zone conversion runs about twice a day rather than on every snapshot.
    day_window: Option<DayWindow>,
    /// Equity above which no loss or drawdown trigger can trip, for the settings it was worked
    /// out for; `None` until worked out or after what it depends on changed.
    quiet_floor: Option<QuietFloor>,
    /// What the quiet test needs of the emergency limits ([`RiskState::set_emergency`]); none
    /// set: never quiet.
    quiet_limits: Option<QuietLimits>,
    day: Option<DayLedger>,
    equity_peak: Option<Decimal>,
    last_entry: BTreeMap<Symbol, DateTime<Utc>>,
    consecutive_failures: u32,
    kill_switch: KillSwitch,
}

impl RiskState {
    pub fn new(trading_day: TradingDayConfig) -> Self {
        Self {
            trading_day,
            day_window: None,
            quiet_floor: None,
            quiet_limits: None,
            day: None,
            equity_peak: None,
            last_entry: BTreeMap::new(),
            consecutive_failures: 0,
            kill_switch: KillSwitch::new(),
        }
    }

    /// Restores what a restart would lose: today's ledger and the equity peak, as persisted.
    pub fn restore(&mut self, day: Option<DayLedger>, equity_peak: Option<Decimal>) {
        self.day = day;
        self.equity_peak = equity_peak;
        self.quiet_floor = None;
    }

    /// The emergency limits the quiet test ([`RiskState::quiet_band`]) answers for: call it with
    /// the configuration's, and again on every reload. Until then the switch is never quiet and
    /// every snapshot is evaluated in full.
    pub fn set_emergency(&mut self, cfg: &EmergencyConfig) {
        self.quiet_limits = Some(QuietLimits::new(cfg));
    }

    /// Applies a hot-reloaded trading-day setting; the current day's ledger is kept.
    pub fn set_trading_day(&mut self, trading_day: TradingDayConfig) {
        self.trading_day = trading_day;
        self.day_window = None;
    }

    /// The trading day of `now`, from the kept window when it covers `now`.
    fn trading_day_of(&self, now: DateTime<Utc>) -> NaiveDate {
        match self.day_window {
            Some(w) if w.covers(now) => w.day,
            _ => self.trading_day.day_of(now),
        }
    }

    /// The trading day of `now`, keeping its window for the next calls.
    fn observe_day(&mut self, now: DateTime<Utc>) -> NaiveDate {
        match self.day_window {
            Some(w) if w.covers(now) => w.day,
            _ => {
                let (day, until) = self.trading_day.day_window(now);
                self.day_window = Some(DayWindow {
                    day,
                    from: now,
                    until,
                });
                day
            }
        }
    }

    /// Records an account snapshot: starts a new day's ledger at a rollover and raises the peak.
    pub fn observe_account(&mut self, now: DateTime<Utc>, account: &AccountInfo) {
        self.observe_equity(now, account.equity);
    }

    /// [`RiskState::observe_account`] of a snapshot whose equity is `equity`: the snapshot's only
    /// field it reads (a backtest's quiet stretch has the equity alone).
    pub fn observe_equity(&mut self, now: DateTime<Utc>, equity: Decimal) {
        let today = self.observe_day(now);
        if self.day.as_ref().is_none_or(|d| d.day != today) {
            self.day = Some(DayLedger::new(today, equity));
            self.quiet_floor = None;
        }
        match self.equity_peak {
            Some(p) if p >= equity => {
                // Kept at the equity's scale (the same value), so that the next comparisons are
                // of two numbers with one scale and need no rescaling.
                if p.scale() < equity.scale() {
                    let mut q = p;
                    q.rescale(equity.scale());
                    if q == p {
                        self.equity_peak = Some(q);
                    }
                }
            }
            _ => {
                self.equity_peak = Some(equity);
                self.quiet_floor = None;
            }
        }
    }

    /// Records a closed deal. Deposits and withdrawals move the day's baseline and the equity
    /// peak so that they never read as profit, loss or drawdown.
    pub fn record_deal(&mut self, deal: &Deal) {
        if deal.entry == DealEntry::Balance {
            self.quiet_floor = None;
            if let Some(d) = &mut self.day {
                d.net_deposits += deal.profit;
            }
            if let Some(p) = &mut self.equity_peak {
                *p = (*p + deal.profit).max(Decimal::ZERO);
            }
        } else if let Some(d) = &mut self.day {
            d.realised += deal.balance_effect();
        }
    }

    /// Records that an entry on `symbol` was sent at `at` (starts its cooldown).
    pub fn record_entry(&mut self, symbol: &Symbol, at: DateTime<Utc>) {
        // Updated in place when the symbol has entered before (no copy of its name).
        match self.last_entry.get_mut(symbol) {
            Some(t) => *t = at,
            None => {
                self.last_entry.insert(symbol.clone(), at);
            }
        }
    }

    /// Forgets `symbol`'s last entry, so no cooldown runs for it (used on a copy of the state
    /// to check an entry held for approval, whose own proposal started the cooldown).
    pub fn forget_entry(&mut self, symbol: &Symbol) {
        self.last_entry.remove(symbol);
    }

    /// Records a failed order; returns the failures in a row.
    pub fn record_order_failure(&mut self) -> u32 {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.consecutive_failures
    }

    /// Restores the failures in a row a restart would forget (counted from the order records).
    pub fn restore_order_failures(&mut self, failures_in_a_row: u32) {
        self.consecutive_failures = failures_in_a_row;
    }

    pub fn record_order_success(&mut self) {
        self.consecutive_failures = 0;
    }

    /// Starts drawdown measurement afresh from `equity`, e.g. after an operator's review.
    pub fn reset_equity_peak(&mut self, equity: Decimal) {
        self.equity_peak = Some(equity);
        self.quiet_floor = None;
    }

    pub fn day(&self) -> Option<&DayLedger> {
        self.day.as_ref()
    }

    pub fn equity_peak(&self) -> Option<Decimal> {
        self.equity_peak
    }

    pub fn last_entry(&self, symbol: &Symbol) -> Option<DateTime<Utc>> {
        self.last_entry.get(symbol).copied()
    }

    pub fn consecutive_order_failures(&self) -> u32 {
        self.consecutive_failures
    }

    pub fn trading_day(&self) -> &TradingDayConfig {
        &self.trading_day
    }

    pub fn kill_switch(&self) -> &KillSwitch {
        &self.kill_switch
    }

    pub fn kill_switch_mut(&mut self) -> &mut KillSwitch {
        &mut self.kill_switch
    }

    /// The daily loss limit's refusal when today's loss (at `account`'s equity) has reached
    /// `max_daily_loss_percent` of the day's starting equity or `max_daily_loss_money`.
    pub fn daily_loss_refusal(
        &self,
        cfg: &EmergencyConfig,
        now: DateTime<Utc>,
        account: &AccountInfo,
    ) -> Option<Refusal> {
        // A day not yet observed starts now, with nothing lost.
        let day = self
            .day
            .as_ref()
            .filter(|d| d.day == self.trading_day_of(now))?;
        let loss = (-day.pnl(account.equity)).max(Decimal::ZERO);
        if loss.is_zero() {
            return None;
        }
        let currency = account.currency;
        if let Some(limit) = cfg.max_daily_loss_money
            && loss >= limit
        {
            return Some(Refusal::DailyLossMoney {
                loss: shown(loss),
                limit,
                currency,
            });
        }
        let limit_percent = cfg.max_daily_loss_percent?;
        let loss_percent = percent_of(loss, day.start_equity)?;
        (loss_percent >= limit_percent).then(|| Refusal::DailyLossPercent {
            loss: shown(loss),
            loss_percent: shown(loss_percent),
            limit_percent,
            currency,
        })
    }

    /// The drawdown limit's refusal when equity has fallen `max_drawdown_percent` from its peak.
    pub fn drawdown_refusal(
        &self,
        cfg: &EmergencyConfig,
        account: &AccountInfo,
    ) -> Option<Refusal> {
        let limit_percent = cfg.max_drawdown_percent?;
        let peak = self
            .equity_peak
            .map_or(account.equity, |p| p.max(account.equity));
        let drawdown = percent_of(peak - account.equity, peak)?;
        (drawdown >= limit_percent).then(|| Refusal::Drawdown {
            drawdown_percent: shown(drawdown),
            limit_percent,
            peak: shown(peak),
            currency: account.currency,
        })
    }

    /// The one quiet test: the band of equity and time within which [`RiskState::update_kill_switch`]
    /// would certainly change nothing, found with a few comparisons. While the equity stays at or
    /// above [`QuietBand::floor`] and at or below [`QuietBand::peak`] (any equity, when
    /// [`QuietBand::peak_free`]) and the clock before [`QuietBand::until`], an account snapshot
    /// ([`RiskState::observe_account`]) followed by the kill-switch evaluation leaves this state as
    /// it is (same trading day and ledger, no new peak, the cached floor) and trips nothing.
    ///
    /// Call it after [`RiskState::observe_account`]: the live and backtest cycles check each
    /// snapshot's equity against the floor and skip the evaluation's arithmetic; a
    /// backtest's quiet stretch checks whole bars against it in integers. The floor is worked out
    /// for equities written with `scale` decimals and kept until the ledger, the peak or the limits
    /// change. `None` when the switch cannot be quiet now: an emergency stop or the kill-switch
    /// file, the switch not clear, order failures at their limit, a limit that always trips, or
    /// no snapshot taken today.
    #[inline]
    pub fn quiet_band(&mut self, kill_file_present: bool, scale: u32) -> Option<QuietBand> {
        let limits = self.quiet_limits.as_ref()?;
        if !self.may_be_quiet(limits, kill_file_present) {
            return None;
        }
        let (key, levels) = (limits.id, limits.levels);
        let floor = match self.quiet_floor {
            Some(q) if q.key == key && q.scale == scale => q.floor,
            _ => {
                let floor = self.floor_for(levels).and_then(|f| least_above(f, scale));
                self.quiet_floor = Some(QuietFloor { key, scale, floor });
                floor
            }
        }?;
        let window = self.day_window?;
        if self.day.as_ref()?.day != window.day {
            return None;
        }
        Some(QuietBand {
            floor,
            peak: self.equity_peak?,
            peak_free: levels[2].is_none(),
            until: window.until,
        })
    }

    /// Whether the kill switch can be quiet whatever the equity: no emergency stop or kill file,
    /// the switch clear, order failures in a row below their limit.
    fn may_be_quiet(&self, limits: &QuietLimits, kill_file_present: bool) -> bool {
        !limits.emergency_stop
            && !kill_file_present
            && self.kill_switch.is_clear()
            && limits
                .max_failures
                .is_none_or(|max| self.consecutive_failures < max)
    }

    /// A snapshot's new equity peak taken within a [`QuietBand`] whose `peak_free` says the floor
    /// does not depend on the peak: what [`RiskState::observe_account`] would do with it, keeping
    /// the cached floor (the next [`RiskState::quiet_band`] would work out the same one).
    /// `false`, changing nothing, when a drawdown level applies or `equity` is no new peak.
    pub fn raise_peak(&mut self, equity: Decimal) -> bool {
        let Some(limits) = &self.quiet_limits else {
            return false;
        };
        if limits.levels[2].is_some() || self.equity_peak.is_none_or(|p| equity <= p) {
            return false;
        }
        self.equity_peak = Some(equity);
        true
    }

    /// The equity above which none of `limits` (daily loss money, daily loss percent, drawdown
    /// percent) can trip with the current ledger and peak. Percent levels are raised by a
    /// millionth of a unit so that rounding in the exact check's division cannot matter.
    fn floor_for(&self, limits: [Option<Decimal>; 3]) -> Option<Decimal> {
        let margin = Decimal::new(1, 6);
        let mut floor = Decimal::MIN;
        let [money, percent, drawdown] = limits;
        if let Some(d) = &self.day {
            let base = d.start_equity + d.net_deposits;
            if let Some(m) = money {
                floor = floor.max(base.checked_sub(m)?);
            }
            if let Some(p) = percent
                && d.start_equity > Decimal::ZERO
            {
                if p <= Decimal::ZERO {
                    return None;
                }
                let allowed = d.start_equity.checked_mul(p)? / Decimal::ONE_HUNDRED;
                floor = floor.max(base.checked_sub(allowed)?.checked_add(margin)?);
            }
        }
        if let Some(p) = drawdown
            && let Some(peak) = self.equity_peak
            && peak > Decimal::ZERO
        {
            if p <= Decimal::ZERO {
                return None;
            }
            let allowed = peak.checked_mul(p)? / Decimal::ONE_HUNDRED;
            floor = floor.max(peak.checked_sub(allowed)?.checked_add(margin)?);
        }
        Some(floor)
    }

    /// Re-evaluates the kill switch from the config, the kill-switch file (whose presence the
    /// caller checked), today's loss, the drawdown and order failures. A transition into halted
    /// with `close_all_on_stop` carries a close for each of `positions`.
    pub fn update_kill_switch(
        &mut self,
        cfg: &EmergencyConfig,
        now: DateTime<Utc>,
        kill_file_present: bool,
        account: &AccountInfo,
        positions: &[Position],
    ) -> Option<KillSwitchTransition> {
        let conditions = KillSwitchConditions {
            emergency_stop: cfg.emergency_stop,
            kill_file_present,
            trading_day: self.trading_day_of(now),
            daily_loss: self.daily_loss_refusal(cfg, now, account),
            drawdown: self.drawdown_refusal(cfg, account),
            consecutive_order_failures: self.consecutive_failures,
        };
        self.kill_switch.update(cfg, now, &conditions, positions)
    }
}

/// See [`RiskState::quiet_band`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuietBand {
    /// The least equity that keeps the kill switch quiet (`Decimal::MIN`: no limit applies),
    /// written with the decimals the band was asked for.
    pub floor: Decimal,
    /// The equity peak: a higher equity is a new peak, which moves the floor when a drawdown
    /// level applies.
    pub peak: Decimal,
    /// No drawdown level applies: a new peak leaves the floor where it is
    /// ([`RiskState::raise_peak`]).
    pub peak_free: bool,
    /// The end of the trading day.
    pub until: DateTime<Utc>,
}

/// What [`RiskState::quiet_band`] needs of an [`EmergencyConfig`], taken from it once
/// (when the configuration is loaded or reloaded) rather than on every account snapshot. Each
/// value made with [`QuietLimits::new`] carries an identity of its own, so the state knows its
/// cached floor belongs to these limits by comparing one integer.
#[derive(Clone, Debug)]
pub(crate) struct QuietLimits {
    id: u64,
    emergency_stop: bool,
    max_failures: Option<u32>,
    /// Daily loss in money, daily loss in percent, drawdown in percent: those that stop trading.
    levels: [Option<Decimal>; 3],
}

impl QuietLimits {
    pub(crate) fn new(cfg: &EmergencyConfig) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Self {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            emergency_stop: cfg.emergency_stop,
            max_failures: cfg.max_consecutive_order_failures,
            levels: [
                cfg.max_daily_loss_money.filter(|_| cfg.stop_on_daily_loss),
                cfg.max_daily_loss_percent
                    .filter(|_| cfg.stop_on_daily_loss),
                cfg.max_drawdown_percent
                    .filter(|_| cfg.stop_on_max_drawdown),
            ],
        }
    }
}

/// The least number with `scale` decimals above `floor` (`floor` itself when it is
/// `Decimal::MIN`: no limit applies). For an equity with those decimals, `equity >= least_above`
/// is `equity > floor`, and compares two numbers of one scale (no rescaling).
fn least_above(floor: Decimal, scale: u32) -> Option<Decimal> {
    if floor == Decimal::MIN {
        return Some(floor);
    }
    let mut up =
        floor.round_dp_with_strategy(scale, rust_decimal::RoundingStrategy::ToPositiveInfinity);
    if up == floor {
        up = up.checked_add(Decimal::new(1, scale))?;
    }
    up.rescale(scale);
    Some(up)
}

/// `part` in percent of `whole`; `None` when `whole` is not positive.
fn percent_of(part: Decimal, whole: Decimal) -> Option<Decimal> {
    (whole > Decimal::ZERO).then(|| part * Decimal::ONE_HUNDRED / whole)
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
