//! The `maintenance` section: recurring windows during which matching
//! alerts notify nobody (they still move and are recorded).

use serde_yaml::Value;

use crate::quiet::{WEEKDAYS, Window, parse_span, time_zone};

use super::reader::{At, Reader, describe};
use super::rules::read_all;

const WINDOW_KEYS: &[&str] = &["name", "when", "weekdays", "times", "timezone"];

pub fn read_maintenance(reader: &mut Reader<'_>, section: Option<(&Value, At)>) -> Vec<Window> {
    let Some((value, at)) = section else {
        return Vec::new();
    };
    let Some(items) = value.as_sequence() else {
        reader.error(
            &at,
            format!("expected a list of windows, found {}", describe(value)),
            None,
        );
        return Vec::new();
    };
    let mut windows: Vec<Window> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(window) = read_window(reader, item, at.index(i)) else {
            continue;
        };
        if windows.iter().any(|w| w.name == window.name) {
            let message = format!("another window is already named `{}`", window.name);
            reader.error(&at.index(i).key("name"), message, None);
            continue;
        }
        windows.push(window);
    }
    windows
}

fn read_window(reader: &mut Reader<'_>, item: &Value, at: At) -> Option<Window> {
    let fields = reader.fields(Some(item), at.clone(), WINDOW_KEYS);
    let name = match fields.get("name") {
        Some((value, at)) => reader.string(value, &at),
        None => {
            reader.error(&at.key("name"), "`name` is required", None);
            None
        }
    };
    let when = match fields.get("when") {
        Some((value, at)) => Some(read_all(reader, value, &at)).map(|c| c.ok_or(())),
        None => None,
    };
    let weekdays = match fields.get("weekdays") {
        Some((value, at)) => read_weekdays(reader, value, &at),
        None => Some(Vec::new()),
    };
    let times = match fields.get("times") {
        Some((value, at)) => read_times(reader, value, &at),
        None => {
            reader.error(&at.key("times"), "`times` is required", Some("[\"02:00-06:00\"]"));
            None
        }
    };
    let (timezone_name, timezone) = match fields.get("timezone") {
        Some((value, at)) => {
            let name = reader.string(value, &at)?;
            match time_zone(&name) {
                Some(zone) => (name, Some(zone)),
                None => {
                    let message = format!("`{name}` is not an IANA time zone");
                    reader.error(&at, message, Some("e.g. UTC, Europe/London, America/Toronto"));
                    (name, None)
                }
            }
        }
        None => ("UTC".to_owned(), time_zone("UTC")),
    };
    let when = match when {
        Some(Ok(condition)) => Some(condition),
        Some(Err(())) => return None,
        None => None,
    };
    Some(Window {
        name: name?,
        when,
        weekdays: weekdays?,
        times: times?,
        timezone: timezone?,
        timezone_name,
    })
}

fn read_weekdays(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<Vec<jiff::civil::Weekday>> {
    let names = reader.strings(value, at)?;
    let mut days = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let at = if value.is_sequence() { at.index(i) } else { at.clone() };
        match WEEKDAYS.iter().find(|(n, _)| n == name) {
            Some((_, day)) => days.push(*day),
            None => {
                let allowed: Vec<&str> = WEEKDAYS.iter().map(|(n, _)| *n).collect();
                reader.error(&at, format!("`{name}` is not a weekday"), Some(&allowed.join(", ")));
                return None;
            }
        }
    }
    Some(days)
}

fn read_times(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<Vec<crate::quiet::Span>> {
    let texts = reader.strings(value, at)?;
    if texts.is_empty() {
        reader.error(at, "needs at least one span", Some("[\"02:00-06:00\"]"));
        return None;
    }
    let mut spans = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let at = if value.is_sequence() { at.index(i) } else { at.clone() };
        match parse_span(text) {
            Some(span) => spans.push(span),
            None => {
                let message = format!("`{text}` is not a time span");
                reader.error(
                    &at,
                    message,
                    Some("HH:MM-HH:MM in 24-hour time, e.g. 22:00-02:00 across midnight"),
                );
                return None;
            }
        }
    }
    Some(spans)
}
