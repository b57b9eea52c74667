//! One suite, both durable stores: each scenario runs on a SQLite file and
//! on a PostgreSQL database, and must read the same to the user.

use std::time::Duration;

use crate::helpers::{Backend, SlackReply, SlackStandIn, TestApp, eventually, fast_settings, spawn_app_on};

const WAIT: Duration = Duration::from_secs(15);

/// Runs the scenario `$name` against each backend.
macro_rules! on_both_stores {
    ($name:ident) => {
        mod $name {
            use crate::helpers::Backend;

            #[tokio::test]
            async fn sqlite() {
                super::$name(Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$name(Backend::postgres()).await;
            }
        }
    };
}

fn rules(slack: &SlackStandIn, channel: &str, rules: &str) -> String {
    format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n{channel}defaults:\n  notify: [ops]\nrules:\n{rules}",
        slack.url()
    )
}

const BILLS: &str = "  - name: bills-failing\n    when: { failed: { above: 0, data_types: [bills] } }\n";

fn sync(connection: &str, request_id: &str, status: &str) -> String {
    format!(
        r#"{{"data":{{"event":"data","connectionId":"{connection}","businessName":"Acme","serviceName":"xero","sandbox":false,"requests":[{{"request":"bills","status":"{status}"}}]}},"requestId":"{request_id}"}}"#
    )
}

async fn start(backend: &Backend, yaml: &str) -> TestApp {
    spawn_app_on(backend, yaml, fast_settings()).await
}

on_both_stores!(fires_once_ignores_the_redelivery_and_resolves);
async fn fires_once_ignores_the_redelivery_and_resolves(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let app = start(&backend, &rules(&slack, "", BILLS)).await;
    assert_eq!(
        app.post_json(sync("CON-1", "r1", "failed")).await.1["status"],
        "accepted"
    );
    assert_eq!(
        app.post_json(sync("CON-1", "r1", "failed")).await.1["status"],
        "duplicate"
    );
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    app.post_ok(sync("CON-1", "r2", "success")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    let header = slack.delivered()[1]["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(header, "✅ RESOLVED bills-failing");
    app.post_ok(sync("CON-1", "r3", "failed")).await;
    assert!(
        eventually(WAIT, || slack.delivered().len() == 3).await,
        "a new episode fires again"
    );
}

on_both_stores!(retries_after_slack_fails_and_delivers_once);
async fn retries_after_slack_fails_and_delivers_once(backend: Backend) {
    let slack = SlackStandIn::start().await;
    slack.script(&[SlackReply::status(500, "oops"), SlackReply::rate_limited(0)]);
    let app = start(&backend, &rules(&slack, "", BILLS)).await;
    app.post_ok(sync("CON-2", "retry-1", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(slack.received().len(), 3, "two failures, then the one delivery");
    assert_eq!(slack.delivered().len(), 1);
    let metrics = app.metrics().await;
    assert!(metrics.contains("syncwatch_outbox_depth 0"), "{metrics}");
}

on_both_stores!(a_storm_goes_out_as_a_digest);
async fn a_storm_goes_out_as_a_digest(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let channel = "    digest: { after: 2, window: 1s, max_items: 50 }\n";
    let app = start(&backend, &rules(&slack, channel, BILLS)).await;
    for n in 0..10 {
        app.post_ok(sync(&format!("CON-{n}"), &format!("storm-{n}"), "failed"))
            .await;
    }
    assert!(eventually(WAIT, || slack.delivered().len() == 3).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let delivered = slack.delivered();
    assert_eq!(delivered.len(), 3, "2 one by one, then one digest");
    assert!(delivered[2].to_string().contains("8 alerts"), "{}", delivered[2]);
}

on_both_stores!(the_status_page_lists_the_firing_alert);
async fn the_status_page_lists_the_firing_alert(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let app = start(&backend, &rules(&slack, "", BILLS)).await;
    app.post_ok(sync("CON-9", "s1", "failed")).await;
    app.post_ok(sync("CON-8", "s2", "success")).await;
    let status: serde_json::Value = app
        .client
        .get(app.url("/api/status?q=con-9"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["alerts"][0]["rule"], "bills-failing", "{status}");
    assert_eq!(status["alerts"][0]["connection"], "CON-9", "{status}");
    assert_eq!(status["totals"]["known_connections"], 2, "{status}");
    assert_eq!(status["connections"]["rows"][0]["state"], "failing", "{status}");
    assert_eq!(
        status["connections"]["total"], 1,
        "the filter keeps CON-9 only: {status}"
    );
}
