//! Alertmanager's v2 API: an alert is its labels (which Alertmanager
//! fingerprints, so they must be the same in every post of one alert),
//! annotations, `startsAt`, `endsAt` once over, and `generatorURL`.

use std::time::SystemTime;

use serde_json::{Map, Value, json};

use super::facts::Facts;
use super::notice::{Notice, rfc3339};

/// One alert's identity: what its labels are made of. A re-post after a
/// restart builds it from the store, so nothing here may come from the
/// event alone (its requestId, its counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmAlert {
    pub rule: String,
    pub connection: String,
    pub data_type: Option<String>,
    pub business: Option<String>,
    pub service: Option<String>,
    pub environment: &'static str,
    pub severity: &'static str,
    /// When it started firing: `startsAt`.
    pub since: SystemTime,
}

/// The labels: `alertname` (the rule), connection, business, service,
/// environment, severity, and data_type when the alert is keyed by one.
pub fn labels(alert: &AmAlert) -> Value {
    let mut labels = Map::new();
    let mut put = |name: &str, value: Option<&str>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            labels.insert(name.to_owned(), json!(value));
        }
    };
    put("alertname", Some(&alert.rule));
    put("connection", Some(&alert.connection));
    put("business", alert.business.as_deref());
    put("service", alert.service.as_deref());
    put("environment", Some(alert.environment));
    put("severity", Some(alert.severity));
    put("data_type", alert.data_type.as_deref());
    Value::Object(labels)
}

/// The posted alert: the labels, `annotations` as given, `startsAt`, and
/// `endsAt` when it is over.
pub fn posted(alert: &AmAlert, annotations: Value, link: Option<&str>, ended: Option<SystemTime>) -> Value {
    let mut posted = json!({
        "labels": labels(alert),
        "annotations": annotations,
        "startsAt": rfc3339(alert.since),
    });
    if let Some(link) = link {
        posted["generatorURL"] = json!(link);
    }
    if let Some(ended) = ended {
        posted["endsAt"] = json!(rfc3339(ended));
    }
    posted
}

/// What a message posts: one alert (an array, as the API takes).
pub fn render_alertmanager(facts: &Facts) -> Value {
    let (since, ended) = match &facts.notice {
        Notice::Firing => (facts.thread.as_ref().map(|t| t.since), None),
        Notice::StillFailing { since, .. } => (Some(*since), None),
        Notice::Resolved { since, lasted, .. } => (Some(*since), Some(*since + *lasted)),
    };
    let since = since.unwrap_or_else(SystemTime::now);
    let alert = AmAlert {
        rule: facts.rule.clone(),
        connection: facts.connection.clone().unwrap_or_else(|| "-".into()),
        data_type: key_data_type(facts),
        business: Some(facts.business.clone()),
        service: facts.service.clone(),
        environment: facts.environment_name(),
        severity: facts.severity.as_str(),
        since,
    };
    let mut annotations = json!({
        "summary": format!("{} {}: {}", facts.severity_label(), facts.rule, facts.summary()),
        "request_id": facts.request_id.clone().unwrap_or_default(),
    });
    let description = [facts.description.clone(), facts.notice.line()];
    let description: Vec<String> = description.into_iter().flatten().collect();
    annotations["description"] = json!(description.join("\n"));
    if let Some(link) = &facts.link {
        annotations["link"] = json!(link);
    }
    json!([posted(&alert, annotations, facts.link.as_deref(), ended)])
}

/// A firing alert posted again from what storage knows of it (see
/// `outbox::resend`): the same labels and `startsAt` as its FIRING, and
/// annotations that need no event (an event's requestId is not kept).
pub fn render_resent(alert: &AmAlert, description: Option<&str>, link: Option<&str>) -> Value {
    let mut who = alert.business.clone().unwrap_or_else(|| "unknown business".into());
    if let Some(service) = &alert.service {
        who.push_str(&format!(" ({service})"));
    }
    let since = rfc3339(alert.since);
    let firing = format!("Firing since {since}");
    let description = match description {
        Some(description) => format!("{description}\n{firing}"),
        None => firing,
    };
    let mut annotations = json!({
        "summary": format!("{} {}: firing for {who} since {since}", alert.severity.to_uppercase(), alert.rule),
        "description": description,
    });
    if let Some(link) = link {
        annotations["link"] = json!(link);
    }
    posted(alert, annotations, link, None)
}

/// The data type of the alert's key (`rule/connection/data type`), not
/// of the event: only a per-type alert carries the label.
fn key_data_type(facts: &Facts) -> Option<String> {
    let key = &facts.thread.as_ref()?.key;
    let connection = facts.connection.as_deref()?;
    let prefix = format!("{}/{connection}/", facts.rule);
    key.strip_prefix(&prefix).map(str::to_owned)
}
