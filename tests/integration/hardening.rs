//! Regressions of defects found by attacking the daemon from outside and by
//! operating it carelessly: each test is the reproduction, and what a user
//! now sees instead.

use std::time::Duration;

use rusqlite::Connection;
use syncwatch::ingress::Settings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{
    SlackReply, SlackStandIn, TestApp, database, eventually, fast_settings, spawn_app, spawn_app_in, spawn_app_with,
};

const WAIT: Duration = Duration::from_secs(10);

fn slack_rules(slack: &SlackStandIn, extra: &str) -> String {
    format!(
        "{extra}channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\ndefaults:\n  notify: [ops]\n  repeat_interval: 0s\nrules:\n  - name: failed\n    when: {{ failed: {{ above: 0 }} }}\n",
        slack.url()
    )
}

fn failing(request_id: &str) -> String {
    format!(
        r#"{{"data":{{"event":"data","connectionId":"CON-{request_id}","requests":[{{"request":"bills","status":"failed"}}]}},"requestId":"{request_id}"}}"#
    )
}

/// Sends `head` on a raw connection and reads the status code of the
/// answer, without ever sending the body it declares.
async fn answer_to_head(app: &TestApp, head: &str) -> String {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(WAIT, stream.read(&mut answer)).await;
    let n = read.expect("an answer before the body arrives").unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

fn statuses(db: &std::path::Path) -> Vec<(String, String, Option<String>)> {
    let conn = Connection::open(db).unwrap();
    let mut query = conn
        .prepare("SELECT channel, status, last_error FROM deliveries ORDER BY id")
        .unwrap();
    query
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test]
async fn a_request_without_a_signature_is_refused_before_its_body_is_read() {
    let app = spawn_app("security:\n  signing_secret: whsec\nrules: []\n").await;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: syncwatch\r\nContent-Type: application/json\r\nContent-Length: 4000000\r\n\r\n",
        app.path
    );
    let answer = answer_to_head(&app, &head).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("signature_missing"), "{answer}");
    let stale = format!(
        "POST {} HTTP/1.1\r\nHost: syncwatch\r\nRailz-Signature: t=1000,v=00\r\nContent-Length: 4000000\r\n\r\n",
        app.path
    );
    let answer = answer_to_head(&app, &stale).await;
    assert!(answer.contains("signature_stale"), "{answer}");
}

#[tokio::test]
async fn a_paced_message_older_than_max_age_is_expired_not_sent() {
    let slack = SlackStandIn::start().await;
    let rules = format!(
        "delivery:\n  max_age: 1s\nchannels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 3s }}\ndefaults:\n  notify: [ops]\n  repeat_interval: 0s\nrules:\n  - name: failed\n    when: {{ failed: {{ above: 0 }} }}\n",
        slack.url()
    );
    let app = spawn_app(&rules).await;
    app.post_json(failing("first")).await;
    app.post_json(failing("second")).await;
    let db = database(&app.dir);
    let settled = eventually(WAIT, || statuses(&db).iter().all(|(_, status, _)| status != "pending")).await;
    assert!(settled, "{:?}", statuses(&db));
    let rows = statuses(&db);
    assert_eq!(rows[0].1, "delivered");
    assert_eq!(rows[1].1, "expired");
    assert!(
        rows[1]
            .2
            .as_deref()
            .unwrap()
            .contains("older than delivery.max_age (1s)"),
        "{rows:?}"
    );
    assert_eq!(slack.delivered().len(), 1);
}

#[tokio::test]
async fn pending_messages_of_a_removed_channel_are_settled_as_failed_at_start() {
    let slack = SlackStandIn::start().await;
    slack.answer_all(SlackReply::status(503, "service_unavailable"));
    let app = spawn_app(&slack_rules(&slack, "")).await;
    app.post_json(failing("stranded")).await;
    assert!(eventually(WAIT, || !slack.received().is_empty()).await);
    let dir = app.stop().await;
    // The channel is renamed; the rule notifies the new name.
    let renamed = slack_rules(&slack, "").replace("ops", "alerts");
    let app = spawn_app_in(dir, &renamed, fast_settings()).await;
    let db = database(&app.dir);
    assert!(
        eventually(WAIT, || statuses(&db)[0].1 == "failed").await,
        "{:?}",
        statuses(&db)
    );
    let rows = statuses(&db);
    assert_eq!(rows[0].0, "ops");
    assert_eq!(rows[0].2.as_deref(), Some("channel no longer configured"));
    let metrics = app.metrics().await;
    assert!(metrics.contains("syncwatch_outbox_depth 0"), "{metrics}");
}

#[tokio::test]
async fn an_endless_retry_after_neither_kills_the_lane_nor_sends_late() {
    let slack = SlackStandIn::start().await;
    slack.script(&[SlackReply::rate_limited(u64::MAX)]);
    let app = spawn_app(&slack_rules(&slack, "delivery:\n  max_age: 2s\n")).await;
    app.post_json(failing("limited")).await;
    let db = database(&app.dir);
    assert!(
        eventually(WAIT, || statuses(&db)[0].1 == "expired").await,
        "{:?}",
        statuses(&db)
    );
    // The lane is alive: the next alert goes out (after the clamped pause).
    app.post_json(failing("after")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    assert_eq!(app.readyz().await, 200);
}

#[tokio::test]
async fn a_stalled_client_cannot_hold_up_the_stop() {
    let mut settings = fast_settings();
    settings.shutdown_grace = Duration::from_millis(500);
    let app = spawn_app_with("rules: []\n", settings).await;
    let mut stalled = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: syncwatch\r\nContent-Length: 100\r\n\r\n{{",
        app.path
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The body timeout is 30 s; the stop must not wait for it.
    let stopped = tokio::time::timeout(Duration::from_secs(15), app.stop()).await;
    assert!(stopped.is_ok(), "the stop waited for the stalled client");
}

#[tokio::test]
async fn a_dry_run_leaves_the_database_as_a_real_run_would_find_it() {
    let slack = SlackStandIn::start().await;
    slack.answer_all(SlackReply::status(503, "service_unavailable"));
    let app = spawn_app(&slack_rules(&slack, "")).await;
    app.post_json(failing("real")).await;
    let dir = app.stop().await;
    let settings = Settings {
        dry_run: true,
        ..fast_settings()
    };
    let app = spawn_app_in(dir, &slack_rules(&slack, ""), settings).await;
    let (status, _) = app.post_json(failing("dry")).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let db = database(&app.dir);
    assert_eq!(
        statuses(&db),
        [("ops".into(), "pending".into(), Some("503 service_unavailable".into()))]
    );
    let conn = Connection::open(&db).unwrap();
    let events: i64 = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(events, 1, "the dry run's event must not be recorded");
}

#[tokio::test]
async fn healthz_and_readyz_answer_head() {
    let app = spawn_app("rules: []\n").await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
}
