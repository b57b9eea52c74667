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
use serde::Serialize;

use super::digest::Item;
use super::escape::{one_line, slack_escape};
use super::facts::Facts;
use super::notice::{Notice, rfc3339, rounded};
use super::template_samples::samples;

/// Every variable a template may use (documented in the README).
pub const VARIABLES: &[&str] = &[
    "kind",
    "state",
    "rule",
    "description",
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
    /// An email's text part.
    Text,
}

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
                "{}:{line}: unknown variable `{name}` (the variables are listed in the README: {})",
                path.display(),
                VARIABLES.join(", ")
            ));
        }
        let loaded = Template {
            path: path.to_owned(),
            env: Arc::new(env),
        };
        for sample in samples() {
            loaded.try_render(&sample, medium)?;
        }
        Ok(loaded)
    }

    /// The text for `context`, or why not.
    pub fn try_render(&self, context: &Context, medium: Medium) -> Result<String, String> {
        let escaped = context.escaped(medium);
        let template = self.env.get_template(NAME).map_err(|err| describe(&self.path, &err))?;
        let text = template.render(&escaped).map_err(|err| describe(&self.path, &err))?;
        Ok(match medium {
            Medium::Subject => one_line(&text),
            _ => text,
        })
    }

    /// The text for `context`, or `None` (logged and counted) so that the
    /// caller sends its built-in message: never a lost notification.
    pub fn render(&self, context: &Context, medium: Medium) -> Option<String> {
        match self.try_render(context, medium) {
            // Slack refuses an empty message, and an empty subject reads
            // as nothing in an inbox: an empty result counts as a failure.
            Ok(text) if text.trim().is_empty() => {
                FAILURES.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(template = %self.path.display(), "template rendered nothing; the built-in message is sent instead");
                None
            }
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

/// What a template sees.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    pub kind: &'static str,
    pub state: &'static str,
    pub rule: String,
    pub description: Option<String>,
    pub severity: String,
    pub environment: &'static str,
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

#[derive(Debug, Clone, Serialize)]
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
            } => (
                "resolved",
                Some(rfc3339(*since)),
                Some(*failing),
                Some(rounded(*lasted)),
                clean_request.clone(),
            ),
        };
        Context {
            kind,
            state: facts.notice.label(),
            rule: facts.rule.clone(),
            description: facts.description.clone(),
            severity: facts.severity_label(),
            environment: facts.environment_label(),
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
            kind: "digest",
            state: "DIGEST",
            rule: rules.first().map(|r| (*r).to_owned()).unwrap_or_default(),
            description: None,
            severity: first.map(|i| i.severity.clone()).unwrap_or_default(),
            environment: "",
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

    /// Every text from a payload escaped for `medium`.
    fn escaped(&self, medium: Medium) -> Context {
        let escape: fn(&str) -> String = match medium {
            Medium::Slack => slack_escape,
            Medium::Subject => one_line,
            Medium::Text => str::to_owned,
        };
        let opt = |v: &Option<String>| v.as_deref().map(escape);
        let list = |v: &[String]| v.iter().map(|s| escape(s)).collect::<Vec<_>>();
        let mut out = self.clone();
        out.rule = escape(&self.rule);
        out.description = opt(&self.description);
        out.business = escape(&self.business);
        out.connection = opt(&self.connection);
        out.service = opt(&self.service);
        out.sync_type = opt(&self.sync_type);
        out.event = opt(&self.event);
        out.data_type = opt(&self.data_type);
        out.headline = escape(&self.headline);
        out.summary = escape(&self.summary);
        out.request_id = opt(&self.request_id);
        out.clean_request = opt(&self.clean_request);
        out.connection_status = opt(&self.connection_status);
        out.disconnect_reason = opt(&self.disconnect_reason);
        out.status_message = opt(&self.status_message);
        out.line = opt(&self.line);
        out.failed = list(&self.failed);
        out.empty = list(&self.empty);
        for problem in &mut out.problems {
            problem.lines = list(&problem.lines);
        }
        for item in &mut out.items {
            item.business = escape(&item.business);
            item.connection = opt(&item.connection);
            item.service = opt(&item.service);
            item.data_types = list(&item.data_types);
            item.headline = escape(&item.headline);
            item.rule = escape(&item.rule);
        }
        out
    }
}
