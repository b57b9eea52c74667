//! Notifications reaching Slack and a real SMTP server, with retries,
//! permanent failures, pacing and repeat_interval.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{SlackReply, SlackStandIn, SmtpServer, TestApp, eventually, fixture, spawn_app};

const WAIT: Duration = Duration::from_secs(10);

struct Setup {
    app: TestApp,
    slack: SlackStandIn,
    smtp: SmtpServer,
}

/// The app with a Slack channel `ops` and an email channel `mail`, and the
/// rules of the three jobs of the product.
async fn setup(repeat_interval: &str) -> Setup {
    let slack = SlackStandIn::start().await;
    let smtp = SmtpServer::start();
    let rules = format!(
        r#"
defaults:
  repeat_interval: {repeat_interval}
channels:
  ops:
    slack: {{ webhook_url: "{slack}" }}
  mail:
    email:
      host: 127.0.0.1
      port: {port}
      tls: none
      from: "syncwatch <alerts@example.com>"
      to: [finance@example.com, ops@example.com]
rules:
  - name: production-sync-failed
    severity: critical
    when: {{ environment: production, failed: {{ above: 0 }} }}
    notify: [ops, mail]
  - name: empty-monthly-income-statements
    when: {{ empty: {{ at_least: 1, data_types: [incomeStatements], report_frequency: month }} }}
    notify: [mail]
  - name: empty-bill-payments
    when: {{ event: dataPerType, empty: {{ above: 1, data_types: [billPaymentRequests] }} }}
    notify: [ops]
"#,
        slack = slack.url(),
        port = smtp.addr.port()
    );
    let app = spawn_app(&rules).await;
    Setup { app, slack, smtp }
}

fn event(request_id: &str, connection: &str, sandbox: bool, failed: usize) -> String {
    let requests: Vec<String> = (0..failed)
        .map(|i| format!(r#"{{"request":"type{i}","status":"failed"}}"#))
        .chain([r#"{"request":"accounts","status":"success"}"#.to_owned()])
        .collect();
    format!(
        r#"{{"data":{{"event":"data","connectionId":"{connection}","businessName":"BIZ-1","serviceName":"xero","sandbox":{sandbox},"requests":[{}]}},"requestId":"{request_id}"}}"#,
        requests.join(",")
    )
}

#[tokio::test]
async fn the_full_fixture_reaches_slack_and_both_email_recipients() {
    let s = setup("4h").await;
    let body = std::fs::read(fixture("data-full.json")).unwrap();
    assert_eq!(s.app.post_json(body).await.0, 200);
    assert!(eventually(WAIT, || s.smtp.accepted().len() == 1 && s.slack.delivered().len() == 1).await);

    let slack = &s.slack.delivered()[0];
    assert_eq!(slack["blocks"][0]["text"]["text"], "CRITICAL production-sync-failed");
    assert!(
        slack["text"]
            .as_str()
            .unwrap()
            .contains("1 failed for BIZ-d6b1c7d3-fe41-4447-ae72-3814b78b5142 (quickbooks)")
    );

    // Both rules that fire for `mail` arrive as one email, a section each
    // (several rules, one message).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mails = s.smtp.accepted();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.to, ["finance@example.com", "ops@example.com"]);
    let text = mail.text();
    assert!(text.contains("Subject: [syncwatch] 2 alerts for BIZ-d6b1c7d3-fe41-4447-ae72-3814b78b5142 (quickbooks): CRITICAL production-sync-failed, WARNING empty-monthly-income-statements"), "{text}");
    assert!(
        text.contains("Content-Type: text/plain") && text.contains("Content-Type: text/html"),
        "{text}"
    );
    assert!(text.contains("CRITICAL production-sync-failed (PRODUCTION)"), "{text}");
    assert!(text.contains("incomeStatements month 2018-04-01..2018-04-30"), "{text}");
}

#[tokio::test]
async fn the_per_type_fixture_notifies_slack_and_the_simple_one_nothing() {
    let s = setup("4h").await;
    for name in ["data-simple.json", "data-per-type.json"] {
        assert_eq!(s.app.post_json(std::fs::read(fixture(name)).unwrap()).await.0, 200);
    }
    assert!(eventually(WAIT, || s.slack.delivered().len() == 1).await);
    let message = s.slack.delivered()[0].to_string();
    assert!(message.contains("empty-bill-payments"), "{message}");
    assert!(
        message.contains("billPaymentRequests 2017-01-01..2017-12-31"),
        "{message}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        s.smtp.accepted().is_empty(),
        "the simple payload has no failure and no income statements"
    );
}

#[tokio::test]
async fn a_production_only_rule_is_silent_on_a_sandbox_event() {
    let s = setup("4h").await;
    assert_eq!(s.app.post_json(event("sandbox-1", "CON-1", true, 3)).await.0, 200);
    assert_eq!(s.app.post_json(event("prod-1", "CON-2", false, 1)).await.0, 200);
    assert!(eventually(WAIT, || s.slack.delivered().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let delivered = s.slack.delivered();
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0].to_string().contains("prod-1"));
}

#[tokio::test]
async fn slack_500_503_and_429_are_retried_and_the_retry_after_is_honoured() {
    let s = setup("4h").await;
    s.slack.script(&[
        SlackReply::status(500, "internal_error"),
        SlackReply::status(503, "service_unavailable"),
        SlackReply::rate_limited(1),
    ]);
    assert_eq!(s.app.post_json(event("r-1", "CON-1", false, 2)).await.0, 200);
    assert!(eventually(WAIT, || s.slack.delivered().len() == 1).await);
    let received = s.slack.received();
    let statuses: Vec<u16> = received.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 503, 429, 200]);
    let waited = received[3].at - received[2].at;
    assert!(
        waited >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured: {waited:?}"
    );
    assert!(
        received.iter().all(|r| r.body == received[3].body),
        "the same message each time"
    );
}

#[tokio::test]
async fn slack_404_no_service_is_not_retried_and_the_next_message_still_goes() {
    let s = setup("4h").await;
    s.slack.script(&[SlackReply::status(404, "no_service")]);
    assert_eq!(s.app.post_json(event("r-1", "CON-1", false, 1)).await.0, 200);
    assert!(eventually(WAIT, || s.slack.received().len() == 1).await);
    assert_eq!(s.app.post_json(event("r-2", "CON-2", false, 1)).await.0, 200);
    assert!(eventually(WAIT, || s.slack.delivered().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let statuses: Vec<u16> = s.slack.received().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [404, 200], "no retry after a permanent error");
}

#[tokio::test]
async fn slack_400_and_410_are_permanent_too() {
    let s = setup("4h").await;
    s.slack.script(&[
        SlackReply::status(400, "invalid_payload"),
        SlackReply::status(410, "channel_is_archived"),
    ]);
    assert_eq!(s.app.post_json(event("r-1", "CON-1", false, 1)).await.0, 200);
    assert_eq!(s.app.post_json(event("r-2", "CON-2", false, 1)).await.0, 200);
    assert!(eventually(WAIT, || s.slack.received().len() == 2).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.slack.received().len(), 2);
}

#[tokio::test]
async fn an_smtp_server_that_answers_451_then_accepts_gets_the_mail() {
    let s = setup("4h").await;
    s.smtp.fail_next(&[451]);
    assert_eq!(s.app.post_json(event("r-1", "CON-1", false, 1)).await.0, 200);
    assert!(eventually(WAIT, || s.smtp.accepted().len() == 1).await);
    assert_eq!(s.smtp.attempts(), 2);
}

#[tokio::test]
async fn an_smtp_554_is_permanent() {
    let s = setup("4h").await;
    s.smtp.fail_next(&[554]);
    assert_eq!(s.app.post_json(event("r-1", "CON-1", false, 1)).await.0, 200);
    assert!(eventually(WAIT, || s.smtp.attempts() == 1).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.smtp.attempts(), 1);
    assert!(s.smtp.accepted().is_empty());
}

#[tokio::test]
async fn a_failing_channel_neither_blocks_nor_repeats_another() {
    let s = setup("4h").await;
    s.smtp.fail_next(&[451, 451, 451]);
    assert_eq!(s.app.post_json(event("r-1", "CON-1", false, 1)).await.0, 200);
    assert!(eventually(WAIT, || s.slack.delivered().len() == 1).await);
    assert!(eventually(WAIT, || s.smtp.accepted().len() == 1).await);
    assert_eq!(s.slack.received().len(), 1, "Slack got the message once");
}

#[tokio::test]
async fn repeat_interval_keeps_an_active_alert_quiet() {
    let s = setup("4h").await;
    assert_eq!(s.app.post_json(event("r-1", "CON-1", false, 1)).await.0, 200);
    assert_eq!(s.app.post_json(event("r-2", "CON-1", false, 2)).await.0, 200);
    assert_eq!(s.app.post_json(event("r-3", "CON-2", false, 1)).await.0, 200);
    assert!(eventually(WAIT, || s.slack.delivered().len() == 2).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let texts: Vec<String> = s.slack.delivered().iter().map(|m| m.to_string()).collect();
    assert_eq!(texts.len(), 2, "CON-1's second failure is within repeat_interval");
    assert!(texts.iter().any(|t| t.contains("CON-2")));
}

#[tokio::test]
async fn a_clean_sync_resolves_the_alert_so_the_next_failure_notifies() {
    let s = setup("4h").await;
    assert_eq!(s.app.post_json(event("r-1", "CON-1", false, 1)).await.0, 200);
    assert_eq!(s.app.post_json(event("r-2", "CON-1", false, 0)).await.0, 200);
    assert_eq!(s.app.post_json(event("r-3", "CON-1", false, 1)).await.0, 200);
    assert!(eventually(WAIT, || s.slack.delivered().len() == 3).await);
    let texts: Vec<String> = s.slack.delivered().iter().map(|m| m["text"].to_string()).collect();
    assert!(
        texts[1].contains("RESOLVED") && texts[2].contains("CRITICAL"),
        "{texts:?}"
    );
}

#[tokio::test]
async fn a_zero_repeat_interval_notifies_every_match() {
    let s = setup("0s").await;
    for i in 0..3 {
        assert_eq!(
            s.app.post_json(event(&format!("r-{i}"), "CON-1", false, 1)).await.0,
            200
        );
    }
    assert!(eventually(WAIT, || s.slack.delivered().len() == 3).await);
}

#[tokio::test]
async fn a_hostile_business_name_reaches_slack_escaped() {
    let s = setup("4h").await;
    let body = json!({
        "data": { "event": "data", "connectionId": "CON-1", "businessName": "<!channel> & <http://x|y>", "sandbox": false,
                  "requests": [ { "request": "bills", "status": "failed" } ] },
        "requestId": "hostile"
    });
    assert_eq!(s.app.post_json(body.to_string()).await.0, 200);
    assert!(eventually(WAIT, || s.slack.delivered().len() == 1).await);
    let message = s.slack.delivered()[0].to_string();
    assert!(!message.contains("<!channel>"), "{message}");
    assert!(
        message.contains("&lt;!channel&gt; &amp; &lt;http://x|y&gt;"),
        "{message}"
    );
}

#[tokio::test]
async fn a_burst_to_one_slack_webhook_is_paced() {
    let slack = SlackStandIn::start().await;
    let rules = format!(
        "defaults:\n  repeat_interval: 0s\nchannels:\n  ops:\n    slack: {{ webhook_url: \"{}\" }}\nrules:\n  - name: any\n    notify: [ops]\n    when: {{ event: data }}\n",
        slack.url()
    );
    let mut settings = crate::helpers::fast_settings();
    settings.worker.slack_interval = Duration::from_millis(200);
    let app = crate::helpers::spawn_app_with(&rules, settings).await;
    for i in 0..4 {
        let body = format!(r#"{{"data":{{"event":"data","connectionId":"CON-1"}},"requestId":"b-{i}"}}"#);
        assert_eq!(app.post_json(body).await.0, 200, "the burst is accepted at once");
    }
    assert!(eventually(WAIT, || slack.delivered().len() == 4).await);
    let times: Vec<_> = slack.received().iter().map(|r| r.at).collect();
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(190),
            "posts {:?} apart",
            pair[1] - pair[0]
        );
    }
}

fn starttls_rules(smtp: &SmtpServer, ca: bool) -> String {
    let ca_file = if ca {
        format!(
            "      ca_file: {}/tests/fixtures/tls/ca.pem\n",
            env!("CARGO_MANIFEST_DIR")
        )
    } else {
        String::new()
    };
    format!(
        "channels:\n  mail:\n    email:\n      host: localhost\n      port: {}\n      tls: starttls\n{ca_file}      from: a@example.com\n      to: ops@example.com\nrules:\n  - name: failed\n    notify: [mail]\n    when: {{ failed: {{ above: 0 }} }}\n",
        smtp.addr.port()
    )
}

#[tokio::test]
async fn email_goes_through_starttls_to_a_server_with_a_private_ca() {
    syncwatch::deliver::install_crypto_provider();
    let smtp = SmtpServer::start_tls();
    let app = spawn_app(&starttls_rules(&smtp, true)).await;
    assert_eq!(app.post_json(event("tls-1", "CON-1", false, 1)).await.0, 200);
    assert!(eventually(WAIT, || smtp.accepted().len() == 1).await);
    assert!(
        smtp.accepted()[0]
            .text()
            .contains("Subject: [syncwatch] WARNING failed: 1 failed")
    );
}

#[tokio::test]
async fn starttls_to_an_untrusted_certificate_is_refused_and_nothing_is_sent() {
    syncwatch::deliver::install_crypto_provider();
    let smtp = SmtpServer::start_tls();
    let app = spawn_app(&starttls_rules(&smtp, false)).await;
    assert_eq!(app.post_json(event("tls-2", "CON-1", false, 1)).await.0, 200);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(smtp.accepted().is_empty(), "no mail over an unverified TLS session");
    assert_eq!(
        smtp.attempts(),
        0,
        "the client stopped at the TLS handshake, before MAIL FROM"
    );
}
