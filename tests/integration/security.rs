//! Only Railz gets in: each 401 reason over HTTP, and no secret in the
//! daemon's output.

use std::time::{Duration, SystemTime};

use serde_json::json;
use syncwatch::verify::sign;

use crate::helpers::{Daemon, RulesFile, SlackStandIn, eventually, fixture, free_port, spawn_app};

const SECURED: &str = "security:\n  signing_secret: [old-secret, whsec-test]\n  bearer_token: tok-test\n";

fn body() -> Vec<u8> {
    std::fs::read(fixture("data-full.json")).unwrap()
}

async fn post(
    app: &crate::helpers::TestApp,
    signature: Option<String>,
    token: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut request = app.client.post(app.url(&app.path)).body(body());
    if let Some(signature) = signature {
        request = request.header("Railz-Signature", signature);
    }
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_signed_request_with_the_token_is_accepted() {
    let app = spawn_app(SECURED).await;
    let signature = sign("whsec-test", &body(), SystemTime::now());
    assert_eq!(
        post(&app, Some(signature), Some("tok-test")).await,
        (200, json!({ "status": "accepted" }))
    );
}

#[tokio::test]
async fn each_failed_check_is_a_401_that_names_it() {
    let app = spawn_app(SECURED).await;
    let now = SystemTime::now();
    let cases = [
        (None, Some("tok-test"), "signature_missing"),
        (Some("t=abc".to_owned()), Some("tok-test"), "signature_malformed"),
        (
            Some(sign("whsec-test", &body(), now - Duration::from_secs(600))),
            Some("tok-test"),
            "signature_stale",
        ),
        (
            Some(sign("wrong", &body(), now)),
            Some("tok-test"),
            "signature_mismatch",
        ),
        (Some(sign("whsec-test", &body(), now)), None, "token_missing"),
        (Some(sign("whsec-test", &body(), now)), Some("nope"), "token_mismatch"),
    ];
    for (signature, token, check) in cases {
        let (status, answer) = post(&app, signature, token).await;
        assert_eq!(status, 401, "{check}");
        assert_eq!(answer["check"], check);
        let text = answer.to_string();
        assert!(!text.contains("whsec-test") && !text.contains("tok-test"), "{text}");
    }
    // Nothing refused was stored: the same requestId is new when signed.
    let signature = sign("old-secret", &body(), now);
    assert_eq!(
        post(&app, Some(signature), Some("tok-test")).await.1,
        json!({ "status": "accepted" })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_appears_in_the_daemons_output() {
    let slack = SlackStandIn::start().await;
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let password_file = state.path().join("smtp-password");
    std::fs::write(&password_file, "smtp-pass-SECRET\n").unwrap();
    let rules = RulesFile::new(&format!(
        "server:\n  listen: 127.0.0.1:{port}\nstorage:\n  path: {}/db\nsecurity:\n  signing_secret: sign-SECRET\n  bearer_token: token-SECRET\nchannels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n  mail:\n    email: {{ host: 127.0.0.1, port: 1, tls: none, username: u, password_file: {}, from: a@b.c, to: d@e.f }}\ndefaults:\n  notify: [ops, mail]\nrules:\n  - name: failed\n    when: {{ failed: {{ above: 0 }} }}\n",
        state.path().display(),
        slack.url(),
        password_file.display()
    ));
    let log = state.path().join("log");
    let daemon = Daemon::start_logging(&rules.path, port, &log, &[]).await;
    let client = crate::helpers::client();
    let url = daemon.url("/webhooks/railz");
    let signature = sign("sign-SECRET", &body(), SystemTime::now());
    let cases = [
        (Some(signature.clone()), Some("token-SECRET")),
        (Some(signature), Some("wrong")),
        (Some(sign("other", &body(), SystemTime::now())), Some("token-SECRET")),
        (None, None),
    ];
    for (signature, token) in cases {
        let mut request = client.post(&url).body(body());
        if let Some(signature) = signature {
            request = request.header("Railz-Signature", signature);
        }
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        request.send().await.unwrap();
    }
    assert!(eventually(Duration::from_secs(10), || slack.delivered().len() == 1).await);
    // The SMTP channel (port 1) fails and logs its error too.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(daemon.terminate(), Some(0));
    let output = std::fs::read_to_string(&log).unwrap();
    assert!(
        output.contains("event rejected") && output.contains("notification sent"),
        "{output}"
    );
    assert!(output.contains("notification failed"), "{output}");
    for secret in [
        "sign-SECRET",
        "token-SECRET",
        "smtp-pass-SECRET",
        "/services/T000/B000/XXXX",
    ] {
        assert!(!output.contains(secret), "{secret} leaked:\n{output}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn listening_beyond_loopback_without_signature_or_token_is_warned_about() {
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let open = RulesFile::new(&format!(
        "server:\n  listen: 0.0.0.0:{port}\nstorage:\n  path: {}/db\n",
        state.path().display()
    ));
    let log = state.path().join("log");
    let daemon = Daemon::start_logging(&open.path, port, &log, &[]).await;
    assert_eq!(daemon.terminate(), Some(0));
    let output = std::fs::read_to_string(&log).unwrap();
    assert!(
        output.contains("listening beyond loopback with neither security.signing_secret nor security.bearer_token"),
        "{output}"
    );
}
