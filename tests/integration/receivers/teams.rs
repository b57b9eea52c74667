//! Microsoft Teams Workflows: one Adaptive Card per message, payload values
//! shown as text, within Teams' 28 KB; 429 waits for its Retry-After; a
//! refusal is explained by send-test.

use std::time::Duration;

use super::stand_in::{Reply, StandIn};
use super::{BILLS, clean, send_test};
use crate::helpers::{Backend, eventually, fast_settings, spawn_app, spawn_app_on};

const WAIT: Duration = Duration::from_secs(15);

fn rules(teams: &StandIn) -> String {
    format!(
        "server:\n  public_url: https://syncwatch.example.com\ndefaults:\n  notify: [finance-teams]\nchannels:\n  finance-teams:\n    teams:\n      webhook_url: {}\n{BILLS}",
        teams.url("/workflows/abc/triggers/manual/paths/invoke?sig=s3cret")
    )
}

/// A failed sync of CON-1 for a business whose name is markdown.
fn hostile(request_id: &str, failed: usize) -> String {
    let requests: Vec<String> = (0..failed)
        .map(|i| {
            let (year, month) = (2018 + i / 12, i % 12 + 1);
            format!(
                r#"{{"request":"bills","status":"failed","startDate":"{year}-{month:02}-01","endDate":"{year}-{month:02}-28","reportFrequency":"month","id":"{i}"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"data":{{"event":"data","connectionId":"CON-1","businessName":"[x](http://evil) **now**","serviceName":"xero","sandbox":false,"requests":[{}]}},"requestId":"{request_id}"}}"#,
        requests.join(",")
    )
}

fn card_of(message: &serde_json::Value) -> &serde_json::Value {
    assert_eq!(message["type"], "message");
    let attachment = &message["attachments"][0];
    assert_eq!(attachment["contentType"], "application/vnd.microsoft.card.adaptive");
    &attachment["content"]
}

async fn a_card_fires_waits_out_a_429_and_resolves(backend: Backend) {
    let teams = StandIn::start(Reply::new(202, "")).await;
    teams.script(&[Reply::new(429, "").with_header("Retry-After", "1")]);
    let app = spawn_app_on(&backend, &rules(&teams), fast_settings()).await;
    app.post_ok(hostile("f-1", 1)).await;
    assert!(eventually(WAIT, || teams.accepted().len() == 1).await);
    let attempts = teams.received();
    assert_eq!(attempts.len(), 2, "429, then the retry");
    assert!(
        attempts[1].at - attempts[0].at >= Duration::from_millis(950),
        "the retry waited for Retry-After"
    );
    assert_eq!(attempts[1].path, "/workflows/abc/triggers/manual/paths/invoke");
    let card = card_of(&attempts[1].body);
    assert_eq!(
        (card["type"].as_str(), card["version"].as_str()),
        (Some("AdaptiveCard"), Some("1.5"))
    );
    assert_eq!(card["body"][0]["text"], "CRITICAL bills-failing · FIRING");
    let text = card.to_string();
    assert!(
        !text.contains("[x](http://evil)"),
        "markdown from the payload is escaped: {text}"
    );
    assert!(text.contains(r"\\[x\\](http://evil) \\*\\*now\\*\\*"), "{text}");
    let facts = card["body"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "FactSet")
        .unwrap();
    let titles: Vec<&str> = facts["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["title"].as_str().unwrap())
        .collect();
    for title in [
        "Environment",
        "Business",
        "Since",
        "Connection",
        "Service",
        "Request ID",
    ] {
        assert!(titles.contains(&title), "{title} in {titles:?}");
    }
    assert!(text.contains("bills month 2018-01-01..2018-01-28"), "{text}");
    assert!(text.contains("f-1"), "the requestId: {text}");
    assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(card["actions"][0]["url"], "https://syncwatch.example.com/ui?q=CON-1");

    app.post_ok(clean("c-1")).await;
    assert!(eventually(WAIT, || teams.accepted().len() == 2).await);
    let resolved = card_of(&teams.accepted()[1].body).clone();
    assert_eq!(resolved["body"][0]["text"], "RESOLVED bills-failing");
    assert_eq!(resolved["body"][0]["color"], "Good");
}

on_both_stores!(a_card_fires_waits_out_a_429_and_resolves);

#[tokio::test]
async fn a_storm_of_failed_requests_is_one_card_under_28_kb() {
    let teams = StandIn::start(Reply::new(202, "")).await;
    let app = spawn_app(&rules(&teams)).await;
    app.post_ok(hostile("f-1", 5000)).await;
    assert!(eventually(WAIT, || teams.accepted().len() == 1).await);
    let sent = &teams.accepted()[0];
    assert!(sent.raw.len() < 28 * 1024, "{} bytes", sent.raw.len());
    assert!(sent.raw.contains(" more"), "the rest is counted: {}", sent.raw);
}

#[tokio::test]
async fn send_test_explains_a_refused_workflow() {
    let teams = StandIn::start(Reply::new(404, r#"{"error":{"code":"WorkflowNotFound"}}"#)).await;
    let (code, out) = send_test(&rules(&teams), "finance-teams").await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("finance-teams: not delivered, permanent failure"), "{out}");
    assert!(out.contains("404"), "{out}");
    assert!(out.contains("Teams refused the message"), "{out}");
    assert!(!out.contains("sig=s3cret"), "the URL is a credential: {out}");
}
