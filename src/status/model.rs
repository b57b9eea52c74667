//! What `/api/status` answers, and the page renders.

use serde::Serialize;

use super::cover::AlertFacts;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub generated_at: String,
    pub totals: Totals,
    /// `alerts` (this page's rows) and `alerts_paging`.
    #[serde(flatten)]
    pub alerts: AlertPage,
    pub connections: ConnectionPage,
    pub silences: Vec<SilenceRow>,
    pub maintenance: Vec<WindowRow>,
    pub notifications: Vec<NotificationRow>,
    /// The outages firing now: a banner each.
    pub outages: Vec<OutageRow>,
    /// Per service, the share of failing syncs per hour over the last 24
    /// hours (oldest first): the page's chart.
    pub failure_chart: Vec<ServiceChart>,
}

/// One firing outage: `quickbooks outage: 37 of 120 ... since 09:12`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OutageRow {
    pub name: String,
    /// The service (or data type).
    pub group: String,
    pub failing: u64,
    pub synced: u64,
    /// RFC 3339.
    pub since: String,
    /// Whether it holds its service's alerts (a data type's holds none):
    /// from the rules in force.
    pub holds: bool,
}

/// One service's last 24 hours.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServiceChart {
    pub service: String,
    /// 24 hours, oldest first; an hour without syncs counts 0 of 0.
    pub hours: Vec<HourCount>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HourCount {
    /// RFC 3339, the hour's start.
    pub hour: String,
    pub syncs: u64,
    pub failed: u64,
}

/// `firing`, `pending` and `silenced` count every alert the filter keeps
/// (not one page); the connection counts ignore the filter.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub firing: usize,
    pub pending: usize,
    /// Active alerts that a silence in force or a window open now covers.
    pub silenced: usize,
    /// Connections in the `quiet` state (see [`ConnectionState`]).
    ///
    /// [`ConnectionState`]: super::ConnectionState
    pub quiet_connections: usize,
    pub known_connections: u64,
    pub outbox_depth: u64,
}

/// One page of the pending and firing alerts, most severe first, then the
/// oldest; with what the store counted of all of them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertPage {
    /// This page (the JSON's `alerts`, as before there were pages).
    #[serde(rename = "alerts")]
    pub rows: Vec<AlertRow>,
    #[serde(rename = "alerts_paging")]
    pub paging: Paging,
    /// Firing alerts the filter keeps, counted by the store.
    #[serde(skip)]
    pub firing: u64,
    /// Pending alerts the filter keeps, counted by the store.
    #[serde(skip)]
    pub pending: u64,
    /// Every alert the filter keeps, read only when something quiets
    /// alerts now ([`ReadContext::every_alert`]): the silenced count.
    #[serde(skip)]
    pub every: Vec<AlertRow>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Paging {
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertRow {
    pub rule: String,
    pub severity: String,
    pub state: String,
    pub business: Option<String>,
    pub connection: String,
    pub data_type: Option<String>,
    pub service: Option<String>,
    /// The connection's: `production` or `sandbox`.
    pub environment: Option<String>,
    pub since: String,
    pub failing_syncs: u64,
    pub last_notified: Option<String>,
    /// What covers it now (`silence ID`, `maintenance NAME`); when nothing
    /// does and its last message was held back by one that has ended
    /// since, that one followed by ` (ended)`.
    pub silenced_by: Option<String>,
    /// Whether a silence in force or a window open now covers it.
    pub silenced: bool,
    /// The name of the connection's last event (windows match it).
    #[serde(skip)]
    pub last_event: Option<String>,
    /// What held back its last message, as stored.
    #[serde(skip)]
    pub muted_by: Option<String>,
}

impl AlertRow {
    /// What silences and windows are matched against.
    pub fn facts(&self) -> AlertFacts<'_> {
        AlertFacts {
            rule: &self.rule,
            connection: &self.connection,
            data_type: self.data_type.as_deref(),
            business: self.business.as_deref(),
            service: self.service.as_deref(),
            environment: self.environment.as_deref(),
            last_event: self.last_event.as_deref(),
            muted_by: self.muted_by.as_deref(),
        }
    }
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
    /// The last 14 days, oldest first; days in UTC.
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
    /// FIRING, STILL FAILING, RESOLVED or DIGEST.
    pub kind: Option<&'static str>,
    pub rule: String,
    pub channel: String,
    pub connection: Option<String>,
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// `/api/status?business=&connection=&service=&rule=&q=&page=&per_page=&alerts_page=&alerts_per_page=`
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Filter {
    pub business: Option<String>,
    pub connection: Option<String>,
    pub service: Option<String>,
    pub rule: Option<String>,
    /// Any of the four, as the page's filter box sends it.
    pub q: Option<String>,
    /// The page of connections (from 1), and its size.
    pub page: Option<u64>,
    pub per_page: Option<u64>,
    /// The page of alerts (from 1), and its size.
    pub alerts_page: Option<u64>,
    pub alerts_per_page: Option<u64>,
    /// Set by [`status`](super::status), never from the query.
    #[serde(skip)]
    pub read: ReadContext,
}

/// Alerts a page holds unless `alerts_per_page` says otherwise: as many as
/// the list held before it had pages.
pub const ALERTS_PER_PAGE: u64 = 1000;

impl Filter {
    /// The page of alerts asked for and its size (1 to 1,000).
    pub fn alerts_paging(&self) -> (u64, u64) {
        let per_page = self.alerts_per_page.unwrap_or(ALERTS_PER_PAGE).clamp(1, 1000);
        (self.alerts_page.unwrap_or(1).max(1), per_page)
    }
}

/// What the store's reads need besides the query.
#[derive(Debug, Clone, Default)]
pub struct ReadContext {
    /// The rules that are critical, warning and info: the alert list is
    /// ordered by severity before it is cut into pages.
    pub by_severity: [Vec<String>; 3],
    /// Something quiets alerts now: the store also returns every alert the
    /// filter keeps, to count the silenced ones.
    pub every_alert: bool,
}

/// The chart from `(service, hour, syncs, failed)` rows (hours since the
/// epoch, sorted by service), 24 hours from `first`.
pub fn chart_of(rows: Vec<(String, i64, i64, i64)>, first: i64) -> Vec<ServiceChart> {
    let mut charts: Vec<ServiceChart> = Vec::new();
    for (service, hour, syncs, failed) in rows {
        if charts.last().is_none_or(|c| c.service != service) {
            let hours = (first..first + 24)
                .map(|h| HourCount {
                    hour: hour_label(h),
                    ..HourCount::default()
                })
                .collect();
            charts.push(ServiceChart { service, hours });
        }
        let chart = charts.last_mut().expect("pushed above");
        if let Some(slot) = usize::try_from(hour - first).ok().and_then(|i| chart.hours.get_mut(i)) {
            slot.syncs = syncs.max(0) as u64;
            slot.failed = failed.max(0) as u64;
        }
    }
    charts
}

fn hour_label(hour: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(hour.max(0) as u64 * 3600);
    humantime::format_rfc3339_seconds(at).to_string()
}
