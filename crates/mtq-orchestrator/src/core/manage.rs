//! Management of open positions on prices, the account snapshot and the kill switch, deals and
//! order results ([`CoreEvent::Prices`], [`CoreEvent::Account`], [`CoreEvent::Deal`],
//! [`CoreEvent::OrderResult`]).

use mtq_core::{Deal, Position};
use mtq_risk::{PositionAction, manage_position};

use super::*;

impl TraderCore {
    /// Prices moved ([`CoreEvent::Prices`]).
    pub fn on_prices(&mut self, view: MarketView<'_>) -> Vec<Command> {
        self.process(CoreEvent::Prices(view))
    }

    pub(super) fn prices(&mut self, view: MarketView<'_>) -> Vec<Command> {
        if !self.risk.kill_switch().state().allows_management() {
            return Vec::new();
        }
        let mut actions = Vec::new();
        for p in view.positions.iter().filter(|p| self.is_ours(p)) {
            let Some(spec) = self.specs.get(&p.symbol) else {
                continue;
            };
            let done = self.partial_done.contains(&p.ticket);
            actions.extend(manage_position(
                p,
                spec,
                &self.config.risk.modifications,
                view.now,
                done,
            ));
        }
        actions
            .into_iter()
            .map(|a| self.action_command(a))
            .collect()
    }

    pub(super) fn action_command(&mut self, action: PositionAction) -> Command {
        match action {
            PositionAction::ModifyStops {
                ticket,
                sl,
                tp,
                reason,
                ..
            } => Command::Modify {
                ticket,
                sl: Some(sl),
                tp,
                reason: reason.into(),
                exit: Some(exit_reason(reason)),
            },
            PositionAction::ClosePartial {
                ticket,
                volume,
                reason,
                ..
            } => {
                self.partial_done.insert(ticket);
                Command::Close {
                    ticket,
                    volume: Some(volume),
                    reason: reason.into(),
                    exit: exit_reason(reason),
                }
            }
            PositionAction::Close { ticket, reason, .. } => Command::Close {
                ticket,
                volume: None,
                reason: reason.into(),
                exit: exit_reason(reason),
            },
        }
    }

    /// An account snapshot ([`CoreEvent::Account`]).
    pub fn on_account(&mut self, view: MarketView<'_>, kill_file_present: bool) -> Vec<Command> {
        self.process(CoreEvent::Account {
            view,
            kill_file_present,
        })
    }

    pub(super) fn account(
        &mut self,
        view: MarketView<'_>,
        kill_file_present: bool,
    ) -> Vec<Command> {
        self.risk.observe_account(view.now, view.account);
        let equity = view.account.equity;
        if self
            .risk
            .quiet_band(kill_file_present, equity.scale())
            .is_some_and(|band| equity >= band.floor)
        {
            // Nothing can trip or clear: the full evaluation would change nothing.
            return Vec::new();
        }
        let positions: Vec<Position> = self.ours(view.positions).cloned().collect();
        let Some(t) = self.risk.update_kill_switch(
            &self.config.risk.emergency,
            view.now,
            kill_file_present,
            view.account,
            &positions,
        ) else {
            return Vec::new();
        };
        let mut out = vec![Command::Record(Box::new(t.event()))];
        for a in t.close {
            out.push(self.action_command(a));
        }
        out
    }

    /// A deal happened at the broker ([`CoreEvent::Deal`]).
    pub fn on_deal(&mut self, deal: &Deal) {
        self.process(CoreEvent::Deal(deal));
    }

    /// An order finished ([`CoreEvent::OrderResult`]).
    pub fn on_order_result(&mut self, success: bool) {
        self.process(CoreEvent::OrderResult { success });
    }
}
