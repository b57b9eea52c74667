//! The Web API's error model: `ok: false` with HTTP 200 is a failure;
//! `ratelimited` and 5xx are retried; the errors that need a human fail
//! once, are counted on /metrics by name and shown on the status page;
//! `send-test` says what to do about them.

use std::time::Duration;

use super::{failed, rules};
use crate::helpers::{
    ApiReply, Backend, CHANNEL, CHANNEL_NAME, SlackApi, UNINVITED, eventually, fast_settings, spawn_app_on,
};
use crate::receivers::send_test;

const WAIT: Duration = Duration::from_secs(20);

const PERMANENT: [&str; 10] = [
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "account_inactive",
    "missing_scope",
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "msg_too_long",
    "invalid_blocks",
];

#[tokio::test]
async fn an_error_that_needs_a_human_fails_once_and_is_counted_and_shown() {
    let api = SlackApi::start().await;
    api.script("chat.postMessage", &PERMANENT.map(ApiReply::Error));
    let app = spawn_app_on(&Backend::Sqlite, &rules(&api, "digest: off"), fast_settings()).await;
    for (i, _) in PERMANENT.iter().enumerate() {
        app.post_ok(failed(&format!("CON-{i}"), &format!("f-{i}"))).await;
    }
    assert!(eventually(WAIT, || api.calls().len() == PERMANENT.len()).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(api.calls().len(), PERMANENT.len(), "none is retried");
    assert!(api.all().is_empty());

    let metrics = app.metrics().await;
    let status = app.status("").await;
    let shown = status["notifications"].to_string();
    for error in PERMANENT {
        let line = format!("syncwatch_slack_api_errors_total{{channel=\"ops\",error=\"{error}\"}} 1");
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
        assert!(shown.contains(&format!("Slack error `{error}`")), "{error} in {shown}");
    }
    assert!(shown.contains("/invite"), "what to do is shown: {shown}");
}

#[tokio::test]
async fn ratelimited_and_5xx_are_retried_until_the_message_is_posted() {
    let api = SlackApi::start().await;
    api.script("chat.postMessage", &[ApiReply::RateLimited(1), ApiReply::Status(503)]);
    let app = spawn_app_on(&Backend::Sqlite, &rules(&api, "digest: off"), fast_settings()).await;
    app.post_ok(failed("CON-1", "f-1")).await;
    assert!(
        eventually(WAIT, || api.top_level().len() == 1).await,
        "{:?}",
        api.calls()
    );
    assert_eq!(api.errors(), ["ratelimited", "http_503"]);
    let metrics = app.metrics().await;
    assert!(metrics.contains("syncwatch_slack_api_errors_total{channel=\"ops\",error=\"ratelimited\"} 1"));
}

#[tokio::test]
async fn channels_posting_to_one_slack_channel_share_its_pace() {
    let api = SlackApi::start().await;
    api.limit_posts(Duration::from_millis(900));
    let channel = format!(
        "slack: {{ bot_token: xoxb-test-token, channel: {CHANNEL}, api_url: '{}', min_interval: 1s }}\n    digest: off",
        api.url()
    );
    let rules = format!(
        "channels:\n  a:\n    {channel}\n  b:\n    {channel}\ndefaults:\n  notify: [a, b]\n{}",
        super::BILLS
    );
    let app = spawn_app_on(&Backend::Sqlite, &rules, fast_settings()).await;
    for i in 0..3 {
        app.post_ok(failed(&format!("CON-{i}"), &format!("f-{i}"))).await;
    }
    assert!(
        eventually(WAIT, || api.top_level().len() == 6).await,
        "{:?}",
        api.errors()
    );
    assert!(
        api.errors().is_empty(),
        "one pace for both channels: {:?}",
        api.errors()
    );
}

#[tokio::test]
async fn send_test_checks_the_token_and_posts_a_test_message() {
    let api = SlackApi::start().await;
    let rules = format!("channels:\n  ops:\n    {}\n", api.channel_yaml(CHANNEL_NAME));
    let (code, output) = send_test(&rules, "ops").await;
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output.contains("the token works: app user syncwatch in workspace Test Workspace"),
        "{output}"
    );
    assert!(output.contains("test notification delivered"), "{output}");
    assert_eq!(api.top_level().len(), 1);
    assert!(api.top_level()[0].words().contains("syncwatch-test"));
    let methods: Vec<String> = api.calls().into_iter().map(|c| c.method).collect();
    assert_eq!(methods, ["auth.test", "chat.postMessage"]);
}

#[tokio::test]
async fn send_test_says_what_to_do_about_each_error() {
    let api = SlackApi::start().await;
    let channel = |id: &str| format!("channels:\n  ops:\n    {}\n", api.channel_yaml(id));
    let cases = [
        (channel(UNINVITED), "not_in_channel", "/invite"),
        (channel("C0UNKNOWN"), "channel_not_found", "use the channel's id"),
        (
            channel(CHANNEL).replace("xoxb-test-token", "xoxb-revoked"),
            "invalid_auth",
            "auth.test failed",
        ),
    ];
    for (rules, error, advice) in cases {
        let (code, output) = send_test(&rules, "ops").await;
        assert_eq!(code, Some(1), "{output}");
        assert!(output.contains(error) && output.contains(advice), "{error}: {output}");
    }
    // Slack's own trouble says nothing about the token.
    api.script("auth.test", &[ApiReply::Status(500)]);
    let (code, output) = send_test(&channel(CHANNEL), "ops").await;
    assert_eq!(code, Some(1));
    assert!(
        output.contains("auth.test failed for now") && !output.contains("the token does not work"),
        "{output}"
    );
    api.script("chat.postMessage", &[ApiReply::Error("missing_scope")]);
    let (code, output) = send_test(&channel(CHANNEL), "ops").await;
    assert_eq!(code, Some(1));
    assert!(
        output.contains("missing_scope") && output.contains("chat:write"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bot_token_never_appears_in_the_daemons_log() {
    let api = SlackApi::start().await;
    api.script("chat.postMessage", &[ApiReply::Error("invalid_auth")]);
    let state = tempfile::tempdir().unwrap();
    let port = crate::helpers::free_port();
    let rules = crate::helpers::RulesFile::new(&format!(
        "server:\n  listen: 127.0.0.1:{port}\nstorage:\n  path: {}/db\n{}",
        state.path().display(),
        rules(&api, "digest: off")
    ));
    let log = state.path().join("log");
    let daemon = crate::helpers::Daemon::start_logging(&rules.path, port, &log, &[]).await;
    let client = crate::helpers::client();
    for (connection, request_id) in [("CON-1", "f-1"), ("CON-2", "f-2")] {
        let body = failed(connection, request_id);
        client
            .post(daemon.url("/webhooks/railz"))
            .body(body)
            .send()
            .await
            .unwrap();
    }
    assert!(eventually(WAIT, || api.top_level().len() == 1).await);
    assert_eq!(daemon.terminate(), Some(0));
    let output = std::fs::read_to_string(&log).unwrap();
    assert!(
        output.contains("Slack error `invalid_auth`"),
        "the error is logged: {output}"
    );
    assert!(!output.contains(crate::helpers::TOKEN), "the token leaked:\n{output}");
}
