//! The `channels` section: each named channel is one Slack webhook or app,
//! one SMTP mailer or one of the receivers, checked completely at load.

use std::collections::BTreeMap;

use lettre::message::Mailbox;
use serde_yaml::Value;

use super::digest::read_digest;
use super::model::{Channel, ChannelKind, Digest, EmailChannel, SmtpCredentials, TlsMode};
use super::reader::{At, Fields, Reader};
use super::receivers::{read_alertmanager, read_pagerduty, read_teams, read_webhook};
use super::slack::read_slack;
use crate::render::{Medium, Template};

const KINDS: &[&str] = &["slack", "email", "pagerduty", "teams", "webhook", "alertmanager"];
const CHANNEL_KEYS: &[&str] = &[
    "slack",
    "email",
    "pagerduty",
    "teams",
    "webhook",
    "alertmanager",
    "digest",
    "fallback",
];
const EMAIL_KEYS: &[&str] = &[
    "host",
    "port",
    "tls",
    "ca_file",
    "username",
    "password",
    "password_file",
    "from",
    "to",
    "subject_template",
    "body_template",
];
const TLS_MODES: [(&str, TlsMode); 3] = [
    ("starttls", TlsMode::StartTls),
    ("tls", TlsMode::Tls),
    ("none", TlsMode::None),
];

/// The valid channels, and the names of all declared ones (valid or not),
/// which rules may refer to without a second error.
pub fn read_channels(
    reader: &mut Reader<'_>,
    section: Option<(&Value, At)>,
) -> (BTreeMap<String, Channel>, Vec<String>) {
    let mut channels = BTreeMap::new();
    let mut declared = Vec::new();
    let mut fallbacks = Vec::new();
    let Some((value, at)) = section else {
        return (channels, declared);
    };
    let Some(map) = value.as_mapping() else {
        reader.error(&at, "expected a mapping from channel name to channel", None);
        return (channels, declared);
    };
    for (name, body) in map {
        let Some(name) = name.as_str() else {
            reader.error(&at, "channel names must be strings", None);
            continue;
        };
        let at = at.key(name);
        if !is_valid_name(name) {
            reader.error(
                &at,
                format!("`{name}` is not a valid channel name"),
                Some("letters, digits, `-`, `_` and `.`"),
            );
            continue;
        }
        declared.push(name.to_owned());
        if let Some((kind, digest)) = read_channel(reader, body, &at) {
            let channel = Channel {
                name: name.to_owned(),
                kind,
                digest,
                fallback: None,
            };
            channels.insert(name.to_owned(), channel);
        }
        if let Some((value, at)) = body.get("fallback").map(|v| (v, at.key("fallback"))) {
            fallbacks.push((name.to_owned(), value, at));
        }
    }
    for (name, value, at) in fallbacks {
        let target = read_fallback(reader, &name, value, &at, &declared, &channels);
        if let (Some(target), Some(channel)) = (target, channels.get_mut(&name)) {
            channel.fallback = Some(target);
        }
    }
    (channels, declared)
}

/// A channel's `fallback`: another declared channel that a person reads,
/// told when one of this channel's messages fails for good or expires.
fn read_fallback(
    reader: &mut Reader<'_>,
    name: &str,
    value: &Value,
    at: &At,
    declared: &[String],
    channels: &BTreeMap<String, Channel>,
) -> Option<String> {
    let target = reader.string(value, at)?;
    if target == name {
        reader.error(at, "a channel cannot be its own fallback", None);
        return None;
    }
    if !declared.contains(&target) {
        let message = format!("no channel is named `{target}`");
        reader.error(at, message, Some(&declared.join(", ")));
        return None;
    }
    // A webhook or Alertmanager would take the notice as just another
    // alert; a fallback is for a person to learn that a channel is broken.
    let kind = channels.get(&target).map(|c| c.kind.name());
    if let Some(kind @ ("webhook" | "alertmanager")) = kind {
        let message = format!("`{target}` is a {kind} channel: a fallback must be one people read");
        reader.error(at, message, Some("slack, email, teams or pagerduty"));
        return None;
    }
    Some(target)
}

pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn read_channel(reader: &mut Reader<'_>, body: &Value, at: &At) -> Option<(ChannelKind, Option<Digest>)> {
    let fields = reader.fields(Some(body), at.clone(), CHANNEL_KEYS);
    let digest = read_digest(reader, fields.get("digest"));
    let kind = read_kind(reader, &fields, at)?;
    if kind.groups_itself() {
        // PagerDuty and Alertmanager group alerts themselves; a digest
        // would only hide from them what they group.
        if let Some((_, at)) = fields.get("digest") {
            let message = format!("digests do not apply to {} (it groups alerts itself)", kind.name());
            reader.error(&at, message, None);
            return None;
        }
        return Some((kind, None));
    }
    Some((kind, digest?))
}

fn read_kind(reader: &mut Reader<'_>, fields: &Fields<'_>, at: &At) -> Option<ChannelKind> {
    let given: Vec<(&str, (&Value, At))> = KINDS.iter().filter_map(|k| Some((*k, fields.get(k)?))).collect();
    let [(kind, (value, at))] = given.as_slice() else {
        let message = "a channel is exactly one kind: slack, email, pagerduty, teams, webhook or alertmanager";
        reader.error(at, message, Some(&KINDS.join(", ")));
        return None;
    };
    let at = at.clone();
    match *kind {
        "slack" => read_slack(reader, value, at).map(ChannelKind::Slack),
        "email" => read_email(reader, value, at).map(ChannelKind::Email),
        "pagerduty" => read_pagerduty(reader, value, at).map(ChannelKind::Pagerduty),
        "teams" => read_teams(reader, value, at).map(ChannelKind::Teams),
        "webhook" => read_webhook(reader, value, at).map(ChannelKind::Webhook),
        _ => read_alertmanager(reader, value, at).map(ChannelKind::Alertmanager),
    }
}

fn read_email(reader: &mut Reader<'_>, value: &Value, at: At) -> Option<EmailChannel> {
    let fields = reader.fields(Some(value), at, EMAIL_KEYS);
    let host = required(reader, &fields, "host").and_then(|(v, at)| reader.string(v, &at));
    let tls = match fields.get("tls") {
        Some((value, at)) => reader.choice(value, &at, &TLS_MODES),
        None => Some(TlsMode::StartTls),
    };
    let port = match fields.get("port") {
        Some((value, at)) => reader.count(value, &at, u64::from(u16::MAX)).map(|p| Some(p as u16)),
        None => Some(None),
    };
    let credentials = read_credentials(reader, &fields);
    let ca_pem = match fields.get("ca_file") {
        Some((value, at)) => read_ca_file(reader, value, &at).map(Some),
        None => Some(None),
    };
    let from = required(reader, &fields, "from").and_then(|(v, at)| read_mailbox(reader, v, &at));
    let to = required(reader, &fields, "to").and_then(|(v, at)| read_recipients(reader, v, &at));
    let subject_template = read_template(reader, &fields, "subject_template", Medium::Subject);
    let body_template = read_template(reader, &fields, "body_template", Medium::Text);
    let tls = tls?;
    Some(EmailChannel {
        subject_template: subject_template?,
        body_template: body_template?,
        host: host?,
        port: port?.unwrap_or(default_port(tls)),
        tls,
        credentials: credentials?,
        ca_pem: ca_pem?,
        from: from?,
        to: to?,
    })
}

/// A template file: compiled and rendered against a sample of every kind
/// of message now, so a broken one fails `check` and every reload rather
/// than a notification. `Some(None)` when not given.
pub(super) fn read_template(
    reader: &mut Reader<'_>,
    fields: &Fields<'_>,
    key: &str,
    medium: Medium,
) -> Option<Option<Template>> {
    let Some((value, at)) = fields.get(key) else {
        return Some(None);
    };
    let path = reader.string(value, &at)?;
    match Template::load(&reader.resolve(&path), medium) {
        Ok(template) => Some(Some(template)),
        Err(error) => {
            reader.error(&at, format!("template {error}"), None);
            None
        }
    }
}

fn default_port(tls: TlsMode) -> u16 {
    match tls {
        TlsMode::StartTls => 587,
        TlsMode::Tls => 465,
        TlsMode::None => 25,
    }
}

fn required<'v>(reader: &mut Reader<'_>, fields: &Fields<'v>, key: &str) -> Option<(&'v Value, At)> {
    let found = fields.get(key);
    if found.is_none() {
        reader.error(&fields.at.key(key), format!("`{key}` is required"), None);
    }
    found
}

/// `Some(None)`: no login; `None`: an error was reported.
fn read_credentials(reader: &mut Reader<'_>, fields: &Fields<'_>) -> Option<Option<SmtpCredentials>> {
    let username = fields.get("username").and_then(|(v, at)| reader.string(v, &at));
    let has_password = fields.has("password") || fields.has("password_file");
    let password = reader.secret(fields, "password");
    match (username, password) {
        (Some(username), Some(password)) => Some(Some(SmtpCredentials { username, password })),
        (None, None) if !fields.has("username") && !has_password => Some(None),
        (Some(_), None) if !has_password => {
            let message = "`username` needs `password` or `password_file`";
            reader.error(&fields.at.key("username"), message, None);
            None
        }
        (None, Some(_)) => {
            reader.error(&fields.at.key("password"), "`password` needs `username`", None);
            None
        }
        _ => None,
    }
}

/// Reads and checks a PEM file of CA certificates at load time.
fn read_ca_file(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<Vec<u8>> {
    let path = reader.string(value, at)?;
    let path = reader.resolve(&path);
    let pem = match std::fs::read(&path) {
        Ok(pem) => pem,
        Err(err) => {
            reader.error(at, format!("cannot read `{}`: {err}", path.display()), None);
            return None;
        }
    };
    if count_certificates(&pem) == 0 {
        reader.error(
            at,
            format!("`{}` holds no PEM certificate", path.display()),
            Some("a PEM file of CA certificates"),
        );
        return None;
    }
    Some(pem)
}

fn count_certificates(pem: &[u8]) -> usize {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem).filter(Result::is_ok).count()
}

const MAILBOX_FORMS: &str = "an address such as alerts@example.com or \"syncwatch <alerts@example.com>\"";

fn read_mailbox(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<Mailbox> {
    reader.parsed(value, at, MAILBOX_FORMS, |s| s.parse::<Mailbox>().ok())
}

fn read_recipients(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<Vec<Mailbox>> {
    let items: Vec<(&Value, At)> = match value {
        Value::Sequence(items) => items.iter().enumerate().map(|(i, v)| (v, at.index(i))).collect(),
        single => vec![(single, at.clone())],
    };
    if items.is_empty() {
        reader.error(at, "needs at least one recipient", Some(MAILBOX_FORMS));
        return None;
    }
    let mailboxes: Vec<Option<Mailbox>> = items.iter().map(|(v, at)| read_mailbox(reader, v, at)).collect();
    mailboxes.into_iter().collect()
}
