//! What an outage's messages say: `quickbooks outage: 37 of 120 production
//! connections failing (31%) since 09:12`, the most common failed data
//! types; its RESOLVED, how many connections are still failing.

use std::collections::HashMap;
use std::time::SystemTime;

use crate::config::format_duration;
use crate::event::{Event, Status};
use crate::lifecycle::Effect;
use crate::render::{Facts, Notice, ProblemGroup, Thread};
use crate::rules::Environment;

use super::model::{By, Outage};
use super::observe::Told;

/// How many data types a message names.
const TOP_TYPES: usize = 5;

/// The one line that says it all.
pub fn headline(outage: &Outage, told: &Told) -> String {
    let counts = &told.state.counts;
    let connections = match outage.environment() {
        Some(environment) => format!("{} connections", environment.as_str()),
        None => "connections".to_owned(),
    };
    if told.effect == Effect::Resolved {
        return resolved(outage, told, &connections);
    }
    let percent = (counts.share() * 100.0).round() as u64;
    format!(
        "{} outage: {} of {} {connections} failing ({percent}%) since {}",
        told.group,
        counts.failing,
        counts.synced,
        clock(told.state.since)
    )
}

/// `xero outage over: 2 of 120 production connections failing in the
/// last 15m; 5 still failing, each told on its own`. The counts are the
/// last window's (none, when the provider's connections all went quiet).
fn resolved(outage: &Outage, told: &Told, connections: &str) -> String {
    let counts = &told.state.counts;
    let window = format_duration(outage.window);
    let share = match counts.synced {
        0 => format!("no {connections} synced in the last {window}"),
        synced => format!(
            "{} of {synced} {connections} failing in the last {window}",
            counts.failing
        ),
    };
    let still = match told.still_failing {
        0 => "none still failing".to_owned(),
        n => format!("{n} still failing, each told on its own"),
    };
    format!("{} outage over: {share}; {still}", told.group)
}

/// `09:12`, UTC.
fn clock(at: SystemTime) -> String {
    jiff::Timestamp::try_from(at).map_or_else(|_| "?".into(), |t| t.strftime("%H:%M UTC").to_string())
}

/// The most common failed data types: `bills (30 connections)`.
fn top_types(told: &Told) -> Vec<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for member in &told.failing {
        for data_type in &member.failed_types {
            *counts.entry(data_type).or_default() += 1;
        }
    }
    let mut top: Vec<(&str, usize)> = counts.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    (top.into_iter().take(TOP_TYPES))
        .map(|(t, n)| format!("{t} ({n} connection{})", if n == 1 { "" } else { "s" }))
        .collect()
}

/// The facts of `told`'s message, as every channel renders them.
pub fn facts(outage: &Outage, told: &Told, now: SystemTime) -> Facts {
    let event = Event {
        service: (outage.by == By::Service).then(|| told.group.clone()),
        request_type: (outage.by == By::DataType).then(|| told.group.clone()),
        ..Event::default()
    };
    let environment = outage.environment().unwrap_or(Environment::Production);
    let mut facts = Facts::resolved(&outage.rule, &event, environment, now);
    facts.headline = headline(outage, told);
    // About no one business: the headline says whose connections.
    facts.business = String::new();
    let counts = &told.state.counts;
    facts.counts = format!("{} of {} connections failing", counts.failing, counts.synced);
    let types = top_types(told);
    if told.effect != Effect::Resolved && !types.is_empty() {
        facts.problems = vec![ProblemGroup {
            status: Status::Failed,
            total: counts.failing,
            lines: types,
        }];
    }
    let since = told.state.since;
    facts.notice = match told.effect {
        Effect::Firing => Notice::Firing,
        Effect::StillFailing => Notice::StillFailing { since, failing: 0 },
        Effect::Resolved => Notice::Resolved {
            since,
            lasted: now.duration_since(since).unwrap_or_default(),
            failing: 0,
            clean_request: None,
            reason: None,
        },
    };
    facts.thread = Some(Thread {
        key: format!("{}/{}", outage.name(), told.group),
        since,
    });
    facts
}
