//! The generic webhook's document: versioned JSON that any service can
//! read without knowing Slack or email, described by the JSON Schema in
//! `docs/webhook.schema.json`. Values are the facts as they are (JSON
//! needs no escaping beyond its own); lists stay within a bound.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::digest::Item;
use super::facts::Facts;
use super::notice::{Notice, rfc3339};

/// The document's version: a receiver may refuse one it does not know.
pub const VERSION: u64 = 1;
/// Lines of one problem group listed before `more` counts the rest.
const LINES_MAX: usize = 500;

/// `firing`, `still_failing`, `resolved`, or `closed`: an alert ended
/// without a clean sync (its rule removed, its connection forgotten) is
/// not an all-clear, so it is not `resolved` either.
pub fn kind(notice: &Notice) -> &'static str {
    match notice {
        Notice::Firing => "firing",
        Notice::StillFailing { .. } => "still_failing",
        Notice::Resolved { reason: Some(_), .. } => "closed",
        Notice::Resolved { .. } => "resolved",
    }
}

pub fn render_webhook(facts: &Facts) -> Value {
    json!({ "version": VERSION, "kind": kind(&facts.notice), "alert": alert(facts) })
}

pub fn render_webhook_digest(items: &[Item], max_items: usize, now: SystemTime) -> Value {
    let shown = &items[..items.len().min(max_items)];
    json!({
        "version": VERSION,
        "kind": "digest",
        "digest": {
            "at": rfc3339(now),
            "count": items.len(),
            "items": shown,
            "more": items.len() - shown.len(),
        }
    })
}

/// The alert as the document carries it; absent facts are `null`.
fn alert(facts: &Facts) -> Value {
    let (since, reason, clean_request) = match &facts.notice {
        Notice::Firing => (facts.thread.as_ref().map(|t| rfc3339(t.since)), None, None),
        Notice::StillFailing { since, .. } => (Some(rfc3339(*since)), None, None),
        Notice::Resolved {
            since,
            reason,
            clean_request,
            ..
        } => (Some(rfc3339(*since)), reason.clone(), clean_request.clone()),
    };
    json!({
        "key": facts.thread.as_ref().map(|t| t.key.clone()),
        "rule": facts.rule,
        "description": facts.description,
        "severity": facts.severity.as_str(),
        "state": facts.notice.label(),
        "since": since,
        "summary": facts.summary(),
        "headline": facts.headline,
        "line": facts.notice.line(),
        "reason": reason,
        "clean_request_id": clean_request,
        "environment": facts.environment_name(),
        "business": facts.business,
        "connection": facts.connection,
        "service": facts.service,
        "sync_type": facts.sync_type,
        "event": facts.event,
        "data_type": facts.data_type,
        "counts": facts.counts,
        "problems": problems(facts),
        "request_id": facts.request_id,
        "received_at": facts.received_at,
        "connection_status": facts.connection_status,
        "disconnect_reason": facts.disconnect_reason,
        "status_message": facts.status_message,
        "last_sync": facts.last_sync,
        "link": facts.link,
    })
}

fn problems(facts: &Facts) -> Value {
    let groups: Vec<Value> = (facts.problems.iter())
        .map(|group| {
            let shown = &group.lines[..group.lines.len().min(LINES_MAX)];
            json!({
                "status": group.status.as_str(),
                "total": group.total,
                "lines": shown,
                "more": group.lines.len() - shown.len(),
            })
        })
        .collect();
    Value::Array(groups)
}
