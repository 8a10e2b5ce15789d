//! The operator's alert preferences: the level (`on`, `silent`, `off`) of one event type on one
//! channel. They override the configuration file's `alerts.<channel>.events`; `mtq-alerts`
//! reads them at start. Channels and levels are stored in their stable lower-case forms; the
//! database refuses any other.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::QueryContext;
use crate::schema::alert_configurations as prefs;
use crate::types::DbTime;
use crate::{Result, Store};

/// One stored preference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertPreference {
    /// `telegram`, `webhook` or `email`.
    pub channel: String,
    /// The event type (`position_opened`, ...).
    pub event_type: String,
    /// `on`, `silent` or `off`.
    pub level: String,
    pub updated_at: DateTime<Utc>,
    /// Who set it (a user, an API key's public id, `cli`).
    pub updated_by: String,
}

/// Alert preferences.
pub trait AlertConfigRepo {
    /// Every stored preference, by channel then event type.
    fn alert_preferences(&mut self) -> Result<Vec<AlertPreference>>;
    /// Sets (or replaces) the level of `event_type` on `channel`.
    fn set_alert_preference(&mut self, pref: &AlertPreference) -> Result<()>;
    /// Removes a preference, so the configuration file's level applies again; `false` when
    /// none was stored.
    fn clear_alert_preference(&mut self, channel: &str, event_type: &str) -> Result<bool>;
}

type Row = (String, String, String, DbTime, String);

impl AlertConfigRepo for Store {
    fn alert_preferences(&mut self) -> Result<Vec<AlertPreference>> {
        let rows: Vec<Row> = prefs::table
            .order((prefs::channel, prefs::event_type))
            .select((
                prefs::channel,
                prefs::event_type,
                prefs::level,
                prefs::updated_at,
                prefs::updated_by,
            ))
            .load(&mut self.conn)
            .context("reading alert preferences")?;
        Ok(rows
            .into_iter()
            .map(|r| AlertPreference {
                channel: r.0,
                event_type: r.1,
                level: r.2,
                updated_at: r.3.0,
                updated_by: r.4,
            })
            .collect())
    }

    fn set_alert_preference(&mut self, p: &AlertPreference) -> Result<()> {
        self.transaction(|s| {
            diesel::delete(
                prefs::table
                    .filter(prefs::channel.eq(&p.channel))
                    .filter(prefs::event_type.eq(&p.event_type)),
            )
            .execute(&mut s.conn)
            .context("replacing an alert preference")?;
            diesel::insert_into(prefs::table)
                .values((
                    prefs::channel.eq(&p.channel),
                    prefs::event_type.eq(&p.event_type),
                    prefs::level.eq(&p.level),
                    prefs::updated_at.eq(DbTime(p.updated_at)),
                    prefs::updated_by.eq(&p.updated_by),
                ))
                .execute(&mut s.conn)
                .context("storing an alert preference")?;
            Ok(())
        })
    }

    fn clear_alert_preference(&mut self, channel: &str, event_type: &str) -> Result<bool> {
        let n = diesel::delete(
            prefs::table
                .filter(prefs::channel.eq(channel))
                .filter(prefs::event_type.eq(event_type)),
        )
        .execute(&mut self.conn)
        .context("removing an alert preference")?;
        Ok(n > 0)
    }
}
