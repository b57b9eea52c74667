//! Several instances on one PostgreSQL database (SPEC section 9): any
//! instance takes any webhook, a redelivery to another is a duplicate,
//! alert state moves once per event, each notification goes out once.

use std::time::Duration;

use crate::helpers::{
    BILLS, Backend, Daemon, RulesFile, SlackReply, SlackStandIn, TestApp, eventually, fast_settings, free_port,
    set_reachable, spawn_app_on, stderr, stdout, sync, syncwatch_async,
};

const WAIT: Duration = Duration::from_secs(15);

fn rules(slack: &SlackStandIn, rules: &str) -> String {
    format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: off\ndefaults:\n  notify: [ops]\nrules:\n{rules}",
        slack.url()
    )
}

async fn two_instances(slack: &SlackStandIn, rules_yaml: &str) -> (TestApp, TestApp) {
    let backend = Backend::postgres();
    let (a, b) = tokio::join!(
        spawn_app_on(&backend, rules_yaml, fast_settings()),
        spawn_app_on(&backend, rules_yaml, fast_settings())
    );
    let _ = slack;
    (a, b)
}

#[tokio::test]
async fn a_hundred_failures_across_two_instances_with_redeliveries_alert_once_each() {
    let slack = SlackStandIn::start().await;
    let (a, b) = two_instances(&slack, &rules(&slack, BILLS)).await;
    let mut posts = Vec::new();
    for n in 0..100 {
        let body = sync(&format!("CON-{n}"), &format!("req-{n}"), "failed");
        let (first, second) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
        // Railz retries on the other instance, sometimes at the same time.
        posts.push(async move {
            let (one, two) = tokio::join!(first.post_json(body.clone()), second.post_json(body.clone()));
            (one, two)
        });
    }
    let answers = futures_util::future::join_all(posts).await;
    let mut accepted = 0;
    for ((status_one, one), (status_two, two)) in answers {
        assert_eq!((status_one, status_two), (200, 200), "{one} {two}");
        let duplicates = [&one, &two]
            .iter()
            .filter(|answer| answer["status"] == "duplicate")
            .count();
        assert_eq!(duplicates, 1, "one copy is the duplicate: {one} {two}");
        accepted += 1;
    }
    assert_eq!(accepted, 100);
    assert!(
        eventually(WAIT, || slack.delivered().len() >= 100).await,
        "{}",
        slack.delivered().len()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let delivered = slack.delivered();
    assert_eq!(delivered.len(), 100, "each alert is sent once");
    let mut alerted: Vec<String> = delivered.iter().map(connection_named).collect();
    alerted.sort();
    alerted.dedup();
    assert_eq!(alerted.len(), 100, "one message per connection: {alerted:?}");
}

/// The `CON-n` a message is about.
fn connection_named(message: &serde_json::Value) -> String {
    let text = message.to_string();
    let start = text.find("CON-").expect("the message names its connection");
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

#[tokio::test]
async fn after_two_counts_failures_taken_by_different_instances() {
    let slack = SlackStandIn::start().await;
    let rules_yaml = rules(&slack, &format!("{BILLS}    after: 2\n"));
    let (a, b) = two_instances(&slack, &rules_yaml).await;
    a.post_ok(sync("CON-1", "f1", "failed")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(slack.delivered().is_empty(), "pending after one failure");
    b.post_ok(sync("CON-1", "f2", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    a.post_ok(sync("CON-1", "ok-1", "success")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    assert_eq!(slack.headers()[1], "✅ RESOLVED bills-failing");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(slack.delivered().len(), 2, "{:?}", slack.texts());
}

#[tokio::test]
async fn an_unreachable_database_answers_503_and_recovers_by_itself() {
    let slack = SlackStandIn::start().await;
    let backend = Backend::postgres();
    let app = spawn_app_on(&backend, &rules(&slack, BILLS), fast_settings()).await;
    assert_eq!(app.readyz().await, 200);
    let Backend::Postgres(url) = &backend else {
        unreachable!()
    };
    set_reachable(url, false);
    let (status, answer) = app.post_json(sync("CON-1", "while-down", "failed")).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(app.readyz().await, 503);

    set_reachable(url, true);
    let back = std::time::Instant::now();
    let mut ready = false;
    for _ in 0..50 {
        if app.readyz().await == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "/readyz recovers once the database is back");
    eprintln!("recovery: /readyz 200 {:?} after the database was back", back.elapsed());
    // Railz's retry of the refused webhook is taken, and alerts.
    app.post_ok(sync("CON-1", "while-down", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
}

#[tokio::test]
async fn an_absence_planned_on_both_instances_sends_one_message() {
    let slack = SlackStandIn::start().await;
    let rules_yaml = rules(&slack, "  - name: stopped-syncing\n    when: { no_sync_for: 2s }\n");
    let (a, b) = two_instances(&slack, &rules_yaml).await;
    // Each instance takes one sync of CON-Q, so each plans its deadline.
    a.post_ok(sync("CON-Q", "q-1", "success")).await;
    b.post_ok(sync("CON-Q", "q-2", "success")).await;
    assert!(eventually(WAIT, || !slack.delivered().is_empty()).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let delivered = slack.delivered();
    assert_eq!(delivered.len(), 1, "{:?}", slack.texts());
    assert!(delivered[0].to_string().contains("stopped-syncing"), "{}", delivered[0]);
}

#[tokio::test]
async fn an_instance_learns_connections_the_other_took_and_watches_them() {
    let slack = SlackStandIn::start().await;
    let rules_yaml = rules(&slack, "  - name: stopped-syncing\n    when: { no_sync_for: 8s }\n");
    let (a, b) = two_instances(&slack, &rules_yaml).await;
    a.post_ok(sync("CON-L", "l-1", "success")).await;
    // The instance that took the sync goes away; the other still alerts.
    a.stop().await;
    assert!(eventually(Duration::from_secs(20), || slack.delivered().len() == 1).await);
    assert!(slack.delivered()[0].to_string().contains("CON-L"));
    drop(b);
}

#[tokio::test]
async fn a_silence_added_through_one_instance_holds_on_the_other() {
    let slack = SlackStandIn::start().await;
    let backend = Backend::postgres();
    let Backend::Postgres(url) = &backend else {
        unreachable!()
    };
    let rules_yaml = rules(&slack, BILLS);
    let (_a, b) = tokio::join!(
        spawn_app_on(&backend, &rules_yaml, fast_settings()),
        spawn_app_on(&backend, &rules_yaml, fast_settings())
    );
    // The CLI reads the database from the rules file, as on a host of
    // the first instance.
    let file = RulesFile::new(&format!("{rules_yaml}storage:\n  postgres: {url}\n"));
    let config = file.path.display().to_string();
    let cli = |args: &[&str]| {
        let mut all: Vec<String> = vec![args[0].to_owned(), "--config".to_owned(), config.clone()];
        all.extend(args[1..].iter().map(|a| a.to_string()));
        syncwatch_async(all)
    };
    let added = cli(&[
        "silence",
        "add",
        "--connection",
        "CON-S",
        "--for",
        "1h",
        "--comment",
        "migration",
    ])
    .await;
    assert_eq!(added.status.code(), Some(0), "{}", stderr(&added));
    let id = stdout(&added).trim().to_owned();
    tokio::time::sleep(Duration::from_secs(1)).await;

    b.post_ok(sync("CON-S", "muted", "failed")).await;
    b.post_ok(sync("CON-T", "heard", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(slack.delivered().len(), 1);
    assert!(slack.delivered()[0].to_string().contains("CON-T"));

    let alerts = stdout(&cli(&["alerts"]).await);
    assert!(alerts.contains(&format!("muted by silence {id}")), "{alerts}");
    let explained = stdout(&cli(&["explain", "muted"]).await);
    assert!(
        explained.contains(&format!(
            "bills-failing/CON-S: new → firing, FIRING muted by silence {id}"
        )),
        "{explained}"
    );
    let listed = stdout(&cli(&["silence", "list"]).await);
    assert!(listed.contains(&id) && listed.contains("\"migration\""), "{listed}");
    let history = stdout(&cli(&["history", "--connection", "CON-T"]).await);
    assert!(history.contains("heard"), "{history}");
    let connections = stdout(&cli(&["connections"]).await);
    assert!(
        connections.contains("CON-S") && connections.contains("CON-T"),
        "{connections}"
    );
}

#[tokio::test]
async fn a_killed_instance_s_deliveries_go_out_from_the_other_after_the_lease() {
    let slack = SlackStandIn::start().await;
    // A Slack outage: posts hang (the stand-in records each on arrival).
    slack.answer_all(SlackReply::slow(Duration::from_secs(60)));
    let backend = Backend::postgres();
    let Backend::Postgres(url) = &backend else {
        unreachable!()
    };
    let port = free_port();
    let rules_yaml = rules(&slack, BILLS);
    let file = RulesFile::new(&format!(
        "server:\n  listen: 127.0.0.1:{port}\n{rules_yaml}storage:\n  postgres: {url}\n  claim_lease: 2s\n"
    ));
    let first = Daemon::start(&file.path, port).await;
    let client = crate::helpers::client();
    for n in 0..5 {
        let answer = client
            .post(first.url("/webhooks/railz"))
            .header("content-type", "application/json")
            .body(sync(&format!("CON-{n}"), &format!("k-{n}"), "failed"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    // It holds one message mid-send (claimed, leased) and four queued.
    assert!(eventually(WAIT, || !slack.received().is_empty()).await);
    let killed_at = std::time::Instant::now();
    first.kill_9();
    let claimed_at = slack.received()[0].at;

    slack.answer_all(SlackReply::ok());
    let _second = spawn_app_on(&backend, &rules_yaml, fast_settings()).await;
    assert!(
        eventually(Duration::from_secs(20), || slack.received().len() >= 6).await,
        "{:?}",
        slack.texts()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The message that hung reached Slack once before the kill and once
    // after: the one duplicate the lease allows.
    let received = slack.received();
    assert_eq!(received.len(), 6, "5 alerts and the one resend");
    let hung = connection_named(&received[0].body);
    let resent = received
        .iter()
        .skip(1)
        .find(|r| connection_named(&r.body) == hung)
        .map(|r| r.at)
        .expect("the message the dead instance held was sent again");
    // The four queued went at once; the held one waited for its lease
    // (2 s from its claim, just before it reached Slack).
    assert!(
        resent >= claimed_at + Duration::from_millis(1900),
        "the held message was not taken before its lease ran out"
    );
    let others_last = received[1..]
        .iter()
        .filter(|r| connection_named(&r.body) != hung)
        .map(|r| r.at)
        .max()
        .unwrap();
    assert!(others_last < resent, "the queued ones did not wait for the lease");
    eprintln!(
        "takeover: queued ones out {:?} after the kill, the held one {:?} after the kill",
        others_last - killed_at,
        resent - killed_at
    );
}
