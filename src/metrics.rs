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
        }
    }

    pub fn event(&self, event: &str, environment: &str, outcome: &str) {
        let labels = EventLabels {
            event: event.to_owned(),
            environment: environment.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.events.get_or_create(&labels).inc();
    }

    pub fn rule_matched(&self, rule: &str) {
        self.rule_matches
            .get_or_create(&RuleLabels { rule: rule.to_owned() })
            .inc();
    }

    pub fn notification(&self, channel: &str, outcome: &str) {
        let labels = NotificationLabels {
            channel: channel.to_owned(),
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
