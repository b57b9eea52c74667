//! Reading rows into the store's types and the statements that write them
//! back: one place per table, shared by ingest, absence checks and the
//! commands.

use tokio_postgres::Row;

use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::lifecycle::{AlertState, Phase};
use crate::quiet::{Matchers, Silence};
use crate::rules::Environment;
use crate::store::{Delivery, Message};

use super::super::time::from_millis;

macro_rules! alert_columns {
    () => {
        "rule, connection, data_type, state, since, firing_since, resolved_at, matches, streak, clean, last_notified, notified, muted_by"
    };
}
macro_rules! connection_columns {
    () => {
        "id, first_seen, last_event, last_event_name, last_sync, status, expected_since, service, business, environment, status_at"
    };
}

pub const ALERT_COLUMNS: &str = alert_columns!();
pub const CONNECTION_COLUMNS: &str = connection_columns!();

// The reads by a list of keys look each key up on its own (a lateral
// subquery the planner may not flatten, `OFFSET 0`): planned as a join or
// as `= ANY($1)`, a table whose statistics lag behind its growth was now
// and then scanned whole, and a plan that can only use the index is also
// one worth preparing once.

/// The alerts of the connections in the array `$1`.
pub const ALERTS_OF: &str = concat!(
    "SELECT a.* FROM unnest($1::text[]) AS wanted (id) CROSS JOIN LATERAL (SELECT ",
    alert_columns!(),
    " FROM alerts WHERE connection = wanted.id OFFSET 0) a"
);
/// The rows of the connections in the array `$1`.
pub const CONNECTIONS_OF: &str = concat!(
    "SELECT c.* FROM unnest($1::text[]) AS wanted (id) CROSS JOIN LATERAL (SELECT ",
    connection_columns!(),
    " FROM connections WHERE id = wanted.id OFFSET 0) c"
);
/// The keys in the array `$1` already stored.
pub const SEEN: &str = "SELECT s.* FROM unnest($1::text[]) AS wanted (key) \
    CROSS JOIN LATERAL (SELECT dedup_key FROM events WHERE dedup_key = wanted.key OFFSET 0) s";

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
        status_at: row.get::<_, Option<i64>>(10).map(from_millis),
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
