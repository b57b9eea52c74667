//! A channel's `digest`: how many notifications go out one by one in a
//! window before the rest are grouped into one message at its end.

use std::time::Duration;

use serde_yaml::Value;

use super::model::Digest;
use super::reader::{At, Reader};
use super::units::{DURATION_FORMS, parse_duration};

const DIGEST_KEYS: &[&str] = &["after", "window", "max_items"];

/// `digest: off`, `digest: { after: 5, window: 1m, max_items: 20 }`, or
/// absent (the defaults). `None` inside means off.
pub fn read_digest(reader: &mut Reader<'_>, value: Option<(&Value, At)>) -> Option<Option<Digest>> {
    let Some((value, at)) = value else {
        return Some(Some(Digest::default()));
    };
    // YAML 1.1 reads a bare `off` as the boolean false.
    if matches!(value, Value::Bool(false)) || value.as_str() == Some("off") {
        return Some(None);
    }
    let fields = reader.fields(Some(value), at.clone(), DIGEST_KEYS);
    if !value.is_mapping() {
        return None;
    }
    let defaults = Digest::default();
    let after = match fields.get("after") {
        Some((value, at)) => reader.count(value, &at, 1000)? as u32,
        None => defaults.after,
    };
    if after == 0 {
        reader.error(
            &at.key("after"),
            "counts from 1: a lone alert is never held for a digest",
            None,
        );
        return None;
    }
    let window = match fields.get("window") {
        Some((value, at)) => reader.parsed(value, &at, DURATION_FORMS, parse_duration)?,
        None => defaults.window,
    };
    if window < Duration::from_secs(1) {
        reader.error(
            &at.key("window"),
            "a digest window is at least 1s",
            Some(DURATION_FORMS),
        );
        return None;
    }
    let max_items = match fields.get("max_items") {
        Some((value, at)) => reader.count(value, &at, 200)? as usize,
        None => defaults.max_items,
    };
    if max_items == 0 {
        reader.error(&at.key("max_items"), "a digest lists at least 1 alert", None);
        return None;
    }
    Some(Some(Digest {
        after,
        window,
        max_items,
    }))
}
