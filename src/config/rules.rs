//! The `rules` section: each rule's `when` becomes a tree of
//! [`Condition`]s, every key checked against what it allows.

use std::collections::HashSet;

use serde_yaml::Value;

use crate::event::{Frequency, Status};
use crate::rules::{Condition, CountCondition, Environment, Field, FieldMatcher, Pattern, Rule, Severity, Threshold};

use super::absence::read_when;
use super::load::{read_channel_names, read_flag, read_streak};
use super::model::Defaults;
use super::reader::{At, Fields, Reader, describe};
use super::units::{DURATION_FORMS, parse_duration};

const RULE_KEYS: &[&str] = &[
    "name",
    "description",
    "runbook",
    "when",
    "severity",
    "notify",
    "repeat_interval",
    "after",
    "resolve_after",
    "send_resolved",
];
const WHEN_KEYS: &[&str] = &[
    "event",
    "service",
    "business",
    "connection",
    "sync_type",
    "data_type",
    "connection_status",
    "disconnect_reason",
    "environment",
    "failed",
    "empty",
    "success",
    "any",
    "not",
    "no_sync_for",
];
const COUNT_KEYS: &[&str] = &["above", "at_least", "below", "data_types", "report_frequency"];
const FREQUENCIES: [(&str, Frequency); 3] = [
    ("month", Frequency::Month),
    ("quarter", Frequency::Quarter),
    ("year", Frequency::Year),
];

pub fn read_rules(
    reader: &mut Reader<'_>,
    section: Option<(&Value, At)>,
    defaults: &Defaults,
    channels: &[String],
) -> Vec<Rule> {
    let Some((value, at)) = section else {
        return Vec::new();
    };
    let Some(items) = value.as_sequence() else {
        reader.error(
            &at,
            format!("expected a list of rules, found {}", describe(value)),
            None,
        );
        return Vec::new();
    };
    let mut seen = HashSet::new();
    let mut rules = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let name = rule_name(item).unwrap_or_else(|| format!("#{}", i + 1));
        let at = at.index(i).in_rule(name.clone());
        if !seen.insert(name.clone()) {
            reader.error(&at.key("name"), format!("another rule is already named `{name}`"), None);
        }
        if let Some(rule) = read_rule(reader, item, at, defaults, channels) {
            rules.push(rule);
        }
    }
    rules
}

/// The name as text, whatever YAML made of it: `name: 2024` and
/// `name: "2024"` are the same name, and would share alert state.
fn rule_name(item: &Value) -> Option<String> {
    match item.get("name")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn read_rule(reader: &mut Reader<'_>, item: &Value, at: At, defaults: &Defaults, channels: &[String]) -> Option<Rule> {
    let fields = reader.fields(Some(item), at, RULE_KEYS);
    let name = read_name(reader, &fields);
    let notifying = read_notifying(reader, &fields, (defaults, channels), Severity::Warning);
    let (when, absence) = match fields.get("when") {
        Some((value, at)) => read_when(reader, value, &at),
        None => {
            reader.error(
                &fields.at.key("when"),
                "`when` is required",
                Some(&WHEN_KEYS.join(", ")),
            );
            (None, None)
        }
    };
    let after = read_streak(reader, &fields, "after");
    let resolve_after = read_streak(reader, &fields, "resolve_after");
    let send_resolved = read_flag(reader, &fields, "send_resolved");
    let invalid = [
        fields.has("after") && after.is_none(),
        fields.has("resolve_after") && resolve_after.is_none(),
        fields.has("send_resolved") && send_resolved.is_none(),
    ];
    if invalid.contains(&true) {
        return None;
    }
    let notifying = notifying?;
    Some(Rule {
        name: name?,
        description: notifying.description,
        runbook: notifying.runbook,
        when: when?,
        severity: notifying.severity,
        notify: notifying.notify,
        repeat_interval: notifying.repeat_interval,
        after: after.unwrap_or(defaults.after),
        resolve_after: resolve_after.unwrap_or(defaults.resolve_after),
        send_resolved: send_resolved.unwrap_or(defaults.send_resolved),
        absence,
    })
}

/// How a rule or an outage notifies: read and checked the same way for
/// both (a `runbook` is an http(s) URL wherever it is given).
pub(super) struct Notifying {
    pub description: Option<String>,
    pub runbook: Option<String>,
    pub severity: Severity,
    pub notify: Vec<String>,
    pub repeat_interval: std::time::Duration,
}

/// `None` when one of them is invalid (each error said once).
pub(super) fn read_notifying(
    reader: &mut Reader<'_>,
    fields: &Fields<'_>,
    (defaults, channels): (&Defaults, &[String]),
    severity: Severity,
) -> Option<Notifying> {
    let description = fields.get("description").and_then(|(v, at)| reader.string(v, &at));
    let runbook = fields.get("runbook").map(|(v, at)| read_runbook(reader, v, &at));
    let severity = match fields.get("severity") {
        Some((value, at)) => reader.choice(value, &at, &Severity::ALL),
        None => Some(severity),
    };
    let notify = match fields.get("notify") {
        Some((value, at)) => read_channel_names(reader, value, &at, channels),
        None => Some(defaults.notify.clone()),
    };
    let repeat_interval = match fields.get("repeat_interval") {
        Some((value, at)) => reader.parsed(value, &at, DURATION_FORMS, parse_duration),
        None => Some(defaults.repeat_interval),
    };
    Some(Notifying {
        description,
        runbook: match runbook {
            Some(read) => Some(read?),
            None => None,
        },
        severity: severity?,
        notify: notify?,
        repeat_interval: repeat_interval?,
    })
}

/// An http(s) URL, kept in its normalised form: messages put it in links.
fn read_runbook(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<String> {
    let text = reader.string(value, at)?;
    match reqwest::Url::parse(&text) {
        Ok(url) if matches!(url.scheme(), "https" | "http") && url.host().is_some() => Some(url.to_string()),
        _ => {
            reader.error(
                at,
                "is not an http(s) URL",
                Some("https://wiki.example.com/runbooks/sync-failed"),
            );
            None
        }
    }
}

fn read_name(reader: &mut Reader<'_>, fields: &Fields<'_>) -> Option<String> {
    let Some((value, at)) = fields.get("name") else {
        reader.error(&fields.at.key("name"), "`name` is required", None);
        return None;
    };
    let name = reader.string(value, &at)?;
    if name.trim().is_empty() || name.chars().any(char::is_control) {
        reader.error(&at, "a rule name must be non-empty text on one line", None);
        return None;
    }
    Some(name)
}

/// A `when` mapping (or a nested one under `any` / `not`): all keys hold.
pub fn read_all(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<Condition> {
    let fields = reader.fields(Some(value), at.clone(), WHEN_KEYS);
    let map = value.as_mapping()?;
    if map.is_empty() {
        reader.error(at, "needs at least one condition", Some(&WHEN_KEYS.join(", ")));
        return None;
    }
    let mut conditions = Vec::new();
    let mut ok = true;
    for key in WHEN_KEYS {
        if let Some((value, at)) = fields.get(key) {
            match read_condition(reader, key, value, &at) {
                Some(condition) => conditions.push(condition),
                None => ok = false,
            }
        }
    }
    ok.then_some(Condition::All(conditions))
}

fn read_condition(reader: &mut Reader<'_>, key: &str, value: &Value, at: &At) -> Option<Condition> {
    if let Some((_, field)) = Field::ALL.iter().find(|(name, _)| *name == key) {
        return read_field(reader, *field, value, at);
    }
    match key {
        "environment" => reader.choice(value, at, &Environment::ALL).map(Condition::Environment),
        "failed" => read_count(reader, Status::Failed, value, at).map(Condition::Count),
        "empty" => read_count(reader, Status::Empty, value, at).map(Condition::Count),
        "success" => read_count(reader, Status::Success, value, at).map(Condition::Count),
        "any" => read_any(reader, value, at),
        "not" => read_all(reader, value, at).map(|c| Condition::Not(Box::new(c))),
        "no_sync_for" => {
            reader.error(
                at,
                "`no_sync_for` belongs at the top of `when`, not under `any` or `not`",
                None,
            );
            None
        }
        _ => None,
    }
}

fn read_patterns(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<Vec<Pattern>> {
    let values = reader.strings(value, at)?;
    if values.is_empty() || values.iter().any(String::is_empty) {
        reader.error(
            at,
            "needs at least one non-empty value",
            Some("a string, a list of strings, `*` as a wildcard"),
        );
        return None;
    }
    Some(values.iter().map(|v| Pattern::new(v)).collect())
}

fn read_field(reader: &mut Reader<'_>, field: Field, value: &Value, at: &At) -> Option<Condition> {
    let patterns = read_patterns(reader, value, at)?;
    Some(Condition::Field(FieldMatcher { field, patterns }))
}

fn read_any(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<Condition> {
    let Some(items) = value.as_sequence().filter(|items| !items.is_empty()) else {
        reader.error(
            at,
            "expected a non-empty list of condition mappings",
            Some("any: [ {...}, {...} ]"),
        );
        return None;
    };
    let branches: Vec<Option<Condition>> = items
        .iter()
        .enumerate()
        .map(|(i, item)| read_all(reader, item, &at.index(i)))
        .collect();
    branches.into_iter().collect::<Option<Vec<_>>>().map(Condition::Any)
}

fn read_count(reader: &mut Reader<'_>, status: Status, value: &Value, at: &At) -> Option<CountCondition> {
    let fields = reader.fields(Some(value), at.clone(), COUNT_KEYS);
    if !value.is_mapping() {
        return None;
    }
    let thresholds = read_thresholds(reader, &fields);
    let data_types = match fields.get("data_types") {
        Some((value, at)) => read_patterns(reader, value, &at),
        None => Some(Vec::new()),
    };
    let frequencies = match fields.get("report_frequency") {
        Some((value, at)) => read_frequencies(reader, value, &at),
        None => Some(Vec::new()),
    };
    Some(CountCondition {
        status,
        thresholds: thresholds?,
        data_types: data_types?,
        frequencies: frequencies?,
    })
}

fn read_thresholds(reader: &mut Reader<'_>, fields: &Fields<'_>) -> Option<Vec<Threshold>> {
    let mut thresholds = Vec::new();
    let mut ok = true;
    type Make = fn(u64) -> Threshold;
    let kinds: [(&str, Make); 3] = [
        ("above", Threshold::Above),
        ("at_least", Threshold::AtLeast),
        ("below", Threshold::Below),
    ];
    for (key, make) in kinds {
        let Some((value, at)) = fields.get(key) else {
            continue;
        };
        match reader.count(value, &at, u64::from(u32::MAX)) {
            Some(0) if key == "below" => {
                reader.error(&at, "`below: 0` can never hold: no count is below 0", None);
                ok = false;
            }
            Some(n) => thresholds.push(make(n)),
            None => ok = false,
        }
    }
    if ok && thresholds.is_empty() {
        reader.error(&fields.at, "needs a threshold", Some("above, at_least, below"));
        return None;
    }
    ok.then_some(thresholds)
}

fn read_frequencies(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<Vec<Frequency>> {
    let items: Vec<(&Value, At)> = match value {
        Value::Sequence(items) => items.iter().enumerate().map(|(i, v)| (v, at.index(i))).collect(),
        single => vec![(single, at.clone())],
    };
    let parsed: Vec<Option<Frequency>> = items
        .into_iter()
        .map(|(v, at)| reader.choice(v, &at, &FREQUENCIES.map(|(n, f)| (n, Some(f)))).flatten())
        .collect();
    parsed.into_iter().collect()
}
