//! A cursor over the parsed YAML that turns values into typed settings and
//! collects every error with its position, instead of stopping at the first.

use std::path::Path;

use serde_yaml::{Mapping, Value};

use super::error::ConfigError;
use super::secret::Secret;
use super::spans::{Segment, Spans, render_path};

/// Looks up an environment variable; a parameter so tests need not touch
/// the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub struct Reader<'a> {
    file: &'a Path,
    spans: Spans,
    env: EnvLookup<'a>,
    pub errors: Vec<ConfigError>,
    /// Set by read-only commands: a secret is taken as given without
    /// reading it, since those commands never use one; and an unset
    /// variable without a default stays as written (`${NAME:-default}`
    /// still takes its default, so the database path is the daemon's).
    pub skip_secrets: bool,
    /// With `skip_secrets`: the `security` section's secrets are read all
    /// the same (`replay` signs what it sends, but sends no notification).
    pub keep_security: bool,
}

/// Where a value sits: its path, and the rule it belongs to.
#[derive(Debug, Clone, Default)]
pub struct At {
    pub path: Vec<Segment>,
    pub rule: Option<String>,
}

impl At {
    pub fn key(&self, key: &str) -> At {
        let mut path = self.path.clone();
        path.push(Segment::Key(key.to_owned()));
        At {
            path,
            rule: self.rule.clone(),
        }
    }

    pub fn index(&self, index: usize) -> At {
        let mut path = self.path.clone();
        path.push(Segment::Index(index));
        At {
            path,
            rule: self.rule.clone(),
        }
    }

    pub fn in_rule(mut self, rule: String) -> At {
        self.rule = Some(rule);
        self
    }
}

/// The keys of one mapping, checked against what is allowed.
pub struct Fields<'v> {
    map: Option<&'v Mapping>,
    pub at: At,
}

impl<'v> Fields<'v> {
    pub fn get(&self, key: &str) -> Option<(&'v Value, At)> {
        let value = self.map?.get(key)?;
        if value.is_null() {
            return None;
        }
        Some((value, self.at.key(key)))
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

impl<'a> Reader<'a> {
    pub fn new(file: &'a Path, text: &str, env: EnvLookup<'a>) -> Reader<'a> {
        Reader {
            file,
            spans: Spans::index(text),
            env,
            errors: Vec::new(),
            skip_secrets: false,
            keep_security: false,
        }
    }

    pub fn error(&mut self, at: &At, message: impl Into<String>, allowed: Option<&str>) {
        self.errors.push(ConfigError {
            file: self.file.to_owned(),
            line: self.spans.line(&at.path),
            rule: at.rule.clone(),
            key: render_path(&at.path),
            message: message.into(),
            allowed: allowed.map(str::to_owned),
        });
    }

    /// Opens a mapping, reporting it if it is not one and every key that is
    /// not in `allowed`.
    pub fn fields<'v>(&mut self, value: Option<&'v Value>, at: At, allowed: &[&str]) -> Fields<'v> {
        let map = match value {
            None | Some(Value::Null) => None,
            Some(Value::Mapping(map)) => Some(map),
            Some(other) => {
                let message = format!("expected a mapping of keys, found {}", describe(other));
                self.error(&at, message, Some(&allowed.join(", ")));
                None
            }
        };
        for (key, value) in map.into_iter().flat_map(|m| m.iter()) {
            match key.as_str() {
                // A section of the file may be left empty; a setting may not:
                // `signing_secret:` with nothing after it is a mistake that
                // would otherwise switch the check off without a word.
                Some(name) if allowed.contains(&name) && value.is_null() && !at.path.is_empty() => {
                    let message = format!("`{name}` has no value: give it one, or remove the key");
                    self.error(&at.key(name), message, None);
                }
                Some(name) if allowed.contains(&name) => {}
                Some(name) => {
                    let message = format!("unknown key `{name}`");
                    self.error(&at.key(name), message, Some(&allowed.join(", ")));
                }
                None => self.error(&at, "keys must be strings", Some(&allowed.join(", "))),
            }
        }
        Fields { map, at }
    }

    /// A string, with `${NAME}` replaced from the environment.
    pub fn string(&mut self, value: &Value, at: &At) -> Option<String> {
        let raw = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                let message = format!("expected a string, found {}", describe(other));
                self.error(at, message, None);
                return None;
            }
        };
        let substituted = match self.skip_secrets {
            true => Ok(interpolate_keeping_unset(&raw, self.env)),
            false => interpolate(&raw, self.env),
        };
        match substituted {
            Ok(text) => Some(text),
            Err(name) => {
                let message = format!("environment variable `{name}` is not set");
                self.error(at, message, None);
                None
            }
        }
    }

    /// A string or a list of strings, as a list.
    pub fn strings(&mut self, value: &Value, at: &At) -> Option<Vec<String>> {
        match value {
            Value::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.string(item, &at.index(i))?);
                }
                Some(out)
            }
            single => self.string(single, at).map(|s| vec![s]),
        }
    }

    /// One of `choices`, spelled exactly.
    pub fn choice<T: Clone>(&mut self, value: &Value, at: &At, choices: &[(&str, T)]) -> Option<T> {
        let text = self.string(value, at)?;
        let found = choices.iter().find(|(name, _)| *name == text);
        if found.is_none() {
            let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
            self.error(at, format!("`{text}` is not allowed"), Some(&names.join(", ")));
        }
        found.map(|(_, value)| value.clone())
    }

    /// A whole number from 0 to `max`.
    /// A whole number from 0 to `max`. A string that substitutes a
    /// variable (`port: ${SMTP_PORT:-25}`) counts once substituted.
    pub fn count(&mut self, value: &Value, at: &At, max: u64) -> Option<u64> {
        let (number, found) = match value {
            Value::String(text) if text.contains("${") => {
                let text = self.string(value, at)?;
                (text.trim().parse::<u64>().ok(), format!("`{text}`"))
            }
            other => (other.as_u64(), describe(other)),
        };
        let number = number.filter(|n| *n <= max);
        if number.is_none() {
            let message = format!("expected a whole number from 0 to {max}, found {found}");
            self.error(at, message, None);
        }
        number
    }

    /// Parses a string with `parse`, reporting `forms` when it fails.
    pub fn parsed<T>(&mut self, value: &Value, at: &At, forms: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
        let text = self.string(value, at)?;
        let parsed = parse(&text);
        if parsed.is_none() {
            self.error(at, format!("`{text}` is not valid"), Some(forms));
        }
        parsed
    }

    /// A secret given inline as `key` or read from the file named by
    /// `key_file` (systemd credentials live in `$CREDENTIALS_DIRECTORY`).
    pub fn secret(&mut self, fields: &Fields<'_>, key: &str) -> Option<Secret> {
        let file_key = format!("{key}_file");
        if self.skip_secrets {
            let given = fields.has(key) || fields.has(&file_key);
            return given.then(|| Secret::new("***".into()));
        }
        match (fields.get(key), fields.get(&file_key)) {
            (Some(_), Some((_, at))) => {
                let message = format!("give either `{key}` or `{file_key}`, not both");
                self.error(&at, message, None);
                None
            }
            (Some((value, at)), None) => {
                let text = self.string(value, &at)?;
                self.non_empty_secret(text, &at)
            }
            (None, Some((value, at))) => {
                let path = self.string(value, &at)?;
                let text = self.read_secret_file(&path, &at)?;
                self.non_empty_secret(text, &at)
            }
            (None, None) => None,
        }
    }

    fn read_secret_file(&mut self, path: &str, at: &At) -> Option<String> {
        let path = self.resolve(path);
        match std::fs::read_to_string(&path) {
            // Files written by `echo` end in a newline that is not part of the secret.
            Ok(text) => Some(text.trim_end_matches(['\r', '\n']).to_owned()),
            Err(err) => {
                self.error(at, format!("cannot read `{}`: {err}", path.display()), None);
                None
            }
        }
    }

    /// A path from the file, relative to the rules file's folder when it is
    /// relative: under systemd the working directory is `/`, and a path that
    /// worked from the shell in `/etc/syncwatch` must not break there.
    pub fn resolve(&self, path: &str) -> std::path::PathBuf {
        let path = std::path::Path::new(path);
        match self.file.parent().filter(|_| path.is_relative()) {
            Some(folder) => folder.join(path),
            None => path.to_owned(),
        }
    }

    fn non_empty_secret(&mut self, value: String, at: &At) -> Option<Secret> {
        if value.is_empty() {
            self.error(at, "must not be empty", None);
            return None;
        }
        Some(Secret::new(value))
    }
}

/// Replaces every `${NAME}`, and `${NAME:-default}` (the default when NAME
/// is unset or empty, as in a shell); `$${` stays a literal `${`. Returns
/// the name of the first unset variable that has no default.
pub fn interpolate(raw: &str, env: EnvLookup<'_>) -> Result<String, String> {
    substitute(raw, env, false)
}

/// As [`interpolate`], but an unset variable without a default stays as
/// written, `${NAME}`, instead of being an error.
pub fn interpolate_keeping_unset(raw: &str, env: EnvLookup<'_>) -> String {
    substitute(raw, env, true).unwrap_or_else(|_| raw.to_owned())
}

fn substitute(raw: &str, env: EnvLookup<'_>, keep_unset: bool) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        if let Some(literal) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = literal;
        } else if let Some(end) = after.strip_prefix("${").and_then(|r| r.find('}')) {
            let inner = &after[2..2 + end];
            let value = match inner.split_once(":-") {
                Some((name, default)) => env(name)
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| default.to_owned()),
                None => match env(inner) {
                    Some(value) => value,
                    None if keep_unset => format!("${{{inner}}}"),
                    None => return Err(inner.to_owned()),
                },
            };
            out.push_str(&value);
            rest = &after[3 + end..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) => format!("`{s}`"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(_) => "a tagged value".into(),
    }
}
