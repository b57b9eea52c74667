//! What `/api/status` answers, and the page renders.

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub generated_at: String,
    pub totals: Totals,
    pub alerts: Vec<AlertRow>,
    pub connections: ConnectionPage,
    pub silences: Vec<SilenceRow>,
    pub maintenance: Vec<WindowRow>,
    pub notifications: Vec<NotificationRow>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub firing: usize,
    pub pending: usize,
    /// Active alerts whose last message was held back.
    pub silenced: usize,
    /// Connections whose absence alert fires.
    pub quiet_connections: usize,
    pub known_connections: u64,
    pub outbox_depth: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertRow {
    pub rule: String,
    pub severity: String,
    pub state: String,
    pub business: Option<String>,
    pub connection: String,
    pub data_type: Option<String>,
    pub service: Option<String>,
    pub since: String,
    pub failing_syncs: u64,
    pub last_notified: Option<String>,
    pub silenced_by: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ConnectionPage {
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
    pub rows: Vec<ConnectionRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionRow {
    pub id: String,
    pub business: Option<String>,
    pub service: Option<String>,
    pub environment: String,
    /// `ok`, `failing`, `quiet` or `disconnected`.
    pub state: String,
    pub status: Option<String>,
    pub last_event: String,
    pub last_sync: Option<String>,
    pub firing: Vec<String>,
    /// The last 14 days (UTC), oldest first.
    pub days: Vec<Day>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Day {
    /// `YYYY-MM-DD`
    pub date: String,
    /// `clean`, `failed`, `empty` or `none`.
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct SilenceRow {
    pub id: String,
    pub matchers: String,
    pub until: String,
    pub comment: String,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowRow {
    pub name: String,
    pub weekdays: Vec<String>,
    pub times: Vec<String>,
    pub timezone: String,
    pub open_now: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotificationRow {
    pub at: String,
    pub rule: String,
    pub channel: String,
    pub connection: Option<String>,
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// `/api/status?business=&connection=&service=&rule=&q=&page=&per_page=`
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Filter {
    pub business: Option<String>,
    pub connection: Option<String>,
    pub service: Option<String>,
    pub rule: Option<String>,
    /// Any of the four, as the page's filter box sends it.
    pub q: Option<String>,
    pub page: Option<u64>,
    pub per_page: Option<u64>,
}
