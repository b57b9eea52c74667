//! How events and everything they moved reach the database: one statement
//! per transaction, whatever it carries (the event rows, the alert rows,
//! the deliveries, the connection rows, the days' counts, and the outages'
//! members, states and hourly counts), the rows as
//! arrays and JSON, so the server parses, plans and runs one statement for
//! a whole batch of webhooks. Ingest and absence checks both write through
//! a [`Batch`].

use std::collections::BTreeMap;
use std::time::SystemTime;

use bytes::Bytes;
use deadpool_postgres::Client;
use serde_json::{Value, json};
use tokio_postgres::{Error, Statement};

use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::event::{Event, Status};
use crate::lifecycle::{AlertState, Notification};

use super::super::time::millis;
use super::locked::Locked;
use super::outages::StagedOutages;

const WRITE: &str = "WITH new_events AS (
    INSERT INTO events (dedup_key, request_id, received_at, event, connection, environment, body, fired, suppressed, transitions)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bytea[],
        $8::text[], $9::text[], $10::text[])
    RETURNING id, dedup_key
), alert_rows AS (
    INSERT INTO alerts (rule, connection, data_type, state, since, firing_since, resolved_at, matches, streak, clean, last_notified, notified, muted_by)
    SELECT * FROM jsonb_to_recordset($11::jsonb) AS x (rule text, connection text, data_type text, state text,
        since bigint, firing_since bigint, resolved_at bigint, matches bigint, streak integer, clean integer,
        last_notified bigint, notified text, muted_by text)
    ON CONFLICT (connection, rule, data_type) DO UPDATE SET state = excluded.state, since = excluded.since,
    firing_since = excluded.firing_since, resolved_at = excluded.resolved_at, matches = excluded.matches,
    streak = excluded.streak, clean = excluded.clean, last_notified = excluded.last_notified,
    notified = excluded.notified, muted_by = excluded.muted_by
), queued AS (
    INSERT INTO deliveries (event_id, request_id, rule, channel, message, status, created_at, due_at, item,
        alert_connection, alert_data_type, effect, settled_at, last_error)
    SELECT e.id, x.request_id, x.rule, x.channel, x.message, x.status, x.created_at, x.created_at, x.item,
        x.alert_connection, x.alert_data_type, x.effect, x.settled_at, x.last_error
    FROM jsonb_to_recordset($12::jsonb) AS x (dedup_key text, request_id text, created_at bigint,
        rule text, channel text, message text, item text, n bigint, alert_connection text, alert_data_type text,
        effect text, status text, settled_at bigint, last_error text)
    JOIN new_events e ON e.dedup_key = x.dedup_key ORDER BY x.n
), known AS (
    INSERT INTO connections (id, first_seen, last_event, last_event_name, last_sync, status, expected_since, service, business, environment, status_at)
    SELECT * FROM jsonb_to_recordset($13::jsonb) AS x (id text, first_seen bigint, last_event bigint,
        last_event_name text, last_sync bigint, status text, expected_since bigint, service text, business text,
        environment text, status_at bigint)
    ON CONFLICT (id) DO UPDATE SET first_seen = excluded.first_seen, last_event = excluded.last_event,
    last_event_name = excluded.last_event_name, last_sync = excluded.last_sync, status = excluded.status,
    expected_since = excluded.expected_since, service = excluded.service, business = excluded.business,
    environment = excluded.environment, status_at = excluded.status_at
), day AS (
    INSERT INTO connection_days (connection, day, clean, failed, empty)
    SELECT * FROM jsonb_to_recordset($14::jsonb) AS x (connection text, day bigint, clean bigint, failed bigint, empty bigint)
    ON CONFLICT (connection, day) DO UPDATE SET clean = connection_days.clean + excluded.clean,
    failed = connection_days.failed + excluded.failed, empty = connection_days.empty + excluded.empty
), members AS (
    INSERT INTO outage_members (outage, grp, connection, synced_at, failed_at, failed_types)
    SELECT * FROM jsonb_to_recordset($15::jsonb) AS x (outage text, grp text, connection text, synced_at bigint,
        failed_at bigint, failed_types text)
    ON CONFLICT (outage, grp, connection) DO UPDATE SET synced_at = excluded.synced_at,
    failed_at = excluded.failed_at, failed_types = excluded.failed_types
), outage_rows AS (
    INSERT INTO outage_states (outage, grp, firing, since, clear_since, last_notified, synced, failing)
    SELECT * FROM jsonb_to_recordset($16::jsonb) AS x (outage text, grp text, firing boolean, since bigint,
        clear_since bigint, last_notified bigint, synced bigint, failing bigint)
    ON CONFLICT (outage, grp) DO UPDATE SET firing = excluded.firing, since = excluded.since,
    clear_since = excluded.clear_since, last_notified = excluded.last_notified, synced = excluded.synced,
    failing = excluded.failing
), hours AS (
    INSERT INTO service_hours (service, hour, syncs, failed)
    SELECT * FROM jsonb_to_recordset($17::jsonb) AS x (service text, hour bigint, syncs bigint, failed bigint)
    ON CONFLICT (service, hour) DO UPDATE SET syncs = service_hours.syncs + excluded.syncs,
    failed = service_hours.failed + excluded.failed
)
SELECT count(*) FROM new_events";

/// One event to record, as its row says.
pub struct NewEvent<'a> {
    pub dedup_key: &'a str,
    pub request_id: Option<&'a str>,
    pub received_at: SystemTime,
    pub event: Option<&'a str>,
    pub connection: Option<&'a str>,
    pub environment: &'static str,
    pub body: Bytes,
    pub fired: &'a [AlertKey],
    pub suppressed: &'a [AlertKey],
    pub transitions: &'a [String],
}

/// What one transaction writes, gathered as the lifecycle runs. Rows
/// written twice in one batch (a connection, an alert, a day) keep their
/// last value, or their sum for the days' counts: one statement may not
/// touch a row twice.
#[derive(Default)]
pub struct Batch {
    dedup_keys: Vec<String>,
    request_ids: Vec<Option<String>>,
    received_at: Vec<i64>,
    events: Vec<Option<String>>,
    connections: Vec<Option<String>>,
    environments: Vec<&'static str>,
    bodies: Vec<Bytes>,
    fired: Vec<String>,
    suppressed: Vec<String>,
    transitions: Vec<String>,
    deliveries: Vec<Value>,
    known: BTreeMap<String, Value>,
    days: BTreeMap<(String, i64), [i64; 3]>,
    /// Syncs and failed syncs per service and hour (the page's chart).
    hours: BTreeMap<(String, i64), [i64; 2]>,
    /// The outages' members and states moved (see `outages`).
    outage_members: Value,
    outage_states: Value,
}

impl Batch {
    /// An event and the deliveries its notifications queue; notes the
    /// channels to wake.
    pub fn event(&mut self, event: NewEvent<'_>, notifications: &[Notification], channels: &mut Vec<String>) {
        for notification in notifications {
            for delivery in &notification.deliveries {
                // `n` keeps them in order: ids are handed out as queued.
                self.deliveries.push(json!({
                    "n": self.deliveries.len(),
                    "dedup_key": event.dedup_key,
                    "request_id": event.request_id,
                    "created_at": millis(event.received_at),
                    "rule": notification.key.rule,
                    "channel": delivery.channel,
                    "message": serde_json::to_string(&delivery.message).unwrap_or_default(),
                    "item": delivery.item.as_ref().and_then(|item| serde_json::to_string(item).ok()),
                    "alert_connection": notification.key.connection,
                    "alert_data_type": notification.key.data_type.as_deref().unwrap_or(""),
                    "effect": notification.effect.as_str(),
                    "status": "pending",
                }));
                if !channels.contains(&delivery.channel) {
                    channels.push(delivery.channel.clone());
                }
            }
        }
        self.dedup_keys.push(event.dedup_key.to_owned());
        self.request_ids.push(event.request_id.map(str::to_owned));
        self.received_at.push(millis(event.received_at));
        self.events.push(event.event.map(str::to_owned));
        self.connections.push(event.connection.map(str::to_owned));
        self.environments.push(event.environment);
        self.bodies.push(event.body);
        self.fired.push(rule_list(event.fired));
        self.suppressed.push(rule_list(event.suppressed));
        self.transitions.push(json_list(event.transitions));
    }

    /// The connection's row as it now is.
    pub fn connection(&mut self, known: &KnownConnection) {
        let row = json!({
            "id": known.id,
            "first_seen": millis(known.first_seen),
            "last_event": millis(known.last_event),
            "last_event_name": known.last_event_name,
            "last_sync": known.last_sync.map(millis),
            "status": known.status,
            "expected_since": known.expected_since.map(millis),
            "service": known.service,
            "business": known.business,
            "environment": known.environment.as_str(),
            "status_at": known.status_at.map(millis),
        });
        self.known.insert(known.id.clone(), row);
    }

    /// Counts a sync in its connection's day: `[clean, failed, empty]`.
    pub fn day(&mut self, connection: &str, at: SystemTime, counts: [i64; 3]) {
        let day = self
            .days
            .entry((connection.to_owned(), millis(at) / 86_400_000))
            .or_default();
        for (total, count) in day.iter_mut().zip(counts) {
            *total += count;
        }
    }

    /// Counts a sync in its service's hour (the page's chart).
    pub fn hour(&mut self, event: &Event, at: SystemTime) {
        let Some(service) = event.service.as_deref().filter(|_| event.is_sync()) else {
            return;
        };
        let hour = self
            .hours
            .entry((service.to_owned(), millis(at) / 3_600_000))
            .or_default();
        hour[0] += 1;
        hour[1] += i64::from(event.count(&Status::Failed) > 0);
    }

    /// Holds the FIRINGs this batch queued for the connections `is_member`
    /// names (other than the outage `outage`'s own): their alerts and
    /// channels.
    pub fn hold_queued(
        &mut self,
        outage: &str,
        note: &str,
        at: SystemTime,
        is_member: impl Fn(&str) -> bool,
    ) -> Vec<(AlertKey, String)> {
        let mut held = Vec::new();
        for delivery in &mut self.deliveries {
            let field = |name: &str| delivery[name].as_str().unwrap_or_default().to_owned();
            let (rule, connection, status) = (field("rule"), field("alert_connection"), field("status"));
            if field("effect") != "firing" || status != "pending" || rule == outage || !is_member(&connection) {
                continue;
            }
            let data_type = field("alert_data_type");
            let key = AlertKey {
                rule,
                connection,
                data_type: (!data_type.is_empty()).then_some(data_type),
            };
            held.push((key, field("channel")));
            delivery["status"] = json!("held");
            delivery["settled_at"] = json!(millis(at));
            delivery["last_error"] = json!(note);
        }
        held
    }

    /// The outages' members and states as they now are.
    pub fn outages(&mut self, outages: &StagedOutages) {
        self.outage_members = outages.member_rows();
        self.outage_states = outages.state_rows();
    }

    /// Writes it all, with `alerts` (each changed key once, as it ended).
    pub async fn write(self, client: &Client, alerts: &[(AlertKey, AlertState)]) -> Result<(), Error> {
        if self.is_empty(alerts) {
            return Ok(());
        }
        let statement = client.prepare_cached(WRITE).await?;
        self.execute(client, &statement, alerts).await
    }

    /// Writes it all and commits `tx`, in one round trip.
    pub async fn commit(self, tx: Locked, alerts: &[(AlertKey, AlertState)]) -> Result<(), Error> {
        if self.is_empty(alerts) {
            return tx.commit().await;
        }
        // Prepared first: the write must go out as soon as it is polled,
        // before the COMMIT behind it.
        let statement = tx.client().prepare_cached(WRITE).await?;
        tx.commit_after(async |client: &Client| self.execute(client, &statement, alerts).await)
            .await
    }

    /// A batch of redeliveries only, or checks that moved nothing.
    fn is_empty(&self, alerts: &[(AlertKey, AlertState)]) -> bool {
        let no_outages = [&self.outage_members, &self.outage_states]
            .iter()
            .all(|rows| rows.as_array().is_none_or(Vec::is_empty));
        self.dedup_keys.is_empty()
            && alerts.is_empty()
            && self.known.is_empty()
            && self.days.is_empty()
            && self.hours.is_empty()
            && no_outages
    }

    async fn execute(
        self,
        client: &Client,
        statement: &Statement,
        alerts: &[(AlertKey, AlertState)],
    ) -> Result<(), Error> {
        let bodies: Vec<&[u8]> = self.bodies.iter().map(|body| &body[..]).collect();
        let known: Vec<Value> = self.known.into_values().collect();
        let days: Vec<Value> = self
            .days
            .into_iter()
            .map(|((connection, day), [clean, failed, empty])| {
                json!({ "connection": connection, "day": day, "clean": clean, "failed": failed, "empty": empty })
            })
            .collect();
        let hours: Vec<Value> = self
            .hours
            .into_iter()
            .map(|((service, hour), [syncs, failed])| {
                json!({ "service": service, "hour": hour, "syncs": syncs, "failed": failed })
            })
            .collect();
        let rows = |value: Value| if value.is_null() { json!([]) } else { value };
        client
            .execute(
                statement,
                &[
                    &self.dedup_keys,
                    &self.request_ids,
                    &self.received_at,
                    &self.events,
                    &self.connections,
                    &self.environments,
                    &bodies,
                    &self.fired,
                    &self.suppressed,
                    &self.transitions,
                    &alert_rows(alerts),
                    &Value::Array(self.deliveries),
                    &Value::Array(known),
                    &Value::Array(days),
                    &rows(self.outage_members),
                    &rows(self.outage_states),
                    &Value::Array(hours),
                ],
            )
            .await?;
        Ok(())
    }
}

fn alert_rows(changed: &[(AlertKey, AlertState)]) -> Value {
    changed
        .iter()
        .map(|(key, state)| {
            json!({
                "rule": key.rule,
                "connection": key.connection,
                "data_type": key.data_type.as_deref().unwrap_or(""),
                "state": state.phase.as_str(),
                "since": millis(state.since),
                "firing_since": state.firing_since.map(millis),
                "resolved_at": state.resolved_at.map(millis),
                "matches": state.matches.min(i64::MAX as u64),
                "streak": state.streak.min(i32::MAX as u32),
                "clean": state.clean.min(i32::MAX as u32),
                "last_notified": state.last_notified.map(millis),
                "notified": json_list(&state.notified),
                "muted_by": state.muted_by,
            })
        })
        .collect()
}

fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

fn rule_list(keys: &[AlertKey]) -> String {
    let rules: Vec<&str> = keys.iter().map(|k| k.rule.as_str()).collect();
    json_list(&rules)
}
