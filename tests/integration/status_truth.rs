//! The status page, `/api/status` and the commands tell one truth, on both
//! stores: totals counted by the database, not from a capped list, and
//! the alert list in pages; one state per connection; what a silence or
//! window covers now, not at the alert's last match; days in UTC.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{
    Backend, RulesFile, SlackStandIn, TestApp, database, eventually, fast_settings, spawn_app, spawn_app_on, stderr,
    stdout, syncwatch_async,
};

const WAIT: Duration = Duration::from_secs(15);

/// The `syncwatch` commands on the app's store: `--db` (and `--config`
/// when `with_rules`) on SQLite; `--config` naming the database on
/// PostgreSQL.
struct Cli {
    args: Vec<String>,
    _file: Option<RulesFile>,
}

impl Cli {
    fn new(app: &TestApp, backend: &Backend, yaml: &str, with_rules: bool) -> Cli {
        match backend {
            Backend::Sqlite => {
                let mut args = vec!["--db".to_owned(), database(&app.dir).display().to_string()];
                let file = with_rules.then(|| RulesFile::new(yaml));
                if let Some(file) = &file {
                    args.extend(["--config".to_owned(), file.path.display().to_string()]);
                }
                Cli { args, _file: file }
            }
            Backend::Postgres(url) => {
                let file = RulesFile::new(&format!("{yaml}storage:\n  postgres: {url}\n"));
                Cli {
                    args: vec!["--config".into(), file.path.display().to_string()],
                    _file: Some(file),
                }
            }
        }
    }

    /// `syncwatch <command> <store> <rest...>`: its stdout, exit 0 asserted.
    async fn run(&self, command: &str, rest: &[&str]) -> String {
        let mut all = vec![command.to_owned()];
        all.extend(self.args.iter().cloned());
        all.extend(rest.iter().map(|a| a.to_string()));
        let output = syncwatch_async(all.clone()).await;
        assert_eq!(output.status.code(), Some(0), "{all:?}: {}", stderr(&output));
        stdout(&output)
    }
}

fn sync(connection: &str, service: &str, request_id: &str, status: &str) -> String {
    format!(
        r#"{{"data":{{"event":"data","connectionId":"{connection}","businessName":"Acme {connection}","serviceName":"{service}","sandbox":false,"requests":[{{"request":"bills","status":"{status}"}}]}},"requestId":"{request_id}"}}"#
    )
}

/// `/api/status` until `done` holds (or the wait is over): the last answer.
async fn status_until(app: &TestApp, query: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = app.status(query).await;
        if done(&status) || tokio::time::Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn alert<'a>(status: &'a Value, connection: &str) -> &'a Value {
    let rows = status["alerts"].as_array().expect("alerts is a list");
    rows.iter()
        .find(|a| a["connection"] == connection)
        .unwrap_or_else(|| panic!("no alert of {connection}: {status}"))
}

fn connection<'a>(status: &'a Value, id: &str) -> &'a Value {
    let rows = status["connections"]["rows"].as_array().expect("rows is a list");
    rows.iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no connection {id}: {status}"))
}

/// The line of `listing` about `needle`.
fn line<'a>(listing: &'a str, needle: &str) -> &'a str {
    listing
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle}: {listing}"))
}

const FIRING_RULES: usize = 510;
const PENDING_RULES: usize = 10;
const CRITICAL_RULES: usize = 5;

/// Many rules that all fire on one failed sync: each connection's sync
/// makes `FIRING_RULES` firing alerts (the first `CRITICAL_RULES`
/// critical) and `PENDING_RULES` pending ones.
fn storm_rules() -> String {
    let mut yaml = String::from("rules:\n");
    for i in 0..FIRING_RULES {
        let severity = if i < CRITICAL_RULES { "critical" } else { "warning" };
        yaml.push_str(&format!(
            "  - name: failed-{i:04}\n    notify: []\n    severity: {severity}\n    when: {{ failed: {{ above: 0 }} }}\n"
        ));
    }
    for i in 0..PENDING_RULES {
        yaml.push_str(&format!(
            "  - name: twice-{i:04}\n    notify: []\n    after: 3\n    when: {{ failed: {{ above: 0 }} }}\n"
        ));
    }
    yaml
}

on_both_stores!(the_totals_count_every_alert_and_the_alert_list_comes_in_pages);
async fn the_totals_count_every_alert_and_the_alert_list_comes_in_pages(backend: Backend) {
    let yaml = storm_rules();
    let app = spawn_app_on(&backend, &yaml, fast_settings()).await;
    app.post_ok(sync("CON-1", "xero", "storm-1", "failed")).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    app.post_ok(sync("CON-2", "xero", "storm-2", "failed")).await;
    let (firing, pending) = (2 * FIRING_RULES, 2 * PENDING_RULES);

    // More than the 1,000 the list used to be cut at.
    let status = app.status("").await;
    assert_eq!(status["totals"]["firing"], firing, "{}", status["totals"]);
    assert_eq!(status["totals"]["pending"], pending, "{}", status["totals"]);
    assert_eq!(
        status["alerts_paging"]["total"],
        firing + pending,
        "{}",
        status["alerts_paging"]
    );
    assert_eq!(status["alerts_paging"]["page"], 1);
    assert_eq!(status["alerts"].as_array().unwrap().len(), 1000);
    let cli = Cli::new(&app, &backend, &yaml, false);
    let listing = cli.run("alerts", &[]).await;
    assert!(
        listing.starts_with(&format!("ALERTS ({firing} firing, {pending} pending)\n")),
        "{}",
        listing.lines().next().unwrap_or_default()
    );

    // Every alert once, in pages, most severe first, then the oldest.
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut order: Vec<(u8, String)> = Vec::new();
    for page in 1..=3 {
        let status = app.status(&format!("?alerts_per_page=400&alerts_page={page}")).await;
        assert_eq!(status["alerts_paging"]["per_page"], 400);
        assert_eq!(
            status["totals"]["firing"], firing,
            "the totals do not depend on the page"
        );
        let rows = status["alerts"].as_array().unwrap();
        assert_eq!(rows.len(), [400, 400, firing + pending - 800][page - 1], "page {page}");
        for row in rows {
            let rule = row["rule"].as_str().unwrap().to_owned();
            seen.push((rule, row["connection"].as_str().unwrap().to_owned()));
            let rank = if row["severity"] == "critical" { 0 } else { 1 };
            order.push((rank, row["since"].as_str().unwrap().to_owned()));
        }
    }
    assert!(order[..2 * CRITICAL_RULES].iter().all(|(rank, _)| *rank == 0));
    assert!(order.windows(2).all(|pair| pair[0] <= pair[1]), "ordered across pages");
    let count = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(
        (count, seen.len()),
        (firing + pending, firing + pending),
        "no alert twice"
    );

    // The counts follow the filter, not the page.
    let one = app.status("?connection=CON-2&alerts_per_page=10").await;
    assert_eq!(one["totals"]["firing"], FIRING_RULES, "{}", one["totals"]);
    assert_eq!(one["totals"]["pending"], PENDING_RULES, "{}", one["totals"]);
    assert_eq!(one["alerts_paging"]["total"], FIRING_RULES + PENDING_RULES);
    assert_eq!(one["alerts"].as_array().unwrap().len(), 10);
}

const FAILING_AND_QUIET: &str = "rules:\n  - name: bills-failing\n    notify: []\n    when: { failed: { above: 0 } }\n  - name: stopped-syncing\n    notify: []\n    when: { no_sync_for: 1s }\n";

on_both_stores!(a_connection_has_one_state_on_the_page_and_in_the_cli);
async fn a_connection_has_one_state_on_the_page_and_in_the_cli(backend: Backend) {
    let app = spawn_app_on(&backend, FAILING_AND_QUIET, fast_settings()).await;
    // Fails, then falls silent: both its alerts fire.
    app.post_ok(sync("CON-F", "xero", "f1", "failed")).await;
    // Syncs fine, then falls silent.
    app.post_ok(sync("CON-Q", "xero", "q1", "success")).await;
    // Lost: not expected to sync.
    app.post_ok(sync("CON-D", "xero", "d1", "failed")).await;
    let lost = r#"{"data":{"event":"connectionStatus","connectionId":"CON-D","serviceName":"xero","newStatus":"disconnected","disconnectReason":"expiredCredentials"},"requestId":"d2"}"#;
    app.post_ok(lost.to_owned()).await;
    let status = status_until(&app, "", |s| s["totals"]["firing"] == 4).await;
    assert_eq!(status["totals"]["firing"], 4, "{}", status["totals"]);

    let states: Vec<(&str, &Value)> = ["CON-F", "CON-Q", "CON-D"]
        .iter()
        .map(|id| (*id, &connection(&status, id)["state"]))
        .collect();
    assert_eq!(
        states,
        [
            ("CON-F", &Value::from("failing")),
            ("CON-Q", &Value::from("quiet")),
            ("CON-D", &Value::from("disconnected")),
        ],
        "{status}"
    );
    assert_eq!(status["totals"]["quiet_connections"], 1, "{}", status["totals"]);

    // The CLI with the rules says the same of each.
    let cli = Cli::new(&app, &backend, FAILING_AND_QUIET, true);
    let listing = cli.run("connections", &[]).await;
    for (id, state) in &states {
        let state = state.as_str().unwrap();
        assert!(
            line(&listing, id).starts_with(&format!("{state:<12} {id}")),
            "{listing}"
        );
    }
    let quiet = cli.run("connections", &["--state", "quiet"]).await;
    assert!(
        quiet.starts_with("CONNECTIONS (1)\n") && quiet.contains("CON-Q"),
        "{quiet}"
    );
    let failing = cli.run("connections", &["--state", "failing"]).await;
    assert!(
        failing.starts_with("CONNECTIONS (1)\n") && failing.contains("CON-F"),
        "{failing}"
    );
    // So does it without the rules file for the connection that fails
    // and fell silent (it cannot tell an absence rule then).
    let bare = Cli::new(&app, &backend, FAILING_AND_QUIET, false);
    let listing = bare.run("connections", &[]).await;
    assert!(line(&listing, "CON-F").starts_with("failing      CON-F"), "{listing}");
}

fn slack_rules(slack: &SlackStandIn, maintenance: &str) -> String {
    format!(
        "{maintenance}channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: off\ndefaults:\n  notify: [ops]\nrules:\n  - name: bills-failing\n    when: {{ failed: {{ above: 0 }} }}\n",
        slack.url()
    )
}

on_both_stores!(a_new_silence_shows_at_once_on_the_alerts_it_covers);
async fn a_new_silence_shows_at_once_on_the_alerts_it_covers(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let yaml = slack_rules(&slack, "");
    let app = spawn_app_on(&backend, &yaml, fast_settings()).await;
    app.post_ok(sync("CON-1", "quickbooks", "a1", "failed")).await;
    app.post_ok(sync("CON-2", "xero", "b1", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    let cli = Cli::new(&app, &backend, &yaml, false);

    // A silence over alerts that already fired: no match needed to show.
    let id = cli
        .run(
            "silence",
            &[
                "add",
                "--service",
                "quick*",
                "--for",
                "1h",
                "--comment",
                "QuickBooks outage",
            ],
        )
        .await
        .trim()
        .to_owned();
    let covered = format!("silence {id}");
    let listing = cli.run("alerts", &[]).await;
    assert!(
        line(&listing, "CON-1").ends_with(&format!("muted by {covered}")),
        "{listing}"
    );
    assert!(!line(&listing, "CON-2").contains("muted by"), "{listing}");
    // The daemon reads new silences within a second.
    let status = status_until(&app, "", |s| s["totals"]["silenced"] == 1).await;
    assert_eq!(status["totals"]["silenced"], 1, "{}", status["totals"]);
    let (one, two) = (alert(&status, "CON-1"), alert(&status, "CON-2"));
    assert_eq!(one["silenced_by"], covered.as_str(), "{one}");
    assert_eq!(one["silenced"], true, "{one}");
    assert_eq!(
        (&two["silenced_by"], &two["silenced"]),
        (&Value::Null, &Value::from(false))
    );
    let filtered = app.status("?service=xero").await;
    assert_eq!(filtered["totals"]["silenced"], 0, "counted under the filter");
}

on_both_stores!(an_expired_silence_mutes_nothing_on_the_page_or_in_the_cli);
async fn an_expired_silence_mutes_nothing_on_the_page_or_in_the_cli(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let yaml = slack_rules(&slack, "");
    let app = spawn_app_on(&backend, &yaml, fast_settings()).await;
    let cli = Cli::new(&app, &backend, &yaml, false);
    let id = cli
        .run(
            "silence",
            &["add", "--connection", "CON-3", "--for", "1h", "--comment", "moving"],
        )
        .await
        .trim()
        .to_owned();
    let covered = format!("silence {id}");
    // Once the daemon holds it, an alert fires under it: muted, recorded so.
    let status = status_until(&app, "", |s| s["silences"][0]["id"] == id.as_str()).await;
    assert_eq!(status["silences"][0]["active"], true, "{status}");
    app.post_ok(sync("CON-3", "quickbooks", "c1", "failed")).await;
    app.post_ok(sync("CON-4", "quickbooks", "d1", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(slack.delivered().len(), 1, "CON-3 was muted");
    let listing = cli.run("alerts", &[]).await;
    assert!(
        line(&listing, "CON-3").ends_with(&format!("muted by {covered}")),
        "{listing}"
    );
    assert_eq!(app.status("").await["totals"]["silenced"], 1);

    // Expired: nothing says muted any more; the page only that it ended.
    let expired = cli.run("silence", &["expire", &id]).await;
    assert!(expired.contains(&format!("expired {id}")), "{expired}");
    let listing = cli.run("alerts", &[]).await;
    assert!(listing.starts_with("ALERTS (2 firing, 0 pending)"), "{listing}");
    assert!(!listing.contains("muted by"), "{listing}");
    let status = status_until(&app, "", |s| s["totals"]["silenced"] == 0).await;
    assert_eq!(status["totals"]["silenced"], 0, "{}", status["totals"]);
    let three = alert(&status, "CON-3");
    assert_eq!(three["silenced"], false, "{three}");
    assert_eq!(three["silenced_by"], format!("{covered} (ended)"), "{three}");
    assert_eq!(alert(&status, "CON-4")["silenced_by"], Value::Null, "{status}");
}

/// A window over every minute of every day.
const ALL_DAY: &str =
    "maintenance:\n  - name: xero-all-day\n    when: { service: xero }\n    times: [\"00:00-24:00\"]\n";

on_both_stores!(a_window_opened_by_a_reload_covers_firing_alerts_at_once);
async fn a_window_opened_by_a_reload_covers_firing_alerts_at_once(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let app = spawn_app_on(&backend, &slack_rules(&slack, ""), fast_settings()).await;
    app.post_ok(sync("CON-1", "xero", "x1", "failed")).await;
    app.post_ok(sync("CON-2", "quickbooks", "q1", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    assert_eq!(app.status("").await["totals"]["silenced"], 0);

    app.reload(&slack_rules(&slack, ALL_DAY)).await;
    let status = app.status("").await;
    assert_eq!(status["totals"]["silenced"], 1, "{}", status["totals"]);
    assert_eq!(
        alert(&status, "CON-1")["silenced_by"],
        "maintenance xero-all-day",
        "{status}"
    );
    assert_eq!(alert(&status, "CON-2")["silenced"], false, "{status}");

    app.reload(&slack_rules(&slack, "")).await;
    let status = app.status("").await;
    assert_eq!(status["totals"]["silenced"], 0, "{}", status["totals"]);
    assert_eq!(alert(&status, "CON-1")["silenced_by"], Value::Null, "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_says_its_days_are_utc_and_pages_the_alerts() {
    let app = spawn_app("rules:\n  - name: bills-failing\n    notify: []\n    when: { failed: { above: 0 } }\n").await;
    app.post_ok(sync("CON-1", "xero", "p1", "failed")).await;
    let page = app.dom("/ui").await;
    assert!(page.contains("updated 20"), "the page rendered the API: {page}");
    assert!(page.contains("days in UTC"), "{page}");
    assert!(page.contains("Page 1 of 1 (1 alerts)"), "{page}");
}
