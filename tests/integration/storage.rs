//! Durable state: deduplication and repeat_interval across restarts, 503
//! while storage refuses writes and recovery after, schema migrations.

use std::process::Command;
use std::time::Duration;

use rusqlite::Connection;
use serde_json::json;

use crate::helpers::{SlackStandIn, database, database_files, eventually, fast_settings, spawn_app, spawn_app_in};

const WAIT: Duration = Duration::from_secs(10);

fn rules(slack: &SlackStandIn) -> String {
    format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\" }}\ndefaults:\n  notify: [ops]\nrules:\n  - name: failed\n    when: {{ failed: {{ above: 0 }} }}\n",
        slack.url()
    )
}

fn failed_sync(request_id: &str, connection: &str) -> String {
    format!(
        r#"{{"data":{{"event":"data","connectionId":"{connection}","requests":[{{"request":"bills","status":"failed"}}]}},"requestId":"{request_id}"}}"#
    )
}

#[tokio::test]
async fn a_redelivered_request_id_is_recognised_after_a_restart() {
    let slack = SlackStandIn::start().await;
    let app = spawn_app(&rules(&slack)).await;
    assert_eq!(
        app.post_json(failed_sync("r-1", "CON-1")).await.1,
        json!({ "status": "accepted" })
    );
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    let dir = app.stop().await;

    let app = spawn_app_in(dir, &rules(&slack), fast_settings()).await;
    assert_eq!(
        app.post_json(failed_sync("r-1", "CON-1")).await,
        (200, json!({ "status": "duplicate" }))
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(slack.received().len(), 1, "not notified twice");
}

#[tokio::test]
async fn repeat_interval_holds_across_a_restart() {
    let slack = SlackStandIn::start().await;
    let app = spawn_app(&rules(&slack)).await;
    assert_eq!(app.post_json(failed_sync("r-1", "CON-1")).await.0, 200);
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    let dir = app.stop().await;

    let app = spawn_app_in(dir, &rules(&slack), fast_settings()).await;
    assert_eq!(app.post_json(failed_sync("r-2", "CON-1")).await.0, 200);
    assert_eq!(app.post_json(failed_sync("r-3", "CON-2")).await.0, 200);
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = slack.delivered()[1].to_string();
    assert!(
        second.contains("CON-2"),
        "CON-1 stays quiet within repeat_interval: {second}"
    );
    assert_eq!(slack.delivered().len(), 2);
}

#[tokio::test]
async fn a_pending_delivery_is_sent_after_a_restart() {
    let slack = SlackStandIn::start().await;
    slack.script(&[crate::helpers::SlackReply::status(503, "down")]);
    let mut settings = fast_settings();
    // Long enough that the retry cannot happen before the restart.
    settings.worker.backoff.base = Duration::from_secs(60);
    settings.worker.backoff.cap = Duration::from_secs(60);
    let app = crate::helpers::spawn_app_with(&rules(&slack), settings).await;
    assert_eq!(app.post_json(failed_sync("r-1", "CON-1")).await.0, 200);
    assert!(eventually(WAIT, || slack.received().len() == 1).await);
    let dir = app.stop().await;
    // The retry is due in a minute; pretend the minute has passed.
    let conn = Connection::open(database(&dir)).unwrap();
    conn.execute("UPDATE deliveries SET due_at = 0 WHERE status = 'pending'", [])
        .unwrap();
    drop(conn);

    let _app = spawn_app_in(dir, &rules(&slack), fast_settings()).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
}

#[tokio::test]
async fn a_locked_database_answers_503_then_recovers_by_itself() {
    let slack = SlackStandIn::start().await;
    let app = spawn_app(&rules(&slack)).await;
    assert_eq!(app.post_json(failed_sync("r-0", "CON-0")).await.0, 200);
    // Another process holds the write lock (say, someone in the sqlite3 shell).
    let other = Connection::open(database(&app.dir)).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();

    let (status, answer) = app.post_json(failed_sync("r-1", "CON-1")).await;
    assert_eq!(status, 503);
    assert_eq!(
        answer,
        json!({ "error": "storage unavailable: the event was not stored, retry later" })
    );
    assert_eq!(app.readyz().await, 503);

    other.execute_batch("COMMIT").unwrap();
    assert_eq!(app.readyz().await, 200);
    let (status, answer) = app.post_json(failed_sync("r-1", "CON-1")).await;
    assert_eq!(
        (status, answer),
        (200, json!({ "status": "accepted" })),
        "Railz's retry is accepted"
    );
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let delivered: Vec<String> = slack.delivered().iter().map(|m| m.to_string()).collect();
    assert_eq!(delivered.len(), 2, "each alert once: {delivered:?}");
    assert!(delivered[0].contains("CON-0") && delivered[1].contains("CON-1"));
}

fn chattr(flag: &str, files: &[std::path::PathBuf]) {
    for file in files {
        let status = Command::new("chattr")
            .arg(flag)
            .arg(file)
            .status()
            .expect("chattr runs");
        assert!(status.success(), "chattr {flag} {} failed", file.display());
    }
}

/// The files are made immutable (`chattr +i`): unlike a chmod, that stops
/// root too, and CI runs as root.
#[tokio::test]
async fn a_read_only_database_answers_503_and_recovers_when_writable_again() {
    let slack = SlackStandIn::start().await;
    let app = spawn_app(&rules(&slack)).await;
    assert_eq!(app.post_json(failed_sync("r-0", "CON-0")).await.0, 200);
    let files = database_files(&database(&app.dir));
    chattr("+i", &files);

    let (status, _) = app.post_json(failed_sync("r-1", "CON-1")).await;
    let ready = app.readyz().await;
    chattr("-i", &files);
    assert_eq!(status, 503, "nothing can be stored");
    assert_eq!(ready, 503);

    assert!(eventually(WAIT, || true).await);
    assert_eq!(app.readyz().await, 200);
    assert_eq!(
        app.post_json(failed_sync("r-1", "CON-1")).await.0,
        200,
        "accepted once writable"
    );
    assert_eq!(
        app.post_json(failed_sync("r-0", "CON-0")).await.1,
        json!({ "status": "duplicate" }),
        "nothing accepted was lost"
    );
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
}

#[tokio::test]
async fn a_database_of_the_first_schema_is_migrated_and_its_queue_delivered() {
    let slack = SlackStandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(database(&dir)).unwrap();
    syncwatch::store::sqlite::schema::migrate_to(&mut conn, 1).unwrap();
    let message = json!({ "kind": "slack", "payload": { "text": "queued by an older syncwatch" } }).to_string();
    // Received a minute before the upgrade: Railz may still redeliver it.
    conn.execute_batch(&format!(
        "INSERT INTO events (id, dedup_key, request_id, received_at, environment, body) VALUES (1, 'old-1', 'old-1', {now} - 60000, 'production', x'7b7d');
         INSERT INTO deliveries (event_id, request_id, rule, channel, message, status, created_at, due_at)
         VALUES (1, 'old-1', 'failed', 'ops', '{message}', 'pending', {now}, 0);",
        now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
    ))
    .unwrap();
    drop(conn);

    let app = spawn_app_in(dir, &rules(&slack), fast_settings()).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    assert_eq!(slack.delivered()[0]["text"], "queued by an older syncwatch");
    assert_eq!(
        app.post_json(failed_sync("old-1", "CON-1")).await.1,
        json!({ "status": "duplicate" })
    );
    let conn = Connection::open(database(&app.dir)).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version as usize, syncwatch::store::sqlite::schema::CURRENT_VERSION);
}
