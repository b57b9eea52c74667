//! The Slack messages alert threads hang on (`slack_threads`): kept when a
//! delivery settles, in its transaction; read when a reply is sent.

use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, params};

use crate::render::{Anchor, Episode};

use super::millis;

/// A FIRING's message replaces whatever the alert's last episode left; a
/// digest's only stands in for an episode that has no message of its own.
const KEEP: &str =
    "INSERT INTO slack_threads (channel, alert, since, slack_channel, ts, is_digest, original, posted_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
    ON CONFLICT (channel, alert) DO UPDATE SET since = excluded.since, slack_channel = excluded.slack_channel,
        ts = excluded.ts, is_digest = excluded.is_digest, original = excluded.original, posted_at = excluded.posted_at
    WHERE excluded.is_digest = 0 OR slack_threads.since <> excluded.since";

pub fn keep(tx: &Connection, channel: &str, anchors: &[Anchor], at: SystemTime) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(KEEP)?;
    for anchor in anchors {
        insert.execute(params![
            channel,
            anchor.episode.key,
            anchor.episode.since as i64,
            anchor.channel,
            anchor.ts,
            anchor.digest,
            anchor.original.to_string(),
            millis(at),
        ])?;
    }
    Ok(())
}

/// The message `episode`'s thread hangs on in `channel`, if any.
pub fn parent(conn: &Connection, channel: &str, episode: &Episode) -> rusqlite::Result<Option<Anchor>> {
    conn.prepare_cached(
        "SELECT slack_channel, ts, is_digest, original FROM slack_threads
         WHERE channel = ?1 AND alert = ?2 AND since = ?3",
    )?
    .query_row(params![channel, episode.key, episode.since as i64], |row| {
        let original: String = row.get(3)?;
        Ok(Anchor {
            episode: episode.clone(),
            channel: row.get(0)?,
            ts: row.get(1)?,
            digest: row.get(2)?,
            original: serde_json::from_str(&original).unwrap_or_default(),
        })
    })
    .optional()
}

/// Forgets threads posted before `cutoff` whose alert is no longer firing.
pub fn prune(tx: &Connection, cutoff: i64) -> rusqlite::Result<usize> {
    tx.execute(
        "DELETE FROM slack_threads WHERE posted_at < ?1 AND NOT EXISTS (SELECT 1 FROM alerts a
             WHERE a.state = 'firing' AND slack_threads.since = a.firing_since
             AND slack_threads.alert = a.rule || '/' || a.connection || CASE a.data_type WHEN '' THEN '' ELSE '/' || a.data_type END)",
        [cutoff],
    )
}
