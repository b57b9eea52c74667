//! Loading rules.yaml: parse, then read each section through the collecting
//! [`Reader`], so one run reports every error in the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_yaml::Value;

use crate::rules::Environment;

use super::channels::read_channels;
use super::error::{ConfigError, ConfigErrors};
use super::inhibit::read_inhibit;
use super::maintenance::read_maintenance;
use super::model::{Config, Defaults, Delivery, Security, Server, Storage};
use super::outages::read_outages;
use super::reader::{At, EnvLookup, Fields, Reader};
use super::rules::read_rules;
use super::secret::Secret;
use super::units::{DURATION_FORMS, SIZE_FORMS, parse_duration, parse_size};

const TOP_LEVEL: &[&str] = &[
    "server",
    "security",
    "storage",
    "defaults",
    "delivery",
    "channels",
    "rules",
    "maintenance",
    "heartbeat",
    "inhibit",
    "outages",
];

/// Reads and validates the file at `path`, with `${VAR}` from the process
/// environment.
pub fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
    let text = read_text(path)?;
    load_str(&text, path, &|name| std::env::var(name).ok())
}

/// For the admin commands (`history`, `explain`, `alerts`, `silence`):
/// secrets are neither substituted nor read, an unset variable without a
/// default stays as written, and `${NAME:-default}` takes its default as
/// the daemon does, so an admin who has not sourced the service's
/// environment (`STATE_DIRECTORY` is set by systemd only) finds the
/// daemon's database.
pub fn load_file_read_only(path: &Path) -> Result<Config, ConfigErrors> {
    let text = read_text(path)?;
    let env = |name: &str| std::env::var(name).ok();
    let mut reader = Reader::new(path, &text, &env);
    reader.skip_secrets = true;
    load_with(reader, &text, path)
}

/// For `replay`: as [`load_file_read_only`], but the `security` section's
/// secrets are read, since replayed webhooks are signed as Railz signs
/// them. No channel secret is needed: `replay` notifies nobody itself.
pub fn load_file_for_replay(path: &Path) -> Result<Config, ConfigErrors> {
    let text = read_text(path)?;
    let env = |name: &str| std::env::var(name).ok();
    let mut reader = Reader::new(path, &text, &env);
    reader.skip_secrets = true;
    reader.keep_security = true;
    load_with(reader, &text, path)
}

fn read_text(path: &Path) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(path).map_err(|err| {
        ConfigErrors(vec![ConfigError {
            file: path.to_owned(),
            line: None,
            rule: None,
            key: String::new(),
            message: format!("cannot read the file: {err}"),
            allowed: None,
        }])
    })
}

/// Validates `text` as if read from `file`.
pub fn load_str(text: &str, file: &Path, env: EnvLookup<'_>) -> Result<Config, ConfigErrors> {
    // Editors on Windows save a byte-order mark, which YAML would read as
    // the start of a second document.
    load_with(Reader::new(file, text, env), text, file)
}

fn load_with(mut reader: Reader<'_>, text: &str, file: &Path) -> Result<Config, ConfigErrors> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root: Value = serde_yaml::from_str(text).map_err(|err| syntax_error(file, text, &err))?;
    let top = reader.fields(Some(&root), At::default(), TOP_LEVEL);
    let config = read_config(&mut reader, &top, file);
    if reader.errors.is_empty() {
        return Ok(config);
    }
    let mut errors = reader.errors;
    // In file order, as an editor would walk them.
    errors.sort_by_key(|e| e.line.unwrap_or(0));
    Err(ConfigErrors(errors))
}

/// The line of the second `key:` of a duplicate entry: serde_yaml points
/// at the start of the mapping (line 1 for a top-level key), where the
/// operator would look in vain. The mapping's keys are the lines from
/// `start` at its first key's indentation.
fn duplicate_line(text: &str, message: &str, start: usize) -> Option<usize> {
    let key = message.split("duplicate entry with key \"").nth(1)?.split('"').next()?;
    let lines: Vec<&str> = text.lines().collect();
    let key_of = |line: &str| -> Option<(usize, String)> {
        let body = line.trim_start();
        let body = body.strip_prefix("- ").unwrap_or(body).trim_start();
        let indent = line.len() - body.len();
        let name = body.split(':').next()?.trim().trim_matches(['"', '\'']);
        Some((indent, name.to_owned()))
    };
    let (indent, _) = key_of(lines.get(start.checked_sub(1)?)?)?;
    let mut seen = 0;
    for (index, line) in lines.iter().enumerate().skip(start - 1) {
        let blank = line.trim().is_empty() || line.trim_start().starts_with('#');
        match key_of(line).filter(|_| !blank) {
            Some((at, _)) if at < indent => break,
            Some((at, name)) if at == indent && name == key => {
                seen += 1;
                if seen == 2 {
                    return Some(index + 1);
                }
            }
            _ => {}
        }
    }
    None
}

fn syntax_error(file: &Path, text: &str, err: &serde_yaml::Error) -> ConfigErrors {
    let full = err.to_string();
    // serde_yaml appends "at line L column C"; the line goes in its own field.
    let message = match full.find(" at line ") {
        Some(cut) => &full[..cut],
        None => &full,
    };
    let hint = syntax_hint(text, &full, err.location());
    let message = match hint {
        Some(hint) => format!("not valid YAML: {message}: {hint}"),
        None => format!("not valid YAML: {message}"),
    };
    let line = err.location().map(|l| l.line());
    ConfigErrors(vec![ConfigError {
        file: file.to_owned(),
        line: line.map(|line| duplicate_line(text, &full, line).unwrap_or(line)),
        rule: None,
        key: String::new(),
        message,
        allowed: None,
    }])
}

/// What the usual causes of a YAML syntax error look like in rules.yaml,
/// and what to write instead: the parser's own words name none of them.
fn syntax_hint(text: &str, message: &str, location: Option<serde_yaml::Location>) -> Option<String> {
    let location = location?;
    let line = text.lines().nth(location.line().checked_sub(1)?).unwrap_or("");
    if message.starts_with("unknown anchor") || message.contains("while scanning an alias") {
        return Some(alias_hint(line, location.column()));
    }
    let indent = &line[..line.len() - line.trim_start_matches([' ', '\t']).len()];
    if indent.contains('\t') {
        return Some(format!(
            "line {} is indented with a tab: YAML indents with spaces only",
            location.line()
        ));
    }
    // In `[${A}]` the parser stops at the `{` of `${`, which opens a
    // mapping inside the list (or inside `{...}`).
    let before: Vec<char> = line.chars().take(location.column()).collect();
    if message.contains("while parsing a flow") && before.ends_with(&['$', '{']) {
        return Some(
            "an unquoted `${...}` inside `[...]` or `{...}` is read as YAML syntax: quote the string, e.g. `[\"${A}\", \"${B}\"]`"
                .to_owned(),
        );
    }
    None
}

/// `*books` unquoted is an alias to an anchor `&books`: the word the
/// parser stopped at (from the `*` at or before `column`), quoted.
fn alias_hint(line: &str, column: usize) -> String {
    let before: String = line.chars().take(column).collect();
    let word = match before.rfind('*') {
        Some(star) => line[star..]
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | ']' | '}'))
            .next()
            .unwrap_or("*"),
        None => "*",
    };
    format!("YAML reads a value starting with `*` as an alias: quote it, e.g. `'{word}'`")
}

fn read_config(reader: &mut Reader<'_>, top: &Fields<'_>, file: &Path) -> Config {
    let (channels, declared) = read_channels(reader, top.get("channels"));
    let defaults = read_defaults(reader, top, &declared);
    let rules = read_rules(reader, top.get("rules"), &defaults, &declared);
    let inhibit = read_inhibit(reader, top.get("inhibit"), &rules);
    let outages = read_outages(reader, top.get("outages"), (&defaults, &declared), &rules);
    Config {
        source: file.to_owned(),
        server: read_server(reader, top),
        security: read_security(reader, top),
        storage: read_storage(reader, top),
        delivery: read_delivery(reader, top),
        defaults,
        channels,
        rules,
        maintenance: Arc::new(read_maintenance(reader, top.get("maintenance"))),
        heartbeat: super::heartbeat::read_heartbeat(reader, top),
        inhibit: Arc::new(inhibit),
        outages: Arc::new(outages),
    }
}

pub(super) fn section<'v>(reader: &mut Reader<'_>, top: &Fields<'v>, name: &str, allowed: &[&str]) -> Fields<'v> {
    let value = top.get(name).map(|(value, _)| value);
    reader.fields(value, top.at.key(name), allowed)
}

fn read_server(reader: &mut Reader<'_>, top: &Fields<'_>) -> Server {
    let fields = section(reader, top, "server", &["listen", "path", "max_body", "public_url"]);
    let listen = fields.get("listen").and_then(|(value, at)| {
        reader.parsed(
            value,
            &at,
            "an IP address and port, e.g. 127.0.0.1:9650 or [::1]:9650",
            |s| s.parse::<SocketAddr>().ok(),
        )
    });
    let path = fields.get("path").and_then(|(value, at)| {
        let path = reader.string(value, &at)?;
        if !path.starts_with('/') || path.contains(char::is_whitespace) {
            reader.error(
                &at,
                format!("`{path}` is not a URL path"),
                Some("a path starting with `/`"),
            );
            return None;
        }
        Some(path)
    });
    let max_body = fields
        .get("max_body")
        .and_then(|(value, at)| reader.parsed(value, &at, SIZE_FORMS, parse_size));
    Server {
        listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9650))),
        path: path.unwrap_or_else(|| "/webhooks/railz".into()),
        max_body: max_body.unwrap_or(4 << 20),
        public_url: fields
            .get("public_url")
            .and_then(|(value, at)| read_public_url(reader, value, &at)),
    }
}

/// `https://syncwatch.example.com`: where people open the status page.
/// Kept without a trailing `/`, so links join it with `/ui`.
fn read_public_url(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<String> {
    let text = reader.string(value, at)?;
    let url = reqwest::Url::parse(&text).ok();
    let plain = url.filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some() && u.query().is_none());
    if plain.is_none() {
        let forms = "the status page's base URL, e.g. https://syncwatch.example.com";
        reader.error(at, format!("`{text}` is not an http(s) URL"), Some(forms));
        return None;
    }
    Some(text.trim_end_matches('/').to_owned())
}

fn read_security(reader: &mut Reader<'_>, top: &Fields<'_>) -> Security {
    let allowed = [
        "signing_secret",
        "signing_secret_file",
        "signature_tolerance",
        "bearer_token",
        "bearer_token_file",
    ];
    let fields = section(reader, top, "security", &allowed);
    let tolerance = fields
        .get("signature_tolerance")
        .and_then(|(value, at)| reader.parsed(value, &at, DURATION_FORMS, parse_duration));
    let skipping = reader.skip_secrets;
    reader.skip_secrets = skipping && !reader.keep_security;
    let security = Security {
        signing_secrets: read_signing_secrets(reader, &fields),
        signature_tolerance: tolerance.unwrap_or(Duration::from_secs(300)),
        bearer_token: reader.secret(&fields, "bearer_token"),
    };
    reader.skip_secrets = skipping;
    security
}

/// `signing_secret` is one secret or, while rotating, a list of them.
fn read_signing_secrets(reader: &mut Reader<'_>, fields: &Fields<'_>) -> Vec<super::Secret> {
    match fields.get("signing_secret") {
        Some((Value::Sequence(items), at)) if !fields.has("signing_secret_file") => {
            if items.is_empty() {
                reader.error(&at, "lists no secret: give at least one, or remove the key", None);
            }
            let mut secrets = Vec::new();
            if reader.skip_secrets {
                return items.iter().map(|_| super::Secret::new("***".into())).collect();
            }
            for (i, item) in items.iter().enumerate() {
                let at = at.index(i);
                match reader.string(item, &at) {
                    Some(s) if !s.is_empty() => secrets.push(super::Secret::new(s)),
                    Some(_) => reader.error(&at, "must not be empty", None),
                    None => {}
                }
            }
            secrets
        }
        _ => reader.secret(fields, "signing_secret").into_iter().collect(),
    }
}

/// Longer than any one send takes (Slack and SMTP time out sooner), so a
/// live instance never loses its claim mid-send.
const DEFAULT_CLAIM_LEASE: Duration = Duration::from_secs(60);

fn read_storage(reader: &mut Reader<'_>, top: &Fields<'_>) -> Storage {
    let fields = section(
        reader,
        top,
        "storage",
        &[
            "path",
            "postgres",
            "postgres_file",
            "claim_lease",
            "retention",
            "forget_after",
        ],
    );
    let path = fields.get("path").and_then(|(value, at)| reader.string(value, &at));
    let postgres = read_postgres(reader, &fields);
    if let (Some(_), Some((_, at))) = (&postgres, fields.get("path")) {
        reader.error(&at, "give either `path` (SQLite) or `postgres`, not both", None);
    }
    let retention = fields
        .get("retention")
        .and_then(|(value, at)| reader.parsed(value, &at, DURATION_FORMS, parse_duration));
    let forget_after = fields
        .get("forget_after")
        .and_then(|(value, at)| reader.parsed(value, &at, DURATION_FORMS, parse_duration));
    let claim_lease = fields
        .get("claim_lease")
        .and_then(|(value, at)| reader.parsed(value, &at, DURATION_FORMS, parse_duration));
    Storage {
        path: PathBuf::from(path.unwrap_or_else(|| "/var/lib/syncwatch/syncwatch.db".into())),
        postgres,
        claim_lease: claim_lease.unwrap_or(DEFAULT_CLAIM_LEASE),
        retention: retention.unwrap_or(Duration::from_secs(30 * 86_400)),
        forget_after: forget_after.unwrap_or(Duration::from_secs(30 * 86_400)),
    }
}

/// The database URL, which may carry a password: read even by the
/// commands that skip secrets, since they need the database too.
fn read_postgres(reader: &mut Reader<'_>, fields: &Fields<'_>) -> Option<Secret> {
    let skipping = std::mem::replace(&mut reader.skip_secrets, false);
    let url = reader.secret(fields, "postgres");
    reader.skip_secrets = skipping;
    let url = url?;
    let valid = url.expose().starts_with("postgres://") || url.expose().starts_with("postgresql://");
    if !valid {
        let at = fields
            .get("postgres")
            .or_else(|| fields.get("postgres_file"))
            .map(|(_, at)| at)?;
        reader.error(&at, "must be a URL starting with postgres:// or postgresql://", None);
        return None;
    }
    Some(url)
}

fn read_delivery(reader: &mut Reader<'_>, top: &Fields<'_>) -> Delivery {
    let fields = section(reader, top, "delivery", &["max_age", "dry_run"]);
    let max_age = fields
        .get("max_age")
        .and_then(|(value, at)| reader.parsed(value, &at, DURATION_FORMS, parse_duration));
    Delivery {
        max_age: max_age.unwrap_or(Duration::from_secs(86_400)),
        dry_run: read_flag(reader, &fields, "dry_run").unwrap_or(false),
    }
}

fn read_defaults(reader: &mut Reader<'_>, top: &Fields<'_>, channels: &[String]) -> Defaults {
    let fields = section(
        reader,
        top,
        "defaults",
        &[
            "notify",
            "repeat_interval",
            "missing_sandbox",
            "after",
            "resolve_after",
            "send_resolved",
        ],
    );
    let notify = fields
        .get("notify")
        .and_then(|(value, at)| read_channel_names(reader, value, &at, channels));
    let repeat_interval = fields
        .get("repeat_interval")
        .and_then(|(value, at)| reader.parsed(value, &at, DURATION_FORMS, parse_duration));
    let missing_sandbox = fields
        .get("missing_sandbox")
        .and_then(|(value, at)| reader.choice(value, &at, &Environment::ALL));
    Defaults {
        notify: notify.unwrap_or_default(),
        repeat_interval: repeat_interval.unwrap_or(Duration::from_secs(4 * 3600)),
        missing_sandbox: missing_sandbox.unwrap_or(Environment::Production),
        after: read_streak(reader, &fields, "after").unwrap_or(1),
        resolve_after: read_streak(reader, &fields, "resolve_after").unwrap_or(1),
        send_resolved: read_flag(reader, &fields, "send_resolved").unwrap_or(true),
    }
}

/// `after` or `resolve_after`: how many in a row, from 1 to 1,000.
pub fn read_streak(reader: &mut Reader<'_>, fields: &Fields<'_>, key: &str) -> Option<u32> {
    let (value, at) = fields.get(key)?;
    let count = reader.count(value, &at, 1000)?;
    if count == 0 {
        reader.error(&at, format!("`{key}: 0` would never hold: count from 1"), None);
        return None;
    }
    Some(count as u32)
}

/// A `true` / `false` setting.
pub fn read_flag(reader: &mut Reader<'_>, fields: &Fields<'_>, key: &str) -> Option<bool> {
    let (value, at) = fields.get(key)?;
    reader.choice(value, &at, &[("true", true), ("false", false)])
}

/// A list of channel names, each of which `channels` declares (a declared
/// channel with errors of its own is reported there, not at each use).
pub fn read_channel_names(reader: &mut Reader<'_>, value: &Value, at: &At, channels: &[String]) -> Option<Vec<String>> {
    let names = reader.strings(value, at)?;
    let allowed = if channels.is_empty() {
        "no channel is defined under `channels`".to_owned()
    } else {
        channels.join(", ")
    };
    let mut ok = true;
    for (i, name) in names.iter().enumerate() {
        if !channels.contains(name) {
            let at = if value.is_sequence() { at.index(i) } else { at.clone() };
            reader.error(&at, format!("no channel is named `{name}`"), Some(&allowed));
            ok = false;
        }
    }
    ok.then_some(names)
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
