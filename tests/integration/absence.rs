//! Absence rules on the real clock with short durations: a connection that
//! stops syncing is noticed, a sync resolves it, a disconnected connection
//! is not expected, a downtime restarts the clocks, a reload re-plans.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::Connection;

use crate::helpers::{
    Daemon, RulesFile, SlackStandIn, database, eventually, fast_settings, free_port, spawn_app, spawn_app_in, stdout,
    syncwatch_async,
};

const WAIT: Duration = Duration::from_secs(10);

fn config(slack: &SlackStandIn, rules: &str) -> String {
    format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\ndefaults:\n  notify: [ops]\nrules:\n{rules}",
        slack.url()
    )
}

const QUIET_2S: &str =
    "  - name: stopped-syncing\n    severity: critical\n    when: { environment: production, no_sync_for: 2s }\n";

fn sync(connection: &str, request_id: &str) -> String {
    format!(
        r#"{{"data":{{"event":"data","connectionId":"{connection}","businessName":"Acme","serviceName":"xero","sandbox":false,"requests":[{{"request":"bills","status":"success"}}]}},"requestId":"{request_id}"}}"#
    )
}

fn ms_ago(ago: Duration) -> i64 {
    (SystemTime::now() - ago)
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn a_connection_that_stops_syncing_fires_then_a_sync_resolves_it() {
    let slack = SlackStandIn::start().await;
    let rules = config(&slack, QUIET_2S);
    let app = spawn_app(&rules).await;
    let before = std::time::Instant::now();
    app.post_ok(sync("CON-1", "first")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    let took = before.elapsed();
    // Times are stored to the millisecond.
    assert!(
        took >= Duration::from_millis(1990),
        "fired before its deadline: {took:?}"
    );
    let fired = slack.texts()[0].clone();
    assert!(
        fired.contains("CRITICAL stopped-syncing") && fired.contains("no sync for 2s"),
        "{fired}"
    );
    assert!(fired.contains("Acme") && fired.contains("xero"), "{fired}");

    let file = RulesFile::new(&rules);
    let db = database(&app.dir);
    let listing = |state: &str| {
        let args = [
            "connections",
            "--config",
            file.path.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--state",
            state,
        ];
        syncwatch_async(args.iter().map(|s| s.to_string()).collect())
    };
    let quiet = stdout(&listing("quiet").await);
    assert!(quiet.contains("CONNECTIONS (1)") && quiet.contains("CON-1"), "{quiet}");
    assert!(quiet.contains("firing: stopped-syncing/CON-1"), "{quiet}");

    app.post_ok(sync("CON-1", "back")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    assert!(
        slack.texts()[1].contains("RESOLVED stopped-syncing"),
        "{:?}",
        slack.texts()
    );
    assert!(stdout(&listing("ok").await).contains("CON-1"));
}

#[tokio::test]
async fn a_disconnected_connection_is_not_expected_to_sync_until_it_is_back() {
    let slack = SlackStandIn::start().await;
    let app = spawn_app(&config(&slack, QUIET_2S)).await;
    app.post_ok(sync("CON-1", "first")).await;
    let lost = r#"{"data":{"event":"connectionStatus","connectionId":"CON-1","sandbox":false,"oldStatus":"active","newStatus":"disconnected","disconnectReason":"expiredCredentials"},"requestId":"lost"}"#;
    app.post_ok(lost.to_owned()).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(slack.delivered().is_empty(), "{:?}", slack.texts());
    let auth = r#"{"data":{"event":"auth","connectionUuid":"CON-1","sandbox":false},"requestId":"auth"}"#;
    app.post_ok(auth.to_owned()).await;
    assert!(
        eventually(WAIT, || slack.delivered().len() == 1).await,
        "its clock runs again once it is back"
    );
}

#[tokio::test]
async fn after_a_downtime_clocks_start_again_and_after_a_short_restart_they_do_not() {
    let slack = SlackStandIn::start().await;
    let rules = config(&slack, "  - name: stopped-syncing\n    when: { no_sync_for: 3s }\n");
    let app = spawn_app(&rules).await;
    app.post_ok(sync("CON-1", "first")).await;
    let dir = app.stop().await;
    // Its last sync an hour ago, and syncwatch down for the last 30 minutes:
    // the webhooks of that half hour may be lost, so no alert at start.
    let db = database(&dir);
    let conn = Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE connections SET last_sync = ?1, first_seen = ?1",
        [ms_ago(Duration::from_secs(3600))],
    )
    .unwrap();
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'heartbeat'",
        [ms_ago(Duration::from_secs(1800))],
    )
    .unwrap();
    drop(conn);
    let app = spawn_app_in(dir, &rules, fast_settings()).await;
    let metrics = app.metrics().await;
    assert!(metrics.contains("syncwatch_downtimes_total 1"), "{metrics}");
    assert!(metrics.contains("syncwatch_last_downtime_seconds 1800"), "{metrics}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(slack.delivered().is_empty(), "no burst of absence alerts at start");
    assert!(
        eventually(WAIT, || slack.delivered().len() == 1).await,
        "the clock restarted at start"
    );

    // A restart of a moment later changes nothing: another connection,
    // overdue, fires at once.
    let dir = app.stop().await;
    let conn = Connection::open(database(&dir)).unwrap();
    conn.execute(
        "INSERT INTO connections (id, first_seen, last_event, last_sync, environment) VALUES ('CON-2', ?1, ?1, ?1, 'production')",
        [ms_ago(Duration::from_secs(60))],
    )
    .unwrap();
    drop(conn);
    let _app = spawn_app_in(dir, &rules, fast_settings()).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    let second = slack.delivered()[1].to_string();
    assert!(
        second.contains("CON-2") && second.contains("no sync for 1m"),
        "{second}"
    );
}

#[tokio::test]
async fn a_forgotten_connection_is_no_longer_expected() {
    let slack = SlackStandIn::start().await;
    let app = spawn_app(&config(&slack, QUIET_2S)).await;
    app.post_ok(sync("CON-1", "first")).await;
    let db = database(&app.dir).display().to_string();
    let forget = syncwatch_async(vec![
        "connections".into(),
        "--db".into(),
        db.clone(),
        "forget".into(),
        "CON-1".into(),
    ])
    .await;
    assert_eq!(stdout(&forget).trim(), "forgot CON-1");
    let unknown = syncwatch_async(vec![
        "connections".into(),
        "--db".into(),
        db.clone(),
        "forget".into(),
        "CON-9".into(),
    ])
    .await;
    assert_eq!(unknown.status.code(), Some(1));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(slack.delivered().is_empty(), "{:?}", slack.texts());
    let listing = stdout(&syncwatch_async(vec!["connections".into(), "--db".into(), db]).await);
    assert!(listing.contains("CONNECTIONS (0)"), "{listing}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_that_adds_an_absence_rule_plans_it_at_once() {
    let slack = SlackStandIn::start().await;
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let head = format!(
        "server:\n  listen: 127.0.0.1:{port}\nstorage:\n  path: {}/db\n",
        state.path().display()
    );
    let file = RulesFile::new(&format!(
        "{head}{}",
        config(&slack, "  - name: failed\n    when: { failed: { above: 0 } }\n")
    ));
    let daemon = Daemon::start(&file.path, port).await;
    let response = crate::helpers::client()
        .post(daemon.url("/webhooks/railz"))
        .body(sync("CON-1", "s1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    std::fs::write(&file.path, format!("{head}{}", config(&slack, QUIET_2S))).unwrap();
    daemon.signal("HUP");
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    assert!(slack.texts()[0].contains("stopped-syncing"), "{:?}", slack.texts());
    assert_eq!(daemon.terminate(), Some(0));
}
