//! Builders shared by the renderers' tests.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::config::load_str;
use crate::event::{Event, parse_event};
use crate::render::{Alert, Facts};
use crate::rules::{Environment, Rule, evaluate};

pub fn rule(when: &str) -> Rule {
    let text = format!("rules:\n  - name: prod-failed\n    severity: critical\n    notify: []\n    when: {when}\n");
    load_str(&text, Path::new("t.yaml"), &|_| None).unwrap().rules.remove(0)
}

/// The facts of `rule` firing on `body` (which must make it fire).
pub fn facts(rule: &Rule, body: &str) -> Facts {
    let event: Event = parse_event(body.as_bytes()).unwrap();
    let matches = evaluate(std::slice::from_ref(rule), &event, Environment::Production);
    let alert = Alert {
        rule,
        event: &event,
        evidence: &matches[0].evidence,
        environment: Environment::Production,
        received_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    };
    Facts::gather(&alert)
}

pub const HOSTILE: &str = "<!channel> & <http://x|y>\r\nBcc: evil@example.com";

/// A payload whose business name is hostile and with `n` failed requests.
pub fn hostile_payload(n: usize) -> String {
    let requests: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"request":"type{i}<b>","startDate":"2020-01-01","endDate":"2020-01-31","reportFrequency":"month","status":"failed"}}"#))
        .collect();
    let business = serde_json::to_string(HOSTILE).unwrap();
    format!(
        r#"{{"data":{{"event":"data","businessName":{business},"serviceName":"quickbooks","connectionId":"CON-1","requests":[{}]}},"requestId":"req-1"}}"#,
        requests.join(",")
    )
}
