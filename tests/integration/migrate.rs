//! `syncwatch migrate`: a daemon's SQLite state moved into PostgreSQL, and
//! the daemon started there goes on where it stopped: the pending
//! notification sent once, the firing alert resolved, a redelivery from
//! before the move a duplicate. A target holding state and a missing
//! source are refused.

use std::path::Path;
use std::time::Duration;

use crate::helpers::{
    Backend, RulesFile, SlackReply, SlackStandIn, database, eventually, fast_settings, spawn_app_in, spawn_app_on,
    stderr, stdout, sync, syncwatch_async,
};

const WAIT: Duration = Duration::from_secs(15);

fn rules(slack: &SlackStandIn) -> String {
    format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: off\ndefaults:\n  notify: [ops]\nrules:\n  - name: bills-failing\n    when: {{ failed: {{ above: 0, data_types: [bills] }} }}\n",
        slack.url()
    )
}

fn postgres_url(backend: &Backend) -> String {
    match backend {
        Backend::Postgres(url) => url.clone(),
        Backend::Sqlite => unreachable!("a PostgreSQL backend"),
    }
}

/// The URL with a password in it (the test server trusts loopback, so it
/// is never asked for): it must never be printed.
fn with_password(url: &str) -> String {
    url.replacen("postgres://postgres@", "postgres://postgres:pg-s3cret@", 1)
}

/// `syncwatch migrate --db FILE --to-file F [extra...]`, the URL in a file.
async fn migrate(db: &Path, url: &str, extra: &[&str]) -> std::process::Output {
    let source = ["--db".to_owned(), db.display().to_string()];
    migrate_from(&source, url, extra).await
}

/// `syncwatch migrate SOURCE... --to-file F [extra...]`.
async fn migrate_from(source: &[String], url: &str, extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("database-url");
    std::fs::write(&file, format!("{url}\n")).unwrap();
    let mut args: Vec<String> = vec!["migrate".into()];
    args.extend(source.iter().cloned());
    args.extend(["--to-file".into(), file.display().to_string()]);
    args.extend(extra.iter().map(|a| a.to_string()));
    syncwatch_async(args).await
}

/// Runs `sql` on the database at `url`; the rows of its first column as text.
async fn query(url: &str, sql: &str) -> Vec<String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    let session = tokio::spawn(connection);
    let rows = client.query(sql, &[]).await.unwrap();
    drop(client);
    let _ = session.await;
    rows.iter().map(|row| row.get::<_, String>(0)).collect()
}

/// The number of rows of each table, in a fixed order.
async fn counts(url: &str) -> Vec<String> {
    query(
        url,
        "SELECT concat_ws(' ', (SELECT count(*) FROM events), (SELECT count(*) FROM deliveries),
             (SELECT count(*) FROM attempts), (SELECT count(*) FROM alerts), (SELECT count(*) FROM connections),
             (SELECT count(*) FROM silences), (SELECT string_agg(request_id, ',' ORDER BY id) FROM events))",
    )
    .await
}

#[tokio::test]
async fn a_daemon_moves_to_postgres_and_goes_on_where_it_stopped() {
    let slack = SlackStandIn::start().await;
    let yaml = rules(&slack);
    let app = spawn_app_in(tempfile::tempdir().unwrap(), &yaml, fast_settings()).await;
    let db = database(&app.dir);
    // CON-1 fails and its FIRING reaches Slack; then Slack is down, and
    // CON-2's FIRING stays queued, retried.
    app.post_ok(sync("CON-1", "before-1", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    slack.answer_all(SlackReply::status(500, "oops"));
    app.post_ok(sync("CON-2", "before-2", "failed")).await;
    assert!(eventually(WAIT, || slack.received().len() >= 3).await, "retried");
    let silence = syncwatch_async(
        [
            "silence",
            "--db",
            &db.display().to_string(),
            "add",
            "--connection",
            "CON-9",
            "--for",
            "2h",
            "--comment",
            "moving",
        ]
        .map(String::from)
        .to_vec(),
    )
    .await;
    assert_eq!(silence.status.code(), Some(0), "{}", stderr(&silence));
    let silence_id = stdout(&silence).trim().to_owned();
    // The rules file the daemon runs with: where it listens, its file.
    let ran_with = RulesFile::new(&format!(
        "{yaml}server:\n  listen: {}\nstorage:\n  path: {}\n",
        app.addr,
        db.display()
    ));
    let source = ["--config".to_owned(), ran_with.path.display().to_string()];

    let backend = Backend::postgres();
    let url = postgres_url(&backend);
    let running = migrate_from(&source, &with_password(&url), &[]).await;
    assert_eq!(running.status.code(), Some(1), "{}", stdout(&running));
    let reason = stderr(&running);
    assert!(
        reason.contains("seems to be running") && reason.contains(&format!("answers on {}", app.addr)),
        "{reason}"
    );
    assert!(stdout(&running).is_empty(), "{}", stdout(&running));

    let _dir = app.stop().await;
    let attempts_before = slack.received().len();
    // Stopped a moment ago: its heartbeat is fresh, but nothing listens.
    let moved = migrate_from(&source, &with_password(&url), &[]).await;
    let (said, complained) = (stdout(&moved), stderr(&moved));
    assert_eq!(moved.status.code(), Some(0), "{said}\n{complained}");
    assert!(said.contains("it has stopped"), "{said}");
    assert!(
        !said.contains("pg-s3cret") && !complained.contains("pg-s3cret"),
        "{said}\n{complained}"
    );
    for line in [
        "events: 2 copied",
        "deliveries: 2 copied",
        "alerts: 2 copied",
        "connections: 2 copied",
        "silences: 1 copied",
        "1 notifications pending",
    ] {
        assert!(said.contains(line), "{line:?} in:\n{said}");
    }
    assert!(said.contains("into postgres://postgres@127.0.0.1:"), "{said}");
    // The bodies as received (SQLite keeps them compressed).
    let bodies = query(&url, "SELECT convert_from(body, 'UTF8') FROM events ORDER BY id").await;
    assert_eq!(
        bodies,
        [sync("CON-1", "before-1", "failed"), sync("CON-2", "before-2", "failed")]
    );

    // Slack is back; the daemon starts on PostgreSQL.
    slack.answer_all(SlackReply::ok());
    let app = spawn_app_on(&backend, &yaml, fast_settings()).await;
    assert!(
        eventually(WAIT, || slack.delivered().len() == 2).await,
        "the queued FIRING of CON-2 is sent"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(slack.delivered().len(), 2, "once: {:?}", slack.headers());
    assert_eq!(slack.received().len(), attempts_before + 1);
    assert!(
        slack.delivered()[1].to_string().contains("CON-2"),
        "{}",
        slack.delivered()[1]
    );

    assert_eq!(
        app.post_json(sync("CON-1", "before-1", "failed")).await.1["status"],
        "duplicate",
        "a redelivery of an event taken before the move"
    );
    app.post_ok(sync("CON-1", "after-1", "success")).await;
    assert!(
        eventually(WAIT, || slack.delivered().len() == 3).await,
        "the alert that fired on SQLite resolves on PostgreSQL"
    );
    assert_eq!(slack.headers()[2], "✅ RESOLVED bills-failing");
    assert!(
        slack.delivered()[2].to_string().contains("CON-1"),
        "{}",
        slack.delivered()[2]
    );

    // The commands read the moved state: the silence, the firing CON-2.
    let config = RulesFile::new(&format!("{yaml}storage:\n  postgres: {url}\n"));
    let config = config.path.display().to_string();
    let listed = syncwatch_async(["silence", "list", "--config", &config].map(String::from).to_vec()).await;
    assert!(stdout(&listed).contains(&silence_id), "{}", stdout(&listed));
    let alerts = syncwatch_async(["alerts", "--config", &config].map(String::from).to_vec()).await;
    assert!(
        stdout(&alerts).contains("ALERTS (1 firing, 0 pending)"),
        "{}",
        stdout(&alerts)
    );
    assert!(stdout(&alerts).contains("CON-2"), "{}", stdout(&alerts));
    drop(app);
}

#[tokio::test]
async fn a_target_that_holds_state_is_refused_and_left_as_it_was() {
    let slack = SlackStandIn::start().await;
    let yaml = rules(&slack);
    let backend = Backend::postgres();
    let url = postgres_url(&backend);
    let on_postgres = spawn_app_on(&backend, &yaml, fast_settings()).await;
    on_postgres.post_ok(sync("CON-P", "pg-1", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    on_postgres.stop().await;
    let held = counts(&url).await;
    assert_eq!(held, ["1 1 1 1 1 0 pg-1"]);

    let on_sqlite = spawn_app_in(tempfile::tempdir().unwrap(), &yaml, fast_settings()).await;
    on_sqlite.post_ok(sync("CON-S", "sqlite-1", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    let dir = on_sqlite.stop().await;
    // Without the rules file, a fresh heartbeat is a running daemon.
    let unsure = migrate(&database(&dir), &url, &[]).await;
    assert_eq!(unsure.status.code(), Some(1), "{}", stdout(&unsure));
    assert!(stderr(&unsure).contains("seems to be running"), "{}", stderr(&unsure));

    let refused = migrate(&database(&dir), &url, &["--force"]).await;
    assert_eq!(refused.status.code(), Some(1), "{}", stdout(&refused));
    let reason = stderr(&refused);
    assert!(reason.contains("is not empty: it holds 1 events"), "{reason}");
    assert!(reason.contains("nothing was changed"), "{reason}");
    assert_eq!(counts(&url).await, held, "left as it was");
}

#[tokio::test]
async fn a_missing_source_is_refused_naming_it() {
    let slack = SlackStandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("state").join("syncwatch.db");
    let config = RulesFile::new(&format!("{}storage:\n  path: {}\n", rules(&slack), gone.display()));
    let url = postgres_url(&Backend::postgres());
    let args = ["migrate", "--config", &config.path.display().to_string(), "--to", &url];
    let refused = syncwatch_async(args.map(String::from).to_vec()).await;
    assert_eq!(refused.status.code(), Some(1), "{}", stdout(&refused));
    let reason = stderr(&refused);
    assert!(
        reason.contains(&format!("{} does not exist", gone.display())),
        "{reason}"
    );
    assert!(!gone.exists() && !gone.parent().unwrap().exists(), "nothing created");
    assert!(stdout(&refused).is_empty(), "{}", stdout(&refused));
}

#[tokio::test]
async fn a_digest_waiting_to_be_sent_moves_with_the_notifications_it_carries() {
    let slack = SlackStandIn::start().await;
    slack.answer_all(SlackReply::status(503, "service_unavailable"));
    let yaml = rules(&slack).replace(
        "    digest: off\n",
        "    digest: { after: 1, window: 1s, max_items: 100 }\n",
    );
    let app = spawn_app_in(tempfile::tempdir().unwrap(), &yaml, fast_settings()).await;
    for connection in ["CON-A", "CON-B", "CON-C"] {
        app.post_ok(sync(connection, &format!("{connection}-1"), "failed"))
            .await;
    }
    // The first is tried alone; at the window's end, a digest of the three.
    let tried = || slack.received().iter().any(|r| r.body.to_string().contains("3 alerts"));
    assert!(eventually(WAIT, tried).await);
    let db = database(&app.dir);
    let ran_with = RulesFile::new(&format!(
        "{yaml}server:\n  listen: {}\nstorage:\n  path: {}\n",
        app.addr,
        db.display()
    ));
    let _dir = app.stop().await;

    let backend = Backend::postgres();
    let url = postgres_url(&backend);
    let source = ["--config".to_owned(), ran_with.path.display().to_string()];
    let moved = migrate_from(&source, &url, &[]).await;
    assert_eq!(moved.status.code(), Some(0), "{}\n{}", stdout(&moved), stderr(&moved));
    assert!(stdout(&moved).contains("deliveries: 4 copied"), "{}", stdout(&moved));

    slack.answer_all(SlackReply::ok());
    let app = spawn_app_on(&backend, &yaml, fast_settings()).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let delivered = slack.delivered();
    assert_eq!(delivered.len(), 1, "the digest, once: {delivered:?}");
    assert!(delivered[0].to_string().contains("3 alerts"), "{}", delivered[0]);
    let statuses = query(
        &url,
        "SELECT status || ' ' || count(*) FROM deliveries GROUP BY status ORDER BY status",
    )
    .await;
    assert_eq!(statuses, ["delivered 4"], "the digest and the three it carried");
    drop(app);
}

/// An outage firing on SQLite, with the alerts it holds, moves along: the
/// daemon on PostgreSQL shows it, and when it resolves (on the timer:
/// nothing syncs any more) it tells the held connections, once each.
#[tokio::test]
async fn a_firing_outage_and_the_alerts_it_holds_move_to_postgres() {
    let slack = SlackStandIn::start().await;
    let yaml = format!(
        "{}outages:\n  - name: provider-outage\n    when: {{ environment: production }}\n    failing: {{ at_least: 10, share: 20% }}\n    window: 5s\n",
        rules(&slack)
    );
    let app = spawn_app_in(tempfile::tempdir().unwrap(), &yaml, fast_settings()).await;
    for n in 0..20 {
        app.post_ok(sync(&format!("CON-{n}"), &format!("fail-{n}"), "failed"))
            .await;
    }
    let outage = |m: &serde_json::Value| m.to_string().contains("xero outage:");
    assert!(eventually(WAIT, || slack.delivered().iter().any(outage)).await);
    let before = slack.delivered().len();
    let held_on_sqlite = (app.status("?alerts_per_page=100").await["alerts"]
        .as_array()
        .unwrap()
        .iter())
    .filter(|a| a["silenced_by"] == "held by outage provider-outage")
    .count();
    assert!(held_on_sqlite >= 10, "{held_on_sqlite}");
    let dir = app.stop().await;

    let backend = Backend::postgres();
    let url = postgres_url(&backend);
    let moved = migrate(&database(&dir), &url, &["--force"]).await;
    let said = stdout(&moved);
    assert_eq!(moved.status.code(), Some(0), "{said}\n{}", stderr(&moved));
    for line in [
        "outage_members: 20 copied",
        "outage_states: 1 copied",
        "service_hours: 1 copied",
    ] {
        assert!(said.contains(line), "{line:?} in:\n{said}");
    }

    let app = spawn_app_on(&backend, &yaml, fast_settings()).await;
    let status = app.status("?alerts_per_page=100").await;
    assert_eq!(
        status["outages"][0]["group"], "xero",
        "the banner: {}",
        status["outages"]
    );
    let held = (status["alerts"].as_array().unwrap().iter())
        .filter(|a| a["silenced_by"] == "held by outage provider-outage")
        .count();
    assert_eq!(held, held_on_sqlite, "{}", status["alerts"]);
    let over = |m: &serde_json::Value| m.to_string().contains("xero outage over");
    let released = |m: &serde_json::Value| m.to_string().contains("still failing after the outage");
    assert!(
        eventually(Duration::from_secs(30), || slack
            .delivered()
            .iter()
            .filter(|m| released(m))
            .count()
            == held)
        .await,
        "{:#?}",
        slack.headers()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let delivered = slack.delivered();
    assert_eq!(
        delivered.iter().filter(|m| over(m)).count(),
        1,
        "{:#?}",
        slack.headers()
    );
    assert_eq!(
        delivered.len(),
        before + 1 + held,
        "its end and the held ones, once each: {:#?}",
        slack.headers()
    );
    let status = app.status("").await;
    assert_eq!(
        status["outages"].as_array().map(Vec::len),
        Some(0),
        "{}",
        status["outages"]
    );
}
