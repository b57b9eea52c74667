//! The `outages` section: when many connections of one service (or data
//! type) fail at once, one outage alert instead of hundreds (see
//! [`crate::outage`]).

use std::collections::HashSet;

use serde_yaml::Value;

use crate::outage::{By, Outage};
use crate::rules::{Condition, Rule, Severity};

use super::load::read_flag;
use super::model::Defaults;
use super::reader::{At, Fields, Reader, describe};
use super::rules::{read_all, read_notifying};
use super::units::{DURATION_FORMS, parse_duration};

const OUTAGE_KEYS: &[&str] = &[
    "name",
    "description",
    "runbook",
    "by",
    "when",
    "failing",
    "window",
    "severity",
    "notify",
    "repeat_interval",
    "send_resolved",
];
const FAILING_KEYS: &[&str] = &["at_least", "share"];

pub fn read_outages(
    reader: &mut Reader<'_>,
    section: Option<(&Value, At)>,
    (defaults, channels): (&Defaults, &[String]),
    rules: &[Rule],
) -> Vec<Outage> {
    let Some((value, at)) = section else {
        return Vec::new();
    };
    let Some(items) = value.as_sequence() else {
        reader.error(
            &at,
            format!("expected a list of outages, found {}", describe(value)),
            None,
        );
        return Vec::new();
    };
    let mut names: HashSet<String> = rules.iter().map(|r| r.name.clone()).collect();
    let mut outages = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(outage) = read_outage(reader, item, at.index(i), (defaults, channels)) else {
            continue;
        };
        // Its alerts, deliveries and silences are keyed by name, as a rule's.
        if !names.insert(outage.name().to_owned()) {
            let message = format!("a rule or another outage is already named `{}`", outage.name());
            reader.error(&at.index(i).key("name"), message, None);
            continue;
        }
        outages.push(outage);
    }
    outages
}

fn read_outage(
    reader: &mut Reader<'_>,
    item: &Value,
    at: At,
    (defaults, channels): (&Defaults, &[String]),
) -> Option<Outage> {
    let fields = reader.fields(Some(item), at.clone(), OUTAGE_KEYS);
    let errors = reader.errors.len();
    let name = match fields.get("name") {
        Some((value, at)) => reader.string(value, &at),
        None => {
            reader.error(&at.key("name"), "`name` is required", None);
            None
        }
    };
    let by = match fields.get("by") {
        Some((value, at)) => reader.choice(value, &at, &By::ALL),
        None => Some(By::Service),
    };
    let when = match fields.get("when") {
        Some((value, at)) => read_all(reader, value, &at),
        None => Some(Condition::All(Vec::new())),
    };
    let (at_least, share) = read_failing(reader, &fields)?;
    let window = required_duration(reader, &fields, "window");
    // An outage is an alert of its own, notifying as a rule does.
    let notifying = read_notifying(reader, &fields, (defaults, channels), Severity::Critical);
    let send_resolved = read_flag(reader, &fields, "send_resolved");
    if reader.errors.len() != errors {
        return None;
    }
    let notifying = notifying?;
    let rule = Rule {
        name: name?,
        description: notifying.description,
        runbook: notifying.runbook,
        when: when?,
        severity: notifying.severity,
        notify: notifying.notify,
        repeat_interval: notifying.repeat_interval,
        after: 1,
        resolve_after: 1,
        send_resolved: send_resolved.unwrap_or(defaults.send_resolved),
        absence: None,
    };
    Some(Outage {
        rule,
        by: by?,
        at_least,
        share,
        window: window?,
    })
}

fn required_duration(reader: &mut Reader<'_>, fields: &Fields<'_>, key: &str) -> Option<std::time::Duration> {
    match fields.get(key) {
        Some((value, at)) => reader.parsed(value, &at, DURATION_FORMS, parse_duration),
        None => {
            reader.error(&fields.at.key(key), format!("`{key}` is required"), Some("e.g. 15m"));
            None
        }
    }
}

/// `failing: { at_least: 10, share: 20% }`: both required.
fn read_failing(reader: &mut Reader<'_>, fields: &Fields<'_>) -> Option<(u64, f64)> {
    let Some((value, at)) = fields.get("failing") else {
        let example = Some("{ at_least: 10, share: 20% }");
        reader.error(&fields.at.key("failing"), "`failing` is required", example);
        return None;
    };
    let failing = reader.fields(Some(value), at.clone(), FAILING_KEYS);
    let at_least = match failing.get("at_least") {
        Some((value, at)) => reader.count(value, &at, 1_000_000),
        None => {
            reader.error(
                &at.key("at_least"),
                "`at_least` is required",
                Some("a number of connections, e.g. 10"),
            );
            None
        }
    };
    let share = match failing.get("share") {
        Some((value, at)) => reader.parsed(value, &at, "a percentage from 1% to 100%, e.g. 20%", parse_share),
        None => {
            reader.error(&at.key("share"), "`share` is required", Some("a percentage, e.g. 20%"));
            None
        }
    };
    let at_least = at_least?;
    if at_least == 0 {
        reader.error(&at.key("at_least"), "must be at least 1", None);
        return None;
    }
    Some((at_least, share?))
}

/// `20%` as 0.2; anything outside (0, 100%] is refused.
fn parse_share(text: &str) -> Option<f64> {
    let percent: f64 = text.trim().strip_suffix('%')?.trim().parse().ok()?;
    (percent > 0.0 && percent <= 100.0).then_some(percent / 100.0)
}
