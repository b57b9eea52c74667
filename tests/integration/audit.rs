//! `syncwatch history` and `syncwatch explain` on the database of a
//! running daemon.

use std::time::Duration;

use crate::helpers::{
    RulesFile, SlackReply, SlackStandIn, database, eventually, fixture, spawn_app, stderr, stdout, syncwatch_async,
};

fn rules(slack: &SlackStandIn) -> String {
    format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\" }}\ndefaults:\n  notify: [ops]\nrules:\n  - name: production-sync-failed\n    when: {{ environment: production, failed: {{ above: 0 }} }}\n  - name: sandbox-only\n    when: {{ environment: sandbox }}\n",
        slack.url()
    )
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

#[tokio::test]
async fn history_lists_events_and_notifications_with_their_status() {
    let slack = SlackStandIn::start().await;
    let app = spawn_app(&rules(&slack)).await;
    app.post_json(std::fs::read(fixture("data-full.json")).unwrap()).await;
    assert!(eventually(Duration::from_secs(10), || slack.delivered().len() == 1).await);
    slack.script(&[SlackReply::status(404, "no_service")]);
    let second = r#"{"data":{"event":"data","connectionId":"CON-2","sandbox":false,"requests":[{"request":"bills","status":"failed"}]},"requestId":"second"}"#;
    app.post_json(second).await;
    assert!(eventually(Duration::from_secs(10), || slack.received().len() == 2).await);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let db = database(&app.dir);
    let out = stdout(&syncwatch_async(owned(&["history", "--db", db.to_str().unwrap()])).await);
    assert!(out.contains("EVENTS, newest first (2)"), "{out}");
    assert!(out.contains("a3b4fc83-3e24-41aa-ba99-13cab09b0b7a  data  production  CON-0a4e97aa-7a77-bbbb-00aa-b1b1001aa00  notified: production-sync-failed"), "{out}");
    assert!(
        out.contains("failed     FIRING production-sync-failed -> ops  CON-2  requestId second  attempts 1"),
        "{out}"
    );
    assert!(out.contains("    last error: 404 no_service"), "{out}");
    assert!(
        out.contains("delivered  FIRING production-sync-failed -> ops  CON-0a4e97aa"),
        "{out}"
    );

    let failed =
        stdout(&syncwatch_async(owned(&["history", "--db", db.to_str().unwrap(), "--status", "failed"])).await);
    assert!(
        failed.contains("NOTIFICATIONS, newest first (1)") && !failed.contains("EVENTS"),
        "{failed}"
    );
    let one = stdout(
        &syncwatch_async(owned(&[
            "history",
            "--db",
            db.to_str().unwrap(),
            "--connection",
            "CON-2",
        ]))
        .await,
    );
    assert!(
        one.contains("EVENTS, newest first (1)") && one.contains("requestId second"),
        "{one}"
    );
}

#[tokio::test]
async fn explain_shows_every_rule_and_every_delivery_attempt() {
    let slack = SlackStandIn::start().await;
    slack.script(&[SlackReply::status(503, "service_unavailable")]);
    let app = spawn_app(&rules(&slack)).await;
    app.post_json(std::fs::read(fixture("data-full.json")).unwrap()).await;
    assert!(eventually(Duration::from_secs(10), || slack.delivered().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let config = RulesFile::new(&rules(&slack));
    let db = database(&app.dir);
    let args = owned(&[
        "explain",
        "--config",
        config.path.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "a3b4fc83-3e24-41aa-ba99-13cab09b0b7a",
    ]);
    let output = syncwatch_async(args).await;
    assert_eq!(output.status.code(), Some(0));
    let out = stdout(&output);
    for expected in [
        "event data · production · connection CON-0a4e97aa-7a77-bbbb-00aa-b1b1001aa00",
        "requests: failed 1, empty 1, success 3",
        "notified: production-sync-failed",
        "FIRES   production-sync-failed (warning)",
        "no      sandbox-only: environment is production, rule wants sandbox",
        "production-sync-failed -> ops: delivered after 2 attempt(s)",
        "retry      503 service_unavailable",
        "delivered  200 ok",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
}

#[tokio::test]
async fn explain_says_when_an_event_is_unknown() {
    let slack = SlackStandIn::start().await;
    let app = spawn_app(&rules(&slack)).await;
    let db = database(&app.dir);
    let output = syncwatch_async(owned(&["explain", "--db", db.to_str().unwrap(), "nope"])).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("no event with requestId `nope`"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn history_and_explain_run_without_the_services_secrets() {
    let slack = SlackStandIn::start().await;
    let app = spawn_app(&rules(&slack)).await;
    app.post_json(std::fs::read(fixture("data-full.json")).unwrap()).await;
    let db = database(&app.dir);
    // The rules file as installed: secrets from variables and credential
    // files that an admin's shell does not have.
    let config = RulesFile::new(&format!(
        "security:\n  signing_secret: ${{RAILZ_SIGNING_SECRET}}\n  bearer_token_file: /nonexistent/credential\nstorage:\n  path: {}\n{}",
        db.display(),
        rules(&slack)
    ));
    let path = config.path.to_str().unwrap();
    let history = syncwatch_async(owned(&["history", "--config", path])).await;
    assert_eq!(history.status.code(), Some(0), "{}", stderr(&history));
    assert!(
        stdout(&history).contains("EVENTS, newest first (1)"),
        "{}",
        stdout(&history)
    );
    let explain = syncwatch_async(owned(&[
        "explain",
        "--config",
        path,
        "a3b4fc83-3e24-41aa-ba99-13cab09b0b7a",
    ]))
    .await;
    assert_eq!(explain.status.code(), Some(0), "{}", stderr(&explain));
    assert!(
        stdout(&explain).contains("FIRES   production-sync-failed"),
        "{}",
        stdout(&explain)
    );
}
