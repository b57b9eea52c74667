//! One alert's life in Slack: FIRING posts one message, STILL FAILING
//! replies in its thread, a kill -9 of the daemon changes nothing, and
//! RESOLVED updates the message in place and replies, on each store; the
//! other instance of two on PostgreSQL finds the thread too, and so does a
//! daemon moved from SQLite to PostgreSQL by `migrate`.

use std::time::Duration;

use super::{BILLS, clean, failed, rules};
use crate::helpers::{
    Backend, CHANNEL, Daemon, RulesFile, SlackApi, database, eventually, fast_settings, free_port, spawn_app_in,
    spawn_app_on, stderr, stdout, syncwatch_async,
};

const WAIT: Duration = Duration::from_secs(20);

/// `syncwatch serve` on `backend`, posting as the app to the stand-in.
fn daemon_rules(api: &SlackApi, backend: &Backend, port: u16, dir: &std::path::Path) -> RulesFile {
    let storage = match backend {
        Backend::Sqlite => format!("path: {}/syncwatch.db", dir.display()),
        Backend::Postgres(url) => format!("postgres: {url}"),
    };
    RulesFile::new(&format!(
        "server:\n  listen: 127.0.0.1:{port}\nstorage:\n  {storage}\nchannels:\n  ops:\n    {}\n    digest: off\ndefaults:\n  notify: [ops]\n{BILLS}",
        api.channel_yaml(CHANNEL)
    ))
}

async fn post(daemon: &Daemon, body: String) {
    let client = crate::helpers::client();
    let answer = client
        .post(daemon.url("/webhooks/railz"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
}

async fn one_alert_is_one_message_updated_to_resolved_through_kill_9(backend: Backend) {
    let api = SlackApi::start().await;
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = daemon_rules(&api, &backend, port, state.path());
    let daemon = Daemon::start(&config.path, port).await;
    post(&daemon, failed("CON-1", "fail-1")).await;
    assert!(
        eventually(WAIT, || api.top_level().len() == 1).await,
        "the FIRING is posted"
    );
    let parent = api.top_level()[0].ts.clone();
    post(&daemon, failed("CON-1", "fail-2")).await;
    post(&daemon, failed("CON-1", "fail-3")).await;
    assert!(
        eventually(WAIT, || api.replies(&parent).len() == 2).await,
        "{:?}",
        api.all()
    );
    // Past the settle of the last reply: a kill between Slack's answer and
    // the settle sends that reply again (at least once, by design).
    tokio::time::sleep(Duration::from_millis(500)).await;
    daemon.kill_9();

    let daemon = Daemon::start(&config.path, port).await;
    post(&daemon, clean("CON-1", "clean-1")).await;
    let resolved = || api.top_level().first().is_some_and(|m| m.updates == 1) && api.replies(&parent).len() == 3;
    assert!(eventually(WAIT, resolved).await, "{:?}", api.all());

    let top = api.top_level();
    assert_eq!(top.len(), 1, "one alert, one message: {top:#?}");
    let message = &top[0];
    assert_eq!(
        (message.header(), message.updates),
        ("✅ RESOLVED bills-failing".to_owned(), 1)
    );
    for fact in [
        "Acme",
        "CON-1",
        "xero",
        "fail-1",
        "firing since",
        "clean sync requestId clean-1",
    ] {
        assert!(
            message.words().contains(fact),
            "{fact} missing from {}",
            message.words()
        );
    }
    let replies: Vec<String> = api.replies(&parent).iter().map(|r| r.header()).collect();
    assert_eq!(
        replies,
        [
            "CRITICAL bills-failing · still failing",
            "CRITICAL bills-failing · still failing",
            "✅ RESOLVED bills-failing"
        ]
    );
    assert!(api.errors().is_empty(), "{:?}", api.errors());
    assert!(api.all().iter().all(|m| m.channel == CHANNEL));
    assert!(api.calls().iter().all(|c| c.body.get("reply_broadcast").is_none()));
    assert_eq!(daemon.terminate(), Some(0));
}

on_both_stores!(one_alert_is_one_message_updated_to_resolved_through_kill_9);

#[tokio::test]
async fn a_new_firing_after_resolved_starts_a_new_message() {
    let api = SlackApi::start().await;
    let app = spawn_app_on(&Backend::Sqlite, &rules(&api, "digest: off"), fast_settings()).await;
    app.post_ok(failed("CON-1", "f-1")).await;
    app.post_ok(clean("CON-1", "c-1")).await;
    assert!(eventually(WAIT, || api.top_level().first().is_some_and(|m| m.updates == 1)).await);
    app.post_ok(failed("CON-1", "f-2")).await;
    assert!(eventually(WAIT, || api.top_level().len() == 2).await, "{:?}", api.all());
    let headers: Vec<String> = api.top_level().iter().map(|m| m.header()).collect();
    assert_eq!(headers, ["✅ RESOLVED bills-failing", "CRITICAL bills-failing"]);
    assert!(api.replies(&api.top_level()[1].ts).is_empty());
}

#[tokio::test]
async fn the_other_instance_resolves_the_message_the_first_posted() {
    let api = SlackApi::start().await;
    let backend = Backend::postgres();
    let rules = rules(&api, "digest: off");
    let first = spawn_app_on(&backend, &rules, fast_settings()).await;
    first.post_ok(failed("CON-1", "f-1")).await;
    assert!(eventually(WAIT, || api.top_level().len() == 1).await);
    first.stop().await;
    let second = spawn_app_on(&backend, &rules, fast_settings()).await;
    second.post_ok(failed("CON-1", "f-2")).await;
    second.post_ok(clean("CON-1", "c-1")).await;
    let parent = api.top_level()[0].ts.clone();
    assert!(
        eventually(WAIT, || api.replies(&parent).len() == 2).await,
        "{:?}",
        api.all()
    );
    assert_eq!(api.top_level().len(), 1);
    assert_eq!(api.top_level()[0].header(), "✅ RESOLVED bills-failing");
}

#[tokio::test]
async fn migrate_carries_the_thread_into_postgres() {
    let api = SlackApi::start().await;
    let rules = rules(&api, "digest: off");
    let app = spawn_app_in(tempfile::tempdir().unwrap(), &rules, fast_settings()).await;
    app.post_ok(failed("CON-1", "f-1")).await;
    assert!(eventually(WAIT, || api.top_level().len() == 1).await);
    let dir = app.stop().await;

    let Backend::Postgres(url) = Backend::postgres() else {
        unreachable!()
    };
    let file = dir.path().join("database-url");
    std::fs::write(&file, &url).unwrap();
    let db = database(&dir);
    let args = [
        "migrate",
        "--db",
        db.to_str().unwrap(),
        "--to-file",
        file.to_str().unwrap(),
        // The app just stopped: its heartbeat is seconds old.
        "--force",
    ];
    let output = syncwatch_async(args.map(String::from).to_vec()).await;
    assert!(output.status.success(), "{}{}", stdout(&output), stderr(&output));
    assert!(stdout(&output).contains("1 slack_threads"), "{}", stdout(&output));

    let app = spawn_app_on(&Backend::Postgres(url), &rules, fast_settings()).await;
    app.post_ok(clean("CON-1", "c-1")).await;
    let parent = api.top_level()[0].ts.clone();
    assert!(
        eventually(WAIT, || api.replies(&parent).len() == 1).await,
        "{:?}",
        api.all()
    );
    assert_eq!(api.top_level().len(), 1);
    assert_eq!(api.top_level()[0].header(), "✅ RESOLVED bills-failing");
}
