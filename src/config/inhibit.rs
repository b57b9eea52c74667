//! The `inhibit` section: while an alert matching `when_firing` fires, the
//! alerts of the same connection matching `mute` notify nobody (see
//! [`crate::quiet::Inhibit`]).

use serde_yaml::Value;

use crate::quiet::{Equal, Inhibit, Matchers};
use crate::rules::{Environment, Pattern, Rule};

use super::reader::{At, Reader, describe};

const INHIBIT_KEYS: &[&str] = &["when_firing", "mute", "equal"];
const MATCHER_KEYS: &[&str] = &["rule", "connection", "business", "service", "environment", "data_type"];

pub fn read_inhibit(reader: &mut Reader<'_>, section: Option<(&Value, At)>, rules: &[Rule]) -> Vec<Inhibit> {
    let Some((value, at)) = section else {
        return Vec::new();
    };
    let Some(items) = value.as_sequence() else {
        let message = format!("expected a list of inhibit rules, found {}", describe(value));
        reader.error(
            &at,
            message,
            Some("- { when_firing: {...}, mute: {...}, equal: [connection] }"),
        );
        return Vec::new();
    };
    (items.iter().enumerate())
        .filter_map(|(i, item)| read_one(reader, item, at.index(i), rules))
        .collect()
}

fn read_one(reader: &mut Reader<'_>, item: &Value, at: At, rules: &[Rule]) -> Option<Inhibit> {
    let fields = reader.fields(Some(item), at.clone(), INHIBIT_KEYS);
    let mut side = |name: &str| match fields.get(name) {
        Some((value, at)) => read_matchers(reader, value, &at, rules),
        None => {
            reader.error(
                &at.key(name),
                format!("`{name}` is required"),
                Some("e.g. { rule: connection-lost }"),
            );
            None
        }
    };
    let when_firing = side("when_firing");
    let mute = side("mute");
    let equal = match fields.get("equal") {
        Some((value, at)) => read_equal(reader, value, &at),
        None => {
            let message = "`equal` is required: the fields the two alerts share";
            reader.error(&at.key("equal"), message, Some("[connection]"));
            None
        }
    };
    Some(Inhibit {
        when_firing: when_firing?,
        mute: mute?,
        equal: equal?,
    })
}

/// One side's matchers: every key known, a rule name that names a rule
/// (or a `*` pattern that matches one), an environment that exists.
fn read_matchers(reader: &mut Reader<'_>, value: &Value, at: &At, rules: &[Rule]) -> Option<Matchers> {
    let fields = reader.fields(Some(value), at.clone(), MATCHER_KEYS);
    let map = value.as_mapping()?;
    if map.is_empty() {
        reader.error(at, "needs at least one matcher", Some(&MATCHER_KEYS.join(", ")));
        return None;
    }
    let errors = reader.errors.len();
    let mut text = |key: &str| {
        let (value, at) = fields.get(key)?;
        Some((reader.string(&value.clone(), &at)?, at))
    };
    let rule = text("rule");
    let connection = text("connection").map(|(v, _)| v);
    let business = text("business").map(|(v, _)| v);
    let service = text("service").map(|(v, _)| v);
    let environment = text("environment");
    let data_type = text("data_type").map(|(v, _)| v);
    if let Some((name, at)) = &rule {
        check_rule(reader, name, at, rules);
    }
    if let Some((name, at)) = &environment
        && !Environment::ALL.iter().any(|(known, _)| known == name)
    {
        let allowed: Vec<&str> = Environment::ALL.iter().map(|(n, _)| *n).collect();
        reader.error(at, format!("`{name}` is not an environment"), Some(&allowed.join(", ")));
    }
    (reader.errors.len() == errors).then(|| Matchers {
        rule: rule.map(|(v, _)| v),
        connection,
        business,
        service,
        environment: environment.map(|(v, _)| v),
        data_type,
    })
}

/// A misspelt rule name would inhibit nothing, silently.
fn check_rule(reader: &mut Reader<'_>, name: &str, at: &At, rules: &[Rule]) {
    let pattern = Pattern::new(name);
    if rules.iter().any(|r| pattern.matches(&r.name)) {
        return;
    }
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    let message = match name.contains('*') {
        true => format!("`{name}` matches no rule"),
        false => format!("no rule is named `{name}`"),
    };
    reader.error(at, message, Some(&names.join(", ")));
}

fn read_equal(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<Vec<Equal>> {
    let names = reader.strings(value, at)?;
    let allowed: Vec<&str> = Equal::ALL.iter().map(|(n, _)| *n).collect();
    let mut equal = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let at = if value.is_sequence() { at.index(i) } else { at.clone() };
        match Equal::ALL.iter().find(|(n, _)| n == name) {
            Some((_, field)) => equal.push(*field),
            None => {
                reader.error(
                    &at,
                    format!("`{name}` is not a field to compare"),
                    Some(&allowed.join(", ")),
                );
                return None;
            }
        }
    }
    // Only alerts of one connection are compared (see `Inhibit::equal`):
    // saying so beats inhibiting less than the file seems to say.
    if !equal.contains(&Equal::Connection) {
        let message = "`equal` must list `connection`: an alert is inhibited by an alert of its own connection";
        reader.error(at, message, Some("[connection], [connection, data_type]"));
        return None;
    }
    Some(equal)
}
