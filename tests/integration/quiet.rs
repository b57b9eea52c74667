//! Quiet on purpose: silences made beside the running daemon with the CLI,
//! and maintenance windows from rules.yaml. A muted alert still moves and
//! is recorded; nothing is sent; after the silence its next match speaks.

use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::helpers::{SlackStandIn, TestApp, database, eventually, spawn_app, stderr, stdout, syncwatch_async};

const WAIT: Duration = Duration::from_secs(10);

fn config(slack: &SlackStandIn, extra: &str) -> String {
    format!(
        "{extra}channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: off\ndefaults:\n  notify: [ops]\n  repeat_interval: 0s\nrules:\n  - name: bills-failing\n    when: {{ failed: {{ above: 0 }} }}\n",
        slack.url()
    )
}

fn failing(connection: &str, service: &str, request_id: &str) -> String {
    format!(
        r#"{{"data":{{"event":"data","connectionId":"{connection}","serviceName":"{service}","sandbox":false,"requests":[{{"request":"bills","status":"failed"}}]}},"requestId":"{request_id}"}}"#
    )
}

async fn post(app: &TestApp, body: String) {
    assert_eq!(app.post_json(body).await.0, 200);
}

async fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    let db = database(&app.dir).display().to_string();
    let mut all = vec!["silence".to_owned(), "--db".to_owned(), db];
    all.extend(args.iter().map(|a| a.to_string()));
    syncwatch_async(all).await
}

#[tokio::test]
async fn a_silence_from_the_cli_mutes_at_once_and_its_end_lets_the_next_match_speak() {
    let slack = SlackStandIn::start().await;
    let app = spawn_app(&config(&slack, "")).await;
    let added = cli(
        &app,
        &[
            "add",
            "--service",
            "quick*",
            "--for",
            "2h",
            "--comment",
            "QuickBooks outage",
        ],
    )
    .await;
    assert_eq!(added.status.code(), Some(0), "{}", stderr(&added));
    let id = stdout(&added).trim().to_owned();
    assert_eq!(id.len(), 8, "{id}");
    let listed = stdout(&cli(&app, &["list"]).await);
    assert!(
        listed.contains(&format!("{id}  active   --service quick*  until")),
        "{listed}"
    );
    assert!(listed.contains("\"QuickBooks outage\""), "{listed}");
    tokio::time::sleep(Duration::from_secs(1)).await;

    post(&app, failing("CON-1", "quickbooks", "muted-1")).await;
    post(&app, failing("CON-2", "xero", "other-service")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(slack.delivered().len(), 1, "only xero's alert is sent");
    assert!(slack.delivered()[0].to_string().contains("CON-2"));

    let db = database(&app.dir).display().to_string();
    let alerts = stdout(&syncwatch_async(vec!["alerts".into(), "--db".into(), db.clone()]).await);
    assert!(
        alerts.contains("CON-1  quickbooks  since") && alerts.contains(&format!("muted by silence {id}")),
        "{alerts}"
    );
    let explain = stdout(&syncwatch_async(vec!["explain".into(), "--db".into(), db, "muted-1".into()]).await);
    assert!(
        explain.contains(&format!(
            "bills-failing/CON-1: new → firing, FIRING muted by silence {id}"
        )),
        "{explain}"
    );

    let expired = cli(&app, &["expire", &id]).await;
    assert_eq!(stdout(&expired).trim(), format!("expired {id}"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    post(&app, failing("CON-1", "quickbooks", "after-silence")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    let text = slack.delivered()[1].to_string();
    assert!(
        text.contains("CON-1") && !text.contains("still failing"),
        "notified at once, as firing: {text}"
    );
}

#[tokio::test]
async fn a_silence_needs_a_comment_a_matcher_and_a_known_id_to_expire() {
    let slack = SlackStandIn::start().await;
    let app = spawn_app(&config(&slack, "")).await;
    let no_matcher = cli(&app, &["add", "--for", "1h", "--comment", "why"]).await;
    assert_eq!(no_matcher.status.code(), Some(1));
    assert!(
        stderr(&no_matcher).contains("needs at least one matcher"),
        "{}",
        stderr(&no_matcher)
    );
    let no_comment = cli(&app, &["add", "--rule", "x", "--for", "1h"]).await;
    assert_eq!(no_comment.status.code(), Some(2), "clap refuses a missing --comment");
    assert!(stderr(&no_comment).contains("--comment"), "{}", stderr(&no_comment));
    let past = cli(
        &app,
        &["add", "--rule", "x", "--until", "2020-01-01T00:00Z", "--comment", "c"],
    )
    .await;
    assert_eq!(past.status.code(), Some(1));
    let unknown = cli(&app, &["expire", "deadbeef"]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("no silence `deadbeef` is in force"),
        "{}",
        stderr(&unknown)
    );
    let until = cli(
        &app,
        &[
            "add",
            "--rule",
            "bills-*",
            "--until",
            "2099-12-01T09:00Z",
            "--comment",
            "c",
        ],
    )
    .await;
    assert_eq!(until.status.code(), Some(0), "{}", stderr(&until));
}

/// A window over the current time in `zone`, on today's weekday there (or
/// on another weekday).
fn window(zone: &str, service: &str, today: bool) -> String {
    let now = Timestamp::now().to_zoned(TimeZone::get(zone).unwrap());
    let day = if today {
        now.weekday()
    } else {
        now.weekday().next().next()
    };
    let name = format!("{day:?}").to_lowercase();
    let (start, end) = (now.time().hour(), (now.time().hour() + 1) % 24);
    format!(
        "maintenance:\n  - name: {service}-maintenance\n    when: {{ service: {service} }}\n    weekdays: [{name}]\n    times: [\"{start:02}:00-{end:02}:00\"]\n    timezone: {zone}\n"
    )
}

#[tokio::test]
async fn a_window_covering_now_mutes_only_its_service_in_utc_and_another_time_zone() {
    for zone in ["UTC", "Asia/Kolkata"] {
        let slack = SlackStandIn::start().await;
        let app = spawn_app(&config(&slack, &window(zone, "xero", true))).await;
        post(&app, failing("CON-1", "xero", "in-window")).await;
        post(&app, failing("CON-2", "quickbooks", "not-in-window")).await;
        assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(slack.delivered().len(), 1, "{zone}");
        assert!(slack.delivered()[0].to_string().contains("CON-2"), "{zone}");
        let db = database(&app.dir).display().to_string();
        let explain = stdout(&syncwatch_async(vec!["explain".into(), "--db".into(), db, "in-window".into()]).await);
        assert!(explain.contains("muted by maintenance xero-maintenance"), "{explain}");
    }
}

#[tokio::test]
async fn a_window_on_another_weekday_does_not_mute() {
    let slack = SlackStandIn::start().await;
    let app = spawn_app(&config(&slack, &window("UTC", "xero", false))).await;
    post(&app, failing("CON-1", "xero", "other-day")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
}

#[tokio::test]
async fn absence_alerts_are_silenced_by_the_same_matchers() {
    let slack = SlackStandIn::start().await;
    let rules = format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: off\ndefaults:\n  notify: [ops]\nrules:\n  - name: stopped-syncing\n    when: {{ no_sync_for: 1s }}\n",
        slack.url()
    );
    let app = spawn_app(&rules).await;
    let added = cli(
        &app,
        &[
            "add",
            "--service",
            "xero",
            "--rule",
            "stopped-*",
            "--for",
            "1h",
            "--comment",
            "Xero outage",
        ],
    )
    .await;
    assert_eq!(added.status.code(), Some(0), "{}", stderr(&added));
    tokio::time::sleep(Duration::from_secs(1)).await;
    post(&app, failing("CON-X", "xero", "xero-sync")).await;
    post(&app, failing("CON-Q", "quickbooks", "quickbooks-sync")).await;
    // Both fall silent; only quickbooks' absence is heard of.
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(slack.delivered().len(), 1);
    assert!(slack.delivered()[0].to_string().contains("CON-Q"));
    let db = database(&app.dir).display().to_string();
    let alerts = stdout(&syncwatch_async(vec!["alerts".into(), "--db".into(), db]).await);
    assert!(
        alerts.contains("stopped-syncing  CON-X") && alerts.contains("muted by silence"),
        "{alerts}"
    );
}

#[tokio::test]
async fn the_status_page_counts_only_silences_still_in_force() {
    let slack = SlackStandIn::start().await;
    let app = spawn_app(&config(&slack, "")).await;
    let id = stdout(
        &cli(
            &app,
            &["add", "--connection", "CON-1", "--for", "1h", "--comment", "known"],
        )
        .await,
    )
    .trim()
    .to_owned();
    tokio::time::sleep(Duration::from_secs(1)).await;
    post(&app, failing("CON-1", "xero", "muted")).await;
    let status = |app: &TestApp| {
        let url = app.url("/api/status");
        let client = app.client.clone();
        async move {
            client
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let before = status(&app).await;
    assert_eq!(before["totals"]["silenced"], 1, "{before}");
    assert_eq!(before["alerts"][0]["silenced_by"], format!("silence {id}"));
    cli(&app, &["expire", &id]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = status(&app).await;
    assert_eq!(after["totals"]["silenced"], 0, "{after}");
    assert_eq!(after["alerts"][0]["silenced_by"], format!("silence {id} (ended)"));
}
