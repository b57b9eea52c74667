//! The status page: `GET /api/status` (JSON) and `GET /ui`, a page that
//! renders it. Read-only, nothing secret, no external assets.

mod model;
mod page;

use std::time::SystemTime;

use crate::config::Config;
use crate::quiet::Silence;
use crate::store::{Store, StoreError};

pub use model::{
    AlertRow, ConnectionPage, ConnectionRow, Day, Filter, NotificationRow, SilenceRow, Status, Totals, WindowRow,
};
pub use page::{Asset, asset};

/// Recent notifications shown.
const RECENT: usize = 20;

/// The status as of `now`, filtered.
pub async fn status(
    store: &Store,
    config: &Config,
    silences: &[Silence],
    filter: &Filter,
    now: SystemTime,
) -> Result<Status, StoreError> {
    let absence_rules: Vec<String> = config
        .rules
        .iter()
        .filter(|r| r.absence.is_some())
        .map(|r| r.name.clone())
        .collect();
    let mut status = store.status(filter, &absence_rules, RECENT, now).await?;
    for alert in &mut status.alerts {
        alert.severity = config
            .rules
            .iter()
            .find(|r| r.name == alert.rule)
            .map_or("unknown", |r| r.severity.as_str())
            .to_owned();
    }
    // Most severe first, then the oldest.
    status
        .alerts
        .sort_by(|a, b| rank(&a.severity).cmp(&rank(&b.severity)).then(a.since.cmp(&b.since)));
    status.totals.firing = status.alerts.iter().filter(|a| a.state == "firing").count();
    status.totals.pending = status.alerts.iter().filter(|a| a.state == "pending").count();
    // What muted an alert's last message may have ended since.
    for alert in &mut status.alerts {
        if let Some(by) = alert.silenced_by.take() {
            let still = still_muting(&by, config, silences, now);
            alert.silenced_by = Some(if still { by } else { format!("{by} (ended)") });
        }
    }
    status.totals.silenced = status
        .alerts
        .iter()
        .filter(|a| a.silenced_by.as_deref().is_some_and(|by| !by.ends_with("(ended)")))
        .count();
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
    Ok(status)
}

/// Whether `silence ID` or `maintenance NAME` still holds at `now`.
fn still_muting(by: &str, config: &Config, silences: &[Silence], now: SystemTime) -> bool {
    if let Some(id) = by.strip_prefix("silence ") {
        return silences.iter().any(|s| s.id == id && s.is_active(now));
    }
    if let Some(name) = by.strip_prefix("maintenance ") {
        return config.maintenance.iter().any(|w| w.name == name && w.is_open(now));
    }
    false
}

fn rank(severity: &str) -> u8 {
    match severity {
        "critical" => 0,
        "warning" => 1,
        "info" => 2,
        _ => 3,
    }
}
