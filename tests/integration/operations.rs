//! Running as a service: reload on SIGHUP (good and broken files), drain on
//! SIGTERM, the systemd notify protocol, and /metrics.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use crate::helpers::{Daemon, RulesFile, SlackReply, SlackStandIn, eventually, fixture, free_port, spawn_app};

const WAIT: Duration = Duration::from_secs(10);

fn rules(port: u16, state: &std::path::Path, slack: &SlackStandIn, rule: &str) -> String {
    format!(
        "server:\n  listen: 127.0.0.1:{port}\nstorage:\n  path: {}/db\nchannels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\ndefaults:\n  notify: [ops]\n  repeat_interval: 0s\nrules:\n{rule}",
        state.display(),
        slack.url()
    )
}

const FAILED_RULE: &str = "  - name: failed\n    when: { failed: { above: 0 } }\n";
const EMPTY_RULE: &str = "  - name: empty\n    when: { empty: { above: 0 } }\n";

async fn post(daemon: &Daemon, request_id: &str, status: &str) -> u16 {
    let body = format!(
        r#"{{"data":{{"event":"data","connectionId":"CON-1","requests":[{{"request":"bills","status":"{status}"}}]}},"requestId":"{request_id}"}}"#
    );
    let response = crate::helpers::client()
        .post(daemon.url("/webhooks/railz"))
        .body(body)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

fn delivered_with(slack: &SlackStandIn, needle: &str) -> usize {
    slack
        .delivered()
        .iter()
        .filter(|m| m.to_string().contains(needle))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_applies_a_good_file_and_keeps_the_running_rules_on_a_broken_one() {
    let slack = SlackStandIn::start().await;
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let file = RulesFile::new(&rules(port, state.path(), &slack, FAILED_RULE));
    let log = state.path().join("log");
    let daemon = Daemon::start_logging(&file.path, port, &log, &[]).await;

    assert_eq!(post(&daemon, "before", "empty").await, 200);
    std::fs::write(&file.path, rules(port, state.path(), &slack, EMPTY_RULE)).unwrap();
    daemon.signal("HUP");
    let read = || std::fs::read_to_string(&log).unwrap();
    assert!(eventually(WAIT, || read().contains("configuration reloaded")).await);
    assert_eq!(post(&daemon, "after-good-reload", "empty").await, 200);
    assert!(eventually(WAIT, || delivered_with(&slack, "after-good-reload") == 1).await);
    assert_eq!(
        delivered_with(&slack, "before"),
        0,
        "the old rules did not fire on an empty sync"
    );

    std::fs::write(
        &file.path,
        "rules:\n  - name: broken\n    when: { failed: { abov: 0 } }\n",
    )
    .unwrap();
    daemon.signal("HUP");
    assert!(eventually(WAIT, || read().contains("reload rejected")).await);
    assert!(read().contains("unknown key `abov`"), "{}", read());
    assert_eq!(post(&daemon, "after-bad-reload", "empty").await, 200);
    assert!(
        eventually(WAIT, || delivered_with(&slack, "after-bad-reload") == 1).await,
        "the running rules stayed"
    );
    assert_eq!(daemon.terminate(), Some(0));
}

// Multi-threaded: the Slack stand-in must answer while this thread waits
// for the daemon to exit.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_a_delivery_in_flight_finish_and_exits_0() {
    let slack = SlackStandIn::start().await;
    slack.answer_all(SlackReply::slow(Duration::from_millis(1500)));
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let file = RulesFile::new(&rules(port, state.path(), &slack, FAILED_RULE));
    let log = state.path().join("log");
    let daemon = Daemon::start_logging(&file.path, port, &log, &[]).await;
    assert_eq!(post(&daemon, "in-flight", "failed").await, 200);
    assert!(
        eventually(WAIT, || slack.received().len() == 1).await,
        "the delivery has started"
    );

    assert_eq!(daemon.terminate(), Some(0));
    let db = state.path().join("db");
    let history = crate::helpers::syncwatch(&["history", "--db", db.to_str().unwrap()], &[]);
    let out = crate::helpers::stdout(&history);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        out.contains("delivered  FIRING failed -> ops"),
        "the attempt was recorded before exit:\n{out}\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn systemd_hears_ready_reloading_and_stopping() {
    let slack = SlackStandIn::start().await;
    let state = tempfile::tempdir().unwrap();
    let socket_path = state.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let port = free_port();
    let file = RulesFile::new(&rules(port, state.path(), &slack, FAILED_RULE));
    let env = [("NOTIFY_SOCKET", socket_path.to_str().unwrap())];
    let daemon = Daemon::start_logging(&file.path, port, &state.path().join("log"), &env).await;
    let mut buffer = [0u8; 512];
    let mut next = || {
        let n = socket.recv(&mut buffer).expect("a notification");
        String::from_utf8_lossy(&buffer[..n]).into_owned()
    };
    let opening = next();
    assert!(
        opening.starts_with("EXTEND_TIMEOUT_USEC=60000000\nSTATUS=opening the database"),
        "a long schema upgrade keeps systemd waiting: {opening}"
    );
    assert!(next().starts_with("READY=1"));
    daemon.signal("HUP");
    let reloading = next();
    assert!(reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="), "{reloading}");
    assert!(next().starts_with("READY=1"));
    daemon.signal("TERM");
    assert_eq!(next().trim_end(), "STOPPING=1");
}

#[tokio::test]
async fn metrics_count_events_matches_and_notifications() {
    let slack = SlackStandIn::start().await;
    let app = spawn_app(&format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\" }}\ndefaults:\n  notify: [ops]\nrules:\n  - name: failed\n    when: {{ failed: {{ above: 0 }} }}\n",
        slack.url()
    ))
    .await;
    app.post_json(std::fs::read(fixture("data-full.json")).unwrap()).await;
    app.post_json(std::fs::read(fixture("data-full.json")).unwrap()).await;
    app.post_json("not json").await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    for expected in [
        r#"syncwatch_events_received_total{event="data",environment="production",outcome="accepted"} 1"#,
        r#"syncwatch_events_received_total{event="data",environment="production",outcome="duplicate"} 1"#,
        r#"syncwatch_events_received_total{event="unknown",environment="unknown",outcome="invalid"} 1"#,
        r#"syncwatch_rule_matches_total{rule="failed"} 1"#,
        r#"syncwatch_notifications_total{channel="ops",outcome="delivered"} 1"#,
        "syncwatch_delivery_latency_seconds_count 1",
        "syncwatch_outbox_depth 0",
        r#"syncwatch_build_info{version=""#,
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn under_journald_each_line_carries_its_level_and_a_forged_line_stays_one_line() {
    let slack = SlackStandIn::start().await;
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let file = RulesFile::new(&rules(port, state.path(), &slack, FAILED_RULE));
    let log = state.path().join("log");
    let daemon = Daemon::start_logging(&file.path, port, &log, &[("JOURNAL_STREAM", "8:1234")]).await;
    let read = || std::fs::read_to_string(&log).unwrap();
    assert!(eventually(WAIT, || read().contains("<6>")).await, "{}", read());

    // A data type whose name holds a newline and a fake log line.
    let forged = r#"{"data":{"event":"data","requests":{"bills\n<3>ERROR forged line":{"failed":"x"}}}}"#;
    let response = crate::helpers::client()
        .post(daemon.url("/webhooks/railz"))
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(eventually(WAIT, || read().contains("forged line")).await);
    let forged_lines: Vec<String> = read()
        .lines()
        .filter(|l| l.contains("forged line"))
        .map(str::to_owned)
        .collect();
    assert_eq!(forged_lines.len(), 1, "{forged_lines:?}");
    assert!(
        forged_lines[0].starts_with("<4>") && forged_lines[0].contains("bills\\n<3>ERROR"),
        "{forged_lines:?}"
    );

    std::fs::write(
        &file.path,
        "rules:\n  - name: broken\n    when: { failed: { abov: 0 } }\n",
    )
    .unwrap();
    daemon.signal("HUP");
    assert!(eventually(WAIT, || read().contains("reload rejected")).await);
    let rejected = read()
        .lines()
        .find(|l| l.contains("reload rejected"))
        .unwrap()
        .to_owned();
    assert!(rejected.starts_with("<3>"), "{rejected}");
    assert_eq!(daemon.terminate(), Some(0));
}

#[test]
fn the_unit_fails_a_bad_reload_stops_restarting_and_leaves_etc_read_only() {
    let unit = std::fs::read_to_string(crate::helpers::repo_file("systemd/syncwatch.service")).unwrap();
    let directives: Vec<&str> = unit.lines().filter(|l| !l.starts_with('#')).collect();
    let reloads: Vec<&&str> = directives.iter().filter(|l| l.starts_with("ExecReload=")).collect();
    assert_eq!(
        reloads,
        [
            &"ExecReload=/usr/bin/syncwatch check --config /etc/syncwatch/rules.yaml",
            &"ExecReload=/bin/kill -HUP $MAINPID"
        ],
        "the check runs first, so a rejected file fails `systemctl reload`"
    );
    assert!(directives.contains(&"StartLimitBurst=5"));
    assert!(directives.contains(&"StartLimitIntervalSec=60"));
    assert!(!directives.iter().any(|l| l.starts_with("ConfigurationDirectory=")));
    let tasks: u32 = directives
        .iter()
        .find_map(|l| l.strip_prefix("TasksMax="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(tasks >= 64, "room for the bounded runtime: {tasks}");
}

#[test]
fn the_package_stops_the_service_on_remove_and_purges_its_enablement() {
    let prerm = std::fs::read_to_string(crate::helpers::repo_file("debian/prerm")).unwrap();
    assert!(prerm.contains("deb-systemd-invoke stop syncwatch.service"), "{prerm}");
    let postrm = std::fs::read_to_string(crate::helpers::repo_file("debian/postrm")).unwrap();
    assert!(
        postrm.contains("deb-systemd-helper purge syncwatch.service"),
        "{postrm}"
    );
    for script in ["prerm", "postrm", "postinst"] {
        let path = crate::helpers::repo_file(&format!("debian/{script}"));
        let status = std::process::Command::new("sh").arg("-n").arg(&path).status().unwrap();
        assert!(status.success(), "{script} is not valid sh");
    }
}
