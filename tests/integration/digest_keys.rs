//! A digest counts alerts, not messages: an alert that fires and resolves
//! inside one digest window is one line in its latest state, and the
//! digest still carries (and settles) every message, on both stores.

use std::time::Duration;

use crate::helpers::{
    BILLS, Backend, RulesFile, SlackStandIn, TestApp, database, eventually, fast_settings, spawn_app_on, stderr,
    stdout, sync, syncwatch_async,
};

const WAIT: Duration = Duration::from_secs(15);

/// `syncwatch history` on the app's store: `--db` for SQLite, a rules
/// file naming the database for PostgreSQL.
async fn history(app: &TestApp, backend: &Backend, yaml: &str) -> String {
    let mut args = vec!["history".to_owned()];
    let _file = match backend {
        Backend::Sqlite => {
            args.extend(["--db".to_owned(), database(&app.dir).display().to_string()]);
            None
        }
        Backend::Postgres(url) => {
            let file = RulesFile::new(&format!("{yaml}storage:\n  postgres: {url}\n"));
            args.extend(["--config".to_owned(), file.path.display().to_string()]);
            Some(file)
        }
    };
    let output = syncwatch_async(args).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    stdout(&output)
}

/// The notifications `history` says a digest carried: each one's line,
/// and the digest's id.
fn carried(history: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = history.lines().collect();
    lines
        .windows(2)
        .filter_map(|pair| {
            let id = pair[1].trim().strip_prefix("carried by digest #")?;
            Some((pair[0].to_owned(), id.to_owned()))
        })
        .collect()
}

/// The bullet lines of a Slack digest.
fn bullets(message: &serde_json::Value) -> Vec<String> {
    let blocks = message["blocks"].as_array().cloned().unwrap_or_default();
    blocks
        .iter()
        .filter_map(|block| block["text"]["text"].as_str())
        .flat_map(|text| text.lines())
        .filter_map(|line| line.strip_prefix("• "))
        .map(str::to_owned)
        .collect()
}

on_both_stores!(an_alert_that_fires_and_resolves_in_a_digest_window_is_one_alert);
async fn an_alert_that_fires_and_resolves_in_a_digest_window_is_one_alert(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let yaml = format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: {{ after: 2, window: 3s, max_items: 50 }}\ndefaults:\n  notify: [ops]\nrules:\n{BILLS}",
        slack.url()
    );
    let app = spawn_app_on(&backend, &yaml, fast_settings()).await;
    // Two go out one by one; the rest of the window waits for its end:
    // CON-3 fires and is over before then, CON-4 and CON-5 still fail.
    for (connection, request, status) in [
        ("CON-1", "k-1", "failed"),
        ("CON-2", "k-2", "failed"),
        ("CON-3", "k-3", "failed"),
        ("CON-4", "k-4", "failed"),
        ("CON-5", "k-5", "failed"),
        ("CON-3", "k-3-clean", "success"),
    ] {
        app.post_ok(sync(connection, request, status)).await;
    }
    assert!(eventually(WAIT, || slack.delivered().len() == 3).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let delivered = slack.delivered();
    assert_eq!(delivered.len(), 3, "2 one by one, then one digest: {delivered:?}");
    let digest = &delivered[2];
    assert_eq!(
        slack.headers()[2],
        "syncwatch digest · 3 alerts, 1 resolved: 3 bills-failing",
        "3 alerts, not 4 messages: {digest}"
    );
    let text = digest.to_string();
    assert!(text.contains("By state:* 2 FIRING, 1 RESOLVED"), "{text}");
    let lines = bullets(digest);
    assert_eq!(lines.len(), 3, "one line per alert: {lines:?}");
    assert!(
        lines[0].starts_with("RESOLVED bills-failing") && lines[0].contains("CON-3"),
        "CON-3 in its latest state: {lines:?}"
    );
    assert_eq!(
        lines.iter().filter(|line| line.contains("CON-3")).count(),
        1,
        "{lines:?}"
    );
    assert!(lines[1].contains("CON-4") && lines[2].contains("CON-5"), "{lines:?}");

    // Every message the digest carried, both of CON-3's too, is settled with it.
    let settled = |history: &str| {
        let carried = carried(history);
        carried.len() == 4 && carried.iter().all(|(line, _)| line.contains("delivered"))
    };
    let mut out = String::new();
    for _ in 0..50 {
        out = history(&app, &backend, &yaml).await;
        if settled(&out) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(settled(&out), "{out}");
    let carried = carried(&out);
    assert!(carried.iter().all(|(_, id)| *id == carried[0].1), "one digest: {out}");
    for connection in ["CON-3", "CON-4", "CON-5"] {
        let count = carried.iter().filter(|(line, _)| line.contains(connection)).count();
        let expected = if connection == "CON-3" { 2 } else { 1 };
        assert_eq!(count, expected, "{connection}: {out}");
    }
}

/// A digest window counts notifications, not attempts: a lone alert
/// retried twice after Slack's 500s goes out as itself, not as a "digest
/// of 1" once its retries filled the window's `after`.
#[tokio::test]
async fn retries_do_not_use_up_the_digest_budget() {
    let slack = SlackStandIn::start().await;
    slack.script(&[
        crate::helpers::SlackReply::status(500, "internal_error"),
        crate::helpers::SlackReply::status(500, "internal_error"),
    ]);
    let yaml = format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: {{ after: 2, window: 3s, max_items: 10 }}\ndefaults:\n  notify: [ops]\nrules:\n  - name: bills-failed\n    when: {{ failed: {{ above: 0 }} }}\n",
        slack.url()
    );
    let app = spawn_app_on(&Backend::Sqlite, &yaml, fast_settings()).await;
    app.post_ok(sync("CON-R", "retry-1", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    let headers = slack.headers();
    assert_eq!(headers, ["WARNING bills-failed"], "{headers:?}");
    assert_eq!(slack.received().len(), 3, "two 500s, then the message");
}
