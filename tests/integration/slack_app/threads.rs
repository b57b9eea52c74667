//! Where a message goes when its thread is not as expected: the message
//! to update or reply to was deleted, a digest told the alert, a payload
//! at Slack's limits.

use std::time::Duration;

use super::{clean, failed, rules};
use crate::helpers::{ApiReply, Backend, SlackApi, eventually, fast_settings, spawn_app_on};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn replies_queued_before_their_firing_was_posted_find_its_thread() {
    let api = SlackApi::start().await;
    api.script(
        "chat.postMessage",
        &[ApiReply::Status(503), ApiReply::Status(503), ApiReply::Status(503)],
    );
    let app = spawn_app_on(&Backend::Sqlite, &rules(&api, "digest: off"), fast_settings()).await;
    app.post_ok(failed("CON-1", "f-1")).await;
    app.post_ok(failed("CON-1", "f-2")).await;
    app.post_ok(clean("CON-1", "c-1")).await;
    let resolved = || api.top_level().first().is_some_and(|m| m.updates == 1);
    assert!(eventually(WAIT, resolved).await, "{:?}", api.calls());
    let top = api.top_level();
    assert_eq!((top.len(), top[0].header().as_str()), (1, "✅ RESOLVED bills-failing"));
    assert!(eventually(WAIT, || api.replies(&top[0].ts).len() == 2).await);
}

#[tokio::test]
async fn a_channel_that_becomes_an_app_mid_alert_threads_from_its_next_message() {
    let (api, webhook) = (SlackApi::start().await, crate::helpers::SlackStandIn::start().await);
    let as_webhook = format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: '{}', min_interval: 0s }}\n    digest: off\ndefaults:\n  notify: [ops]\n{}",
        webhook.url(),
        super::BILLS
    );
    let app = spawn_app_on(&Backend::Sqlite, &as_webhook, fast_settings()).await;
    app.post_ok(failed("CON-1", "f-1")).await;
    assert!(eventually(WAIT, || webhook.delivered().len() == 1).await);
    // Posting by `#name`: Slack answers the id, which chat.update needs.
    let as_app = rules(&api, "digest: off").replace(crate::helpers::CHANNEL, crate::helpers::CHANNEL_NAME);
    app.reload(&as_app).await;
    app.post_ok(failed("CON-1", "f-2")).await;
    app.post_ok(failed("CON-1", "f-3")).await;
    app.post_ok(clean("CON-1", "c-1")).await;
    let resolved = || api.top_level().first().is_some_and(|m| m.updates == 1);
    assert!(eventually(WAIT, resolved).await, "{:?}", api.calls());
    let top = api.top_level();
    assert_eq!(top.len(), 1, "the first STILL FAILING became the alert's message");
    assert!(top[0].words().contains("f-2"));
    assert!(eventually(WAIT, || api.replies(&top[0].ts).len() == 2).await);
}

#[tokio::test]
async fn a_resolved_whose_message_was_deleted_is_a_new_message() {
    let api = SlackApi::start().await;
    let app = spawn_app_on(&Backend::Sqlite, &rules(&api, "digest: off"), fast_settings()).await;
    app.post_ok(failed("CON-1", "f-1")).await;
    assert!(eventually(WAIT, || api.top_level().len() == 1).await);
    api.delete(&api.top_level()[0].ts);
    app.post_ok(clean("CON-1", "c-1")).await;
    assert!(
        eventually(WAIT, || api.top_level().len() == 1).await,
        "{:?}",
        api.calls()
    );
    assert_eq!(api.top_level()[0].header(), "✅ RESOLVED bills-failing");
    assert_eq!(api.errors(), ["message_not_found"]);
}

#[tokio::test]
async fn a_message_slack_cannot_update_is_told_anew() {
    let api = SlackApi::start().await;
    api.script("chat.update", &[ApiReply::Error("cant_update_message")]);
    let app = spawn_app_on(&Backend::Sqlite, &rules(&api, "digest: off"), fast_settings()).await;
    app.post_ok(failed("CON-1", "f-1")).await;
    app.post_ok(clean("CON-1", "c-1")).await;
    assert!(
        eventually(WAIT, || api.top_level().len() == 2).await,
        "{:?}",
        api.calls()
    );
    let headers: Vec<String> = api.top_level().iter().map(|m| m.header()).collect();
    assert_eq!(headers, ["CRITICAL bills-failing", "✅ RESOLVED bills-failing"]);
}

#[tokio::test]
async fn a_reply_whose_parent_is_gone_starts_the_thread_again() {
    let api = SlackApi::start().await;
    let app = spawn_app_on(&Backend::Sqlite, &rules(&api, "digest: off"), fast_settings()).await;
    app.post_ok(failed("CON-1", "f-1")).await;
    assert!(eventually(WAIT, || api.top_level().len() == 1).await);
    api.delete(&api.top_level()[0].ts);
    app.post_ok(failed("CON-1", "f-2")).await;
    assert!(eventually(WAIT, || api.top_level().len() == 1).await);
    app.post_ok(clean("CON-1", "c-1")).await;
    let parent = api.top_level()[0].ts.clone();
    assert!(
        eventually(WAIT, || api.replies(&parent).len() == 1).await,
        "{:?}",
        api.all()
    );
    let top = api.top_level();
    assert_eq!((top.len(), top[0].header().as_str()), (1, "✅ RESOLVED bills-failing"));
    assert!(top[0].words().contains("f-2"), "the STILL FAILING became the parent");
}

#[tokio::test]
async fn an_alert_told_only_in_a_digest_resolves_in_the_digests_thread() {
    let api = SlackApi::start().await;
    let digest = "digest: { after: 1, window: 1s, max_items: 20 }";
    let app = spawn_app_on(&Backend::Sqlite, &rules(&api, digest), fast_settings()).await;
    for connection in ["CON-1", "CON-2", "CON-3"] {
        app.post_ok(failed(connection, &format!("f-{connection}"))).await;
    }
    assert!(eventually(WAIT, || api.top_level().len() == 2).await, "{:?}", api.all());
    let digest = api.top_level()[1].clone();
    assert!(digest.words().contains("CON-3"), "{}", digest.words());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.post_ok(clean("CON-3", "c-3")).await;
    assert!(
        eventually(WAIT, || api.replies(&digest.ts).len() == 1).await,
        "{:?}",
        api.all()
    );
    assert_eq!(api.replies(&digest.ts)[0].header(), "✅ RESOLVED bills-failing");
    assert!(api.replies(&digest.ts)[0].words().contains("CON-3"));
    assert_eq!(api.top_level().len(), 2, "no new message");
    assert_eq!(api.top_level()[1].updates, 0, "a digest is never rewritten");
}

#[tokio::test]
async fn an_alert_whose_resolved_went_out_in_a_digest_has_its_message_rewritten() {
    let api = SlackApi::start().await;
    let digest = "digest: { after: 1, window: 1s, max_items: 20 }";
    let app = spawn_app_on(&Backend::Sqlite, &rules(&api, digest), fast_settings()).await;
    for (i, connection) in ["CON-1", "CON-2"].into_iter().enumerate() {
        app.post_ok(failed(connection, &format!("f-{connection}"))).await;
        assert!(eventually(WAIT, || api.top_level().len() == i + 1).await);
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    app.post_ok(clean("CON-2", "c-2")).await;
    app.post_ok(clean("CON-1", "c-1")).await;
    assert!(eventually(WAIT, || api.top_level().len() == 3).await, "{:?}", api.all());
    assert!(
        eventually(WAIT, || api.top_level()[0].updates == 1).await,
        "{:?}",
        api.calls()
    );
    let top = api.top_level();
    let headers: Vec<String> = top.iter().map(|m| m.header()).collect();
    assert_eq!(headers[..2], ["✅ RESOLVED bills-failing", "✅ RESOLVED bills-failing"]);
    assert!(
        top[0].words().contains("clean sync requestId c-1"),
        "{}",
        top[0].words()
    );
    assert!(
        top[2].words().contains("CON-1"),
        "the digest tells it: {}",
        top[2].words()
    );
    assert!(api.replies(&top[0].ts).is_empty(), "the digest told it; no reply");
    assert_eq!(api.replies(&top[1].ts).len(), 1);
}

#[tokio::test]
async fn every_message_stays_within_slacks_limits() {
    let api = SlackApi::start().await;
    let app = spawn_app_on(&Backend::Sqlite, &rules(&api, "digest: off"), fast_settings()).await;
    let requests: Vec<String> = (0..400)
        .map(|i| format!(r#"{{"request":"bills","status":"failed","fromDate":"2020-01-01","toDate":"2020-01-{:02}","frequency":"month{}"}}"#, i % 28 + 1, "x".repeat(i % 50)))
        .collect();
    let business = "<!channel> & ".repeat(60);
    let body = |request_id: &str, requests: &str| {
        format!(
            r#"{{"data":{{"event":"data","connectionId":"CON-1","businessName":"{business}","serviceName":"xero","requests":[{requests}]}},"requestId":"{request_id}"}}"#
        )
    };
    app.post_ok(body("big-1", &requests.join(","))).await;
    app.post_ok(body("big-2", &requests.join(","))).await;
    app.post_ok(body("clean-1", r#"{"request":"bills","status":"success"}"#))
        .await;
    let parent = || api.top_level().first().map(|m| m.ts.clone()).unwrap_or_default();
    assert!(
        eventually(WAIT, || api.replies(&parent()).len() == 2).await,
        "{:?}",
        api.errors()
    );
    assert!(api.errors().is_empty(), "{:?}", api.errors());
    assert_eq!(api.top_level()[0].header(), "✅ RESOLVED bills-failing");
}
