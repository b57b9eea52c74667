//! Reading rows into the store's types and the statements that write them
//! back: one place per table, shared by ingest, absence checks and the
//! commands.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::lifecycle::{AlertState, Phase};
use crate::quiet::{Matchers, Silence};
use crate::rules::Environment;
use crate::store::{Delivery, Message};

use super::super::time::{from_millis, millis};

pub const ALERT_COLUMNS: &str = "rule, connection, data_type, state, since, firing_since, resolved_at, matches, streak, clean, last_notified, notified, muted_by";

pub const ALERTS_OF: &str = "SELECT rule, connection, data_type, state, since, firing_since, resolved_at, matches, streak, clean, last_notified, notified, muted_by
     FROM alerts WHERE connection = ANY($1)";

pub const PUT_ALERT: &str = "INSERT INTO alerts (rule, connection, data_type, state, since, firing_since, resolved_at, matches, streak, clean, last_notified, notified, muted_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (connection, rule, data_type) DO UPDATE SET state = excluded.state, since = excluded.since,
     firing_since = excluded.firing_since, resolved_at = excluded.resolved_at, matches = excluded.matches,
     streak = excluded.streak, clean = excluded.clean, last_notified = excluded.last_notified,
     notified = excluded.notified, muted_by = excluded.muted_by";

pub fn alert(row: &Row) -> (AlertKey, AlertState) {
    let data_type: String = row.get(2);
    let key = AlertKey {
        rule: row.get(0),
        connection: row.get(1),
        data_type: (!data_type.is_empty()).then_some(data_type),
    };
    let notified: String = row.get(11);
    let state = AlertState {
        phase: Phase::parse(row.get(3)),
        since: from_millis(row.get(4)),
        firing_since: row.get::<_, Option<i64>>(5).map(from_millis),
        resolved_at: row.get::<_, Option<i64>>(6).map(from_millis),
        matches: row.get::<_, i64>(7) as u64,
        streak: row.get::<_, i32>(8) as u32,
        clean: row.get::<_, i32>(9) as u32,
        last_notified: row.get::<_, Option<i64>>(10).map(from_millis),
        notified: serde_json::from_str(&notified).unwrap_or_default(),
        muted_by: row.get(12),
    };
    (key, state)
}

/// The parameters of [`PUT_ALERT`], owned so they outlive the call.
pub struct AlertParams {
    rule: String,
    connection: String,
    data_type: String,
    state: &'static str,
    since: i64,
    firing_since: Option<i64>,
    resolved_at: Option<i64>,
    matches: i64,
    streak: i32,
    clean: i32,
    last_notified: Option<i64>,
    notified: String,
    muted_by: Option<String>,
}

impl AlertParams {
    pub fn new(key: &AlertKey, state: &AlertState) -> AlertParams {
        AlertParams {
            rule: key.rule.clone(),
            connection: key.connection.clone(),
            data_type: key.data_type.clone().unwrap_or_default(),
            state: state.phase.as_str(),
            since: millis(state.since),
            firing_since: state.firing_since.map(millis),
            resolved_at: state.resolved_at.map(millis),
            matches: state.matches.min(i64::MAX as u64) as i64,
            streak: state.streak.min(i32::MAX as u32) as i32,
            clean: state.clean.min(i32::MAX as u32) as i32,
            last_notified: state.last_notified.map(millis),
            notified: serde_json::to_string(&state.notified).unwrap_or_else(|_| "[]".into()),
            muted_by: state.muted_by.clone(),
        }
    }

    pub fn params(&self) -> [&(dyn ToSql + Sync); 13] {
        [
            &self.rule,
            &self.connection,
            &self.data_type,
            &self.state,
            &self.since,
            &self.firing_since,
            &self.resolved_at,
            &self.matches,
            &self.streak,
            &self.clean,
            &self.last_notified,
            &self.notified,
            &self.muted_by,
        ]
    }
}

pub const CONNECTION_COLUMNS: &str =
    "id, first_seen, last_event, last_event_name, last_sync, status, expected_since, service, business, environment";

pub fn connection(row: &Row) -> KnownConnection {
    let environment: &str = row.get(9);
    KnownConnection {
        id: row.get(0),
        first_seen: from_millis(row.get(1)),
        last_event: from_millis(row.get(2)),
        last_event_name: row.get(3),
        last_sync: row.get::<_, Option<i64>>(4).map(from_millis),
        status: row.get(5),
        expected_since: row.get::<_, Option<i64>>(6).map(from_millis),
        service: row.get(7),
        business: row.get(8),
        environment: if environment == "sandbox" {
            Environment::Sandbox
        } else {
            Environment::Production
        },
    }
}

pub const DELIVERY_COLUMNS: &str = "id, request_id, rule, channel, message, created_at, attempts, is_digest";

pub fn delivery(row: &Row) -> Result<Delivery, String> {
    let message: &str = row.get(4);
    let message: Message =
        serde_json::from_str(message).map_err(|err| format!("a queued message is unreadable: {err}"))?;
    Ok(Delivery {
        id: row.get::<_, i64>(0) as u64,
        request_id: row.get(1),
        rule: row.get(2),
        channel: row.get(3),
        message,
        created_at: from_millis(row.get(5)),
        attempts: row.get::<_, i32>(6).max(0) as u32,
        digest: row.get(7),
    })
}

pub const SILENCE_COLUMNS: &str = "id, matchers, starts_at, ends_at, comment, created_at, expired_at";

pub fn silence(row: &Row) -> Silence {
    let matchers: &str = row.get(1);
    Silence {
        id: row.get(0),
        matchers: serde_json::from_str::<Matchers>(matchers).unwrap_or_default(),
        starts_at: from_millis(row.get(2)),
        ends_at: from_millis(row.get(3)),
        comment: row.get(4),
        created_at: from_millis(row.get(5)),
        expired_at: row.get::<_, Option<i64>>(6).map(from_millis),
    }
}
