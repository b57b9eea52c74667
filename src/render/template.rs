//! Templates of the operator's own wording (minijinja): a Slack channel's
//! `template`, an email channel's `subject_template` and `body_template`.
//! Checked at load against samples of every kind of message, in strict
//! mode; at run time a template that still fails gives way to the
//! built-in message, with a log line and a counted metric.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::digest::Item;
use super::escape::{bidi_escape, one_line, slack_escape};
use super::facts::Facts;
use super::notice::{Notice, rfc3339, rounded};
use super::template_samples::samples;

/// Every variable a template may use (documented in docs/channels.md).
pub const VARIABLES: &[&str] = &[
    "kind",
    "state",
    "rule",
    "description",
    "runbook",
    "severity",
    "environment",
    "business",
    "connection",
    "service",
    "sync_type",
    "event",
    "data_type",
    "headline",
    "summary",
    "counts",
    "problems",
    "failed",
    "empty",
    "request_id",
    "received_at",
    "since",
    "failing",
    "lasted",
    "clean_request",
    "connection_status",
    "disconnect_reason",
    "status_message",
    "last_sync",
    "line",
    "count",
    "items",
    "more",
];

/// Templates that failed at run time, for `/metrics`.
static FAILURES: AtomicU64 = AtomicU64::new(0);

pub fn failures() -> u64 {
    FAILURES.load(Ordering::Relaxed)
}

/// How a template's values are escaped for where the text goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Medium {
    /// Slack mrkdwn: `&`, `<`, `>` escaped.
    Slack,
    /// An email header: one line.
    Subject,
    /// An email's text part. The HTML part shows the rendered text
    /// HTML-escaped as a whole (see `channel.rs`), so values need no HTML
    /// escaping here: in the text part it would show as `&lt;`.
    Text,
}

impl Medium {
    /// A value as the built-in messages show it: on one line (a line break
    /// from a payload could forge another line of the message, or a
    /// header), in Slack with mrkdwn's control characters escaped, and in
    /// a subject with bidirectional controls shown escaped (`\u{202e}`).
    fn value(self, text: &str) -> String {
        match self {
            Medium::Slack => slack_escape(&one_line(text)),
            Medium::Subject => bidi_escape(&one_line(text)),
            Medium::Text => one_line(text),
        }
    }

    /// The operator's own text that may span lines (a rule's description),
    /// its line breaks kept where the medium has lines.
    fn own_text(self, text: &str) -> String {
        match self {
            Medium::Slack => slack_escape(text),
            Medium::Subject => one_line(text),
            Medium::Text => text.to_owned(),
        }
    }
}

/// Variables that are the operator's own multi-line text, not a payload's.
const OWN_TEXT: &[&str] = &["description"];

/// One compiled template file.
#[derive(Clone)]
pub struct Template {
    pub path: PathBuf,
    env: Arc<Environment<'static>>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Template({})", self.path.display())
    }
}

const NAME: &str = "template";

impl Template {
    /// Reads and compiles `path`, then renders it against every sample;
    /// the error names the file, the line and what is wrong.
    pub fn load(path: &Path, medium: Medium) -> Result<Template, String> {
        let source = std::fs::read_to_string(path).map_err(|err| format!("{}: cannot read: {err}", path.display()))?;
        let loaded = Template::compile(path, source)?;
        for sample in samples() {
            loaded.try_render(&sample, medium)?;
        }
        Ok(loaded)
    }

    /// Compiles `source` (read from `path`), refusing unknown variables.
    fn compile(path: &Path, source: String) -> Result<Template, String> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_template_owned(NAME, source.clone())
            .map_err(|err| describe(path, &err))?;
        let template = env.get_template(NAME).map_err(|err| describe(path, &err))?;
        let mut unknown: Vec<String> = template
            .undeclared_variables(false)
            .into_iter()
            .filter(|name| !VARIABLES.contains(&name.as_str()))
            .collect();
        unknown.sort();
        if let Some(name) = unknown.first() {
            let line = source
                .lines()
                .position(|l| l.contains(name.as_str()))
                .map_or(0, |i| i + 1);
            return Err(format!(
                "{}:{line}: unknown variable `{name}` (the variables are listed in docs/channels.md: {})",
                path.display(),
                VARIABLES.join(", ")
            ));
        }
        Ok(Template {
            path: path.to_owned(),
            env: Arc::new(env),
        })
    }

    /// The text for `context`, or why not.
    pub fn try_render(&self, context: &Context, medium: Medium) -> Result<String, String> {
        let escaped = context
            .escaped(medium)
            .map_err(|err| format!("{}: {err}", self.path.display()))?;
        let template = self.env.get_template(NAME).map_err(|err| describe(&self.path, &err))?;
        let text = template.render(&escaped).map_err(|err| describe(&self.path, &err))?;
        Ok(match medium {
            Medium::Subject => one_line(&text),
            _ => text,
        })
    }

    /// The text for `context`, or why the built-in message goes instead:
    /// what the daemon sends, and what `syncwatch test` shows.
    pub fn outcome(&self, context: &Context, medium: Medium) -> Result<String, String> {
        let text = self.try_render(context, medium)?;
        // Slack refuses an empty message, and an empty subject reads as
        // nothing in an inbox: an empty result counts as a failure.
        if text.trim().is_empty() {
            return Err(format!("{}: rendered nothing", self.path.display()));
        }
        Ok(text)
    }

    /// The text for `context`, or `None` (logged and counted) so that the
    /// caller sends its built-in message: never a lost notification.
    pub fn render(&self, context: &Context, medium: Medium) -> Option<String> {
        match self.outcome(context, medium) {
            Ok(text) => Some(text),
            Err(error) => {
                FAILURES.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(template = %self.path.display(), error = %error, "template failed; the built-in message is sent instead");
                None
            }
        }
    }
}

fn describe(path: &Path, err: &minijinja::Error) -> String {
    let line = err.line().map(|l| format!(":{l}")).unwrap_or_default();
    let detail = err.detail().map(|d| format!(": {d}")).unwrap_or_default();
    format!("{}{line}: {}{detail}", path.display(), err.kind())
}

/// What a template sees. `Deserialize` lets the tests fill every variable
/// with hostile text, found by walking the serialized context.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Context {
    pub kind: String,
    pub state: String,
    pub rule: String,
    pub description: Option<String>,
    /// The rule's runbook link.
    pub runbook: Option<String>,
    pub severity: String,
    pub environment: String,
    pub business: String,
    pub connection: Option<String>,
    pub service: Option<String>,
    pub sync_type: Option<String>,
    pub event: Option<String>,
    pub data_type: Option<String>,
    pub headline: String,
    pub summary: String,
    pub counts: String,
    pub problems: Vec<Problem>,
    pub failed: Vec<String>,
    pub empty: Vec<String>,
    pub request_id: Option<String>,
    pub received_at: String,
    pub since: Option<String>,
    pub failing: Option<u64>,
    pub lasted: Option<String>,
    pub clean_request: Option<String>,
    pub connection_status: Option<String>,
    pub disconnect_reason: Option<String>,
    pub status_message: Option<String>,
    pub last_sync: Option<String>,
    pub line: Option<String>,
    pub count: usize,
    pub items: Vec<Item>,
    pub more: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Problem {
    pub status: String,
    pub total: u64,
    pub lines: Vec<String>,
}

impl Context {
    pub fn of(facts: &Facts) -> Context {
        let lines_of = |status: &str| -> Vec<String> {
            facts
                .problems
                .iter()
                .filter(|g| g.status.as_str() == status)
                .flat_map(|g| g.lines.clone())
                .collect()
        };
        let (kind, since, failing, lasted, clean_request) = match &facts.notice {
            Notice::Firing => ("firing", None, None, None, None),
            Notice::StillFailing { since, failing } => {
                ("still_failing", Some(rfc3339(*since)), Some(*failing), None, None)
            }
            Notice::Resolved {
                since,
                lasted,
                failing,
                clean_request,
                ..
            } => (
                "resolved",
                Some(rfc3339(*since)),
                Some(*failing),
                Some(rounded(*lasted)),
                clean_request.clone(),
            ),
        };
        Context {
            kind: kind.to_owned(),
            state: facts.notice.label().to_owned(),
            rule: facts.rule.clone(),
            description: facts.description.clone(),
            runbook: facts.runbook.clone(),
            severity: facts.severity_label(),
            environment: facts.environment_label().to_owned(),
            business: facts.business.clone(),
            connection: facts.connection.clone(),
            service: facts.service.clone(),
            sync_type: facts.sync_type.clone(),
            event: facts.event.clone(),
            data_type: facts.data_type.clone(),
            headline: facts.headline.clone(),
            summary: facts.summary(),
            counts: facts.counts.clone(),
            problems: facts
                .problems
                .iter()
                .map(|g| Problem {
                    status: g.status.as_str().to_owned(),
                    total: g.total,
                    lines: g.lines.clone(),
                })
                .collect(),
            failed: lines_of("failed"),
            empty: lines_of("empty"),
            request_id: facts.request_id.clone(),
            received_at: facts.received_at.clone(),
            since,
            failing,
            lasted,
            clean_request,
            connection_status: facts.connection_status.clone(),
            disconnect_reason: facts.disconnect_reason.clone(),
            status_message: facts.status_message.clone(),
            last_sync: facts.last_sync.clone(),
            line: facts.notice.line(),
            count: 1,
            items: Vec::new(),
            more: 0,
        }
    }

    /// A digest of `items`, the first `max_items` listed.
    pub fn digest(items: &[Item], max_items: usize, now: SystemTime) -> Context {
        let shown = items.len().min(max_items);
        let first = items.first();
        let rules: Vec<&str> = items.iter().map(|i| i.rule.as_str()).collect();
        Context {
            kind: "digest".to_owned(),
            state: "DIGEST".to_owned(),
            rule: rules.first().map(|r| (*r).to_owned()).unwrap_or_default(),
            description: None,
            runbook: None,
            severity: first.map(|i| i.severity.clone()).unwrap_or_default(),
            environment: String::new(),
            business: String::new(),
            connection: None,
            service: None,
            sync_type: None,
            event: None,
            data_type: None,
            headline: format!("{} alerts", items.len()),
            summary: format!("{} alerts", items.len()),
            counts: String::new(),
            problems: Vec::new(),
            failed: Vec::new(),
            empty: Vec::new(),
            request_id: None,
            received_at: rfc3339(now),
            since: None,
            failing: None,
            lasted: None,
            clean_request: None,
            connection_status: None,
            disconnect_reason: None,
            status_message: None,
            last_sync: None,
            line: None,
            count: items.len(),
            items: items[..shown].to_vec(),
            more: items.len() - shown,
        }
    }

    /// Every text of the context escaped for `medium`, as the template
    /// sees it. Every string is escaped, however deep, rather than a list
    /// of fields: a list is how `counts` and `items[].reason` once went out
    /// raw, and a variable added later is escaped without anyone
    /// remembering to. Syncwatch's own words (`kind`, `FIRING`, the dates)
    /// have nothing to escape, so escaping them too costs nothing.
    fn escaped(&self, medium: Medium) -> Result<Value, serde_json::Error> {
        let mut value = serde_json::to_value(self)?;
        if let Value::Object(fields) = &mut value {
            for (name, field) in fields.iter_mut() {
                match field {
                    Value::String(text) if OWN_TEXT.contains(&name.as_str()) => *text = medium.own_text(text),
                    field => escape_strings(field, medium),
                }
            }
        }
        Ok(value)
    }
}

fn escape_strings(value: &mut Value, medium: Medium) {
    match value {
        Value::String(text) => *text = medium.value(text),
        Value::Array(values) => values.iter_mut().for_each(|v| escape_strings(v, medium)),
        Value::Object(fields) => fields.values_mut().for_each(|v| escape_strings(v, medium)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
