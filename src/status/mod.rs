//! The status page: `GET /api/status` (JSON) and `GET /ui`, a page that
//! renders it. Read-only, nothing secret, no external assets.

mod cover;
mod model;
mod page;
mod state;

use std::time::SystemTime;

use crate::config::Config;
use crate::quiet::Silence;
use crate::rules::Severity;

pub use cover::{AlertFacts, Cover, Quiet};
pub use model::{
    AlertPage, AlertRow, ConnectionPage, ConnectionRow, Day, Filter, HourCount, NotificationRow, OutageRow, Paging,
    ReadContext, ServiceChart, SilenceRow, Status, Totals, WindowRow, chart_of,
};
pub use page::{Asset, asset};
pub use state::ConnectionState;

/// Recent notifications shown.
const RECENT: usize = 20;

/// What the page asks of the store, from the configuration and the
/// silences in force: the caller reads the store with it (this layer does
/// not name the store), then [`complete`]s what it read.
pub struct Request {
    pub filter: Filter,
    pub absence_rules: Vec<String>,
    /// How many recent notifications.
    pub recent: usize,
    quiet: Quiet,
}

/// An alert key as `AlertKey` prints it: `rule/connection[/data type]`.
fn key_of(rule: &str, connection: &str, data_type: Option<&str>) -> String {
    match data_type {
        Some(data_type) => format!("{rule}/{connection}/{data_type}"),
        None => format!("{rule}/{connection}"),
    }
}

/// The store read for the page as of `now`, filtered.
pub fn request(config: &Config, silences: &[Silence], filter: &Filter, now: SystemTime) -> Request {
    let absence_rules: Vec<String> = config
        .rules
        .iter()
        .filter(|r| r.absence.is_some())
        .map(|r| r.name.clone())
        .collect();
    let quiet = Quiet::new(silences, Some(&config.maintenance), now);
    let mut filter = filter.clone();
    filter.read = ReadContext {
        by_severity: Severity::ALL.map(|(_, severity)| {
            (config.rules.iter())
                .filter(|r| r.severity == severity)
                .map(|r| r.name.clone())
                .collect()
        }),
        // Held alerts count as silenced while their outage fires: with
        // outages defined, every alert is read to count them.
        every_alert: quiet.in_force() || !config.outages.is_empty(),
    };
    Request {
        filter,
        absence_rules,
        recent: RECENT,
        quiet,
    }
}

/// The status as of `now`: what the store read for `request`, with the
/// severities, silences and windows of the configuration in force.
pub fn complete(
    request: &Request,
    mut status: Status,
    config: &Config,
    silences: &[Silence],
    now: SystemTime,
) -> Status {
    // The page reads one page of alerts: an inhibiting alert that is not
    // on it is not known to have resolved (see `Cover::Unchecked`).
    let firing = (status.alerts.rows.iter())
        .filter(|a| a.state == "firing")
        .map(|a| key_of(&a.rule, &a.connection, a.data_type.as_deref()));
    let outages = status.outages.iter().map(|o| o.name.clone());
    let quiet = &(request.quiet.clone())
        .with_firing(firing.collect::<Vec<_>>(), false)
        .with_outages(outages.collect::<Vec<_>>());
    for outage in &mut status.outages {
        let defined = config.outages.iter().find(|o| o.name() == outage.name);
        outage.holds = defined.is_some_and(|o| o.by == crate::outage::By::Service);
    }
    let alerts = &mut status.alerts;
    status.totals.firing = alerts.firing as usize;
    status.totals.pending = alerts.pending as usize;
    // Counted over every alert the filter keeps; none is covered when
    // nothing is in force.
    status.totals.silenced = std::mem::take(&mut alerts.every)
        .iter()
        .filter(|a| quiet.cover(&a.facts()).is_quiet())
        .count();
    for alert in &mut alerts.rows {
        alert.severity = config
            .rules
            .iter()
            .find(|r| r.name == alert.rule)
            .map_or("unknown", |r| r.severity.as_str())
            .to_owned();
        let cover = quiet.cover(&alert.facts());
        alert.silenced = cover.is_quiet();
        alert.silenced_by = match cover {
            Cover::By(by) | Cover::Unchecked(by) => Some(by),
            Cover::Not { ended } => ended.map(|by| format!("{by} (ended)")),
        };
    }
    status.silences = silences
        .iter()
        .map(|s| SilenceRow {
            id: s.id.clone(),
            matchers: s.matchers.describe(),
            until: humantime::format_rfc3339_seconds(s.ends_at).to_string(),
            comment: s.comment.clone(),
            active: s.is_active(now),
        })
        .collect();
    status.maintenance = config
        .maintenance
        .iter()
        .map(|w| WindowRow {
            name: w.name.clone(),
            weekdays: w.weekdays.iter().map(|d| format!("{d:?}").to_lowercase()).collect(),
            times: w
                .times
                .iter()
                .map(|t| format!("{}-{}", t.start.strftime("%H:%M"), t.end.strftime("%H:%M")))
                .collect(),
            timezone: w.timezone_name.clone(),
            open_now: w.is_open(now),
        })
        .collect();
    status.generated_at = humantime::format_rfc3339_seconds(now).to_string();
    status
}
