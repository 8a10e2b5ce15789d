//! Every signal a strategy produced, acted on or refused.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mtq_core::{ModelReading, Signal, SignalRefusal};

use super::{AccountId, enum_text, parse_enum, parse_text};
use crate::AnyConnection;
use crate::conn::insert_chunked;
use crate::error::QueryContext;
use crate::schema::signals;
use crate::types::DbTime;
use crate::{Result, Store};

/// A stored signal and its fate.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalRecord {
    pub id: i64,
    pub account: Option<AccountId>,
    pub signal: Signal,
    /// Why it was not acted on, as the sentence recorded (the refusal's `Display`); `None`
    /// when it was acted on.
    pub refusal: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// The signal log.
pub trait SignalRepo {
    fn record_signal(
        &mut self,
        account: Option<AccountId>,
        signal: &Signal,
        refusal: Option<&SignalRefusal>,
        recorded_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Signals whose bar time is in `from..to`, oldest first; all accounts when `account` is `None`.
    fn signals_between(
        &mut self,
        account: Option<AccountId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SignalRecord>>;
}

#[derive(Queryable)]
pub(crate) struct Row {
    id: i64,
    account_id: Option<i64>,
    time: DbTime,
    recorded_at: DbTime,
    symbol: String,
    timeframe: String,
    kind: String,
    entry: Option<f64>,
    sl: Option<f64>,
    tp: Option<f64>,
    confidence: f64,
    strategy: String,
    reason: String,
    _executed: bool,
    refusal: Option<String>,
    ml_model: Option<String>,
    ml_status: Option<String>,
    ml_probability: Option<f64>,
}

impl Row {
    pub(crate) fn into_record(self) -> Result<SignalRecord> {
        const T: &str = "signals";
        let ml = match (self.ml_model, self.ml_status) {
            (Some(model), Some(status)) => Some(ModelReading {
                model,
                probability: self.ml_probability,
                status: parse_text(&status, T, "ml_status")?,
            }),
            _ => None,
        };
        Ok(SignalRecord {
            id: self.id,
            account: self.account_id.map(AccountId),
            signal: Signal {
                symbol: parse_text(&self.symbol, T, "symbol")?,
                timeframe: parse_text(&self.timeframe, T, "timeframe")?,
                time: self.time.0,
                kind: parse_enum(&self.kind, T, "kind")?,
                entry: self.entry,
                sl: self.sl,
                tp: self.tp,
                confidence: self.confidence,
                strategy: self.strategy,
                reason: self.reason,
                ml,
            },
            refusal: self.refusal,
            recorded_at: self.recorded_at.0,
        })
    }
}

/// A signal to record: the signal, its refusal (`None`: acted on) and when it was recorded.
pub(crate) type NewSignal<'a> = (&'a Signal, Option<&'a SignalRefusal>, DateTime<Utc>);

/// Inserts signals in order, in multi-row statements (the event writer gathers a batch's).
pub(crate) fn insert_signals(
    conn: &mut AnyConnection,
    account: Option<AccountId>,
    rows: &[NewSignal<'_>],
) -> Result<()> {
    let account = account.map(|a| a.0);
    let values: Vec<_> = rows
        .iter()
        .map(|&(s, refusal, recorded_at)| {
            (
                signals::account_id.eq(account),
                signals::time.eq(DbTime(s.time)),
                signals::recorded_at.eq(DbTime(recorded_at)),
                // Owned values: diesel keeps the prepared statement of a multi-row insert only
                // for 'static value types.
                signals::symbol.eq(s.symbol.as_str().to_string()),
                signals::timeframe.eq(s.timeframe.to_string()),
                signals::kind.eq(enum_text(&s.kind)),
                signals::entry.eq(s.entry),
                signals::sl.eq(s.sl),
                signals::tp.eq(s.tp),
                signals::confidence.eq(s.confidence),
                signals::strategy.eq(s.strategy.clone()),
                signals::reason.eq(s.reason.clone()),
                signals::executed.eq(refusal.is_none()),
                // The column keeps the sentence people read, as it did when refusals were text.
                signals::refusal.eq(refusal.map(ToString::to_string)),
                signals::ml_model.eq(s.ml.as_ref().map(|m| m.model.clone())),
                signals::ml_status.eq(s.ml.as_ref().map(|m| m.status.as_str().to_string())),
                signals::ml_probability.eq(s.ml.as_ref().and_then(|m| m.probability)),
            )
        })
        .collect();
    insert_chunked!(conn, signals::table, values, "recording a signal")
}

impl SignalRepo for Store {
    fn record_signal(
        &mut self,
        account: Option<AccountId>,
        s: &Signal,
        refusal: Option<&SignalRefusal>,
        recorded_at: DateTime<Utc>,
    ) -> Result<()> {
        insert_signals(&mut self.conn, account, &[(s, refusal, recorded_at)])
    }

    fn signals_between(
        &mut self,
        account: Option<AccountId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SignalRecord>> {
        let mut q = signals::table
            .filter(signals::time.ge(DbTime(from)))
            .filter(signals::time.lt(DbTime(to)))
            .order((signals::time, signals::id))
            .into_boxed();
        if let Some(a) = account {
            q = q.filter(signals::account_id.eq(a.0));
        }
        let rows: Vec<Row> = q.load(&mut self.conn).context("reading signals")?;
        rows.into_iter().map(Row::into_record).collect()
    }
}
