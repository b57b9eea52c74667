//! The alert lifecycle as a user sees it: nothing while pending, FIRING
//! once, STILL FAILING on repeat, RESOLVED to the channels that were told,
//! across restarts, and connection lost and back.

use std::time::Duration;

use crate::helpers::{
    RulesFile, SlackStandIn, SmtpServer, TestApp, database, eventually, fast_settings, fixture, spawn_app,
    spawn_app_in, stdout, syncwatch_async,
};

const WAIT: Duration = Duration::from_secs(10);

/// Channels `ops` (Slack) and `mail` (the real SMTP server), then `rules`.
fn config(slack: &SlackStandIn, smtp: &SmtpServer, defaults: &str, rules: &str) -> String {
    format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n  mail:\n    email: {{ host: 127.0.0.1, port: {}, tls: none, from: a@example.com, to: ops@example.com }}\ndefaults:\n  notify: [ops, mail]\n{defaults}rules:\n{rules}",
        slack.url(),
        smtp.addr.port()
    )
}

const BILLS: &str =
    "  - name: bills-failing\n    severity: critical\n    when: { failed: { above: 0, data_types: [bills] } }\n";

/// A full-payload sync of CON-1 with bills `status`.
fn sync(request_id: &str, status: &str) -> String {
    format!(
        r#"{{"data":{{"event":"data","connectionId":"CON-1","businessName":"Acme","serviceName":"xero","sandbox":false,"requests":[{{"request":"bills","status":"{status}"}}]}},"requestId":"{request_id}"}}"#
    )
}

async fn alerts_listing(app: &TestApp) -> String {
    let db = database(&app.dir);
    stdout(&syncwatch_async(vec!["alerts".into(), "--db".into(), db.display().to_string()]).await)
}

#[tokio::test]
async fn after_two_waits_for_the_second_failure_then_fires_once() {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    let rules = format!("{BILLS}    after: 2\n    notify: [ops]\n");
    let app = spawn_app(&config(&slack, &smtp, "", &rules)).await;
    app.post_ok(sync("f1", "failed")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(slack.delivered().is_empty(), "nothing is sent while pending");
    let listing = alerts_listing(&app).await;
    assert!(listing.contains("ALERTS (0 firing, 1 pending)"), "{listing}");
    assert!(
        listing.contains("pending  -        bills-failing  CON-1  Acme · xero  since"),
        "{listing}"
    );
    assert!(listing.contains("1 failing sync  last notified never"), "{listing}");

    app.post_ok(sync("f2", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    assert!(
        slack.texts()[0].contains("CRITICAL bills-failing"),
        "{:?}",
        slack.texts()
    );
    let listing = alerts_listing(&app).await;
    assert!(
        listing.contains("firing   -        bills-failing  CON-1  Acme · xero  since"),
        "{listing}"
    );
    assert!(listing.contains("2 failing syncs"), "{listing}");
}

#[tokio::test]
async fn a_clean_sync_resolves_with_a_message_to_each_channel_that_was_told() {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    let app = spawn_app(&config(&slack, &smtp, "", BILLS)).await;
    app.post_ok(sync("fail-1", "failed")).await;
    app.post_ok(sync("fail-2", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1 && smtp.accepted().len() == 1).await);
    app.post_ok(sync("clean-1", "success")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2 && smtp.accepted().len() == 2).await);

    let resolved = &slack.delivered()[1];
    let header = resolved["blocks"][0]["text"]["text"].as_str().unwrap();
    assert_eq!(header, "✅ RESOLVED bills-failing");
    let text = resolved.to_string();
    for expected in [
        "Acme",
        "CON-1",
        "xero",
        "firing since",
        "2 failing syncs",
        "clean sync requestId clean-1",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in {text}");
    }
    let mail = smtp.accepted()[1].text();
    assert!(
        mail.contains("Subject: [syncwatch] RESOLVED bills-failing: back to normal for Acme (xero) after"),
        "{mail}"
    );
    assert!(mail.contains("clean sync requestId clean-1"), "{mail}");
    assert!(alerts_listing(&app).await.contains("ALERTS (0 firing, 0 pending)"));
}

#[tokio::test]
async fn a_restart_between_firing_and_resolving_still_resolves() {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    let rules = config(&slack, &smtp, "", &format!("{BILLS}    notify: [ops]\n"));
    let app = spawn_app(&rules).await;
    app.post_ok(sync("before-restart", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    let dir = app.stop().await;
    let app = spawn_app_in(dir, &rules, fast_settings()).await;
    app.post_ok(sync("after-restart", "success")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    assert!(
        slack.texts()[1].contains("RESOLVED bills-failing"),
        "{:?}",
        slack.texts()
    );
}

#[tokio::test]
async fn resolve_after_two_rides_out_a_flap() {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    let rules = format!("{BILLS}    resolve_after: 2\n    notify: [ops]\n");
    let app = spawn_app(&config(&slack, &smtp, "", &rules)).await;
    for (id, status) in [("a", "failed"), ("b", "success"), ("c", "failed"), ("d", "success")] {
        app.post_ok(sync(id, status)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(slack.delivered().len(), 1, "{:?}", slack.texts());
    app.post_ok(sync("e", "success")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    let resolved = slack.texts()[1].clone();
    assert!(
        resolved.contains("RESOLVED") && resolved.contains("clean sync requestId e"),
        "{resolved}"
    );
    assert!(resolved.contains("2 failing syncs"), "{resolved}");
}

#[tokio::test]
async fn send_resolved_false_and_record_only_rules_send_no_resolution() {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    let rules = format!(
        "{BILLS}    send_resolved: false\n    notify: [ops]\n  - name: recorded\n    notify: []\n    when: {{ failed: {{ above: 0 }} }}\n"
    );
    let app = spawn_app(&config(&slack, &smtp, "", &rules)).await;
    app.post_ok(sync("fail", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    app.post_ok(sync("clean", "success")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(slack.delivered().len(), 1, "{:?}", slack.texts());
    assert!(smtp.accepted().is_empty());
    let listing = alerts_listing(&app).await;
    assert!(listing.contains("ALERTS (0 firing, 0 pending)"), "{listing}");
}

#[tokio::test]
async fn a_firing_alert_that_keeps_failing_says_since_when() {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    let app = spawn_app(&config(&slack, &smtp, "  repeat_interval: 0s\n", BILLS)).await;
    app.post_ok(sync("first", "failed")).await;
    app.post_ok(sync("second", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2 && smtp.accepted().len() == 2).await);
    let still = slack.texts()[1].clone();
    assert!(still.contains("still failing"), "{still}");
    assert!(
        still.contains("Still failing since") && still.contains("2 failing syncs so far"),
        "{still}"
    );
    let mail = smtp.accepted()[1].text();
    assert!(
        mail.contains("Subject: [syncwatch] CRITICAL bills-failing: still failing since"),
        "{mail}"
    );
}

#[tokio::test]
async fn a_sync_without_the_rules_data_moves_nothing() {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    let rules = "  - name: empty-monthly-income-statements\n    when: { empty: { at_least: 1, data_types: [incomeStatements], report_frequency: month } }\n    notify: [ops]\n";
    let app = spawn_app(&config(&slack, &smtp, "  repeat_interval: 1d\n", rules)).await;
    let full = std::fs::read_to_string(fixture("data-full.json")).unwrap();
    let connection = "CON-0a4e97aa-7a77-bbbb-00aa-b1b1001aa00";
    app.post_ok(full.clone()).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    // A manual sync of bills alone, and a simple payload (no report
    // frequency): neither says anything about monthly income statements.
    app.post_ok(format!(r#"{{"data":{{"event":"data","connectionId":"{connection}","requests":[{{"request":"bills","status":"success"}}]}},"requestId":"bills-only"}}"#)).await;
    app.post_ok(format!(r#"{{"data":{{"event":"data","connectionId":"{connection}","requests":{{"incomeStatements":{{"success":2}}}}}},"requestId":"simple"}}"#)).await;
    app.post_ok(full.replace("a3b4fc83-3e24-41aa-ba99-13cab09b0b7a", "again"))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        slack.delivered().len(),
        1,
        "still firing, within repeat_interval: {:?}",
        slack.texts()
    );
    assert!(alerts_listing(&app).await.contains("2 failing syncs"));
}

#[tokio::test]
async fn a_lost_connection_fires_with_its_reason_and_resolves_when_it_is_back() {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    let rules = "  - name: connection-lost\n    severity: critical\n    when:\n      event: connectionStatus\n      connection_status: [disconnected, expired, invalid]\n    notify: [ops, mail]\n";
    let app = spawn_app(&config(&slack, &smtp, "", rules)).await;
    app.post_ok(std::fs::read_to_string(fixture("connection-status.json")).unwrap())
        .await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1 && smtp.accepted().len() == 1).await);
    let fired = slack.delivered()[0].to_string();
    for expected in [
        "connection disconnected (expiredCredentials)",
        "active → disconnected",
        "Refresh token expired for quickbooks, reconnection required",
    ] {
        assert!(fired.contains(expected), "missing {expected:?} in {fired}");
    }
    let mail = smtp.accepted()[0].text();
    assert!(
        mail.contains("expiredCredentials") && mail.contains("reconnection required"),
        "{mail}"
    );

    // Railz's `auth` event names the connection by connectionUuid.
    app.post_ok(std::fs::read_to_string(fixture("auth.json")).unwrap())
        .await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2 && smtp.accepted().len() == 2).await);
    assert!(
        slack.texts()[1].contains("RESOLVED connection-lost"),
        "{:?}",
        slack.texts()
    );
    assert!(
        smtp.accepted()[1]
            .text()
            .contains("Subject: [syncwatch] RESOLVED connection-lost")
    );
}

#[tokio::test]
async fn explain_shows_the_transition_each_event_made() {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    let rules = format!("{BILLS}    after: 2\n    notify: [ops]\n");
    let text = config(&slack, &smtp, "", &rules);
    let app = spawn_app(&text).await;
    app.post_ok(sync("p1", "failed")).await;
    app.post_ok(sync("p2", "failed")).await;
    let config = RulesFile::new(&text);
    let db = database(&app.dir);
    let explain = |id: &str| {
        vec![
            "explain".to_owned(),
            "--config".into(),
            config.path.display().to_string(),
            "--db".into(),
            db.display().to_string(),
            id.to_owned(),
        ]
    };
    let first = stdout(&syncwatch_async(explain("p1")).await);
    assert!(first.contains("bills-failing/CON-1: new → pending"), "{first}");
    let second = stdout(&syncwatch_async(explain("p2")).await);
    assert!(
        second.contains("bills-failing/CON-1: pending → firing, FIRING to ops"),
        "{second}"
    );
}
