//! Entries waiting for an operator's approval (`trader.mode: semi`): one row per approval, kept
//! in its latest state. The event writer saves each [`EventKind::Approval`](mtq_core::EventKind)
//! here; the API lists them.

use diesel::prelude::*;
use mtq_core::{Approval, ApprovalState};

use super::{AccountId, enum_text, to_i64};
use crate::conn::on_backend;
use crate::error::QueryContext;
use crate::schema::approvals;
use crate::types::{DbDecimal, DbTime};
use crate::{PersistenceError, Result, Store};

const T: &str = "approvals";

/// The most approvals one listing returns.
pub const MAX_APPROVALS_LISTED: usize = 500;

/// Stored approvals.
pub trait ApprovalRepo {
    /// Stores `approval` for `account`, replacing the row of the same id (its earlier state).
    fn save_approval(&mut self, account: Option<AccountId>, approval: &Approval) -> Result<()>;
    /// The account's approvals, newest first, in `state` when given; at most `limit` (capped at
    /// [`MAX_APPROVALS_LISTED`]).
    fn approvals(
        &mut self,
        account: Option<AccountId>,
        state: Option<ApprovalState>,
        limit: usize,
    ) -> Result<Vec<Approval>>;
}

impl ApprovalRepo for Store {
    fn save_approval(&mut self, account: Option<AccountId>, a: &Approval) -> Result<()> {
        let id = to_i64(a.id, T, "approval_id")?;
        let payload = serde_json::to_string(a).map_err(|e| PersistenceError::Data {
            table: T,
            column: "payload",
            value: format!("approval {}", a.id),
            reason: e.to_string(),
        })?;
        let account_id = account.map(|x| x.0);
        let r = &a.request;
        self.transaction(|s| {
            let mine = approvals::table
                .filter(approvals::approval_id.eq(id))
                .into_boxed();
            let mine = match account_id {
                Some(x) => mine.filter(approvals::account_id.eq(x)),
                None => mine.filter(approvals::account_id.is_null()),
            };
            let existing: Option<i64> = mine
                .select(approvals::id)
                .first(&mut s.conn)
                .optional()
                .context("finding an approval")?;
            let decided = (
                approvals::state.eq(a.state.as_str()),
                approvals::decided_at.eq(a.decided.map(DbTime)),
                approvals::decided_by.eq(a.decided_by.as_deref()),
                approvals::note.eq(a.note.as_deref()),
                approvals::payload.eq(&payload),
            );
            match existing {
                Some(row) => {
                    let update = diesel::update(approvals::table.find(row)).set(decided);
                    on_backend!(&mut s.conn, |c| update.execute(c))
                        .context("updating an approval")?;
                }
                None => {
                    let insert = diesel::insert_into(approvals::table).values((
                        (
                            approvals::account_id.eq(account_id),
                            approvals::approval_id.eq(id),
                            approvals::client_order_id.eq(r.client_order_id.as_str()),
                            approvals::symbol.eq(r.symbol.as_str()),
                            approvals::side.eq(enum_text(&r.side)),
                            approvals::volume.eq(DbDecimal(r.volume)),
                            approvals::sl.eq(r.sl.map(DbDecimal)),
                            approvals::tp.eq(r.tp.map(DbDecimal)),
                            approvals::created_at.eq(DbTime(a.created)),
                            approvals::expires_at.eq(DbTime(a.expires)),
                        ),
                        decided,
                    ));
                    on_backend!(&mut s.conn, |c| insert.execute(c))
                        .context("recording an approval")?;
                }
            }
            Ok(())
        })
    }

    fn approvals(
        &mut self,
        account: Option<AccountId>,
        state: Option<ApprovalState>,
        limit: usize,
    ) -> Result<Vec<Approval>> {
        let mut q = approvals::table.into_boxed();
        q = match account {
            Some(x) => q.filter(approvals::account_id.eq(x.0)),
            None => q.filter(approvals::account_id.is_null()),
        };
        if let Some(st) = state {
            q = q.filter(approvals::state.eq(st.as_str()));
        }
        let limit = i64::try_from(limit.min(MAX_APPROVALS_LISTED)).unwrap_or(0);
        let rows: Vec<String> = q
            .order((approvals::created_at.desc(), approvals::id.desc()))
            .limit(limit)
            .select(approvals::payload)
            .load(&mut self.conn)
            .context("reading approvals")?;
        rows.iter()
            .map(|p| {
                serde_json::from_str(p).map_err(|e| PersistenceError::Data {
                    table: T,
                    column: "payload",
                    value: p.chars().take(80).collect(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }
}
