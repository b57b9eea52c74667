//! The signed webhook: a versioned JSON document, signed per Standard
//! Webhooks; a retry carries the same `webhook-id`; every kind of document
//! matches the JSON Schema published in `docs/webhook.schema.json`.

use std::time::{Duration, SystemTime};

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::stand_in::{Reply, Request, StandIn};
use super::{BILLS, clean, failed};
use crate::helpers::{Backend, eventually, fast_settings, spawn_app, spawn_app_on, sync};

const WAIT: Duration = Duration::from_secs(15);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn rules(hook: &StandIn, extra: &str) -> String {
    format!(
        "server:\n  public_url: https://syncwatch.example.com\ndefaults:\n  notify: [hooks]\n{extra}channels:\n  hooks:\n    webhook:\n      url: {}\n      secret: {SECRET}\n      headers: {{ X-Team: finance }}\n{BILLS}",
        hook.url("/hooks/syncwatch")
    )
}

/// Verifies a request as a Standard Webhooks receiver does: the HMAC of
/// `id.timestamp.body` under the decoded secret, and a fresh timestamp.
fn verify(request: &Request) {
    let id = &request.headers["webhook-id"];
    let timestamp = &request.headers["webhook-timestamp"];
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{}", request.raw).as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let signatures = &request.headers["webhook-signature"];
    assert!(
        signatures.split(' ').any(|s| s == format!("v1,{expected}")),
        "{signatures} does not sign the body"
    );
    let sent: u64 = timestamp.parse().unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        now.abs_diff(sent) < 300,
        "a timestamp of the attempt, not of the queueing"
    );
}

async fn fires_is_retried_with_the_same_id_and_resolves(backend: Backend) {
    let hook = StandIn::start(Reply::new(200, "")).await;
    hook.script(&[Reply::new(503, "busy")]);
    let app = spawn_app_on(&backend, &rules(&hook, ""), fast_settings()).await;
    app.post_ok(failed("f-1")).await;
    assert!(eventually(WAIT, || hook.accepted().len() == 1).await);
    let attempts = hook.received();
    assert_eq!(attempts.len(), 2, "one 503, then the retry");
    assert_eq!(
        attempts[0].headers["webhook-id"], attempts[1].headers["webhook-id"],
        "the retry is the same message to the receiver"
    );
    let firing = &attempts[1];
    verify(firing);
    assert_eq!(firing.path, "/hooks/syncwatch");
    assert_eq!(firing.headers["x-team"], "finance");
    assert_eq!(firing.headers["content-type"], "application/json");
    let document = &firing.body;
    assert_eq!(
        (document["version"].as_u64(), document["kind"].as_str()),
        (Some(1), Some("firing"))
    );
    let alert = &document["alert"];
    assert_eq!(alert["key"], "bills-failing/CON-1");
    assert_eq!(alert["state"], "FIRING");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["business"], "Acme");
    assert_eq!(alert["request_id"], "f-1");
    assert_eq!(alert["link"], "https://syncwatch.example.com/ui?q=CON-1");
    assert_eq!(alert["problems"][0]["lines"][0], "bills (1)");

    app.post_ok(clean("c-1")).await;
    assert!(eventually(WAIT, || hook.accepted().len() == 2).await);
    let resolved = &hook.accepted()[1];
    verify(resolved);
    assert_ne!(resolved.headers["webhook-id"], firing.headers["webhook-id"]);
    assert_eq!(resolved.body["kind"], "resolved");
    assert_eq!(resolved.body["alert"]["since"], alert["since"]);
    assert_eq!(resolved.body["alert"]["clean_request_id"], "c-1");
}

on_both_stores!(fires_is_retried_with_the_same_id_and_resolves);

#[tokio::test]
async fn a_receiver_that_is_gone_is_a_permanent_failure() {
    let hook = StandIn::start(Reply::new(410, "gone")).await;
    let app = spawn_app(&rules(&hook, "")).await;
    app.post_ok(failed("f-1")).await;
    let failed_for_good = || async {
        let metrics = app.metrics().await;
        metrics.contains("channel=\"hooks\"") && metrics.contains("outcome=\"failed\"")
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while !failed_for_good().await && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(failed_for_good().await, "{}", app.metrics().await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.received().len(), 1, "410 is not retried");
}

#[tokio::test]
async fn every_kind_of_document_matches_the_published_schema() {
    let schema_text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/webhook.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&schema_text).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid JSON Schema");
    let hook = StandIn::start(Reply::new(202, "")).await;
    let extra = "  repeat_interval: 0s\n";
    let digest = "    digest: { after: 3, window: 2s }\n";
    let with_digest = rules(&hook, extra).replace("    webhook:\n", &format!("{digest}    webhook:\n"));
    let app = spawn_app(&with_digest).await;
    // FIRING, STILL FAILING, RESOLVED one by one; the rest of the window's
    // notifications in one digest at its end.
    for body in [
        failed("f-1"),
        failed("f-2"),
        clean("c-1"),
        sync("CON-2", "f-3", "failed"),
    ] {
        app.post_ok(body).await;
    }
    assert!(eventually(WAIT, || hook.accepted().iter().any(|r| r.body["kind"] == "digest")).await);
    // A rule removed by a reload closes its alerts: CLOSED, not RESOLVED.
    app.post_ok(sync("CON-3", "f-4", "failed")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.reload(&with_digest.replace(BILLS, "rules: []\n")).await;
    assert!(eventually(WAIT, || hook.accepted().iter().any(|r| r.body["kind"] == "closed")).await);

    let documents: Vec<serde_json::Value> = hook.accepted().into_iter().map(|r| r.body).collect();
    let kinds: Vec<&str> = documents.iter().filter_map(|d| d["kind"].as_str()).collect();
    for kind in ["firing", "still_failing", "resolved", "digest", "closed"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    for document in &documents {
        let errors: Vec<String> = validator
            .iter_errors(document)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{document:#}\n{errors:#?}");
    }
    let closed = documents.iter().find(|d| d["kind"] == "closed").unwrap();
    assert!(
        closed["alert"]["reason"].as_str().unwrap().contains("removed"),
        "{closed:#}"
    );
    assert_eq!(closed["alert"]["state"], "CLOSED");
}
