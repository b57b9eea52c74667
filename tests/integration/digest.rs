//! Storms stay readable: past `after` messages in a window, the rest go
//! out as one digest at its end, every alert named or counted, within
//! Slack's limits; Slack is paced per webhook URL.

use std::collections::HashSet;
use std::time::Duration;

use crate::helpers::{
    Daemon, RulesFile, SlackReply, SlackStandIn, SmtpServer, TestApp, eventually, free_port, spawn_app,
};

const WAIT: Duration = Duration::from_secs(15);
const STORM: usize = 60;
const DIGEST: &str = "digest: { after: 5, window: 2s, max_items: 100 }";

fn failing(i: usize) -> String {
    format!(
        r#"{{"data":{{"event":"data","connectionId":"CON-{i:03}","businessName":"Biz {i}","serviceName":"xero","sandbox":false,"requests":[{{"request":"bills","status":"failed"}}]}},"requestId":"storm-{i}"}}"#
    )
}

async fn storm(app: &TestApp, count: usize) {
    let posts = (0..count).map(|i| app.post_json(failing(i)));
    for (status, answer) in futures_util::future::join_all(posts).await {
        assert_eq!(status, 200, "{answer}");
    }
}

/// The connections a message names, and how many alerts it says it holds.
fn accounted(message: &str) -> (HashSet<String>, usize) {
    let named: HashSet<String> = (0..STORM + 1)
        .map(|i| format!("CON-{i:03}"))
        .filter(|id| message.contains(id.as_str()))
        .collect();
    let counted = message
        .split("syncwatch digest · ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(named.len());
    (named, counted)
}

#[tokio::test]
async fn a_slack_storm_arrives_as_a_few_messages_that_account_for_every_alert() {
    let slack = SlackStandIn::start().await;
    let app = spawn_app(&format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    {DIGEST}\ndefaults:\n  notify: [ops]\nrules:\n  - name: production-sync-failed\n    when: {{ failed: {{ above: 0 }} }}\n",
        slack.url()
    ))
    .await;
    storm(&app, STORM).await;
    assert!(
        eventually(WAIT, || slack.delivered().len() == 6).await,
        "{}",
        slack.delivered().len()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let messages = slack.delivered();
    assert_eq!(messages.len(), 6, "5 one by one, then one digest");
    let mut named = HashSet::new();
    let mut total = 0;
    for message in &messages {
        let blocks = message["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50);
        for block in blocks {
            if let Some(text) = block["text"]["text"].as_str() {
                assert!(text.chars().count() <= 3000);
            }
        }
        let (names, count) = accounted(&message.to_string());
        total += count;
        named.extend(names);
    }
    assert_eq!(total, STORM, "every alert counted once");
    assert_eq!(named.len(), STORM, "with max_items 100, every alert is named");
    let digest = messages[5].to_string();
    assert!(digest.contains("55 alerts: 55 production-sync-failed"), "{digest}");
    assert!(
        digest.contains("By service:* 55 xero") && digest.contains("By data type:* 55 bills"),
        "{digest}"
    );

    // A lone alert after the storm goes out at once, on its own.
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.post_json(failing(STORM)).await;
    assert!(eventually(Duration::from_secs(3), || slack.delivered().len() == 7).await);
    assert!(!slack.delivered()[6].to_string().contains("digest"));
}

#[tokio::test]
async fn an_email_storm_arrives_as_a_few_messages_with_a_counting_subject() {
    let smtp = SmtpServer::start();
    let app = spawn_app(&format!(
        "channels:\n  mail:\n    email: {{ host: 127.0.0.1, port: {}, tls: none, from: a@example.com, to: ops@example.com }}\n    {DIGEST}\ndefaults:\n  notify: [mail]\nrules:\n  - name: production-sync-failed\n    severity: critical\n    when: {{ failed: {{ above: 0 }} }}\n",
        smtp.addr.port()
    ))
    .await;
    storm(&app, STORM).await;
    assert!(
        eventually(WAIT, || smtp.accepted().len() == 6).await,
        "{}",
        smtp.accepted().len()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails = smtp.accepted();
    assert_eq!(mails.len(), 6);
    let digest = mails[5].text();
    assert!(
        digest.contains("Subject: [syncwatch] 55 alerts: 55 production-sync-failed"),
        "{digest}"
    );
    assert!(digest.contains("<table"), "an HTML table: {digest}");
    let named: HashSet<String> = mails.iter().flat_map(|m| accounted(&m.text()).0).collect();
    assert_eq!(named.len(), STORM);
}

#[tokio::test]
async fn a_slack_outage_during_a_storm_loses_nothing_and_sends_nothing_twice() {
    let slack = SlackStandIn::start().await;
    slack.script(&vec![SlackReply::status(503, "service_unavailable"); 8]);
    let app = spawn_app(&format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    {DIGEST}\ndefaults:\n  notify: [ops]\nrules:\n  - name: production-sync-failed\n    when: {{ failed: {{ above: 0 }} }}\n",
        slack.url()
    ))
    .await;
    storm(&app, STORM).await;
    let all_accounted = || {
        let messages = slack.delivered();
        let total: usize = messages.iter().map(|m| accounted(&m.to_string()).1).sum();
        total >= STORM
    };
    assert!(eventually(Duration::from_secs(30), all_accounted).await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut seen = HashSet::new();
    let mut total = 0;
    for message in slack.delivered() {
        let (named, count) = accounted(&message.to_string());
        total += count;
        for id in named {
            assert!(seen.insert(id.clone()), "{id} delivered twice");
        }
    }
    assert_eq!(total, STORM);
    assert_eq!(seen.len(), STORM);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_digest_built_before_a_crash_is_sent_once_after_it() {
    let slack = SlackStandIn::start().await;
    slack.answer_all(SlackReply::status(503, "service_unavailable"));
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = RulesFile::new(&format!(
        "server:\n  listen: 127.0.0.1:{port}\nstorage:\n  path: {}/db\nchannels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: {{ after: 1, window: 1s, max_items: 100 }}\ndefaults:\n  notify: [ops]\nrules:\n  - name: failed\n    when: {{ failed: {{ above: 0 }} }}\n",
        state.path().display(),
        slack.url()
    ));
    let daemon = Daemon::start(&config.path, port).await;
    let client = crate::helpers::client();
    for i in 0..20 {
        let answer = client
            .post(daemon.url("/webhooks/railz"))
            .body(failing(i))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200);
    }
    // The first is tried alone (and fails); the window fills; at its end a
    // digest of all 20 (the first, waiting for its retry, too) is tried.
    assert!(
        eventually(WAIT, || slack
            .received()
            .iter()
            .any(|r| r.body.to_string().contains("20 alerts")))
        .await
    );
    daemon.kill_9();
    slack.answer_all(SlackReply::ok());
    let daemon = Daemon::start(&config.path, port).await;
    assert!(
        eventually(WAIT, || {
            let total: usize = slack.delivered().iter().map(|m| accounted(&m.to_string()).1).sum();
            total >= 20
        })
        .await
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let delivered = slack.delivered();
    let total: usize = delivered.iter().map(|m| accounted(&m.to_string()).1).sum();
    assert_eq!(total, 20, "{delivered:?}");
    assert_eq!(
        delivered.iter().filter(|m| m.to_string().contains("20 alerts")).count(),
        1
    );
    drop(daemon);
}

#[tokio::test]
async fn two_channels_on_one_webhook_share_its_pace() {
    let slack = SlackStandIn::start().await;
    let app = spawn_app(&format!(
        "channels:\n  a:\n    slack: {{ webhook_url: \"{url}\", min_interval: 1s }}\n    digest: off\n  b:\n    slack: {{ webhook_url: \"{url}\", min_interval: 1s }}\n    digest: off\ndefaults:\n  notify: [a, b]\nrules:\n  - name: failed\n    when: {{ failed: {{ above: 0 }} }}\n",
        url = slack.url()
    ))
    .await;
    for i in 0..2 {
        app.post_json(failing(i)).await;
    }
    assert!(eventually(WAIT, || slack.received().len() == 4).await);
    let times: Vec<_> = slack.received().iter().map(|r| r.at).collect();
    for pair in times.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(gap >= Duration::from_millis(800), "two posts {gap:?} apart");
    }
}

#[tokio::test]
async fn explain_says_which_digest_carried_a_notification() {
    let slack = SlackStandIn::start().await;
    let rules = format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: {{ after: 1, window: 1s }}\ndefaults:\n  notify: [ops]\nrules:\n  - name: failed\n    when: {{ failed: {{ above: 0 }} }}\n",
        slack.url()
    );
    let app = spawn_app(&rules).await;
    storm(&app, 3).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let db = crate::helpers::database(&app.dir).display().to_string();
    let explained: Vec<String> = futures_util::future::join_all((0..3).map(|i| {
        crate::helpers::syncwatch_async(vec!["explain".into(), "--db".into(), db.clone(), format!("storm-{i}")])
    }))
    .await
    .iter()
    .map(crate::helpers::stdout)
    .collect();
    let carried = explained
        .iter()
        .filter(|out| out.contains("failed -> ops: delivered, carried by digest #"))
        .count();
    assert_eq!(carried, 2, "{explained:?}");
    let history =
        crate::helpers::stdout(&crate::helpers::syncwatch_async(vec!["history".into(), "--db".into(), db]).await);
    assert_eq!(history.matches("carried by digest #").count(), 2, "{history}");
}
