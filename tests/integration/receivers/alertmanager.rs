//! Alertmanager, the real one: Debian's `prometheus-alertmanager` on a
//! loopback port, with a webhook receiver pointing back into the test. An
//! alert arrives with its labels, outlives Alertmanager's resolve_timeout
//! because syncwatch posts it again, and resolves after a clean sync.
//! Posting again resumes after a restart, and on PostgreSQL only one of
//! two instances does it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::stand_in::{Reply, StandIn};
use super::{BILLS, clean, failed, send_test};
use crate::helpers::{
    Backend, TestApp, client, eventually, fast_settings, free_port, spawn_app, spawn_app_in, spawn_app_on,
};

const WAIT: Duration = Duration::from_secs(20);
const BINARY: &str = "/usr/bin/prometheus-alertmanager";
/// Short, so that the test can outlive it: without syncwatch's re-posts,
/// Alertmanager would call the alert resolved after this.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

/// A running Alertmanager, stopped when dropped.
struct Alertmanager {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Alertmanager {
    /// Starts it on `port`, clustering off, its notifications to `hook`.
    async fn start(port: u16, hook: &str) -> Alertmanager {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} is missing: apt-get install prometheus-alertmanager (.ci/run does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "global:\n  resolve_timeout: {}s\nroute:\n  receiver: test\n  group_by: ['...']\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: test\n    webhook_configs:\n      - url: {hook}\n        send_resolved: true\n",
            RESOLVE_TIMEOUT.as_secs()
        );
        std::fs::write(dir.path().join("alertmanager.yml"), config).unwrap();
        let child = Command::new(BINARY)
            .arg(format!(
                "--config.file={}",
                dir.path().join("alertmanager.yml").display()
            ))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-alertmanager starts");
        let am = Alertmanager { child, port, _dir: dir };
        let ready = format!("http://127.0.0.1:{port}/-/ready");
        let deadline = tokio::time::Instant::now() + WAIT;
        while !client().get(&ready).send().await.is_ok_and(|r| r.status().is_success()) {
            assert!(tokio::time::Instant::now() < deadline, "Alertmanager did not get ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        am
    }

    /// The alerts its API lists (active ones; resolved ones are not listed).
    async fn alerts(&self) -> Vec<Value> {
        let url = format!("http://127.0.0.1:{}/api/v2/alerts", self.port);
        let answer: Value = client().get(url).send().await.unwrap().json().await.unwrap();
        answer.as_array().cloned().unwrap_or_default()
    }

    async fn active(&self, rule: &str) -> Option<Value> {
        let alerts = self.alerts().await;
        alerts
            .into_iter()
            .find(|a| a["labels"]["alertname"] == rule && a["status"]["state"] == "active")
    }
}

fn rules(port: u16) -> String {
    format!(
        "server:\n  public_url: https://syncwatch.example.com\ndefaults:\n  notify: [am]\n  send_resolved: false\nchannels:\n  am:\n    alertmanager:\n      url: http://127.0.0.1:{port}\n      resend: 1s\n{BILLS}"
    )
}

/// What Alertmanager's webhook receiver was sent: (status, alertname) of
/// each alert of each notification.
fn notified(hook: &StandIn) -> Vec<(String, String)> {
    let notifications = hook.received().into_iter().map(|r| r.body);
    (notifications.flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default()))
        .map(|a| {
            (
                a["status"].as_str().unwrap_or("").to_owned(),
                a["labels"]["alertname"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn wait_until(check: impl AsyncFn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check().await
}

async fn an_alert_reaches_alertmanager_outlives_its_timeout_and_resolves(backend: Backend) {
    let hook = StandIn::start(Reply::new(200, "")).await;
    let port = free_port();
    let app = spawn_app_on(&backend, &rules(port), fast_settings()).await;
    // Alertmanager is not up yet: the FIRING fails and is retried.
    app.post_ok(failed("f-1")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        app.metrics().await.contains(r#"channel="am",outcome="retry""#),
        "{}",
        app.metrics().await
    );
    let am = Alertmanager::start(port, &hook.url("/hook")).await;

    assert!(
        wait_until(async || am.active("bills-failing").await.is_some()).await,
        "{:?}",
        am.alerts().await
    );
    let alert = am.active("bills-failing").await.unwrap();
    let labels = &alert["labels"];
    for (name, value) in [
        ("alertname", "bills-failing"),
        ("connection", "CON-1"),
        ("business", "Acme"),
        ("service", "xero"),
        ("environment", "production"),
        ("severity", "critical"),
    ] {
        assert_eq!(labels[name], value, "{name} in {labels}");
    }
    assert_eq!(alert["generatorURL"], "https://syncwatch.example.com/ui?q=CON-1");
    assert!(
        alert["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("bills-failing"),
        "{alert}"
    );
    assert!(
        eventually(WAIT, || notified(&hook)
            .contains(&("firing".into(), "bills-failing".into())))
        .await
    );

    // Past its resolve_timeout, it is still active: syncwatch posted it again.
    tokio::time::sleep(RESOLVE_TIMEOUT + Duration::from_secs(2)).await;
    assert!(am.active("bills-failing").await.is_some(), "{:?}", am.alerts().await);
    assert!(
        !notified(&hook).iter().any(|(status, _)| status == "resolved"),
        "{:?}",
        notified(&hook)
    );

    // A clean sync resolves it, even with send_resolved: false.
    app.post_ok(clean("c-1")).await;
    assert!(
        wait_until(async || am.active("bills-failing").await.is_none()).await,
        "{:?}",
        am.alerts().await
    );
    assert!(
        eventually(WAIT, || notified(&hook)
            .contains(&("resolved".into(), "bills-failing".into())))
        .await
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        am.active("bills-failing").await.is_none(),
        "a resolved alert is not posted again"
    );
}

on_both_stores!(an_alert_reaches_alertmanager_outlives_its_timeout_and_resolves);

/// Posts that only a re-post makes: no requestId annotation.
fn reposts(am: &StandIn) -> usize {
    let posted = am
        .received()
        .into_iter()
        .flat_map(|r| r.body.as_array().cloned().unwrap_or_default());
    posted.filter(|a| a["annotations"]["request_id"].is_null()).count()
}

#[tokio::test]
async fn posting_again_resumes_from_storage_after_a_restart() {
    let am = StandIn::start(Reply::new(200, "")).await;
    let rules = rules(am.addr.port());
    let app = spawn_app(&rules).await;
    app.post_ok(failed("f-1")).await;
    // Its FIRING (and maybe a re-post already).
    assert!(eventually(WAIT, || !am.accepted().is_empty()).await);
    let dir = app.stop().await;
    let before = am.received().len();
    let app: TestApp = spawn_app_in(dir, &rules, fast_settings()).await;
    assert!(
        eventually(WAIT, || am.received().len() > before).await,
        "no re-post after the restart"
    );
    let resent = am.received().last().unwrap().body[0].clone();
    assert_eq!(resent["labels"]["alertname"], "bills-failing");
    assert_eq!(resent["labels"]["connection"], "CON-1");
    assert_eq!(resent["labels"]["business"], "Acme");
    assert_eq!(
        resent["startsAt"],
        am.received()[0].body[0]["startsAt"],
        "the same alert, the same start"
    );
    drop(app);
}

#[tokio::test]
async fn on_postgresql_one_instance_posts_again() {
    let am = StandIn::start(Reply::new(200, "")).await;
    let rules = rules(am.addr.port());
    let backend = Backend::postgres();
    let first = spawn_app_on(&backend, &rules, fast_settings()).await;
    let second = spawn_app_on(&backend, &rules, fast_settings()).await;
    first.post_ok(failed("f-1")).await;
    assert!(eventually(WAIT, || !am.accepted().is_empty()).await);
    let start = reposts(&am);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let made = reposts(&am) - start;
    // About one a second in 3.5 s; two instances each on its own would
    // have made twice as many.
    assert!((2..=5).contains(&made), "{made} re-posts");
    drop((first, second));
}

#[tokio::test]
async fn send_test_says_when_alertmanager_is_not_reachable() {
    let (code, out) = send_test(&rules(free_port()), "am").await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("am: not delivered, temporary failure"), "{out}");
    assert!(out.contains("Alertmanager is not reachable"), "{out}");
}
