//! PagerDuty Events API v2: one alert is one incident (a trigger, and a
//! resolve with the same dedup_key, even where `send_resolved` is false);
//! 429 is retried, 400 is not, and its `errors` are told.

use std::time::Duration;

use super::stand_in::{Reply, StandIn};
use super::{BILLS, clean, failed, send_test};
use crate::helpers::{Backend, SlackStandIn, eventually, fast_settings, spawn_app, spawn_app_on};

const WAIT: Duration = Duration::from_secs(15);
const ACCEPTED: &str = r#"{"status":"success","message":"Event processed","dedup_key":"bills-failing/CON-1"}"#;
const INVALID: &str =
    r#"{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key"]}"#;

fn rules(pagerduty: &StandIn) -> String {
    format!(
        "server:\n  public_url: https://syncwatch.example.com\ndefaults:\n  notify: [oncall]\n  send_resolved: false\nchannels:\n  oncall:\n    pagerduty:\n      routing_key: R0UT1NGKEY00000000000000000000AB\n      url: {}\n{BILLS}",
        pagerduty.url("/v2/enqueue")
    )
}

async fn one_alert_is_one_incident_triggered_retried_and_resolved(backend: Backend) {
    let pagerduty = StandIn::start(Reply::new(202, ACCEPTED)).await;
    pagerduty.script(&[Reply::new(
        429,
        r#"{"status":"throttle event","message":"Requests for this service are arriving too quickly."}"#,
    )]);
    let app = spawn_app_on(&backend, &rules(&pagerduty), fast_settings()).await;
    app.post_ok(failed("f-1")).await;
    assert!(eventually(WAIT, || pagerduty.accepted().len() == 1).await);
    assert_eq!(pagerduty.received().len(), 2, "429, then the retry");
    let trigger = &pagerduty.accepted()[0];
    assert_eq!(trigger.path, "/v2/enqueue");
    let event = &trigger.body;
    assert_eq!(event["event_action"], "trigger");
    assert_eq!(event["routing_key"], "R0UT1NGKEY00000000000000000000AB");
    assert_eq!(event["dedup_key"], "bills-failing/CON-1");
    let payload = &event["payload"];
    assert_eq!(
        payload["summary"],
        "[PRODUCTION] CRITICAL bills-failing: 1 failed for Acme (xero)"
    );
    assert_eq!(payload["source"], "CON-1");
    assert_eq!(payload["severity"], "critical");
    assert_eq!(payload["component"], "xero");
    assert_eq!(payload["group"], "Acme");
    assert_eq!(payload["class"], "bills-failing");
    assert_eq!(payload["custom_details"]["failed"][0], "bills (1)");
    assert_eq!(payload["custom_details"]["request_id"], "f-1");
    assert_eq!(payload["custom_details"]["environment"], "production");
    assert_eq!(event["links"][0]["href"], "https://syncwatch.example.com/ui?q=CON-1");

    app.post_ok(clean("c-1")).await;
    assert!(eventually(WAIT, || pagerduty.accepted().len() == 2).await);
    let resolve = &pagerduty.accepted()[1].body;
    assert_eq!(
        resolve["event_action"], "resolve",
        "an incident is closed even with send_resolved: false"
    );
    assert_eq!(resolve["dedup_key"], "bills-failing/CON-1");
    assert_eq!(resolve["routing_key"], "R0UT1NGKEY00000000000000000000AB");
}

on_both_stores!(one_alert_is_one_incident_triggered_retried_and_resolved);

#[tokio::test]
async fn an_invalid_event_is_not_retried_and_pagerdutys_errors_are_kept() {
    let pagerduty = StandIn::start(Reply::new(400, INVALID)).await;
    let app = spawn_app(&rules(&pagerduty)).await;
    app.post_ok(failed("f-1")).await;
    assert!(eventually(WAIT, || pagerduty.received().len() == 1).await);
    let failed_for_good = || async { app.metrics().await.contains(r#"channel="oncall",outcome="failed""#) };
    let deadline = tokio::time::Instant::now() + WAIT;
    while !failed_for_good().await && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(failed_for_good().await, "{}", app.metrics().await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pagerduty.received().len(), 1, "a 400 is not retried");
}

#[tokio::test]
async fn send_test_explains_an_invalid_routing_key() {
    let pagerduty = StandIn::start(Reply::new(400, INVALID)).await;
    let (code, out) = send_test(&rules(&pagerduty), "oncall").await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("oncall: not delivered, permanent failure"), "{out}");
    assert!(
        out.contains("400 Event object is invalid: Invalid routing key"),
        "{out}"
    );
    assert!(out.contains("check routing_key"), "{out}");
    assert_eq!(pagerduty.received()[0].body["payload"]["severity"], "info");
}

#[tokio::test]
async fn send_resolved_false_spares_slack_the_all_clear_but_still_closes_the_incident() {
    let pagerduty = StandIn::start(Reply::new(202, ACCEPTED)).await;
    let slack = SlackStandIn::start().await;
    let rules = rules(&pagerduty)
        .replace("notify: [oncall]", "notify: [oncall, ops]")
        .replace(
            "channels:\n",
            &format!("channels:\n  ops:\n    slack: {{ webhook_url: \"{}\" }}\n", slack.url()),
        );
    let app = spawn_app(&rules).await;
    app.post_ok(failed("f-1")).await;
    assert!(eventually(WAIT, || pagerduty.accepted().len() == 1 && slack.delivered().len() == 1).await);
    app.post_ok(clean("c-1")).await;
    assert!(eventually(WAIT, || pagerduty.accepted().len() == 2).await);
    assert_eq!(pagerduty.accepted()[1].body["event_action"], "resolve");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(slack.delivered().len(), 1, "send_resolved: false holds for Slack");
}
