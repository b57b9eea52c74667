//! Inhibit rules on both stores: a lost connection mutes the sync failures
//! of that connection (the page says by what), and once the connection is
//! back its next failure is told.

use std::time::Duration;

use crate::helpers::{BILLS, Backend, SlackStandIn, TestApp, eventually, fast_settings, spawn_app_on, sync};

const WAIT: Duration = Duration::from_secs(15);

fn rules(slack: &SlackStandIn) -> String {
    format!(
        "channels:
  ops:
    slack: {{ webhook_url: \"{}\", min_interval: 0s }}
defaults:
  notify: [ops]
rules:
  - name: connection-lost
    when: {{ event: connectionStatus, connection_status: [disconnected] }}
{BILLS}inhibit:
  - when_firing: {{ rule: connection-lost }}
    mute: {{ rule: '*' }}
    equal: [connection]
",
        slack.url()
    )
}

fn status(connection: &str, request_id: &str, new_status: &str) -> String {
    format!(
        r#"{{"data":{{"event":"connectionStatus","connectionId":"{connection}","businessName":"Acme","serviceName":"xero","newStatus":"{new_status}"}},"requestId":"{request_id}"}}"#
    )
}

async fn silenced_by(app: &TestApp, rule: &str) -> serde_json::Value {
    let status = app.status("").await;
    let rows = status["alerts"].as_array().cloned().unwrap_or_default();
    let row = rows.iter().find(|r| r["rule"] == rule).cloned();
    row.map_or(serde_json::Value::Null, |r| r["silenced_by"].clone())
}

on_both_stores!(a_lost_connection_mutes_its_failures_until_it_is_back);
async fn a_lost_connection_mutes_its_failures_until_it_is_back(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let app = spawn_app_on(&backend, &rules(&slack), fast_settings()).await;
    app.post_ok(status("CON-I", "lost", "disconnected")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    app.post_ok(sync("CON-I", "muted", "failed")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        slack.delivered().len(),
        1,
        "the failure is muted: {:?}",
        slack.headers()
    );
    assert_eq!(
        silenced_by(&app, "bills-failing").await,
        "inhibit connection-lost/CON-I"
    );
    app.post_ok(status("CON-I", "back", "active")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    assert_eq!(slack.headers()[1], "✅ RESOLVED connection-lost");
    app.post_ok(sync("CON-I", "told", "failed")).await;
    assert!(
        eventually(WAIT, || slack.delivered().len() == 3).await,
        "told once back"
    );
    assert!(slack.headers()[2].contains("bills-failing"), "{:?}", slack.headers());
}
