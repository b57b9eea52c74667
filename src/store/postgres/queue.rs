//! The delivery queue shared by instances: a claim is a lease written on
//! the row (which instance, until when), taken with `FOR UPDATE SKIP
//! LOCKED` so two lanes never take one message; a lease that runs out
//! (its instance died mid-send) makes the message due again for anyone.

use std::time::{Duration, SystemTime};

use deadpool_postgres::{Client, Transaction};
use tokio_postgres::Error;

use crate::config::ChannelKind;
use crate::lifecycle::{NOTHING_TO_RESOLVE, not_told};
use crate::render::{Item, digest_for};
use crate::store::sqlite::Built;

use super::super::model::{Fallback, Pruned, Settle};
use super::super::time::{from_millis, millis};
use super::locked::{LOCK, LOCK_ALL, connection_lock, lock_key};
use super::rows::{self, ALERT_COLUMNS, DELIVERY_COLUMNS};

/// A message waits while an earlier one of its alert on its channel is
/// pending (retrying, held by an instance, or in a digest not yet sent):
/// one alert's messages go out in the order they were queued, so a
/// RESOLVED never overtakes the FIRING it ends.
const NOT_BEHIND: &str = "NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.channel = d.channel
    AND e.status IN ('pending', 'digested') AND e.rule = d.rule AND e.alert_connection = d.alert_connection
    AND e.alert_data_type = d.alert_data_type AND e.id < d.id)";

/// Takes the first due delivery of `channel` that nobody holds.
pub async fn claim(
    client: &Client,
    channel: &str,
    now: SystemTime,
    holder: &str,
    lease: Duration,
) -> Result<Option<Result<crate::store::Delivery, String>>, Error> {
    let sql = format!(
        "UPDATE deliveries SET leased_by = $3, lease_until = $4 WHERE id = (
             SELECT id FROM deliveries d WHERE status = 'pending' AND channel = $1 AND due_at <= $2
             AND (lease_until IS NULL OR lease_until < $2) AND {NOT_BEHIND}
             ORDER BY due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING {DELIVERY_COLUMNS}"
    );
    let statement = client.prepare_cached(&sql).await?;
    let until = millis(now + lease);
    let row = client
        .query_opt(&statement, &[&channel, &millis(now), &holder, &until])
        .await?;
    Ok(row.map(|row| rows::delivery(&row)))
}

/// Gives a claim back: due again at once, for any instance.
pub async fn release(client: &Client, id: u64, holder: &str) -> Result<(), Error> {
    client
        .execute(
            "UPDATE deliveries SET leased_by = NULL, lease_until = NULL WHERE id = $1 AND leased_by = $2",
            &[&(id as i64), &holder],
        )
        .await?;
    Ok(())
}

/// When the next pending delivery of `channel` can be taken: its due
/// time, or the end of the lease another instance holds on it.
pub async fn next_due(client: &Client, channel: &str) -> Result<Option<SystemTime>, Error> {
    let sql = format!(
        "SELECT MIN(GREATEST(due_at, COALESCE(lease_until + 1, 0))) FROM deliveries d
         WHERE status = 'pending' AND channel = $1 AND {NOT_BEHIND}"
    );
    let statement = client.prepare_cached(&sql).await?;
    let due: Option<i64> = client.query_one(&statement, &[&channel]).await?.get(0);
    Ok(due.map(from_millis))
}

pub async fn pending_count(client: &Client) -> Result<u64, Error> {
    let statement = client
        .prepare_cached("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")
        .await?;
    Ok(client.query_one(&statement, &[]).await?.get::<_, i64>(0) as u64)
}

/// Firing alerts by rule, for `/metrics`.
pub async fn firing_by_rule(client: &Client) -> Result<Vec<(String, u64)>, Error> {
    let statement = client
        .prepare_cached("SELECT rule, COUNT(*) FROM alerts WHERE state = 'firing' GROUP BY rule")
        .await?;
    let rows = client.query(&statement, &[]).await?;
    Ok(rows
        .iter()
        .map(|row| (row.get::<_, String>(0), row.get::<_, i64>(1) as u64))
        .collect())
}

/// Queues `fallback` beside the failed delivery `id` (its event, requestId
/// and rule), unless `id` was itself a fallback notice: about no alert and
/// in no digest.
pub async fn fall_back(tx: &Transaction<'_>, id: u64, fallback: &Fallback, at: SystemTime) -> Result<(), Error> {
    let message = serde_json::to_string(&fallback.message).unwrap_or_default();
    let at = millis(at);
    let statement = tx
        .prepare_cached(
            "INSERT INTO deliveries (event_id, request_id, rule, channel, message, status, created_at, due_at)
             SELECT event_id, request_id, rule, $2, $3, 'pending', $4, $4 FROM deliveries
             WHERE id = $1 AND (effect IS NOT NULL OR is_digest)",
        )
        .await?;
    tx.execute(&statement, &[&(id as i64), &fallback.channel, &message, &at])
        .await?;
    Ok(())
}

pub async fn settle(tx: &Transaction<'_>, id: u64, settle: &Settle, at: SystemTime) -> Result<(), Error> {
    let id = id as i64;
    let at = millis(at);
    let (outcome, answer) = match settle {
        Settle::Delivered { answer } => ("delivered", answer),
        Settle::Retry { error, .. } => ("retry", error),
        Settle::Failed { error } => ("failed", error),
        Settle::Expired { error } => ("expired", error),
        Settle::NotSent { reason } => ("dry_run", reason),
    };
    let attempt = tx
        .prepare_cached("INSERT INTO attempts (delivery_id, at, outcome, answer) VALUES ($1, $2, $3, $4)")
        .await?;
    tx.execute(&attempt, &[&id, &at, &outcome, &answer]).await?;
    if outcome == "delivered" {
        super::outage_moves::delivered_anyway(tx, id).await?;
    }
    match settle {
        Settle::Retry { at: due, error } => {
            let retry = tx
                .prepare_cached(
                    "UPDATE deliveries SET attempts = attempts + 1, due_at = $2, last_error = $3,
                     leased_by = NULL, lease_until = NULL WHERE id = $1 AND status = 'pending'",
                )
                .await?;
            tx.execute(&retry, &[&id, &millis(*due), &error]).await?;
        }
        _ => {
            let error = (outcome != "delivered").then_some(answer);
            let end = tx
                .prepare_cached(
                    "UPDATE deliveries SET attempts = attempts + 1, status = $2, settled_at = $3, last_error = $4,
                     leased_by = NULL, lease_until = NULL
                     WHERE id = $1 AND (status = 'pending' OR (status = 'held' AND $2 = 'delivered'))",
                )
                .await?;
            tx.execute(&end, &[&id, &outcome, &at, &error]).await?;
            // The notifications a digest carries end as it ends.
            let members = tx
                .prepare_cached(
                    "UPDATE deliveries SET status = $2, settled_at = $3, last_error = $4 WHERE digest_id = $1",
                )
                .await?;
            tx.execute(&members, &[&id, &outcome, &at, &error]).await?;
            if outcome != "delivered" {
                untell(tx, id, at).await?;
            }
        }
    }
    Ok(())
}

/// A message (alone, or the ones a digest carried) that failed for good
/// or expired: each FIRING or STILL FAILING among them that was the
/// channel's first word of its alert's episode un-tells the channel (see
/// [`not_told`]), and a RESOLVED queued behind it is dropped. Under the
/// locks of the alerts' connections, taken in the order ingest takes them.
async fn untell(tx: &Transaction<'_>, id: i64, at: i64) -> Result<(), Error> {
    let failed = tx
        .query(
            "SELECT id, rule, alert_connection, alert_data_type, channel, created_at FROM deliveries
             WHERE (id = $1 OR digest_id = $1) AND effect IN ('firing', 'still_failing') ORDER BY id",
            &[&id],
        )
        .await?;
    if failed.is_empty() {
        return Ok(());
    }
    let mut locks: Vec<i64> = failed.iter().map(|row| connection_lock(row.get(2))).collect();
    locks.sort_unstable();
    locks.dedup();
    tx.execute(LOCK_ALL, &[&locks]).await?;
    for row in failed {
        let (failed_id, rule, connection, data_type, channel, created_at): (i64, String, String, String, String, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5));
        let episode = tx
            .query_one(EPISODE, &[&channel, &rule, &connection, &data_type, &failed_id])
            .await?;
        let (told, ends): (bool, Option<i64>) = (episode.get(0), episode.get(1));
        if told {
            continue;
        }
        if let Some(resolved) = ends {
            // The RESOLVED that ends this episode is queued: it is dropped,
            // and the alert (in a later episode, if any) is left as it is.
            let dropped: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&resolved, &at, &NOTHING_TO_RESOLVE];
            tx.execute(
                "INSERT INTO attempts (delivery_id, at, outcome, answer)
                 SELECT id, $2, 'failed', $3 FROM deliveries WHERE id = $1 AND status = 'pending'",
                &dropped,
            )
            .await?;
            tx.execute(
                "UPDATE deliveries SET status = 'failed', settled_at = $2, last_error = $3
                 WHERE id = $1 AND status = 'pending'",
                &dropped,
            )
            .await?;
            continue;
        }
        let alert = tx
            .query_opt(
                &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE connection = $1 AND rule = $2 AND data_type = $3"),
                &[&connection, &rule, &data_type],
            )
            .await?;
        let Some((_, state)) = alert.as_ref().map(rows::alert) else {
            continue;
        };
        if let Some(next) = not_told(&state, &channel, from_millis(created_at)) {
            tx.execute(
                "UPDATE alerts SET notified = $4, last_notified = $5 WHERE connection = $1 AND rule = $2 AND data_type = $3",
                &[
                    &connection,
                    &rule,
                    &data_type,
                    &serde_json::to_string(&next.notified).unwrap_or_else(|_| "[]".into()),
                    &next.last_notified.map(millis),
                ],
            )
            .await?;
        }
    }
    Ok(())
}

/// Of the message `$5` of an alert (`$2`-`$4`) on channel `$1`, in queue
/// order: whether a FIRING or STILL FAILING of its episode (since the
/// RESOLVED before it) reached the channel before it, and the RESOLVED
/// that ends its episode, if one is queued.
const EPISODE: &str = "WITH alert AS (
    SELECT id, effect, status FROM deliveries
    WHERE channel = $1 AND rule = $2 AND alert_connection = $3 AND alert_data_type = $4
), began AS (
    SELECT COALESCE(MAX(id), 0) AS id FROM alert WHERE effect = 'resolved' AND id < $5
), ends AS (
    SELECT MIN(id) AS id FROM alert WHERE effect = 'resolved' AND id > $5
)
SELECT EXISTS (SELECT 1 FROM alert, began WHERE alert.id > began.id AND alert.id < $5
                   AND alert.status = 'delivered' AND alert.effect IN ('firing', 'still_failing'))
       OR EXISTS (SELECT 1 FROM alert, ends WHERE alert.id > $5 AND (ends.id IS NULL OR alert.id < ends.id)
                   AND alert.status IN ('pending', 'digested') AND alert.effect IN ('firing', 'still_failing')),
       (SELECT id FROM ends)";

/// Gathers `channel`'s pending notifications into one digest, under the
/// channel's lock so two instances never build two digests of the same
/// notifications. Messages another instance is sending are left to it.
pub async fn build_digest(
    tx: &Transaction<'_>,
    (channel, kind): (&str, &ChannelKind),
    (max_items, max_age): (usize, Duration),
    now: SystemTime,
    holder: &str,
) -> Result<Option<Built>, Error> {
    tx.execute(LOCK, &[&lock_key(&format!("digest:{channel}"))]).await?;
    // Expired first: expiring a FIRING drops the RESOLVED queued behind it
    // (told means delivered), which must then not be read as pending.
    let oldest_allowed = millis(now.checked_sub(max_age).unwrap_or(SystemTime::UNIX_EPOCH));
    let too_old = tx
        .query(
            "SELECT id FROM deliveries WHERE status = 'pending' AND channel = $1 AND NOT is_digest
             AND (lease_until IS NULL OR lease_until < $2 OR leased_by = $3) AND created_at < $4 ORDER BY id FOR UPDATE",
            &[&channel, &millis(now), &holder, &oldest_allowed],
        )
        .await?;
    for row in too_old {
        let error = "not sent: older than delivery.max_age when its digest was built".to_owned();
        settle(tx, row.get::<_, i64>(0) as u64, &Settle::Expired { error }, now).await?;
    }
    // An outage's message stands alone: never gathered into a digest.
    let found = tx
        .query(
            "SELECT id, item, rule, alert_connection, alert_data_type, effect, message FROM deliveries
             WHERE status = 'pending' AND channel = $1 AND NOT is_digest
             AND (lease_until IS NULL OR lease_until < $2 OR leased_by = $3)
             AND rule NOT IN (SELECT outage FROM outage_states) ORDER BY id FOR UPDATE",
            &[&channel, &millis(now), &holder],
        )
        .await?;
    let mut members: Vec<i64> = Vec::new();
    let mut items = Vec::new();
    let mut threads = Vec::new();
    for row in found {
        let (id, item): (i64, Option<String>) = (row.get(0), row.get(1));
        members.push(id);
        if matches!(kind, ChannelKind::Slack(_)) {
            threads.extend(crate::store::sqlite::slack_thread_of(row.get(6)));
        }
        let item = item
            .and_then(|json| serde_json::from_str::<Item>(&json).ok())
            .unwrap_or_else(crate::store::sqlite::unknown_item);
        // The alert it speaks of (rule, connection, data type); a row
        // queued by an older version names none (no effect): its own alert.
        let (rule, connection, data_type, effect): (String, Option<String>, Option<String>, Option<String>) =
            (row.get(2), row.get(3), row.get(4), row.get(5));
        let alert = effect
            .and(connection)
            .map(|connection| (rule, connection, data_type.unwrap_or_default()));
        items.push((alert, item));
    }
    let Some(first) = members.first() else {
        return Ok(None);
    };
    // One line per alert; every member is still carried (and settled) below.
    let message = digest_for(kind, &Item::latest_per_alert(items), max_items, now).told_in_digest(threads);
    let row = tx
        .query_one(
            "INSERT INTO deliveries (event_id, request_id, rule, channel, message, status, created_at, due_at, is_digest)
             SELECT event_id, NULL, $1, $2, $3, 'pending', $4, $4, true FROM deliveries WHERE id = $5 RETURNING id",
            &[
                &format!("digest of {}", members.len()),
                &channel,
                &serde_json::to_string(&message).unwrap_or_default(),
                &millis(now),
                first,
            ],
        )
        .await?;
    let id: i64 = row.get(0);
    carry(tx, id, &members).await?;
    Ok(Some(Built {
        id: id as u64,
        carried: members.len(),
    }))
}

/// Settles the pending deliveries of channels not in `known` as failed.
/// Marks `members` as carried by the digest or group `id`: settled when
/// it is.
pub async fn carry(tx: &Transaction<'_>, id: i64, members: &[i64]) -> Result<(), Error> {
    tx.execute(
        "UPDATE deliveries SET status = 'digested', digest_id = $1, leased_by = NULL, lease_until = NULL
         WHERE id = ANY($2)",
        &[&id, &members],
    )
    .await?;
    Ok(())
}

pub async fn abandon(tx: &Transaction<'_>, known: &[String], at: SystemTime) -> Result<Vec<(String, u64)>, Error> {
    let reason = "channel no longer configured";
    let dropped: Vec<(String, u64)> = tx
        .query(
            "SELECT channel, count(*) FROM deliveries WHERE status = 'pending' AND NOT channel = ANY($1) GROUP BY channel
             ORDER BY channel",
            &[&known],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get::<_, i64>(1) as u64))
        .collect();
    if dropped.is_empty() {
        return Ok(dropped);
    }
    tx.execute(
        "INSERT INTO attempts (delivery_id, at, outcome, answer)
         SELECT id, $2, 'failed', $3 FROM deliveries WHERE status = 'pending' AND NOT channel = ANY($1)",
        &[&known, &millis(at), &reason],
    )
    .await?;
    tx.execute(
        "UPDATE deliveries SET status = 'failed', settled_at = $2, last_error = $3
         WHERE status IN ('pending', 'digested') AND NOT channel = ANY($1)",
        &[&known, &millis(at), &reason],
    )
    .await?;
    Ok(dropped)
}

/// Removes what is older than `cutoff` and no longer needed; pending
/// deliveries are never pruned, so neither are their events.
pub async fn prune(tx: &Transaction<'_>, cutoff: SystemTime, forget_before: SystemTime) -> Result<Pruned, Error> {
    let forget = millis(forget_before);
    tx.execute(
        "DELETE FROM alerts WHERE connection IN (SELECT id FROM connections WHERE last_event < $1)",
        &[&forget],
    )
    .await?;
    let connections = tx
        .execute("DELETE FROM connections WHERE last_event < $1", &[&forget])
        .await?;
    let cutoff = millis(cutoff);
    tx.execute("DELETE FROM connection_days WHERE day < $1", &[&(cutoff / 86_400_000)])
        .await?;
    tx.execute(
        "DELETE FROM attempts WHERE delivery_id IN
         (SELECT id FROM deliveries WHERE status <> 'pending' AND settled_at < $1)",
        &[&cutoff],
    )
    .await?;
    // A digest's members point at it: they go first (they are settled with it).
    tx.execute(
        "DELETE FROM deliveries WHERE digest_id IS NOT NULL AND status <> 'pending' AND settled_at < $1",
        &[&cutoff],
    )
    .await?;
    let deliveries = tx
        .execute(
            "DELETE FROM deliveries d WHERE status <> 'pending' AND settled_at < $1
             AND NOT EXISTS (SELECT 1 FROM deliveries m WHERE m.digest_id = d.id)",
            &[&cutoff],
        )
        .await?;
    let events = tx
        .execute(
            "DELETE FROM events WHERE received_at < $1
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)",
            &[&cutoff],
        )
        .await?;
    tx.execute(
        "DELETE FROM alerts WHERE (state = 'resolved' AND resolved_at < $1) OR (state = 'pending' AND since < $1)",
        &[&cutoff],
    )
    .await?;
    super::threads::prune(tx, cutoff).await?;
    Ok(Pruned {
        events: events as usize,
        deliveries: deliveries as usize,
        connections: connections as usize,
    })
}
