//! Several rules, one message, on the shared queue: as the SQLite file's
//! `group`, with leases. A notification another instance holds is left to
//! it; the rows gathered are locked (`FOR UPDATE ... SKIP LOCKED`), so a
//! digest or another group being built beside never carries one twice;
//! the group is leased to this instance as its claim.

use std::time::{Duration, SystemTime};

use deadpool_postgres::{Client, Transaction};
use tokio_postgres::Error;

use crate::render::{MAX_SECTIONS, group_message};
use crate::store::Delivery;
use crate::store::sqlite::{GroupRow, group_sections};

use super::super::time::{from_millis, millis};

/// The notifications that may go out with the claimed one (`$1`, among
/// them) now: pending, of its event, channel and connection, about an
/// alert, due, not held by another instance (`$3` is this one), and each
/// the first of its alert on the channel, as a claim requires.
const MEMBERS: &str = "SELECT o.id, o.item, o.message FROM deliveries d JOIN deliveries o
    ON o.event_id = d.event_id AND o.channel = d.channel AND o.alert_connection = d.alert_connection
    WHERE d.id = $1 AND d.status = 'pending' AND NOT d.is_digest AND d.effect IS NOT NULL AND d.leased_by = $3
    AND o.status = 'pending' AND NOT o.is_digest AND o.effect IS NOT NULL AND o.due_at <= $2
    AND (o.lease_until IS NULL OR o.lease_until < $2 OR o.leased_by = $3)
    AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.channel = o.channel AND e.status IN ('pending', 'digested')
        AND e.rule = o.rule AND e.alert_connection = o.alert_connection AND e.alert_data_type = o.alert_data_type
        AND e.id < o.id)
    ORDER BY o.id LIMIT $4";

fn rows(found: Vec<tokio_postgres::Row>) -> Vec<GroupRow> {
    found.iter().map(|row| (row.get(0), row.get(1), row.get(2))).collect()
}

/// Whether the claimed notification `id` has another it may go out with:
/// a read before any lock, since most go alone.
pub async fn has_company(client: &Client, id: u64, now: SystemTime, holder: &str) -> Result<bool, Error> {
    let statement = client.prepare_cached(MEMBERS).await?;
    let found = client
        .query(&statement, &[&(id as i64), &millis(now), &holder, &2i64])
        .await?;
    Ok(found.len() > 1)
}

/// Gathers with the claimed notification `id` the others that may go with
/// it into one queued group, leased to `holder` for `lease`: `None` when
/// it goes alone.
pub async fn build(
    tx: &Transaction<'_>,
    id: u64,
    now: SystemTime,
    (holder, lease): (&str, Duration),
) -> Result<Option<Delivery>, Error> {
    let locked = format!("{MEMBERS} FOR UPDATE OF o SKIP LOCKED");
    let found = tx
        .query(&locked, &[&(id as i64), &millis(now), &holder, &(MAX_SECTIONS as i64)])
        .await?;
    let (members, sections) = group_sections(rows(found));
    if !members.contains(&(id as i64)) {
        return Ok(None);
    }
    let Some(message) = group_message(&sections) else {
        return Ok(None);
    };
    let rule = format!("group of {}", members.len());
    let json = serde_json::to_string(&message).unwrap_or_default();
    // It keeps the event's requestId and when its notifications were
    // queued: `history` names the event, and it expires as they would.
    let row = tx
        .query_one(
            "INSERT INTO deliveries (event_id, request_id, rule, channel, message, status, created_at, due_at,
                                     is_digest, effect, leased_by, lease_until)
             SELECT event_id, request_id, $1, channel, $2, 'pending', created_at, $3, true, 'group', $5, $6
             FROM deliveries WHERE id = $4
             RETURNING id, request_id, channel, created_at",
            &[&rule, &json, &millis(now), &(id as i64), &holder, &millis(now + lease)],
        )
        .await?;
    let group: i64 = row.get(0);
    super::queue::carry(tx, group, &members).await?;
    Ok(Some(Delivery {
        id: group as u64,
        channel: row.get(2),
        rule,
        request_id: row.get(1),
        message,
        created_at: from_millis(row.get(3)),
        attempts: 0,
        digest: true,
    }))
}
