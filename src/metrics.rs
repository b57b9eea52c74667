//! What `/metrics` exposes, in the Prometheus text format: events by type,
//! environment and outcome; rule matches; notifications by channel and
//! outcome; delivery latency; the queue's depth; reloads; build info.

use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub event: String,
    pub environment: String,
    /// accepted, duplicate, invalid, unauthorized, too_large, unavailable.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    pub rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotificationLabels {
    pub channel: String,
    /// delivered, retry, failed, expired.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    pub version: String,
}

pub struct Metrics {
    registry: Registry,
    pub events: Family<EventLabels, Counter>,
    pub rule_matches: Family<RuleLabels, Counter>,
    pub notifications: Family<NotificationLabels, Counter>,
    /// From the webhook's arrival to the channel's acceptance.
    pub delivery_latency: Histogram,
    /// Pending notifications, set at each scrape.
    pub outbox_depth: Gauge<i64, AtomicI64>,
    pub reloads: Family<ResultLabels, Counter>,
    /// Delivery lanes that panicked and were restarted.
    pub lane_restarts: Family<ChannelLabels, Counter>,
    /// Downtimes found at start (a heartbeat older than a minute).
    pub downtimes: Counter,
    /// How long syncwatch was down before this start, 0 if it was not.
    pub last_downtime_seconds: Gauge<i64, AtomicI64>,
    /// Absence checks planned (one per absence rule and connection it
    /// watches).
    pub absence_planned: Gauge<i64, AtomicI64>,
    /// Templates that failed at run time (the built-in message went out).
    pub template_failures: Counter,
    /// Store transactions, and the writes they carried (group commit).
    pub store_commits: Counter,
    pub store_writes: Counter,
    /// The PostgreSQL pool's sessions, set at each scrape (0 on SQLite).
    pub database_sessions: Gauge<i64, AtomicI64>,
    pub database_sessions_idle: Gauge<i64, AtomicI64>,
    pub database_session_waiters: Gauge<i64, AtomicI64>,
    /// Request ids held in memory to recognise redeliveries (SQLite).
    pub dedup_window: Gauge<i64, AtomicI64>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabels {
    pub channel: String,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("syncwatch");
        let events = Family::<EventLabels, Counter>::default();
        registry.register("events_received", "Webhooks received, by outcome", events.clone());
        let rule_matches = Family::<RuleLabels, Counter>::default();
        registry.register("rule_matches", "Events on which a rule fired", rule_matches.clone());
        let notifications = Family::<NotificationLabels, Counter>::default();
        registry.register("notifications", "Delivery attempts, by outcome", notifications.clone());
        let buckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0, 3600.0];
        let delivery_latency = Histogram::new(buckets);
        registry.register(
            "delivery_latency_seconds",
            "From webhook received to notification accepted by the channel",
            delivery_latency.clone(),
        );
        let outbox_depth = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        registry.register(
            "outbox_depth",
            "Notifications waiting for delivery",
            outbox_depth.clone(),
        );
        let reloads = Family::<ResultLabels, Counter>::default();
        registry.register("reloads", "Configuration reloads (SIGHUP), by result", reloads.clone());
        let lane_restarts = Family::<ChannelLabels, Counter>::default();
        registry.register(
            "lane_restarts",
            "Delivery lanes restarted after a panic",
            lane_restarts.clone(),
        );
        let downtimes = Counter::default();
        registry.register(
            "downtimes",
            "Times syncwatch found at start that it had not been running for over a minute",
            downtimes.clone(),
        );
        let last_downtime_seconds = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "last_downtime_seconds",
            "How long syncwatch was down before this start (0: it was not)",
            last_downtime_seconds.clone(),
        );
        let absence_planned = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "absence_checks_planned",
            "Absence checks planned: absence rules times the connections they watch",
            absence_planned.clone(),
        );
        let template_failures = Counter::default();
        registry.register(
            "template_failures",
            "Templates that failed at run time; the built-in message was sent instead",
            template_failures.clone(),
        );
        let store_commits = Counter::default();
        registry.register(
            "store_commits",
            "Transactions committed by the database writer",
            store_commits.clone(),
        );
        let store_writes = Counter::default();
        registry.register(
            "store_writes",
            "Writes (webhooks, settles, checks) committed; divided by store_commits, the group commit's size",
            store_writes.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let gauge = Gauge::<i64, AtomicI64>::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let database_sessions = gauge(
            &mut registry,
            "database_sessions",
            "PostgreSQL sessions open in this instance's pool (0 on SQLite)",
        );
        let database_sessions_idle = gauge(
            &mut registry,
            "database_sessions_idle",
            "PostgreSQL sessions open and idle in the pool (0 on SQLite)",
        );
        let database_session_waiters = gauge(
            &mut registry,
            "database_session_waiters",
            "Tasks waiting for a PostgreSQL session: above 0 for long, the pool is too small or the database slow",
        );
        let dedup_window = gauge(
            &mut registry,
            "dedup_window_requests",
            "Request ids of the last 24 hours held in memory to recognise redeliveries (SQLite; about 40 bytes each)",
        );
        let build = Family::<BuildLabels, Gauge<i64, AtomicI64>>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_owned(),
            })
            .set(1);
        registry.register("build_info", "The running version", build);
        Metrics {
            registry,
            events,
            rule_matches,
            notifications,
            delivery_latency,
            outbox_depth,
            reloads,
            lane_restarts,
            downtimes,
            last_downtime_seconds,
            absence_planned,
            template_failures,
            store_commits,
            store_writes,
            database_sessions,
            database_sessions_idle,
            database_session_waiters,
            dedup_window,
        }
    }

    /// Brings a counter kept elsewhere (an atomic) up to `total`.
    pub fn catch_up(counter: &Counter, total: u64) {
        counter.inc_by(total.saturating_sub(counter.get()));
    }

    pub fn downtime(&self, down: std::time::Duration) {
        self.downtimes.inc();
        self.last_downtime_seconds.set(down.as_secs() as i64);
    }

    pub fn lane_restart(&self, channel: &str) {
        self.lane_restarts
            .get_or_create(&ChannelLabels {
                channel: escape_label(channel),
            })
            .inc();
    }

    pub fn event(&self, event: &str, environment: &str, outcome: &str) {
        let labels = EventLabels {
            event: event_label(event).to_owned(),
            environment: environment.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.events.get_or_create(&labels).inc();
    }

    pub fn rule_matched(&self, rule: &str) {
        self.rule_matches
            .get_or_create(&RuleLabels {
                rule: escape_label(rule),
            })
            .inc();
    }

    pub fn notification(&self, channel: &str, outcome: &str) {
        let labels = NotificationLabels {
            channel: escape_label(channel),
            outcome: outcome.to_owned(),
        };
        self.notifications.get_or_create(&labels).inc();
    }

    pub fn reload(&self, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.reloads
            .get_or_create(&ResultLabels { result: result.into() })
            .inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// The Railz events that get a label of their own; any other name from a
/// payload is counted as `other`, so that a sender cannot grow the number
/// of series without bound.
const KNOWN_EVENTS: &[&str] = &["data", "dataPerType", "connectionStatus", "auth", "login", "unknown"];

fn event_label(event: &str) -> &str {
    if KNOWN_EVENTS.contains(&event) { event } else { "other" }
}

/// A label value as the text exposition format requires: backslash,
/// double quote and newline escaped (prometheus-client writes values as
/// they are).
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_unknown_events_bucketed() {
        let metrics = Metrics::new();
        metrics.rule_matched("a \"quoted\" \\ rule\nsecond line");
        metrics.event("x\"} 1\nsyncwatch_fake 2", "production", "accepted");
        metrics.event("dataPerType", "production", "accepted");
        let text = metrics.render();
        assert!(
            text.contains(r#"syncwatch_rule_matches_total{rule="a \"quoted\" \\ rule\nsecond line"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"event="other""#), "{text}");
        assert!(text.contains(r#"event="dataPerType""#), "{text}");
        assert!(!text.contains("syncwatch_fake"), "{text}");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("syncwatch_"), "a line outside any metric: {line}");
        }
    }
}
