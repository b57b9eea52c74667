//! Alerts that tell the truth, on both stores: a sync outside a rule's
//! scope resolves nothing; a sandbox connection stays sandbox when an
//! event does not say.

use std::time::Duration;

use crate::helpers::{Backend, SlackStandIn, TestApp, eventually, fast_settings, spawn_app_on};

const WAIT: Duration = Duration::from_secs(15);

async fn start(backend: &Backend, slack: &SlackStandIn, rules: &str) -> TestApp {
    let yaml = format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: off\ndefaults:\n  notify: [ops]\nrules:\n{rules}",
        slack.url()
    );
    spawn_app_on(backend, &yaml, fast_settings()).await
}

fn sync(request_id: &str, sync_type: &str, sandbox: bool, requests: &[(&str, &str)]) -> String {
    let requests: Vec<String> = requests
        .iter()
        .map(|(name, status)| format!(r#"{{"request":"{name}","status":"{status}"}}"#))
        .collect();
    format!(
        r#"{{"data":{{"event":"data","connectionId":"CON-1","businessName":"Acme","serviceName":"quickbooks","dataSyncType":"{sync_type}","sandbox":{sandbox},"requests":[{}]}},"requestId":"{request_id}"}}"#,
        requests.join(",")
    )
}

async fn firing(app: &TestApp) -> Vec<String> {
    let status = app.status("").await;
    let alerts = status["alerts"].as_array().cloned().unwrap_or_default();
    alerts
        .iter()
        .filter(|a| a["state"] == "firing")
        .map(|a| a["rule"].as_str().unwrap_or_default().to_owned())
        .collect()
}

on_both_stores!(a_sync_outside_the_rules_scope_resolves_nothing);
async fn a_sync_outside_the_rules_scope_resolves_nothing(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let rule =
        "  - name: full-sync-bills\n    when: { sync_type: fullSync, failed: { above: 0, data_types: [bills] } }\n";
    let app = start(&backend, &slack, rule).await;
    app.post_ok(sync("f1", "fullSync", false, &[("bills", "failed")])).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    // A manual sync that went fine, and a full sync without bills.
    app.post_ok(sync("m1", "manualSync", false, &[("bills", "success")]))
        .await;
    app.post_ok(sync("f2", "fullSync", false, &[("invoices", "success")]))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(slack.delivered().len(), 1, "{:?}", slack.headers());
    assert_eq!(firing(&app).await, ["full-sync-bills"]);
    // The sync the rule is about.
    app.post_ok(sync("f3", "fullSync", false, &[("bills", "success")]))
        .await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    assert_eq!(slack.headers()[1], "✅ RESOLVED full-sync-bills");
    assert!(firing(&app).await.is_empty());
}

on_both_stores!(an_event_without_sandbox_keeps_the_connections_environment);
async fn an_event_without_sandbox_keeps_the_connections_environment(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let rule = "  - name: lost-in-production\n    when: { environment: production, event: connectionStatus, connection_status: [disconnected] }\n    severity: critical\n";
    let app = start(&backend, &slack, rule).await;
    app.post_ok(sync("s1", "fullSync", true, &[("bills", "success")])).await;
    // Railz's connectionStatus carries no `sandbox`.
    let lost = r#"{"data":{"event":"connectionStatus","connectionId":"CON-1","serviceName":"quickbooks","oldStatus":"active","newStatus":"disconnected","disconnectReason":"expiredCredentials"},"requestId":"c1"}"#;
    app.post_ok(lost).await;
    let status = app.status("?q=con-1").await;
    assert_eq!(status["connections"]["rows"][0]["environment"], "sandbox", "{status}");
    assert!(firing(&app).await.is_empty(), "{status}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(slack.received().is_empty(), "{:?}", slack.headers());
}
