//! Slack as an app (SPEC section 11), against a stand-in of the Web API:
//! one message per alert episode, its story in a thread, RESOLVED written
//! on the message itself, through kill -9 and the other instance; Slack's
//! errors, digests' threads, and `send-test`.

mod errors;
mod life;
mod store;
mod threads;

use crate::helpers::{SlackApi, sync};

/// A rule on bills failing that says so on every failing sync.
pub const BILLS: &str = "rules:\n  - name: bills-failing\n    severity: critical\n    repeat_interval: 0s\n    when: { failed: { above: 0, data_types: [bills] } }\n";

/// Channel `ops`, posting as the app to the stand-in's channel, then `extra`
/// channel keys (a digest), then the rule.
pub fn rules(api: &SlackApi, extra: &str) -> String {
    format!(
        "channels:\n  ops:\n    {}\n    {extra}\ndefaults:\n  notify: [ops]\n{BILLS}",
        api.channel_yaml(crate::helpers::CHANNEL)
    )
}

pub fn failed(connection: &str, request_id: &str) -> String {
    sync(connection, request_id, "failed")
}

pub fn clean(connection: &str, request_id: &str) -> String {
    sync(connection, request_id, "success")
}
