//! The status page: /api/status as JSON, and /ui as a person sees it in a
//! real browser (headless Chromium from Debian's package, `--dump-dom`:
//! the DOM after the page's script ran).

use std::time::Duration;

use crate::helpers::{SlackStandIn, TestApp, fixture, spawn_app};

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

async fn app_with_data() -> (TestApp, SlackStandIn) {
    let slack = SlackStandIn::start().await;
    let app = spawn_app(&format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\ndefaults:\n  notify: [ops]\nrules:\n  - name: production-sync-failed\n    severity: critical\n    when: {{ environment: production, failed: {{ above: 0 }} }}\n  - name: stopped-syncing\n    when: {{ no_sync_for: 26h }}\n",
        slack.url()
    ))
    .await;
    let failing = std::fs::read_to_string(fixture("data-full.json")).unwrap();
    assert_eq!(app.post_json(failing).await.0, 200);
    let healthy = r#"{"data":{"event":"data","connectionId":"CON-HEALTHY","businessName":"Healthy Co","serviceName":"xero","sandbox":false,"requests":[{"request":"bills","status":"success"}]},"requestId":"healthy"}"#;
    assert_eq!(app.post_json(healthy.to_owned()).await.0, 200);
    let hostile = format!(
        r#"{{"data":{{"event":"data","connectionId":"CON-HOSTILE","businessName":"{HOSTILE}","serviceName":"xero","sandbox":false,"requests":[{{"request":"bills","status":"failed"}}]}},"requestId":"hostile"}}"#
    );
    assert_eq!(app.post_json(hostile).await.0, 200);
    (app, slack)
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_lists_alerts_connections_and_filters_and_pages() {
    let (app, _slack) = app_with_data().await;
    let response = get(&app, "/api/status").await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let status: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status["totals"]["firing"], 2);
    assert_eq!(status["totals"]["known_connections"], 3);
    let alert = &status["alerts"][0];
    assert_eq!(
        (alert["rule"].as_str(), alert["severity"].as_str()),
        (Some("production-sync-failed"), Some("critical"))
    );
    assert_eq!(alert["service"], "quickbooks");
    let rows = status["connections"]["rows"].as_array().unwrap();
    let healthy = rows.iter().find(|r| r["id"] == "CON-HEALTHY").unwrap();
    assert_eq!(healthy["state"], "ok");
    let days = healthy["days"].as_array().unwrap();
    assert_eq!(days.len(), 14);
    assert_eq!(days[13]["outcome"], "clean");
    assert_eq!(days[0]["outcome"], "none");

    let filtered: serde_json::Value = get(&app, "/api/status?service=xero").await.json().await.unwrap();
    assert_eq!(filtered["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(filtered["connections"]["total"], 2);
    let paged: serde_json::Value = get(&app, "/api/status?per_page=1&page=2").await.json().await.unwrap();
    assert_eq!(paged["connections"]["rows"].as_array().unwrap().len(), 1);
    assert_eq!(paged["connections"]["total"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_in_a_browser_shows_alerts_connections_and_strips_and_treats_names_as_text() {
    let (app, _slack) = app_with_data().await;
    let response = get(&app, "/ui").await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let page = app.dom("/ui").await;
    assert!(page.contains("production-sync-failed"), "{page}");
    assert!(page.contains("CON-HEALTHY") && page.contains("Healthy Co"), "{page}");
    assert!(
        page.contains("class=\"day day-failed\""),
        "the strip shows today's failure: {page}"
    );
    assert!(
        page.contains("failed, ") || page.contains(" failed"),
        "with a text equivalent: {page}"
    );
    // The hostile business name is text, never an element.
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"), "{page}");
    assert!(!page.contains("<img"), "{page}");
    assert!(page.contains("updated 20"), "the page rendered the API: {page}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_filter_from_the_address_keeps_only_matching_rows() {
    let (app, _slack) = app_with_data().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let page = app.dom("/ui?q=Healthy").await;
    let connections = page
        .split("id=\"connections\"")
        .nth(1)
        .and_then(|rest| rest.split("</table>").next())
        .unwrap_or_default();
    assert!(connections.contains("CON-HEALTHY"), "{connections}");
    assert!(!connections.contains("CON-0a4e97aa"), "{connections}");
    assert!(page.contains("No firing or pending alert."), "{page}");
}
