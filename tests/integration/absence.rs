//! Absence rules on the real clock with short durations: a connection that
//! stops syncing is noticed, a sync resolves it, a disconnected connection
//! is not expected, a reload re-plans. A downtime restarting the clocks is
//! in the store suite (`backends`), on both stores.

use std::time::Duration;

use crate::helpers::{
    Daemon, RulesFile, SlackStandIn, database, eventually, free_port, spawn_app, stdout, syncwatch_async,
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
    let ok = stdout(&listing("ok").await);
    assert!(ok.contains("CON-1"), "{ok}");
    // Its next deadline: two seconds after the sync that brought it back.
    assert!(ok.contains("  next deadline 20"), "{ok}");
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
