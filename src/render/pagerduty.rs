//! PagerDuty Events API v2: a `trigger` for FIRING and STILL FAILING, a
//! `resolve` for RESOLVED and CLOSED, both with the alert key as
//! `dedup_key`, so one alert is one incident. Within PagerDuty's limits:
//! `dedup_key` 255 characters, `summary` 1,024, the event 512 KB. The
//! routing key is a credential: it is added when sending, never stored in
//! the queue.

use serde_json::{Value, json};

use super::escape::{bidi_escape, one_line, truncate};
use super::facts::Facts;
use super::notice::Notice;

const DEDUP_KEY_MAX: usize = 255;
const SUMMARY_MAX: usize = 1024;
/// PagerDuty refuses events over 512 KB; the rest of the event is small.
const DETAILS_MAX: usize = 500 * 1024;
/// Lines of one problem group before "and N more".
const LINES_MAX: usize = 200;

pub fn render_pagerduty(facts: &Facts) -> Value {
    let dedup_key = dedup_key(&alert_key(facts));
    if matches!(facts.notice, Notice::Resolved { .. }) {
        // PagerDuty reads nothing but the key of a resolve.
        return json!({ "event_action": "resolve", "dedup_key": dedup_key, "client": "syncwatch" });
    }
    let mut event = json!({
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "client": "syncwatch",
        "payload": {
            "summary": summary(facts),
            "source": facts.connection.as_deref().unwrap_or("syncwatch"),
            "severity": facts.severity.as_str(),
            "timestamp": facts.received_at,
            "component": facts.service,
            "group": facts.business,
            "class": facts.rule,
            "custom_details": details(facts),
        }
    });
    if let Some(link) = &facts.link {
        event["client_url"] = json!(link);
        event["links"] = json!([{ "href": link, "text": "syncwatch status page" }]);
    }
    event
}

/// The alert's key; for a message about no stored alert (`send-test`,
/// `syncwatch test`), the key it would have: `rule/connection`.
fn alert_key(facts: &Facts) -> String {
    match (&facts.thread, &facts.connection) {
        (Some(thread), _) => thread.key.clone(),
        (None, Some(connection)) => format!("{}/{connection}", facts.rule),
        (None, None) => facts.rule.clone(),
    }
}

/// The alert key itself when it fits; otherwise its start and a hash of
/// the whole, the same for every message of the alert.
pub fn dedup_key(key: &str) -> String {
    if key.chars().count() <= DEDUP_KEY_MAX {
        return key.to_owned();
    }
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(key.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let start: String = key.chars().take(DEDUP_KEY_MAX - hash.len() - 1).collect();
    format!("{start}~{hash}")
}

/// `[PRODUCTION] CRITICAL rule: 2 failed for Acme (xero)`, and where the
/// alert stands after a repeat.
fn summary(facts: &Facts) -> String {
    let mut text = format!(
        "[{}] {} {}: {}",
        facts.environment_label(),
        facts.severity_label(),
        facts.rule,
        facts.summary()
    );
    if let Some(line) = facts.notice.line() {
        text.push_str(&format!(" · {line}"));
    }
    truncate(&bidi_escape(&one_line(&text)), SUMMARY_MAX)
}

fn details(facts: &Facts) -> Value {
    let mut details = json!({
        "state": facts.notice.label(),
        "environment": facts.environment_name(),
        "counts": facts.counts,
        "request_id": facts.request_id,
        "received_at": facts.received_at,
    });
    for (key, value) in [
        ("description", &facts.description),
        ("sync_type", &facts.sync_type),
        ("data_type", &facts.data_type),
        ("connection_status", &facts.connection_status),
        ("disconnect_reason", &facts.disconnect_reason),
        ("railz_message", &facts.status_message),
        ("last_sync", &facts.last_sync),
    ] {
        if let Some(value) = value {
            details[key] = json!(value);
        }
    }
    for group in &facts.problems {
        let mut lines: Vec<String> = group.lines.iter().take(LINES_MAX).map(|l| truncate(l, 200)).collect();
        if group.lines.len() > LINES_MAX {
            lines.push(format!("… and {} more", group.lines.len() - LINES_MAX));
        }
        details[group.status.as_str()] = json!(lines);
    }
    if details.to_string().len() > DETAILS_MAX {
        // Only the lists can be this long: the counts still tell.
        for group in &facts.problems {
            details[group.status.as_str()] = json!(format!("{} (list too long to send)", group.total));
        }
    }
    details
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_alert_key_keeps_255_characters_and_a_stable_hash() {
        let key = format!("rule/{}", "c".repeat(400));
        let first = dedup_key(&key);
        assert_eq!(first.chars().count(), 255);
        assert_eq!(first, dedup_key(&key), "the same alert, the same incident");
        let other = dedup_key(&format!("{key}x"));
        assert_ne!(first, other, "another alert, another incident");
        assert_eq!(dedup_key("rule/CON-1"), "rule/CON-1");
    }
}
