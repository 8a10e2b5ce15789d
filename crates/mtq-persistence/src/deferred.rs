//! Rows the event writer holds back during one batch and writes just before the journal.
//!
//! Signals and account snapshots go in multi-row inserts. A trade opened in the batch is kept
//! in memory, with its stop changes and closing deals applied there, and inserted once with its
//! final values: one statement where there were up to four (insert, update of the stops, read
//! and update of the close). Rows keep the order they would have had (each table's ids follow
//! the events), and the database holds what it would hold had each event been written at once:
//! money values in memory are replaced by what the database would give back, and the close
//! arithmetic is [`apply_deal`], the same as for a trade read back.
//!
//! Only the batch's first attempt defers: if anything fails (a duplicate ticket the unique key
//! refuses), the batch is rolled back and written again event by event.

use std::collections::HashMap;

use mtq_core::{Deal, ExitReason, Position, Ticket};
use rust_decimal::Decimal;

use crate::repo::{
    AccountId, NewSignal, NewSnapshot, TradeRecord, apply_deal, as_read_back, insert_signals,
    insert_snapshots, insert_trade, opened_trade, trade_exists,
};
use crate::types::{postgres_read_back, sqlite_read_back};
use crate::{AnyConnection, Result};

#[derive(Debug, Default)]
pub(crate) struct Deferred<'a> {
    pub(crate) signals: Vec<NewSignal<'a>>,
    pub(crate) snapshots: Vec<NewSnapshot<'a>>,
    trades: Vec<TradeRecord>,
    /// Index in `trades` of the first pending trade with each ticket: the one the database
    /// would update (its lookups take the oldest row).
    by_ticket: HashMap<u64, usize>,
}

fn read_back(conn: &AnyConnection) -> fn(Decimal) -> Decimal {
    match conn {
        AnyConnection::Postgresql(_) => postgres_read_back,
        AnyConnection::Sqlite(_) => sqlite_read_back,
    }
}

impl Deferred<'_> {
    /// Takes the trade of a newly opened position. `false` when it must be inserted now: the
    /// account is `None` (where the unique key does not hold) and a trade with that ticket is
    /// already in the database, so later events of the batch must find that older row first.
    /// The pending trades are then written first, keeping the rows in event order.
    pub(crate) fn open_trade(
        &mut self,
        conn: &mut AnyConnection,
        account: Option<AccountId>,
        position: &Position,
        strategy: Option<&str>,
    ) -> Result<bool> {
        let ticket = position.ticket.0;
        if account.is_none()
            && !self.by_ticket.contains_key(&ticket)
            && trade_exists(conn, None, position.ticket)?
        {
            self.write_trades(conn)?;
            return Ok(false);
        }
        let mut t = opened_trade(account, position, strategy);
        as_read_back(&mut t, read_back(conn));
        self.by_ticket.entry(ticket).or_insert(self.trades.len());
        self.trades.push(t);
        Ok(true)
    }

    /// Changes the stops of a pending trade; `false` when no trade with `ticket` is pending.
    pub(crate) fn modify_stops(
        &mut self,
        ticket: Ticket,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
    ) -> bool {
        match self.by_ticket.get(&ticket.0) {
            Some(&i) => {
                self.trades[i].sl = sl;
                self.trades[i].tp = tp;
                true
            }
            None => false,
        }
    }

    /// Notes the exit reason of a pending open trade; `false` when no trade with `ticket` is
    /// pending (or it is closed already).
    pub(crate) fn set_exit(&mut self, ticket: Ticket, reason: ExitReason) -> bool {
        match self.by_ticket.get(&ticket.0) {
            Some(&i) if self.trades[i].status == crate::repo::TradeStatus::Open => {
                self.trades[i].exit_reason = Some(reason);
                true
            }
            _ => false,
        }
    }

    /// Applies a deal (closing, or an entry deal's commission) to a pending trade; `false` when
    /// its position is not pending.
    pub(crate) fn apply_close(
        &mut self,
        conn: &AnyConnection,
        deal: &Deal,
        pip_size: Option<Decimal>,
    ) -> bool {
        let Some(&i) = deal.position.and_then(|p| self.by_ticket.get(&p.0)) else {
            return false;
        };
        let t = &mut self.trades[i];
        apply_deal(t, deal, pip_size);
        as_read_back(t, read_back(conn));
        true
    }

    fn write_trades(&mut self, conn: &mut AnyConnection) -> Result<()> {
        for t in &self.trades {
            insert_trade(conn, t)?;
        }
        self.trades.clear();
        self.by_ticket.clear();
        Ok(())
    }

    /// Writes everything held back.
    pub(crate) fn write(
        &mut self,
        conn: &mut AnyConnection,
        account: Option<AccountId>,
    ) -> Result<()> {
        insert_signals(conn, account, &self.signals)?;
        self.signals.clear();
        insert_snapshots(conn, account, &self.snapshots)?;
        self.snapshots.clear();
        self.write_trades(conn)
    }
}
