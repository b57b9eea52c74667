//! Silences: made at run time (`syncwatch silence add`), they keep the
//! matching alerts from notifying until they end, without a reload.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::rules::Pattern;

use super::Subject;

/// What a silence matches; every given matcher must hold (`*` wildcards).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matchers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
}

impl Matchers {
    pub fn is_empty(&self) -> bool {
        self.fields().iter().all(|(_, value)| value.is_none())
    }

    fn fields(&self) -> [(&'static str, &Option<String>); 6] {
        [
            ("rule", &self.rule),
            ("connection", &self.connection),
            ("business", &self.business),
            ("service", &self.service),
            ("environment", &self.environment),
            ("data-type", &self.data_type),
        ]
    }

    /// `--service quickbooks --rule 'bills-*'`
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .fields()
            .iter()
            .filter_map(|(name, value)| Some(format!("--{name} {}", value.as_deref()?)))
            .collect();
        parts.join(" ")
    }

    pub fn matches(&self, subject: &Subject<'_>) -> bool {
        let one = |pattern: &Option<String>, value: Option<&str>| match pattern {
            None => true,
            Some(pattern) => value.is_some_and(|v| Pattern::new(pattern).matches(v)),
        };
        // Every data type the alert is about must be silenced: an alert
        // about bills and invoices still speaks for invoices under a
        // `--data-type bills` silence.
        let data_type = match &self.data_type {
            None => true,
            Some(pattern) => {
                let pattern = Pattern::new(pattern);
                !subject.data_types.is_empty() && subject.data_types.iter().all(|t| pattern.matches(t))
            }
        };
        one(&self.rule, Some(subject.rule))
            && one(&self.connection, subject.connection)
            && one(&self.business, subject.business)
            && one(&self.service, subject.service)
            && one(&self.environment, Some(subject.environment.as_str()))
            && data_type
    }
}

/// One silence as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    /// A short random id, printed by `silence add`.
    pub id: String,
    pub matchers: Matchers,
    pub starts_at: SystemTime,
    pub ends_at: SystemTime,
    pub comment: String,
    pub created_at: SystemTime,
    /// Set by `silence expire`.
    pub expired_at: Option<SystemTime>,
}

impl Silence {
    pub fn is_active(&self, now: SystemTime) -> bool {
        self.expired_at.is_none() && self.starts_at <= now && now < self.ends_at
    }
}

/// A new silence id: 8 hex digits.
pub fn new_id() -> String {
    format!("{:08x}", fastrand::u32(..))
}
