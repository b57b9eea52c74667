//! SPEC §13's conformance details, checked from outside against a running
//! app: `/metrics` answers in the format the scraper asks for, and each is
//! what its parsers expect (`promtool check metrics` for the Prometheus
//! text format 0.0.4; OpenMetrics' names and `# EOF`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{SlackStandIn, TestApp, eventually, fixture, spawn_app};

const WAIT: Duration = Duration::from_secs(10);

/// What Prometheus 2.x sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// An app that has counted something in each family with labels: an event
/// accepted, the same again (duplicate), one invalid, a rule match and a
/// delivered notification, and a delivery latency.
async fn busy_app(slack: &SlackStandIn) -> TestApp {
    let app = spawn_app(&format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\ndefaults:\n  notify: [ops]\nrules:\n  - name: failed\n    when: {{ failed: {{ above: 0 }} }}\n",
        slack.url()
    ))
    .await;
    let body = std::fs::read(fixture("data-full.json")).unwrap();
    app.post_json(body.clone()).await;
    app.post_json(body).await;
    app.post_json("not json").await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    // The worker counts the delivery once Slack has answered.
    let delivered = r#"syncwatch_notifications_total{channel="ops",outcome="delivered"} 1"#;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !app.metrics().await.contains(delivered) {
        assert!(tokio::time::Instant::now() < deadline, "{}", app.metrics().await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app
}

/// `/metrics` with `accept` (none: no `Accept` header): its status,
/// Content-Type, Vary and body.
async fn scrape(app: &TestApp, accept: Option<&str>) -> (u16, String, String, String) {
    let mut request = app.client.get(app.url("/metrics"));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        let value = response.headers().get(name);
        value.map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    };
    let (content_type, vary) = (header("content-type"), header("vary"));
    let status = response.status().as_u16();
    (status, content_type, vary, response.text().await.unwrap())
}

/// `promtool check metrics` on `text`: whether it exited 0, and what it
/// said (it names each metric it has a problem with).
fn promtool_check(text: &str) -> (bool, String) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = child.expect("promtool runs (Debian's `prometheus` package; .ci/run installs it)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

/// The metric name of a sample line: before its labels or its value.
fn sample_name(line: &str) -> &str {
    line.split(['{', ' ']).next().unwrap()
}

#[tokio::test]
async fn the_text_format_passes_promtool_check_metrics() {
    let slack = SlackStandIn::start().await;
    let app = busy_app(&slack).await;
    for accept in [None, Some("*/*"), Some("text/plain;version=0.0.4;q=0.5,*/*;q=0.1")] {
        let (status, content_type, vary, text) = scrape(&app, accept).await;
        assert_eq!(status, 200);
        assert_eq!(
            content_type, "text/plain; version=0.0.4; charset=utf-8",
            "Accept: {accept:?}"
        );
        assert_eq!(vary.to_ascii_lowercase(), "accept");
        assert!(!text.contains("# EOF"), "OpenMetrics' end marker: {text}");
        for expected in [
            "# TYPE syncwatch_events_received_total counter\n",
            r#"syncwatch_events_received_total{event="data",environment="production",outcome="duplicate"} 1"#,
            "# TYPE syncwatch_notifications_total counter\n",
            r#"syncwatch_notifications_total{channel="ops",outcome="delivered"} 1"#,
            "# TYPE syncwatch_delivery_latency_seconds histogram\n",
            "syncwatch_delivery_latency_seconds_count 1\n",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        let (passed, said) = promtool_check(&text);
        assert!(
            passed && said.trim().is_empty(),
            "promtool check metrics:\n{said}\non\n{text}"
        );
    }
}

#[tokio::test]
async fn openmetrics_is_served_to_a_scraper_that_asks_for_it() {
    let slack = SlackStandIn::start().await;
    let app = busy_app(&slack).await;
    for accept in [PROMETHEUS_ACCEPT, "application/openmetrics-text; version=1.0.0"] {
        let (status, content_type, vary, text) = scrape(&app, Some(accept)).await;
        assert_eq!(status, 200);
        assert_eq!(
            content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8",
            "Accept: {accept}"
        );
        assert_eq!(vary.to_ascii_lowercase(), "accept");
        assert!(text.ends_with('\n'), "{text}");
        assert_eq!(text.lines().last(), Some("# EOF"), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1, "{text}");
        // A counter family is typed by its name; its samples are `_total`.
        assert!(text.contains("# TYPE syncwatch_events_received counter\n"), "{text}");
        assert!(!text.contains("# TYPE syncwatch_events_received_total"), "{text}");
        assert!(
            text.contains(
                r#"syncwatch_events_received_total{event="data",environment="production",outcome="accepted"} 1"#
            ),
            "{text}"
        );
        let mut family: Option<(&str, &str)> = None;
        let mut counters = 0;
        for line in text.lines().filter(|l| *l != "# EOF") {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                counters += usize::from(kind == "counter");
                family = Some((name, kind));
            } else if !line.starts_with('#') {
                let (name, kind) = family.unwrap_or_else(|| panic!("a sample before any TYPE: {line}"));
                let suffixes: &[&str] = match kind {
                    "counter" => &["_total", "_created"],
                    "histogram" => &["_bucket", "_sum", "_count", "_created"],
                    "info" => &["_info"],
                    _ => &[""],
                };
                let sample = sample_name(line);
                assert!(
                    suffixes.iter().any(|suffix| sample == format!("{name}{suffix}")),
                    "{sample} is not a sample of {kind} {name}"
                );
            }
        }
        assert!(counters >= 5, "{text}");
    }
}

/// The README's quick start replays every fixture into one daemon: each is
/// an event of its own (its own `requestId`), so each is accepted.
#[tokio::test]
async fn every_fixture_is_accepted_by_one_app_as_the_quick_start_shows() {
    let app = spawn_app("rules:\n  - name: failed\n    notify: []\n    when: { failed: { above: 0 } }\n").await;
    let mut names: Vec<String> = std::fs::read_dir(fixture(""))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 5, "{names:?}");
    for name in &names {
        let (status, answer) = app.post_json(std::fs::read(fixture(name)).unwrap()).await;
        assert_eq!(
            (status, answer),
            (200, serde_json::json!({ "status": "accepted" })),
            "{name}"
        );
    }
}

/// The value of the header `name` in a raw email (unfolded).
fn header(mail: &crate::helpers::Mail, name: &str) -> Option<String> {
    let text = mail.data.replace("\r\n ", " ").replace("\r\n\t", " ");
    let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
    head.lines()
        .find_map(|line| line.split_once(':').filter(|(key, _)| key.eq_ignore_ascii_case(name)))
        .map(|(_, value)| value.trim().to_owned())
}

#[tokio::test]
async fn an_alerts_emails_are_one_thread() {
    let smtp = crate::helpers::SmtpServer::start();
    let app = spawn_app(&format!(
        "channels:\n  mail:\n    email: {{ host: 127.0.0.1, port: {}, tls: none, from: \"syncwatch <alerts@example.com>\", to: [ops@example.com] }}\n    digest: off\ndefaults:\n  notify: [mail]\n  repeat_interval: 0s\nrules:\n  - name: bills-failing\n    when: {{ failed: {{ above: 0 }} }}\n",
        smtp.addr.port()
    ))
    .await;
    let sync = |id: &str, status: &str| {
        format!(
            r#"{{"data":{{"event":"data","connectionId":"CON-1","businessName":"Acme","serviceName":"xero","sandbox":false,"requests":[{{"request":"bills","status":"{status}"}}]}},"requestId":"{id}"}}"#
        )
    };
    app.post_ok(sync("f1", "failed")).await;
    assert!(eventually(WAIT, || smtp.accepted().len() == 1).await);
    app.post_ok(sync("f2", "failed")).await;
    assert!(eventually(WAIT, || smtp.accepted().len() == 2).await);
    app.post_ok(sync("c1", "success")).await;
    assert!(eventually(WAIT, || smtp.accepted().len() == 3).await);
    let mails = smtp.accepted();
    let ids: Vec<String> = mails
        .iter()
        .map(|m| header(m, "Message-ID").expect("a Message-ID"))
        .collect();
    for id in &ids {
        assert!(id.starts_with("<syncwatch.") && id.ends_with("@example.com>"), "{id}");
    }
    assert_eq!(ids.iter().collect::<std::collections::HashSet<_>>().len(), 3, "{ids:?}");
    let firing = &ids[0];
    assert_eq!(header(&mails[0], "In-Reply-To"), None);
    for follow_up in &mails[1..] {
        assert_eq!(header(follow_up, "In-Reply-To").as_ref(), Some(firing));
        assert_eq!(header(follow_up, "References").as_ref(), Some(firing));
    }
    // Each subject keeps the FIRING's stable part: the tool, the rule, the business.
    for mail in &mails {
        let subject = header(mail, "Subject").unwrap();
        assert!(
            subject.contains("[syncwatch]") && subject.contains("bills-failing"),
            "{subject}"
        );
    }
}
