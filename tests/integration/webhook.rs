//! What the webhook endpoint answers, for good and bad requests.

use serde_json::json;

use crate::helpers::{fixture, spawn_app};

const RULES: &str = "rules:\n  - name: failed\n    notify: []\n    when: { failed: { above: 0 } }\n";

#[tokio::test]
async fn each_fixture_is_accepted() {
    for name in ["data-full.json", "data-simple.json", "data-per-type.json"] {
        let app = spawn_app(RULES).await;
        let body = std::fs::read(fixture(name)).unwrap();
        let (status, answer) = app.post_json(body).await;
        assert_eq!((status, answer), (200, json!({ "status": "accepted" })), "{name}");
    }
}

#[tokio::test]
async fn the_full_and_simple_fixtures_are_two_events_each_accepted_once() {
    let app = spawn_app(RULES).await;
    let full = std::fs::read(fixture("data-full.json")).unwrap();
    let simple = std::fs::read(fixture("data-simple.json")).unwrap();
    assert_eq!(app.post_json(full.clone()).await.1, json!({ "status": "accepted" }));
    assert_eq!(app.post_json(simple.clone()).await.1, json!({ "status": "accepted" }));
    assert_eq!(app.post_json(full).await.1, json!({ "status": "duplicate" }));
    assert_eq!(app.post_json(simple).await.1, json!({ "status": "duplicate" }));
}

#[tokio::test]
async fn a_redelivered_request_id_answers_duplicate() {
    let app = spawn_app(RULES).await;
    let body = std::fs::read(fixture("data-full.json")).unwrap();
    assert_eq!(app.post_json(body.clone()).await.1, json!({ "status": "accepted" }));
    assert_eq!(app.post_json(body).await, (200, json!({ "status": "duplicate" })));
}

#[tokio::test]
async fn an_event_without_request_id_is_deduplicated_by_its_body() {
    let app = spawn_app(RULES).await;
    let body = r#"{"data":{"event":"auth","connectionId":"CON-1"}}"#;
    assert_eq!(app.post_json(body).await.1, json!({ "status": "accepted" }));
    assert_eq!(app.post_json(body).await.1, json!({ "status": "duplicate" }));
    let other = r#"{"data":{"event":"auth","connectionId":"CON-2"}}"#;
    assert_eq!(app.post_json(other).await.1, json!({ "status": "accepted" }));
}

#[tokio::test]
async fn each_kind_of_malformed_body_gets_400_saying_why() {
    let app = spawn_app(RULES).await;
    let cases = [
        (
            "",
            "body is not JSON: EOF while parsing a value at line 1 column 0",
            "$",
        ),
        (
            "{\"data\": ",
            "body is not JSON: EOF while parsing a value at line 1 column 9",
            "$",
        ),
        (
            "[]",
            "body is an array, expected a JSON object with a `data` object",
            "$",
        ),
        (
            "{\"requestId\":\"r\"}",
            "`data` is missing: a Railz webhook is {\"data\": {...}, \"requestId\": \"...\"}",
            "data",
        ),
        ("{\"data\":[1]}", "`data` must be an object, found an array", "data"),
        (
            "{\"data\":{\"requests\":7}}",
            "`data.requests` must be an array (full payload) or an object (simple payload), found a number",
            "data.requests",
        ),
        (
            "{\"data\":{\"requests\":[\"x\"]}}",
            "`data.requests[0]` must be an object, found a string",
            "data.requests[0]",
        ),
    ];
    for (body, error, path) in cases {
        let (status, answer) = app.post_json(body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer, json!({ "error": error, "path": path }), "{body}");
    }
}

#[tokio::test]
async fn a_body_over_max_body_gets_413_with_or_without_content_length() {
    let app = spawn_app("server:\n  max_body: 1KiB\n").await;
    let big = format!(r#"{{"data":{{"event":"data","businessName":"{}"}}}}"#, "x".repeat(2000));
    let (status, answer) = app.post_json(big.clone()).await;
    assert_eq!(status, 413);
    assert_eq!(
        answer,
        json!({ "error": "body is larger than server.max_body (1024 bytes)" })
    );
    // A streamed body has no Content-Length: it is counted as it arrives.
    let chunks: Vec<Result<String, std::io::Error>> = big
        .as_bytes()
        .chunks(100)
        .map(|c| Ok(String::from_utf8_lossy(c).into_owned()))
        .collect();
    let stream = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let (status, _) = app.post_json(stream).await;
    assert_eq!(status, 413);
    let small = r#"{"data":{"event":"data"}}"#;
    assert_eq!(app.post_json(small).await.0, 200, "the daemon goes on");
}

#[tokio::test]
async fn other_paths_and_methods_get_404_and_405() {
    let app = spawn_app(RULES).await;
    let get = app.client.get(app.url("/webhooks/railz")).send().await.unwrap();
    assert_eq!(get.status().as_u16(), 405);
    let elsewhere = app
        .client
        .post(app.url("/webhooks/other"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status().as_u16(), 404);
}

#[tokio::test]
async fn the_webhook_path_comes_from_the_config() {
    let app = spawn_app("server:\n  path: /hooks/railz/prod\n").await;
    assert_eq!(app.path, "/hooks/railz/prod");
    let (status, _) = app.post_json(r#"{"data":{"event":"data"}}"#).await;
    assert_eq!(status, 200);
    let default = app
        .client
        .post(app.url("/webhooks/railz"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(default.status().as_u16(), 404);
}

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let app = spawn_app(RULES).await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap(),
        json!({ "status": "ok" })
    );
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
}

#[tokio::test]
async fn a_five_thousand_request_payload_is_accepted() {
    let app = spawn_app(RULES).await;
    let requests: Vec<String> = (0..5000)
        .map(|i| format!(r#"{{"id":"{i}","request":"bills","startDate":"2020-01-01","endDate":"2020-01-31","reportFrequency":"month","status":"failed"}}"#))
        .collect();
    let body = format!(
        r#"{{"data":{{"event":"data","requests":[{}]}},"requestId":"big"}}"#,
        requests.join(",")
    );
    assert_eq!(app.post_json(body).await, (200, json!({ "status": "accepted" })));
}
