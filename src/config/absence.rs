//! `no_sync_for`: an absence rule, checked on a timer against each known
//! connection instead of on events. It combines only with the matchers a
//! connection's last event can answer.

use std::time::Duration;

use serde_yaml::Value;

use crate::rules::Condition;

use super::reader::{At, Reader};
use super::rules::read_all;
use super::units::{DURATION_FORMS, parse_duration};

/// The keys `no_sync_for` combines with.
pub const ABSENCE_KEYS: &[&str] = &["environment", "service", "business", "connection"];

/// A rule's `when`, and its `no_sync_for` when it has one. `None` for the
/// condition when an error was reported.
pub fn read_when(reader: &mut Reader<'_>, value: &Value, at: &At) -> (Option<Condition>, Option<Duration>) {
    let Some(map) = value.as_mapping().filter(|m| m.contains_key("no_sync_for")) else {
        return (read_all(reader, value, at), None);
    };
    let absence = map
        .get("no_sync_for")
        .filter(|v| !v.is_null())
        .and_then(|v| reader.parsed(v, &at.key("no_sync_for"), DURATION_FORMS, parse_duration));
    let mut ok = absence.is_some();
    if absence.is_some_and(|d| d.is_zero()) {
        reader.error(
            &at.key("no_sync_for"),
            "`no_sync_for: 0s` would fire at once",
            Some(DURATION_FORMS),
        );
        ok = false;
    }
    let mut rest = map.clone();
    rest.remove("no_sync_for");
    for key in rest.keys().filter_map(Value::as_str) {
        if !ABSENCE_KEYS.contains(&key) {
            let message = format!(
                "`no_sync_for` is checked against each connection's last event, so it combines only with {}: remove `{key}` or make it a rule of its own",
                ABSENCE_KEYS.join(", ")
            );
            reader.error(&at.key(key), message, Some(&ABSENCE_KEYS.join(", ")));
            ok = false;
        }
    }
    if !ok {
        return (None, None);
    }
    let condition = match rest.is_empty() {
        true => Some(Condition::All(Vec::new())),
        false => read_all(reader, &Value::Mapping(rest), at),
    };
    (condition, absence)
}
