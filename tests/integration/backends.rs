//! One suite, both durable stores: each scenario runs on a SQLite file and
//! on a PostgreSQL database, and must read the same to the user: ingest
//! and dedup, alert state across a restart, claims and retries, digests,
//! silences, absence, the status page and the commands that read the
//! store.

use std::time::Duration;

use crate::helpers::{
    BILLS, Backend, RulesFile, SlackReply, SlackStandIn, TestApp, database, eventually, fast_settings, spawn_app_in,
    spawn_app_on, stderr, stdout, sync, syncwatch_async,
};

const WAIT: Duration = Duration::from_secs(15);

fn rules(slack: &SlackStandIn, channel: &str, rules: &str) -> String {
    format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n{channel}defaults:\n  notify: [ops]\nrules:\n{rules}",
        slack.url()
    )
}

async fn start(backend: &Backend, yaml: &str) -> TestApp {
    spawn_app_on(backend, yaml, fast_settings()).await
}

on_both_stores!(fires_once_ignores_the_redelivery_and_resolves);
async fn fires_once_ignores_the_redelivery_and_resolves(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let app = start(&backend, &rules(&slack, "", BILLS)).await;
    assert_eq!(
        app.post_json(sync("CON-1", "r1", "failed")).await.1["status"],
        "accepted"
    );
    assert_eq!(
        app.post_json(sync("CON-1", "r1", "failed")).await.1["status"],
        "duplicate"
    );
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    app.post_ok(sync("CON-1", "r2", "success")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    assert_eq!(slack.headers()[1], "✅ RESOLVED bills-failing");
    app.post_ok(sync("CON-1", "r3", "failed")).await;
    assert!(
        eventually(WAIT, || slack.delivered().len() == 3).await,
        "a new episode fires again"
    );
}

on_both_stores!(retries_after_slack_fails_and_delivers_once);
async fn retries_after_slack_fails_and_delivers_once(backend: Backend) {
    let slack = SlackStandIn::start().await;
    slack.script(&[SlackReply::status(500, "oops"), SlackReply::rate_limited(0)]);
    let app = start(&backend, &rules(&slack, "", BILLS)).await;
    app.post_ok(sync("CON-2", "retry-1", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(slack.received().len(), 3, "two failures, then the one delivery");
    assert_eq!(slack.delivered().len(), 1);
    let metrics = app.metrics().await;
    assert!(metrics.contains("syncwatch_outbox_depth 0"), "{metrics}");
}

on_both_stores!(a_storm_goes_out_as_a_digest);
async fn a_storm_goes_out_as_a_digest(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let channel = "    digest: { after: 2, window: 1s, max_items: 50 }\n";
    let app = start(&backend, &rules(&slack, channel, BILLS)).await;
    for n in 0..10 {
        app.post_ok(sync(&format!("CON-{n}"), &format!("storm-{n}"), "failed"))
            .await;
    }
    assert!(eventually(WAIT, || slack.delivered().len() == 3).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let delivered = slack.delivered();
    assert_eq!(delivered.len(), 3, "2 one by one, then one digest");
    assert!(delivered[2].to_string().contains("8 alerts"), "{}", delivered[2]);
}

on_both_stores!(the_status_page_lists_the_firing_alert);
async fn the_status_page_lists_the_firing_alert(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let app = start(&backend, &rules(&slack, "", BILLS)).await;
    app.post_ok(sync("CON-9", "s1", "failed")).await;
    app.post_ok(sync("CON-8", "s2", "success")).await;
    let status: serde_json::Value = app
        .client
        .get(app.url("/api/status?q=con-9"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["alerts"][0]["rule"], "bills-failing", "{status}");
    assert_eq!(status["alerts"][0]["connection"], "CON-9", "{status}");
    assert_eq!(status["totals"]["known_connections"], 2, "{status}");
    assert_eq!(status["connections"]["rows"][0]["state"], "failing", "{status}");
    assert_eq!(
        status["connections"]["total"], 1,
        "the filter keeps CON-9 only: {status}"
    );
}

/// The CLI's way to the app's store: `--db FILE` for SQLite, `--config`
/// with a rules file naming the database for PostgreSQL (the file is kept
/// alive with the arguments).
struct Cli {
    args: Vec<String>,
    _file: Option<RulesFile>,
}

impl Cli {
    fn new(app: &TestApp, backend: &Backend, yaml: &str) -> Cli {
        match backend {
            Backend::Sqlite => Cli {
                args: vec!["--db".into(), database(&app.dir).display().to_string()],
                _file: None,
            },
            Backend::Postgres(url) => {
                let file = RulesFile::new(&format!("{yaml}storage:\n  postgres: {url}\n"));
                Cli {
                    args: vec!["--config".into(), file.path.display().to_string()],
                    _file: Some(file),
                }
            }
        }
    }

    /// `syncwatch <command> <store> <rest...>`; its stdout, and exit 0 asserted.
    async fn run(&self, command: &[&str], rest: &[&str]) -> String {
        let mut all: Vec<String> = command.iter().map(|a| a.to_string()).collect();
        all.extend(self.args.iter().cloned());
        all.extend(rest.iter().map(|a| a.to_string()));
        let output = syncwatch_async(all.clone()).await;
        assert_eq!(output.status.code(), Some(0), "{all:?}: {}", stderr(&output));
        stdout(&output)
    }
}

on_both_stores!(the_commands_read_what_the_daemon_stored);
async fn the_commands_read_what_the_daemon_stored(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let yaml = rules(&slack, "", BILLS);
    let app = start(&backend, &yaml).await;
    app.post_ok(sync("CON-C", "cmd-1", "failed")).await;
    app.post_ok(sync("CON-D", "cmd-2", "success")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    let cli = Cli::new(&app, &backend, &yaml);

    let alerts = cli.run(&["alerts"], &[]).await;
    assert!(alerts.contains("ALERTS (1 firing, 0 pending)"), "{alerts}");
    // With `--db` alone (SQLite) no rules file is read: no severity.
    let severity = if matches!(backend, Backend::Sqlite) {
        "-      "
    } else {
        "warning"
    };
    assert!(
        alerts.contains(&format!(
            "firing   {severity}  bills-failing  CON-C  Acme · xero  since"
        )),
        "{alerts}"
    );
    let connections = cli.run(&["connections"], &[]).await;
    assert!(
        connections.contains("CON-C") && connections.contains("CON-D"),
        "{connections}"
    );
    let history = cli.run(&["history"], &["--connection", "CON-C"]).await;
    assert!(history.contains("cmd-1") && !history.contains("cmd-2"), "{history}");
    assert!(history.contains("delivered"), "{history}");
    let explained = cli.run(&["explain"], &["cmd-1"]).await;
    assert!(
        explained.contains("bills-failing/CON-C: new → firing, FIRING to ops"),
        "{explained}"
    );
    let forgot = cli.run(&["connections"], &["forget", "CON-D"]).await;
    assert!(forgot.contains("forgot CON-D"), "{forgot}");
    let connections = cli.run(&["connections"], &[]).await;
    assert!(!connections.contains("CON-D"), "{connections}");
}

on_both_stores!(a_silence_mutes_until_it_is_expired);
async fn a_silence_mutes_until_it_is_expired(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let yaml = rules(&slack, "", BILLS);
    let app = start(&backend, &yaml).await;
    let cli = Cli::new(&app, &backend, &yaml);
    let id = cli
        .run(
            &["silence"],
            &["add", "--connection", "CON-S", "--for", "1h", "--comment", "moving"],
        )
        .await
        .trim()
        .to_owned();
    assert_eq!(id.len(), 8, "{id}");
    // The daemon looks for new silences twice a second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    app.post_ok(sync("CON-S", "muted-1", "failed")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(slack.delivered().is_empty(), "muted");
    let alerts = cli.run(&["alerts"], &[]).await;
    assert!(alerts.contains(&format!("muted by silence {id}")), "{alerts}");

    let expired = cli.run(&["silence"], &["expire", &id]).await;
    assert!(expired.contains(&format!("expired {id}")), "{expired}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    app.post_ok(sync("CON-S", "muted-2", "failed")).await;
    assert!(
        eventually(WAIT, || slack.delivered().len() == 1).await,
        "heard after the silence"
    );
}

on_both_stores!(a_silent_connection_fires_and_its_next_sync_resolves);
async fn a_silent_connection_fires_and_its_next_sync_resolves(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let yaml = rules(&slack, "", "  - name: stopped-syncing\n    when: { no_sync_for: 2s }\n");
    let app = start(&backend, &yaml).await;
    app.post_ok(sync("CON-Q", "q-1", "success")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    assert!(slack.delivered()[0].to_string().contains("stopped-syncing"));
    app.post_ok(sync("CON-Q", "q-2", "success")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    assert_eq!(slack.headers()[1], "✅ RESOLVED stopped-syncing");
    let explained = Cli::new(&app, &backend, &yaml)
        .run(&["history"], &["--rule", "stopped-syncing"])
        .await;
    assert!(
        explained.contains("absence"),
        "the check is recorded as an event: {explained}"
    );
}

on_both_stores!(state_survives_a_restart);
async fn state_survives_a_restart(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let yaml = rules(&slack, "", &format!("{BILLS}    after: 2\n"));
    let app = start(&backend, &yaml).await;
    app.post_ok(sync("CON-R", "before", "failed")).await;
    let dir = app.stop().await;
    let app = match &backend {
        Backend::Sqlite => spawn_app_in(dir, &yaml, fast_settings()).await,
        Backend::Postgres(_) => start(&backend, &yaml).await,
    };
    // A redelivery of the event before the restart is still a duplicate,
    // and the pending alert counts the second failure.
    assert_eq!(
        app.post_json(sync("CON-R", "before", "failed")).await.1["status"],
        "duplicate"
    );
    app.post_ok(sync("CON-R", "after", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
}

/// Runs `sql` on the app's stopped store, as an operator's tool would.
async fn execute(backend: &Backend, dir: &tempfile::TempDir, sql: &str) {
    match backend {
        Backend::Sqlite => {
            rusqlite::Connection::open(database(dir))
                .unwrap()
                .execute_batch(sql)
                .unwrap();
        }
        Backend::Postgres(url) => {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
            let session = tokio::spawn(connection);
            client.batch_execute(sql).await.unwrap();
            drop(client);
            let _ = session.await;
        }
    }
}

fn ms_ago(ago: Duration) -> i64 {
    let at = std::time::SystemTime::now() - ago;
    at.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

on_both_stores!(after_a_downtime_the_absence_clocks_start_again);
async fn after_a_downtime_the_absence_clocks_start_again(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let yaml = rules(
        &slack,
        "",
        "  - name: stopped-syncing\n    when: { connection: [CON-D, CON-E], no_sync_for: 3s }\n  - name: quiet-for-an-hour\n    when: { connection: CON-G, no_sync_for: 1h }\n",
    );
    let app = start(&backend, &yaml).await;
    app.post_ok(sync("CON-D", "d-1", "success")).await;
    app.post_ok(sync("CON-G", "g-1", "success")).await;
    let dir = app.stop().await;
    // syncwatch down for the last 30 minutes. CON-D's deadline fell inside
    // the downtime (its sync 30m 1s ago, 3s allowed): a webhook may have
    // been lost, so no alert at start, but one once its clock has run again
    // from the start. CON-G's deadline lies after the restart (its sync
    // 59m 57s ago, an hour allowed): it stays, and a host restarted daily
    // still notices a connection that stopped syncing.
    let (just_before, half) = (ms_ago(Duration::from_secs(1801)), ms_ago(Duration::from_secs(1800)));
    let almost_an_hour = ms_ago(Duration::from_secs(3597));
    let sql = format!(
        "UPDATE connections SET last_sync = {just_before}, first_seen = {just_before} WHERE id = 'CON-D';
         UPDATE connections SET last_sync = {almost_an_hour}, first_seen = {almost_an_hour} WHERE id = 'CON-G';
         UPDATE meta SET value = {half} WHERE key = 'heartbeat';"
    );
    execute(&backend, &dir, &sql).await;
    let app = match &backend {
        Backend::Sqlite => spawn_app_in(dir, &yaml, fast_settings()).await,
        Backend::Postgres(_) => start(&backend, &yaml).await,
    };
    let metrics = app.metrics().await;
    assert!(metrics.contains("syncwatch_downtimes_total 1"), "{metrics}");
    assert!(metrics.contains("syncwatch_last_downtime_seconds 1800"), "{metrics}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(slack.delivered().is_empty(), "no burst of absence alerts at start");
    assert!(
        eventually(WAIT, || slack.delivered().len() == 2).await,
        "CON-G at its deadline, CON-D once its clock ran again"
    );
    let fired: Vec<String> = slack.delivered().iter().map(|m| m.to_string()).collect();
    let told = |connection: &str, rule: &str| fired.iter().any(|m| m.contains(connection) && m.contains(rule));
    assert!(told("CON-G", "quiet-for-an-hour"), "{fired:?}");
    assert!(told("CON-D", "stopped-syncing"), "{fired:?}");

    // A restart of a moment later is no downtime: another connection,
    // overdue, fires at once.
    let dir = app.stop().await;
    let minute = ms_ago(Duration::from_secs(60));
    let sql = format!(
        "INSERT INTO connections (id, first_seen, last_event, last_sync, environment)
         VALUES ('CON-E', {minute}, {minute}, {minute}, 'production');"
    );
    execute(&backend, &dir, &sql).await;
    let _app = match &backend {
        Backend::Sqlite => spawn_app_in(dir, &yaml, fast_settings()).await,
        Backend::Postgres(_) => start(&backend, &yaml).await,
    };
    assert!(eventually(WAIT, || slack.delivered().len() == 3).await);
    let second = slack.delivered()[2].to_string();
    assert!(
        second.contains("CON-E") && second.contains("no sync for 1m"),
        "{second}"
    );
}

/// The value of the metric line that starts with `name ` in `metrics`.
fn metric(metrics: &str, name: &str) -> f64 {
    let line = metrics
        .lines()
        .find(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with(' ')))
        .unwrap_or_else(|| panic!("no {name} in {metrics}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

on_both_stores!(metrics_show_the_commits_and_the_database_sessions);
async fn metrics_show_the_commits_and_the_database_sessions(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let app = start(&backend, &rules(&slack, "", BILLS)).await;
    let before = metric(&app.metrics().await, "syncwatch_store_commits_total");
    app.post_ok(sync("CON-M", "m-1", "success")).await;
    let metrics = app.metrics().await;
    assert!(metric(&metrics, "syncwatch_store_commits_total") > before, "{metrics}");
    let sessions = metric(&metrics, "syncwatch_database_sessions");
    let window = metric(&metrics, "syncwatch_dedup_window_requests");
    match backend {
        Backend::Sqlite => {
            assert_eq!(sessions, 0.0, "no pool on SQLite");
            assert_eq!(window, 1.0, "the one request id posted: {metrics}");
        }
        Backend::Postgres(_) => {
            assert!(sessions >= 1.0, "{metrics}");
            assert!(metric(&metrics, "syncwatch_database_sessions_idle") <= sessions);
            assert_eq!(metric(&metrics, "syncwatch_database_session_waiters"), 0.0);
        }
    }
}
