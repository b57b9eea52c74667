//! The Slack messages alert threads hang on (`slack_threads`), as in the
//! SQLite store: kept when a delivery settles, in its transaction; read by
//! whichever instance sends a reply.

use std::time::SystemTime;

use deadpool_postgres::{Client, Transaction};
use tokio_postgres::Error;

use crate::render::{Anchor, Episode};

use super::super::time::millis;

/// A FIRING's message replaces whatever the alert's last episode left; a
/// digest's only stands in for an episode that has no message of its own.
const KEEP: &str =
    "INSERT INTO slack_threads (channel, alert, since, slack_channel, ts, is_digest, original, posted_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (channel, alert) DO UPDATE SET since = excluded.since, slack_channel = excluded.slack_channel,
        ts = excluded.ts, is_digest = excluded.is_digest, original = excluded.original, posted_at = excluded.posted_at
    WHERE NOT excluded.is_digest OR slack_threads.since <> excluded.since";

pub async fn keep(tx: &Transaction<'_>, channel: &str, anchors: &[Anchor], at: SystemTime) -> Result<(), Error> {
    let statement = tx.prepare_cached(KEEP).await?;
    for anchor in anchors {
        let original = anchor.original.to_string();
        let since = anchor.episode.since as i64;
        tx.execute(
            &statement,
            &[
                &channel,
                &anchor.episode.key,
                &since,
                &anchor.channel,
                &anchor.ts,
                &anchor.digest,
                &original,
                &millis(at),
            ],
        )
        .await?;
    }
    Ok(())
}

/// The message `episode`'s thread hangs on in `channel`, if any.
pub async fn parent(client: &Client, channel: &str, episode: &Episode) -> Result<Option<Anchor>, Error> {
    let statement = client
        .prepare_cached(
            "SELECT slack_channel, ts, is_digest, original FROM slack_threads
             WHERE channel = $1 AND alert = $2 AND since = $3",
        )
        .await?;
    let since = episode.since as i64;
    let row = client.query_opt(&statement, &[&channel, &episode.key, &since]).await?;
    Ok(row.map(|row| Anchor {
        episode: episode.clone(),
        channel: row.get(0),
        ts: row.get(1),
        digest: row.get(2),
        original: serde_json::from_str(row.get::<_, &str>(3)).unwrap_or_default(),
    }))
}

/// Forgets threads posted before `cutoff` whose alert is no longer firing.
pub async fn prune(tx: &Transaction<'_>, cutoff: i64) -> Result<u64, Error> {
    tx.execute(
        "DELETE FROM slack_threads t WHERE posted_at < $1 AND NOT EXISTS (SELECT 1 FROM alerts a
             WHERE a.state = 'firing' AND t.since = a.firing_since
             AND t.alert = a.rule || '/' || a.connection || CASE a.data_type WHEN '' THEN '' ELSE '/' || a.data_type END)",
        &[&cutoff],
    )
    .await
}
