//! What `/metrics` exposes: events by type, environment and outcome; rule
//! matches; notifications by channel and outcome; delivery latency; the
//! queue's depth; reloads; build info. In OpenMetrics to a scraper that asks
//! for it (`Accept: application/openmetrics-text`), else in the Prometheus
//! text format 0.0.4, which `promtool check metrics` accepts.

use std::collections::HashMap;
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
pub struct SlackErrorLabels {
    pub channel: String,
    /// Slack's name for it: `not_in_channel`, `ratelimited`, ...
    pub error: String,
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
    /// Firing alerts by rule, read from the store at each scrape, so the
    /// number survives a restart and counts every instance's alerts.
    pub alerts_firing: Family<RuleLabels, Gauge<i64, AtomicI64>>,
    /// Calls of `heartbeat.url`, by result (ok, failed, skipped: unhealthy).
    pub heartbeats: Family<ResultLabels, Counter>,
    /// Errors the Slack Web API answered a channel posting as an app.
    pub slack_errors: Family<SlackErrorLabels, Counter>,
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
    /// Sets the firing alerts of every rule: `rules` at 0 unless counted.
    pub fn set_firing(&self, rules: &[String], firing: &[(String, u64)]) {
        self.alerts_firing.clear();
        for rule in rules {
            self.alerts_firing
                .get_or_create(&RuleLabels { rule: rule.clone() })
                .set(0);
        }
        for (rule, count) in firing {
            let labels = RuleLabels { rule: rule.clone() };
            self.alerts_firing.get_or_create(&labels).set(*count as i64);
        }
    }

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
        let alerts_firing = Family::<RuleLabels, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "alerts_firing",
            "Alerts firing now, by rule (every rule of rules.yaml, 0 included)",
            alerts_firing.clone(),
        );
        let heartbeats = Family::<ResultLabels, Counter>::default();
        registry.register(
            "heartbeats",
            "Calls of heartbeat.url: ok, failed, or skipped while syncwatch is not healthy",
            heartbeats.clone(),
        );
        let slack_errors = Family::<SlackErrorLabels, Counter>::default();
        registry.register(
            "slack_api_errors",
            "Errors the Slack Web API answered channels posting as an app, by error",
            slack_errors.clone(),
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
            alerts_firing,
            heartbeats,
            slack_errors,
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

    /// An error the Slack Web API answered, by its name.
    pub fn slack_error(&self, channel: &str, error: &str) {
        let labels = SlackErrorLabels {
            channel: escape_label(channel),
            error: escape_label(error),
        };
        self.slack_errors.get_or_create(&labels).inc();
    }

    pub fn reload(&self, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.reloads
            .get_or_create(&ResultLabels { result: result.into() })
            .inc();
    }

    /// The page in `format`.
    pub fn render(&self, format: Format) -> String {
        let mut open_metrics = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut open_metrics, &self.registry);
        match format {
            Format::OpenMetrics => open_metrics,
            Format::Prometheus => prometheus_text(&open_metrics),
        }
    }
}

/// The formats `/metrics` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4: what a scraper gets unless it asks
    /// for OpenMetrics.
    Prometheus,
    /// OpenMetrics 1.0.0 text: counters typed by their family name
    /// (`syncwatch_reloads`, samples `syncwatch_reloads_total`), `# EOF` last.
    OpenMetrics,
}

impl Format {
    /// The format for a request's `Accept` header (all of its values,
    /// joined by commas): OpenMetrics when it names
    /// `application/openmetrics-text` (version 1.0.0, 0.0.1 or none) with
    /// a quality above 0 and no lower than what it gives the text format
    /// (`text/plain`, `text/*`, `*/*`); the text format otherwise, also
    /// without an `Accept` header. Prometheus asks for OpenMetrics first.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let mut open_metrics = 0.0_f32;
        let mut text = 0.0_f32;
        for range in accept.unwrap_or_default().split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let mut quality = Some(1.0_f32);
            let mut version = None;
            for param in parts {
                let Some((key, value)) = param.split_once('=') else {
                    continue;
                };
                let value = value.trim().trim_matches('"');
                match key.trim().to_ascii_lowercase().as_str() {
                    "q" => quality = value.parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q)),
                    "version" => version = Some(value.to_owned()),
                    _ => {}
                }
            }
            // A range with a quality that is not a number is ignored.
            let Some(quality) = quality else { continue };
            match media.as_str() {
                "application/openmetrics-text" if matches!(version.as_deref(), None | Some("1.0.0" | "0.0.1")) => {
                    open_metrics = open_metrics.max(quality)
                }
                "text/plain" | "text/*" | "*/*" => text = text.max(quality),
                _ => {}
            }
        }
        if open_metrics > 0.0 && open_metrics >= text {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The Prometheus text format 0.0.4 of prometheus-client's OpenMetrics
/// text (the only text it writes). The samples are the same; the
/// descriptors differ: a 0.0.4 parser types a family by the name of its
/// samples, so a counter's HELP and TYPE name `syncwatch_reloads_total`
/// (OpenMetrics: `syncwatch_reloads`), an info metric is a gauge named
/// `..._info`, `unknown` is `untyped`, and there is no `# UNIT` and no
/// `# EOF`. Label values are escaped alike in both formats. This registry
/// holds counters, gauges and a histogram, without exemplars.
fn prometheus_text(open_metrics: &str) -> String {
    let mut families: HashMap<&str, (String, &str)> = HashMap::new();
    for line in open_metrics.lines() {
        let Some((name, kind)) = line.strip_prefix("# TYPE ").and_then(|rest| rest.split_once(' ')) else {
            continue;
        };
        let typed = match kind {
            "counter" => (format!("{name}_total"), "counter"),
            "info" => (format!("{name}_info"), "gauge"),
            "stateset" => (name.to_owned(), "gauge"),
            "unknown" => (name.to_owned(), "untyped"),
            other => (name.to_owned(), other),
        };
        families.insert(name, typed);
    }
    let mut out = String::with_capacity(open_metrics.len());
    for line in open_metrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let shown = families.get(name).map_or(name, |(shown, _)| shown.as_str());
            out.push_str(&format!("# HELP {shown} {help}\n"));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split_once(' ').map_or(rest, |(name, _)| name);
            if let Some((shown, kind)) = families.get(name) {
                out.push_str(&format!("# TYPE {shown} {kind}\n"));
            }
        } else if line.starts_with('#') {
            // `# UNIT` and `# EOF` are OpenMetrics' own.
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
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
        let text = metrics.render(Format::Prometheus);
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

    /// Metrics with a sample in each family that takes labels, and an
    /// observation in the histogram.
    fn busy() -> Metrics {
        let metrics = Metrics::new();
        metrics.event("data", "production", "accepted");
        metrics.rule_matched("failed");
        metrics.notification("ops", "delivered");
        metrics.reload(true);
        metrics.lane_restart("ops");
        metrics.downtime(std::time::Duration::from_secs(90));
        metrics.delivery_latency.observe(0.2);
        metrics
    }

    /// The metric name of a sample line: before its labels or its value.
    fn sample_name(line: &str) -> &str {
        line.split(['{', ' ']).next().unwrap()
    }

    #[test]
    fn the_text_format_names_each_family_as_its_samples_are_named() {
        let text = busy().render(Format::Prometheus);
        for expected in [
            "# HELP syncwatch_events_received_total Webhooks received, by outcome.\n# TYPE syncwatch_events_received_total counter\n",
            "# TYPE syncwatch_downtimes_total counter\nsyncwatch_downtimes_total 1\n",
            "# TYPE syncwatch_delivery_latency_seconds histogram\n",
            "# TYPE syncwatch_outbox_depth gauge\n",
            "# TYPE syncwatch_build_info gauge\n",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"), "{text}");
        // Every sample belongs to the family typed just before it, every
        // family has its HELP, and a counter's name ends in `_total`.
        let mut family: Option<(&str, &str)> = None;
        let mut helped = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                helped = rest.split(' ').next();
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert_eq!(helped, Some(name), "no HELP for {name}");
                assert!(kind != "counter" || name.ends_with("_total"), "{line}");
                family = Some((name, kind));
            } else {
                let (name, kind) = family.unwrap_or_else(|| panic!("a sample before any TYPE: {line}"));
                let sample = sample_name(line);
                let belongs = match kind {
                    "histogram" => ["_bucket", "_sum", "_count"]
                        .map(|s| format!("{name}{s}"))
                        .contains(&sample.to_owned()),
                    _ => sample == name,
                };
                assert!(belongs, "{sample} is not of {kind} {name}");
            }
        }
    }

    #[test]
    fn openmetrics_keeps_its_own_names_and_ends_in_eof() {
        let metrics = busy();
        let open = metrics.render(Format::OpenMetrics);
        assert!(open.ends_with("\n# EOF\n"), "{open}");
        assert!(open.contains("# TYPE syncwatch_events_received counter\n"), "{open}");
        assert!(open.contains("syncwatch_events_received_total{"), "{open}");
        let samples = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(
            samples(&open),
            samples(&metrics.render(Format::Prometheus)),
            "the same samples"
        );
    }

    #[test]
    fn openmetrics_is_served_to_who_asks_for_it() {
        let prometheus_2 = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let prometheus_protobuf_first = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        let cases = [
            (None, Format::Prometheus),
            (Some(""), Format::Prometheus),
            (Some("*/*"), Format::Prometheus),
            (Some("text/plain;version=0.0.4"), Format::Prometheus),
            (Some("text/plain;version=0.0.4;q=0.5,*/*;q=0.1"), Format::Prometheus),
            (Some(prometheus_2), Format::OpenMetrics),
            (Some(prometheus_protobuf_first), Format::OpenMetrics),
            (Some("application/openmetrics-text"), Format::OpenMetrics),
            (
                Some("Application/OpenMetrics-Text; Version=1.0.0; charset=utf-8"),
                Format::OpenMetrics,
            ),
            (Some("application/openmetrics-text;q=0"), Format::Prometheus),
            (
                Some("application/openmetrics-text;q=0.2, text/plain;q=0.5"),
                Format::Prometheus,
            ),
            (Some("application/openmetrics-text;version=2.0.0"), Format::Prometheus),
            (Some("application/openmetrics-text;q=x"), Format::Prometheus),
            (Some("application/json"), Format::Prometheus),
        ];
        for (accept, expected) in cases {
            assert_eq!(Format::negotiate(accept), expected, "Accept: {accept:?}");
        }
        assert_eq!(
            Format::OpenMetrics.content_type(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        assert_eq!(
            Format::Prometheus.content_type(),
            "text/plain; version=0.0.4; charset=utf-8"
        );
    }
}
