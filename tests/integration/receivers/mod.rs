//! The receivers beside Slack and email (SPEC section 10), end to end:
//! FIRING, a failure that is retried, RESOLVED, against stand-ins that
//! answer as each service documents, and Debian's real Alertmanager.

mod alertmanager;
mod dry_run;
mod example;
mod grouping;
mod links;
mod pagerduty;
mod stand_in;
mod teams;
mod webhook;

use crate::helpers::{RulesFile, stderr, stdout, sync, syncwatch_async};

/// A rule on bills failing, firing on the first failed sync.
pub const BILLS: &str = "rules:\n  - name: bills-failing\n    severity: critical\n    when: { failed: { above: 0, data_types: [bills] } }\n";

/// A failed and then a clean sync of CON-1.
pub fn failed(request_id: &str) -> String {
    sync("CON-1", request_id, "failed")
}

pub fn clean(request_id: &str) -> String {
    sync("CON-1", request_id, "success")
}

/// Runs `syncwatch send-test --channel channel` on `rules`: its exit code
/// and what it printed.
pub async fn send_test(rules: &str, channel: &str) -> (Option<i32>, String) {
    let file = RulesFile::new(rules);
    let args = [
        "send-test",
        "--config",
        file.path.to_str().unwrap(),
        "--channel",
        channel,
    ];
    let output = syncwatch_async(args.map(String::from).to_vec()).await;
    (output.status.code(), format!("{}{}", stdout(&output), stderr(&output)))
}
