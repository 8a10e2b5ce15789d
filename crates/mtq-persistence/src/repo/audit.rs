//! The audit trail: the event journal, connection states and alerts.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mtq_core::{DomainEvent, EventKind, Ticket};

use super::AccountId;
use crate::conn::on_backend;
use crate::error::QueryContext;
use crate::schema::{account_connection_states as conns, alert_history as alerts, events};
use crate::types::DbTime;
use crate::{Result, Store};

/// One journal row. `payload` is the event as JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEventRecord {
    pub id: i64,
    pub account: Option<AccountId>,
    pub time: DateTime<Utc>,
    /// The event type (`kill_switch`, `config_reloaded`, `order_intent`, ...).
    pub kind: String,
    pub symbol: Option<String>,
    pub message: String,
    pub payload: String,
}

/// A connect or disconnect of an account's broker link.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionStateRecord {
    pub time: DateTime<Utc>,
    pub connected: bool,
    pub detail: String,
}

/// An alert to record.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAlert {
    pub account: Option<AccountId>,
    pub time: DateTime<Utc>,
    /// Where it went: `telegram`, `email`, `log`...
    pub channel: String,
    pub severity: String,
    pub title: String,
    pub message: String,
    pub delivered: bool,
    /// Why delivery failed.
    pub error: Option<String>,
    /// What it was about (`kill_switch_tripped`, `position_opened`, `test`, ...).
    pub event_type: String,
    /// How many attempts the delivery took (retries included).
    pub attempts: u32,
    /// How many identical alerts the dedup window folded into this one.
    pub repeats: u32,
}

/// A recorded alert.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRecord {
    pub id: i64,
    pub alert: NewAlert,
}

/// Journal, connection history and alerts.
pub trait AuditRepo {
    /// Journal rows in `from..to`, oldest first, optionally of one kind.
    fn audit_events(
        &mut self,
        kind: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditEventRecord>>;
    fn record_connection(
        &mut self,
        account: AccountId,
        time: DateTime<Utc>,
        connected: bool,
        detail: &str,
    ) -> Result<()>;
    /// The newest deal the journal holds for `account` (`None`: recorded without an account),
    /// entry or exit, as its time and ticket: where the trader's start-up resumes reading the
    /// broker's deals, so that deals done while it was away are recorded.
    fn last_recorded_deal(
        &mut self,
        account: Option<AccountId>,
    ) -> Result<Option<(DateTime<Utc>, Ticket)>>;
    fn connection_states(
        &mut self,
        account: AccountId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ConnectionStateRecord>>;
    fn record_alert(&mut self, alert: &NewAlert) -> Result<()>;
    fn alerts(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<AlertRecord>>;
    /// The newest `limit` alerts, newest first, optionally only those with an id below
    /// `before` (the next page) and of one channel.
    fn recent_alerts(
        &mut self,
        limit: i64,
        before: Option<i64>,
        channel: Option<&str>,
    ) -> Result<Vec<AlertRecord>>;
}

pub(crate) type EventRow = (
    i64,
    Option<i64>,
    DbTime,
    String,
    Option<String>,
    String,
    String,
);
type AlertRow = (
    i64,
    Option<i64>,
    DbTime,
    String,
    String,
    String,
    String,
    bool,
    Option<String>,
    String,
    i32,
    i32,
);

fn alert_record(r: AlertRow) -> AlertRecord {
    AlertRecord {
        id: r.0,
        alert: NewAlert {
            account: r.1.map(AccountId),
            time: r.2.0,
            channel: r.3,
            severity: r.4,
            title: r.5,
            message: r.6,
            delivered: r.7,
            error: r.8,
            event_type: r.9,
            attempts: u32::try_from(r.10).unwrap_or_default(),
            repeats: u32::try_from(r.11).unwrap_or_default(),
        },
    }
}

/// A count as the `INTEGER` column stores it (saturating: a count is never that large).
fn count_column(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub(crate) fn event_record(r: EventRow) -> AuditEventRecord {
    AuditEventRecord {
        id: r.0,
        account: r.1.map(AccountId),
        time: r.2.0,
        kind: r.3,
        symbol: r.4,
        message: r.5,
        payload: r.6,
    }
}

impl AuditRepo for Store {
    fn audit_events(
        &mut self,
        kind: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditEventRecord>> {
        let mut q = events::table
            .filter(events::time.ge(DbTime(from)))
            .filter(events::time.lt(DbTime(to)))
            .order((events::time, events::id))
            .into_boxed();
        if let Some(k) = kind {
            q = q.filter(events::kind.eq(k));
        }
        let rows: Vec<EventRow> = q
            .load(&mut self.conn)
            .context("reading the event journal")?;
        Ok(rows.into_iter().map(event_record).collect())
    }

    fn last_recorded_deal(
        &mut self,
        account: Option<AccountId>,
    ) -> Result<Option<(DateTime<Utc>, Ticket)>> {
        // Deals of one time may be journalled in any order: read every row of the newest time.
        const NEWEST: i64 = 64;
        let mut q = events::table
            .filter(events::kind.eq_any(["entry_deal", "position_closed"]))
            .order((events::time.desc(), events::id.desc()))
            .select(events::payload)
            .limit(NEWEST)
            .into_boxed();
        q = match account {
            Some(a) => q.filter(events::account_id.eq(a.0)),
            None => q.filter(events::account_id.is_null()),
        };
        let payloads: Vec<String> = q
            .load(&mut self.conn)
            .context("reading the newest recorded deal")?;
        Ok(payloads
            .iter()
            .filter_map(|p| serde_json::from_str::<DomainEvent>(p).ok())
            .filter_map(|e| match e.kind {
                EventKind::EntryDeal { deal } | EventKind::PositionClosed { deal } => {
                    Some((deal.time, deal.ticket))
                }
                _ => None,
            })
            .max())
    }

    fn record_connection(
        &mut self,
        account: AccountId,
        time: DateTime<Utc>,
        connected: bool,
        detail: &str,
    ) -> Result<()> {
        let insert = diesel::insert_into(conns::table).values((
            conns::account_id.eq(account.0),
            conns::time.eq(DbTime(time)),
            conns::connected.eq(connected),
            conns::detail.eq(detail),
        ));
        on_backend!(&mut self.conn, |c| insert.execute(c))
            .context("recording a connection state")?;
        Ok(())
    }

    fn connection_states(
        &mut self,
        account: AccountId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ConnectionStateRecord>> {
        let rows: Vec<(DbTime, bool, String)> = conns::table
            .filter(conns::account_id.eq(account.0))
            .filter(conns::time.ge(DbTime(from)))
            .filter(conns::time.lt(DbTime(to)))
            .order((conns::time, conns::id))
            .select((conns::time, conns::connected, conns::detail))
            .load(&mut self.conn)
            .context("reading connection states")?;
        Ok(rows
            .into_iter()
            .map(|(t, connected, detail)| ConnectionStateRecord {
                time: t.0,
                connected,
                detail,
            })
            .collect())
    }

    fn record_alert(&mut self, a: &NewAlert) -> Result<()> {
        diesel::insert_into(alerts::table)
            .values((
                alerts::account_id.eq(a.account.map(|a| a.0)),
                alerts::time.eq(DbTime(a.time)),
                alerts::channel.eq(&a.channel),
                alerts::severity.eq(&a.severity),
                alerts::title.eq(&a.title),
                alerts::message.eq(&a.message),
                alerts::delivered.eq(a.delivered),
                alerts::error.eq(a.error.as_deref()),
                alerts::event_type.eq(&a.event_type),
                alerts::attempts.eq(count_column(a.attempts)),
                alerts::repeats.eq(count_column(a.repeats)),
            ))
            .execute(&mut self.conn)
            .context("recording an alert")?;
        Ok(())
    }

    fn alerts(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<AlertRecord>> {
        let rows: Vec<AlertRow> = alerts::table
            .filter(alerts::time.ge(DbTime(from)))
            .filter(alerts::time.lt(DbTime(to)))
            .order((alerts::time, alerts::id))
            .load(&mut self.conn)
            .context("reading alert history")?;
        Ok(rows.into_iter().map(alert_record).collect())
    }

    fn recent_alerts(
        &mut self,
        limit: i64,
        before: Option<i64>,
        channel: Option<&str>,
    ) -> Result<Vec<AlertRecord>> {
        let mut q = alerts::table
            .order(alerts::id.desc())
            .limit(limit.max(0))
            .into_boxed();
        if let Some(b) = before {
            q = q.filter(alerts::id.lt(b));
        }
        if let Some(c) = channel {
            q = q.filter(alerts::channel.eq(c));
        }
        let rows: Vec<AlertRow> = q.load(&mut self.conn).context("reading alert history")?;
        Ok(rows.into_iter().map(alert_record).collect())
    }
}
