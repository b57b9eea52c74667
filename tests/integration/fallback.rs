//! A channel's `fallback`: when one of its messages fails for good or
//! expires, a person hears of it on another channel, queued in the same
//! step as the failure; a fallback's own notice never falls back again.

use std::time::Duration;

use crate::helpers::{Backend, SlackReply, SlackStandIn, SmtpServer, eventually, fast_settings, spawn_app_on, sync};

const WAIT: Duration = Duration::from_secs(10);

/// `ops` (Slack) falls back to `mail` (email).
fn rules(slack: &SlackStandIn, smtp: &SmtpServer, ops_extra: &str) -> String {
    format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: off\n    fallback: mail\n{ops_extra}  mail:\n    email: {{ host: 127.0.0.1, port: {}, tls: none, from: a@example.com, to: oncall@example.com }}\ndefaults:\n  notify: [ops]\nrules:\n  - name: bills-failing\n    when: {{ failed: {{ above: 0 }} }}\n",
        slack.url(),
        smtp.addr.port()
    )
}

async fn a_refused_message_is_told_on_the_fallback_channel(backend: Backend) {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    slack.answer_all(SlackReply::status(404, "no_service"));
    let app = spawn_app_on(&backend, &rules(&slack, &smtp, ""), fast_settings()).await;
    app.post_ok(sync("CON-1", "r1", "failed")).await;
    assert!(
        eventually(WAIT, || smtp.accepted().len() == 1).await,
        "the fallback is told"
    );
    let mail = &smtp.accepted()[0];
    assert_eq!(mail.to, vec!["oncall@example.com".to_owned()]);
    assert!(
        mail.data
            .contains("Subject: [syncwatch] syncwatch could not deliver to ops: "),
        "{}",
        mail.data
    );
    assert!(mail.data.contains("Why: failed for good: "), "{}", mail.data);
    assert!(mail.data.contains("requestId: r1"), "{}", mail.data);
    assert!(
        mail.data.contains("Message-ID: <syncwatch.undelivered."),
        "{}",
        mail.data
    );
    assert!(mail.data.contains("@example.com>"), "at the from domain: {}", mail.data);
    // Slack's failure stays recorded as it was: told means delivered.
    assert_eq!(slack.delivered().len(), 0);
}
on_both_stores!(a_refused_message_is_told_on_the_fallback_channel);

#[tokio::test]
async fn a_delivered_message_tells_the_fallback_nothing() {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    let app = spawn_app_on(&Backend::Sqlite, &rules(&slack, &smtp, ""), fast_settings()).await;
    app.post_ok(sync("CON-1", "r1", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(smtp.accepted().is_empty());
}

/// Two broken channels that are each other's fallback: each failure is
/// told once, and the notices do not bounce between them.
#[tokio::test]
async fn two_broken_channels_falling_back_on_each_other_do_not_bounce_notices() {
    let (ops, other) = (SlackStandIn::start().await, SlackStandIn::start().await);
    ops.answer_all(SlackReply::status(404, "no_service"));
    other.answer_all(SlackReply::status(404, "no_service"));
    let yaml = format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: off\n    fallback: other\n  other:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: off\n    fallback: ops\ndefaults:\n  notify: [ops]\nrules:\n  - name: bills-failing\n    when: {{ failed: {{ above: 0 }} }}\n",
        ops.url(),
        other.url()
    );
    let app = spawn_app_on(&Backend::Sqlite, &yaml, fast_settings()).await;
    app.post_ok(sync("CON-1", "r1", "failed")).await;
    assert!(
        eventually(WAIT, || !other.received().is_empty()).await,
        "the fallback was tried"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(ops.received().len(), 1, "the alert, once; no notice came back to it");
    assert_eq!(other.received().len(), 1, "the notice, once");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("syncwatch_notifications_total{channel=\"other\",outcome=\"failed\"} 1"),
        "{metrics}"
    );
}

#[test]
fn check_refuses_a_fallback_that_is_missing_itself_or_read_by_no_one() {
    let check = |yaml: &str| {
        let file = crate::helpers::RulesFile::new(yaml);
        crate::helpers::stderr(&crate::helpers::syncwatch(
            &["check", "--config", file.path.to_str().unwrap()],
            &[],
        ))
    };
    let hook = "channels:\n  ops:\n    slack: { webhook_url: \"http://127.0.0.1:9/h\" }\n    fallback: FALLBACK\n  hook:\n    webhook: { url: \"http://127.0.0.1:9/w\" }\nrules: []\n";
    let errors = check(&hook.replace("FALLBACK", "nowhere"));
    assert!(
        errors.contains("rules.yaml:4: channels.ops.fallback: no channel is named `nowhere`"),
        "{errors}"
    );
    let errors = check(&hook.replace("FALLBACK", "ops"));
    assert!(errors.contains("a channel cannot be its own fallback"), "{errors}");
    let errors = check(&hook.replace("FALLBACK", "hook"));
    assert!(
        errors.contains("`hook` is a webhook channel: a fallback must be one people read"),
        "{errors}"
    );
}
