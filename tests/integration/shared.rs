//! Several instances on one PostgreSQL database (SPEC section 9): any
//! instance takes any webhook, a redelivery to another is a duplicate,
//! alert state moves once per event, each notification goes out once.

use std::time::Duration;

use crate::helpers::{Backend, SlackStandIn, TestApp, eventually, fast_settings, set_reachable, spawn_app_on};

const WAIT: Duration = Duration::from_secs(15);

fn rules(slack: &SlackStandIn, rules: &str) -> String {
    format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: off\ndefaults:\n  notify: [ops]\nrules:\n{rules}",
        slack.url()
    )
}

const BILLS: &str = "  - name: bills-failing\n    when: { failed: { above: 0, data_types: [bills] } }\n";

fn sync(connection: &str, request_id: &str, status: &str) -> String {
    format!(
        r#"{{"data":{{"event":"data","connectionId":"{connection}","businessName":"Acme","serviceName":"xero","sandbox":false,"requests":[{{"request":"bills","status":"{status}"}}]}},"requestId":"{request_id}"}}"#
    )
}

async fn two_instances(slack: &SlackStandIn, rules_yaml: &str) -> (TestApp, TestApp) {
    let backend = Backend::postgres();
    let (a, b) = tokio::join!(
        spawn_app_on(&backend, rules_yaml, fast_settings()),
        spawn_app_on(&backend, rules_yaml, fast_settings())
    );
    let _ = slack;
    (a, b)
}

#[tokio::test]
async fn a_hundred_failures_across_two_instances_with_redeliveries_alert_once_each() {
    let slack = SlackStandIn::start().await;
    let (a, b) = two_instances(&slack, &rules(&slack, BILLS)).await;
    let mut posts = Vec::new();
    for n in 0..100 {
        let body = sync(&format!("CON-{n}"), &format!("req-{n}"), "failed");
        let (first, second) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
        // Railz retries on the other instance, sometimes at the same time.
        posts.push(async move {
            let (one, two) = tokio::join!(first.post_json(body.clone()), second.post_json(body.clone()));
            (one, two)
        });
    }
    let answers = futures_util::future::join_all(posts).await;
    let mut accepted = 0;
    for ((status_one, one), (status_two, two)) in answers {
        assert_eq!((status_one, status_two), (200, 200), "{one} {two}");
        let duplicates = [&one, &two]
            .iter()
            .filter(|answer| answer["status"] == "duplicate")
            .count();
        assert_eq!(duplicates, 1, "one copy is the duplicate: {one} {two}");
        accepted += 1;
    }
    assert_eq!(accepted, 100);
    assert!(
        eventually(WAIT, || slack.delivered().len() >= 100).await,
        "{}",
        slack.delivered().len()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let delivered = slack.delivered();
    assert_eq!(delivered.len(), 100, "each alert is sent once");
    let mut alerted: Vec<String> = delivered.iter().map(connection_named).collect();
    alerted.sort();
    alerted.dedup();
    assert_eq!(alerted.len(), 100, "one message per connection: {alerted:?}");
}

/// The `CON-n` a message is about.
fn connection_named(message: &serde_json::Value) -> String {
    let text = message.to_string();
    let start = text.find("CON-").expect("the message names its connection");
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

#[tokio::test]
async fn after_two_counts_failures_taken_by_different_instances() {
    let slack = SlackStandIn::start().await;
    let rules_yaml = rules(&slack, &format!("{BILLS}    after: 2\n"));
    let (a, b) = two_instances(&slack, &rules_yaml).await;
    a.post_ok(sync("CON-1", "f1", "failed")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(slack.delivered().is_empty(), "pending after one failure");
    b.post_ok(sync("CON-1", "f2", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    a.post_ok(sync("CON-1", "ok-1", "success")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    let header = slack.delivered()[1]["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(header, "✅ RESOLVED bills-failing");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(slack.delivered().len(), 2, "{:?}", slack.texts());
}

#[tokio::test]
async fn an_unreachable_database_answers_503_and_recovers_by_itself() {
    let slack = SlackStandIn::start().await;
    let backend = Backend::postgres();
    let app = spawn_app_on(&backend, &rules(&slack, BILLS), fast_settings()).await;
    assert_eq!(app.readyz().await, 200);
    let Backend::Postgres(url) = &backend else {
        unreachable!()
    };
    set_reachable(url, false);
    let (status, answer) = app.post_json(sync("CON-1", "while-down", "failed")).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(app.readyz().await, 503);

    set_reachable(url, true);
    let mut ready = false;
    for _ in 0..50 {
        if app.readyz().await == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "/readyz recovers once the database is back");
    // Railz's retry of the refused webhook is taken, and alerts.
    app.post_ok(sync("CON-1", "while-down", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
}
