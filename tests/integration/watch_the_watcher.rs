//! Operators watch the watcher: `/metrics` counts firing alerts per rule
//! (from the store, every rule listed) and notifications failed for good
//! per channel, and `heartbeat:` calls a dead man's switch while the
//! daemon is healthy.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use warp::Filter;

use crate::helpers::{
    Backend, SlackReply, SlackStandIn, eventually, fast_settings, free_port, spawn_app, spawn_app_on, sync,
};

const WAIT: Duration = Duration::from_secs(10);

/// `ops` on `slack`; `failing` fires on a failed sync, `quiet` never does.
fn rules(slack: &SlackStandIn, extra: &str) -> String {
    format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\" }}\n    digest: off\ndefaults:\n  notify: [ops]\nrules:\n  - name: failing\n    when: {{ failed: {{ above: 0 }} }}\n  - name: quiet\n    when: {{ failed: {{ above: 100 }} }}\n{extra}",
        slack.url()
    )
}

async fn firing_alerts_per_rule_come_from_the_store(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let app = spawn_app_on(&backend, &rules(&slack, ""), fast_settings()).await;
    app.post_ok(sync("CON-1", "r1", "failed")).await;
    app.post_ok(sync("CON-2", "r2", "failed")).await;
    app.post_ok(sync("CON-3", "r3", "success")).await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("syncwatch_alerts_firing{rule=\"failing\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("syncwatch_alerts_firing{rule=\"quiet\"} 0"),
        "every rule is listed: {metrics}"
    );
    app.post_ok(sync("CON-1", "r4", "success")).await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("syncwatch_alerts_firing{rule=\"failing\"} 1"),
        "{metrics}"
    );
}
on_both_stores!(firing_alerts_per_rule_come_from_the_store);

#[tokio::test]
async fn a_notification_failed_for_good_is_counted_per_channel() {
    let slack = SlackStandIn::start().await;
    slack.answer_all(SlackReply::status(404, "no_service"));
    let app = spawn_app(&rules(&slack, "")).await;
    app.post_ok(sync("CON-1", "r1", "failed")).await;
    let failed = "syncwatch_notifications_total{channel=\"ops\",outcome=\"failed\"} 1";
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = app.metrics().await;
        if metrics.contains(failed) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(metrics.contains(failed), "{metrics}");
}

/// A dead man's switch: counts the GETs on `/ping/<uuid>`.
async fn monitor() -> (String, Arc<Mutex<u32>>) {
    let pings = Arc::new(Mutex::new(0));
    let counted = pings.clone();
    let route = warp::get().and(warp::path!("ping" / String)).map(move |_uuid: String| {
        *counted.lock().unwrap() += 1;
        "OK"
    });
    let port = free_port();
    tokio::spawn(warp::serve(route).run(([127, 0, 0, 1], port)));
    (
        format!("http://127.0.0.1:{port}/ping/5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278"),
        pings,
    )
}

#[tokio::test]
async fn a_healthy_daemon_calls_its_heartbeat_url_and_counts_the_calls() {
    let slack = SlackStandIn::start().await;
    let (url, pings) = monitor().await;
    let app = spawn_app(&rules(&slack, &format!("heartbeat:\n  url: \"{url}\"\n  every: 10s\n"))).await;
    assert!(
        eventually(WAIT, || *pings.lock().unwrap() >= 1).await,
        "the first beat comes at start"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("syncwatch_heartbeats_total{result=\"ok\"} 1"),
        "{metrics}"
    );
}

#[test]
fn check_refuses_a_heartbeat_without_a_url_or_beating_too_fast() {
    let file = crate::helpers::RulesFile::new("heartbeat:\n  every: 5s\nrules: []\n");
    let output = crate::helpers::syncwatch(&["check", "--config", file.path.to_str().unwrap()], &[]);
    let errors = crate::helpers::stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    assert!(
        errors.contains("rules.yaml:2: heartbeat.every: must be at least 10s"),
        "{errors}"
    );
    let file = crate::helpers::RulesFile::new("heartbeat:\n  every: 1m\nrules: []\n");
    let output = crate::helpers::syncwatch(&["check", "--config", file.path.to_str().unwrap()], &[]);
    let errors = crate::helpers::stderr(&output);
    assert!(errors.contains("needs `url` (or `url_file`)"), "{errors}");
}
