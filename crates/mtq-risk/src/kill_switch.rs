//! The kill switch: active, reduce-only or halted, and every move between them an event with its
//! reason.
//!
//! Two kinds of trigger feed it. Level triggers hold only while their condition does: the
//! config's `emergency.emergency_stop` and the kill-switch file. Latched triggers stay tripped
//! after their condition clears: the daily loss limit until the next trading day, the drawdown
//! limit and repeated order failures until [`KillSwitch::reset`]. The state is the most severe
//! of everything tripped.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
pub use mtq_core::KillSwitchState;
use mtq_core::{DomainEvent, EventKind, Position};

use crate::Refusal;
use crate::action::{ActionReason, PositionAction};
use crate::config::{EmergencyConfig, StopAction};

impl From<StopAction> for KillSwitchState {
    fn from(a: StopAction) -> Self {
        match a {
            StopAction::ReduceOnly => KillSwitchState::ReduceOnly,
            StopAction::Halt => KillSwitchState::Halted,
        }
    }
}

/// What tripped the kill switch.
pub use mtq_core::KillSwitchTrigger as Trigger;

/// The inputs of one evaluation. [`crate::RiskState::update_kill_switch`] builds them.
#[derive(Clone, Debug, PartialEq)]
pub struct KillSwitchConditions {
    pub emergency_stop: bool,
    pub kill_file_present: bool,
    pub trading_day: NaiveDate,
    pub daily_loss: Option<Refusal>,
    pub drawdown: Option<Refusal>,
    pub consecutive_order_failures: u32,
}

/// A change of state, to record and publish.
#[derive(Clone, Debug, PartialEq)]
pub struct KillSwitchTransition {
    pub at: DateTime<Utc>,
    pub from: KillSwitchState,
    pub to: KillSwitchState,
    /// `None` when every trigger has cleared.
    pub trigger: Option<Trigger>,
    pub reason: String,
    /// Closes for every open position when halting with `close_all_on_stop`.
    pub close: Vec<PositionAction>,
}

impl KillSwitchTransition {
    /// The domain event for the event bus and the database.
    pub fn event(&self) -> DomainEvent {
        DomainEvent::new(
            self.at,
            EventKind::KillSwitch {
                state: self.to,
                reason: self.reason.clone(),
            },
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Latch {
    to: KillSwitchState,
    reason: String,
    /// The trading day a daily-loss latch belongs to.
    day: Option<NaiveDate>,
}

/// The kill switch state machine.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KillSwitch {
    state: KillSwitchState,
    trigger: Option<Trigger>,
    reason: String,
    latched: BTreeMap<Trigger, Latch>,
}

impl KillSwitch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn state(&self) -> KillSwitchState {
        self.state
    }

    /// Active with no trigger latched: only a new condition can move it.
    pub fn is_clear(&self) -> bool {
        self.state == KillSwitchState::Active && self.latched.is_empty()
    }

    /// Why the switch is in its state; empty while active from the start.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    pub fn trigger(&self) -> Option<Trigger> {
        self.trigger
    }

    /// The refusal an entry gets in the current state, if any.
    pub fn entry_refusal(&self) -> Option<Refusal> {
        (!self.state.allows_entries()).then(|| Refusal::KillSwitch {
            state: self.state,
            trigger: self.trigger,
            reason: self.reason.clone(),
        })
    }

    /// Re-evaluates every trigger; returns the transition when the state changes.
    pub fn update(
        &mut self,
        cfg: &EmergencyConfig,
        now: DateTime<Utc>,
        c: &KillSwitchConditions,
        positions: &[Position],
    ) -> Option<KillSwitchTransition> {
        self.latched
            .retain(|t, l| *t != Trigger::DailyLoss || l.day == Some(c.trading_day));
        if cfg.stop_on_daily_loss
            && let Some(r) = &c.daily_loss
        {
            self.latch(
                Trigger::DailyLoss,
                cfg.daily_loss_action,
                r.to_string(),
                Some(c.trading_day),
            );
        }
        if cfg.stop_on_max_drawdown
            && let Some(r) = &c.drawdown
        {
            self.latch(Trigger::Drawdown, cfg.drawdown_action, r.to_string(), None);
        }
        if let Some(max) = cfg.max_consecutive_order_failures
            && c.consecutive_order_failures >= max
        {
            let reason = format!(
                "{} orders failed in a row (emergency.max_consecutive_order_failures is {max})",
                c.consecutive_order_failures
            );
            self.latch(
                Trigger::OrderFailures,
                cfg.order_failure_action,
                reason,
                None,
            );
        }

        let mut tripped: Vec<(KillSwitchState, Trigger, String)> = Vec::new();
        if c.emergency_stop {
            let reason = "emergency.emergency_stop is set in the config".to_string();
            tripped.push((KillSwitchState::Halted, Trigger::EmergencyStop, reason));
        }
        if c.kill_file_present {
            let reason = "the kill-switch file is present".to_string();
            tripped.push((KillSwitchState::Halted, Trigger::KillSwitchFile, reason));
        }
        tripped.extend(
            self.latched
                .iter()
                .map(|(t, l)| (l.to, *t, l.reason.clone())),
        );
        // Most severe first; among equals the trigger order above decides.
        let worst = tripped
            .into_iter()
            .min_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let (to, trigger, reason) = match worst {
            Some((s, t, r)) => (s, Some(t), r),
            None => (
                KillSwitchState::Active,
                None,
                "every kill-switch trigger has cleared".to_string(),
            ),
        };
        self.go(cfg, now, to, trigger, reason, positions)
    }

    /// Trips the switch by hand (the API's stop button) until [`KillSwitch::reset`].
    pub fn trip_manually(
        &mut self,
        cfg: &EmergencyConfig,
        now: DateTime<Utc>,
        action: StopAction,
        reason: &str,
        positions: &[Position],
    ) -> Option<KillSwitchTransition> {
        let reason = format!("stopped by hand: {reason}");
        self.latch(Trigger::Manual, action, reason.clone(), None);
        if KillSwitchState::from(action) <= self.state {
            return None;
        }
        self.go(
            cfg,
            now,
            action.into(),
            Some(Trigger::Manual),
            reason,
            positions,
        )
    }

    /// Clears every latched trigger (an operator has reviewed the account). The state follows at
    /// the next [`KillSwitch::update`]: a condition that still holds trips the switch again, so
    /// reset the equity peak or order-failure count first if those are what tripped it.
    pub fn reset(&mut self) {
        self.latched.clear();
    }

    fn latch(&mut self, t: Trigger, action: StopAction, reason: String, day: Option<NaiveDate>) {
        self.latched.entry(t).or_insert(Latch {
            to: action.into(),
            reason,
            day,
        });
    }

    fn go(
        &mut self,
        cfg: &EmergencyConfig,
        now: DateTime<Utc>,
        to: KillSwitchState,
        trigger: Option<Trigger>,
        reason: String,
        positions: &[Position],
    ) -> Option<KillSwitchTransition> {
        if to == self.state {
            return None;
        }
        let from = self.state;
        self.state = to;
        self.trigger = trigger;
        self.reason.clone_from(&reason);
        let close = if to == KillSwitchState::Halted && cfg.close_all_on_stop {
            positions
                .iter()
                .map(|p| PositionAction::Close {
                    ticket: p.ticket,
                    symbol: p.symbol.clone(),
                    volume: p.volume,
                    reason: ActionReason::KillSwitch,
                })
                .collect()
        } else {
            Vec::new()
        };
        Some(KillSwitchTransition {
            at: now,
            from,
            to,
            trigger,
            reason,
            close,
        })
    }
}

#[cfg(test)]
#[path = "kill_switch_tests.rs"]
mod tests;
