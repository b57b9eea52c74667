//! No lost alert through kill -9: alerts queued while Slack is down are all
//! delivered by the next process, once Slack is back.

use std::collections::HashMap;
use std::time::Duration;

use crate::helpers::{Daemon, RulesFile, SlackReply, SlackStandIn, eventually, free_port};

const ALERTS: usize = 30;

fn rules(slack: &SlackStandIn, port: u16, state: &std::path::Path) -> RulesFile {
    RulesFile::new(&format!(
        "server:\n  listen: 127.0.0.1:{port}\nstorage:\n  path: {}/syncwatch.db\nchannels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: off\ndefaults:\n  notify: [ops]\nrules:\n  - name: failed\n    when: {{ failed: {{ above: 0 }} }}\n",
        state.display(),
        slack.url()
    ))
}

/// How many times each alert (by requestId) reached Slack with a 200.
fn deliveries_per_alert(slack: &SlackStandIn) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for message in slack.delivered() {
        let text = message.to_string();
        if let Some(id) = (0..ALERTS)
            .map(|i| format!("crash-{i:02}"))
            .find(|id| text.contains(id.as_str()))
        {
            *counts.entry(id).or_insert(0) += 1;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_queued_during_a_slack_outage_survive_kill_9() {
    let slack = SlackStandIn::start().await;
    slack.answer_all(SlackReply::status(503, "service_unavailable"));
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = rules(&slack, port, state.path());
    let daemon = Daemon::start(&config.path, port).await;

    let client = crate::helpers::client();
    for i in 0..ALERTS {
        let body = format!(
            r#"{{"data":{{"event":"data","connectionId":"CON-{i}","requests":[{{"request":"bills","status":"failed"}}]}},"requestId":"crash-{i:02}"}}"#
        );
        let answer = client
            .post(daemon.url("/webhooks/railz"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200);
    }
    assert!(eventually(Duration::from_secs(10), || slack.received().len() >= ALERTS).await);
    daemon.kill_9();

    slack.answer_all(SlackReply::ok());
    let daemon = Daemon::start(&config.path, port).await;
    let all_delivered = eventually(Duration::from_secs(60), || deliveries_per_alert(&slack).len() == ALERTS).await;
    let counts = deliveries_per_alert(&slack);
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    println!(
        "crash test: {} of {ALERTS} alerts delivered after kill -9, {duplicates} duplicates",
        counts.len()
    );
    assert!(all_delivered, "delivered: {counts:?}");
    assert_eq!(daemon.terminate(), Some(0));
}
