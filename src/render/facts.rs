//! The facts every message carries, gathered once from a match: rule,
//! severity, environment, who and what, the failed or empty data types with
//! their periods, the counts, the requestId and when it arrived.

use std::time::SystemTime;

use crate::event::{DataTypeTally, Event, Status};
use crate::rules::{Environment, Evidence, Match, Rule, Severity};

use super::link::status_link;
use super::notice::Notice;
use crate::absence::KnownConnection;

/// One match of one rule on one event, as the renderers need it.
#[derive(Debug, Clone, Copy)]
pub struct Alert<'a> {
    pub rule: &'a Rule,
    pub event: &'a Event,
    pub evidence: &'a Evidence,
    pub environment: Environment,
    pub received_at: SystemTime,
}

/// Problems of one status: `incomeStatements month 2018-04-01..2018-04-30`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemGroup {
    pub status: Status,
    pub total: u64,
    pub lines: Vec<String>,
}

/// Unescaped values; each renderer escapes for its medium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub rule: String,
    pub description: Option<String>,
    /// The rule's runbook link.
    pub runbook: Option<String>,
    pub severity: Severity,
    pub environment: Environment,
    /// What happened, in a few words: `2 failed, 1 empty`.
    pub headline: String,
    pub business: String,
    pub connection: Option<String>,
    pub service: Option<String>,
    pub sync_type: Option<String>,
    pub event: Option<String>,
    pub data_type: Option<String>,
    /// Every status of the event with its count: `failed 1, empty 1, success 3`.
    pub counts: String,
    pub problems: Vec<ProblemGroup>,
    pub request_id: Option<String>,
    /// RFC 3339, UTC.
    pub received_at: String,
    /// `connectionStatus` events: `active → disconnected`, the reason and
    /// Railz's own message.
    pub connection_status: Option<String>,
    pub disconnect_reason: Option<String>,
    pub status_message: Option<String>,
    /// Absence alerts: when the connection last synced (or `never`).
    pub last_sync: Option<String>,
    /// Firing, still failing, or resolved.
    pub notice: Notice,
    /// The alert episode the message belongs to, when it is about one (a
    /// digest is not): what email threads its messages by.
    pub thread: Option<Thread>,
    /// The alert on the status page, when `server.public_url` is set.
    pub link: Option<String>,
}

/// One alert episode: its key (`rule/connection[/data type]`) and when it
/// started firing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    pub key: String,
    pub since: SystemTime,
}

impl<'a> Alert<'a> {
    /// The alert of `matched` firing on `event`.
    pub fn of(
        matched: &'a Match<'a>,
        event: &'a Event,
        environment: Environment,
        received_at: SystemTime,
    ) -> Alert<'a> {
        Alert {
            rule: matched.rule,
            event,
            evidence: &matched.evidence,
            environment,
            received_at,
        }
    }
}

impl Facts {
    pub fn gather(alert: &Alert<'_>) -> Facts {
        let event = alert.event;
        let problems = problem_groups(event, alert.evidence);
        Facts {
            rule: alert.rule.name.clone(),
            description: alert.rule.description.clone(),
            runbook: alert.rule.runbook.clone(),
            severity: alert.rule.severity,
            environment: alert.environment,
            headline: headline(event, &problems),
            business: event.business_name.clone().unwrap_or_else(|| "unknown business".into()),
            connection: event.connection_id.clone(),
            service: event.service.clone(),
            sync_type: event.sync_type.clone(),
            event: event.event.clone(),
            data_type: event.request_type.clone(),
            counts: counts_of(event),
            problems,
            request_id: event.request_id.clone(),
            received_at: humantime::format_rfc3339_seconds(alert.received_at).to_string(),
            connection_status: status_change(event),
            disconnect_reason: event.disconnect_reason.clone(),
            status_message: event.message.clone(),
            last_sync: None,
            notice: Notice::Firing,
            thread: None,
            link: None,
        }
    }

    /// The RESOLVED message of `rule`'s alert, told by the event that
    /// resolved it: who and where come from that event; the caller sets
    /// the story (`notice`).
    pub fn resolved(rule: &Rule, event: &Event, environment: Environment, received_at: SystemTime) -> Facts {
        let evidence = Evidence::default();
        let alert = Alert {
            rule,
            event,
            evidence: &evidence,
            environment,
            received_at,
        };
        let mut facts = Facts::gather(&alert);
        facts.problems.clear();
        facts.headline = "back to normal".into();
        facts
    }

    /// The message of absence rule `rule` about `connection`, silent since
    /// `quiet_since`.
    pub fn absence(rule: &Rule, connection: &KnownConnection, quiet_since: SystemTime, now: SystemTime) -> Facts {
        let event = connection.as_event();
        let evidence = Evidence::default();
        let alert = Alert {
            rule,
            event: &event,
            evidence: &evidence,
            environment: connection.environment,
            received_at: now,
        };
        let mut facts = Facts::gather(&alert);
        let silent = now.duration_since(quiet_since).unwrap_or_default();
        facts.headline = format!("no sync for {}", super::notice::rounded(silent));
        facts.event = None;
        facts.counts = String::new();
        facts.last_sync = Some(match connection.last_sync {
            Some(at) => super::notice::rfc3339(at),
            None => format!("never (first seen {})", super::notice::rfc3339(connection.first_seen)),
        });
        facts.request_id = None;
        facts
    }

    /// Links the message to its connection on the status page at
    /// `public_url`, when one is configured.
    pub fn linked(mut self, public_url: Option<&str>) -> Facts {
        self.link = public_url.map(|base| status_link(base, self.connection.as_deref()));
        self
    }

    /// `production`, `sandbox`: as rules.yaml and machine readers spell it.
    pub fn environment_name(&self) -> &'static str {
        match self.environment {
            Environment::Production => "production",
            Environment::Sandbox => "sandbox",
        }
    }

    pub fn environment_label(&self) -> &'static str {
        match self.environment {
            Environment::Production => "PRODUCTION",
            Environment::Sandbox => "SANDBOX",
        }
    }

    pub fn severity_label(&self) -> String {
        self.severity.as_str().to_uppercase()
    }

    /// `2 failed for BIZ-1 (quickbooks)`: the part of a title after the
    /// rule. A message about no one business (an outage's) is its headline.
    pub fn summary(&self) -> String {
        if self.business.is_empty() {
            return self.headline.clone();
        }
        let mut out = format!("{} for {}", self.headline, self.business);
        if let Some(service) = &self.service {
            out.push_str(&format!(" ({service})"));
        }
        out
    }

    /// Label and value of each detail, in display order; absent ones skipped.
    pub fn details(&self) -> Vec<(&'static str, String)> {
        let optional = [
            ("Connection", &self.connection),
            ("Service", &self.service),
            ("Sync type", &self.sync_type),
            ("Event", &self.event),
            ("Data type", &self.data_type),
            ("Connection status", &self.connection_status),
            ("Disconnect reason", &self.disconnect_reason),
            ("Railz message", &self.status_message),
            ("Last sync", &self.last_sync),
        ];
        let mut out = vec![("Environment", self.environment_label().to_owned())];
        if !self.business.is_empty() {
            out.push(("Business", self.business.clone()));
        }
        out.extend(optional.into_iter().filter_map(|(label, v)| Some((label, v.clone()?))));
        if !self.counts.is_empty() {
            out.push(("Counts", self.counts.clone()));
        }
        let request_id = self.request_id.clone().unwrap_or_else(|| "(none)".into());
        out.push(("Request ID", request_id));
        out.push(("Received", self.received_at.clone()));
        out
    }
}

/// The evidence when count conditions made the rule fire; otherwise every
/// failed and empty tally, so a rule on other keys still shows the problems.
fn problem_groups(event: &Event, evidence: &Evidence) -> Vec<ProblemGroup> {
    let tallies: Vec<&DataTypeTally> = if evidence.tallies().is_empty() {
        event
            .tallies
            .iter()
            .filter(|t| t.count > 0 && matches!(t.status, Status::Failed | Status::Empty))
            .collect()
    } else {
        evidence.tallies().iter().map(|&i| &event.tallies[i]).collect()
    };
    let mut groups: Vec<ProblemGroup> = Vec::new();
    for tally in tallies {
        let group = match groups.iter_mut().position(|g| g.status == tally.status) {
            Some(at) => &mut groups[at],
            None => {
                groups.push(ProblemGroup {
                    status: tally.status.clone(),
                    total: 0,
                    lines: Vec::new(),
                });
                groups.last_mut().expect("just pushed")
            }
        };
        group.total = group.total.saturating_add(tally.count);
        group.lines.extend(tally_lines(tally));
    }
    groups.sort_by_key(|g| status_rank(&g.status));
    groups
}

fn status_rank(status: &Status) -> u8 {
    match status {
        Status::Failed => 0,
        Status::Empty => 1,
        Status::Other(_) => 2,
        Status::Success => 3,
    }
}

/// One line per period; a tally without periods (simple payload) is one
/// line with its count.
fn tally_lines(tally: &DataTypeTally) -> Vec<String> {
    let mut prefix = tally.data_type_label().to_owned();
    if let Some(frequency) = &tally.frequency {
        prefix.push(' ');
        prefix.push_str(frequency.as_str());
    }
    if tally.periods.is_empty() {
        return vec![format!("{prefix} ({})", tally.count)];
    }
    let mut lines: Vec<String> = tally.periods.iter().map(|p| format!("{prefix} {p}")).collect();
    let unperiodic = tally.count.saturating_sub(tally.periods.len() as u64);
    if unperiodic > 0 {
        lines.push(format!("{prefix} ({unperiodic} without a period)"));
    }
    lines
}

/// `active → disconnected`, or just the new status.
fn status_change(event: &Event) -> Option<String> {
    let new = event.new_status.as_deref()?;
    Some(match event.old_status.as_deref() {
        Some(old) => format!("{old} → {new}"),
        None => new.to_owned(),
    })
}

fn headline(event: &Event, problems: &[ProblemGroup]) -> String {
    let parts: Vec<String> = problems
        .iter()
        .filter(|g| g.total > 0)
        .map(|g| format!("{} {}", g.total, g.status))
        .collect();
    if !parts.is_empty() {
        return parts.join(", ");
    }
    if let Some(status) = &event.new_status {
        let reason = event
            .disconnect_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        return format!("connection {status}{reason}");
    }
    match event.event.as_deref() {
        Some(name) => format!("{name} event"),
        None => "event".to_owned(),
    }
}

/// Every status of `event` with its count: `failed 1, empty 1, success 3`.
pub fn counts_of(event: &Event) -> String {
    let mut statuses: Vec<&Status> = event.tallies.iter().map(|t| &t.status).collect();
    statuses.sort_by_key(|s| (status_rank(s), s.as_str().to_owned()));
    statuses.dedup();
    if statuses.is_empty() {
        return "no requests".to_owned();
    }
    let parts: Vec<String> = statuses
        .into_iter()
        .map(|status| format!("{status} {}", event.count(status)))
        .collect();
    parts.join(", ")
}
