//! Inhibit rules (as Alertmanager's): while an alert matching `when_firing`
//! fires, the alerts matching `mute` with equal values of the `equal`
//! fields notify nobody. The typical use: a lost connection mutes the sync
//! failures and the absence alert of that same connection, which say
//! nothing the lost connection did not already say.

use crate::alerts::AlertKey;

use super::{Matchers, Subject};

/// A field two alerts must agree on for one to inhibit the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Equal {
    Connection,
    Business,
    Service,
    Environment,
    DataType,
}

impl Equal {
    /// As `equal:` spells them.
    pub const ALL: [(&'static str, Equal); 5] = [
        ("connection", Equal::Connection),
        ("business", Equal::Business),
        ("service", Equal::Service),
        ("environment", Equal::Environment),
        ("data_type", Equal::DataType),
    ];
}

/// One `inhibit:` entry, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inhibit {
    pub when_firing: Matchers,
    pub mute: Matchers,
    /// Always lists [`Equal::Connection`] (checked at load): an alert is
    /// inhibited by an alert of its own connection, so the firing alerts
    /// to look at are one connection's, read in the same transaction.
    pub equal: Vec<Equal>,
}

impl Inhibit {
    /// The firing alert that inhibits `subject`, among `subject.firing`
    /// (its connection's firing alerts other than itself).
    pub fn source<'s>(&self, subject: &Subject<'s>) -> Option<&'s AlertKey> {
        if !self.mute.matches(subject) {
            return None;
        }
        subject.firing.iter().find(|key| self.inhibits(key, subject))
    }

    fn inhibits(&self, key: &AlertKey, subject: &Subject<'_>) -> bool {
        // The firing alert is of the same connection, so its business,
        // service and environment are the subject's own: only the rule and
        // the data type differ.
        let data_types: Vec<&str> = key.data_type.as_deref().into_iter().collect();
        let firing = Subject {
            rule: &key.rule,
            data_types: data_types.clone(),
            firing: &[],
            ..subject.clone()
        };
        let equal = |field: &Equal| match field {
            Equal::DataType => data_types.iter().all(|t| subject.data_types.contains(t)),
            _ => true,
        };
        Some(key.connection.as_str()) == subject.connection
            && self.when_firing.matches(&firing)
            && self.equal.iter().all(equal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::rules::Environment;

    fn key(rule: &str, data_type: Option<&str>) -> AlertKey {
        AlertKey {
            rule: rule.into(),
            connection: "CON-1".into(),
            data_type: data_type.map(str::to_owned),
        }
    }

    fn lost_mutes_all(equal: Vec<Equal>) -> Inhibit {
        Inhibit {
            when_firing: Matchers {
                rule: Some("connection-lost".into()),
                ..Matchers::default()
            },
            mute: Matchers {
                rule: Some("*".into()),
                ..Matchers::default()
            },
            equal,
        }
    }

    fn subject<'a>(rule: &'a str, data_types: Vec<&'a str>, firing: &'a [AlertKey], event: &'a Event) -> Subject<'a> {
        Subject {
            rule,
            connection: Some("CON-1"),
            business: Some("Acme"),
            service: Some("xero"),
            environment: Environment::Production,
            data_types,
            event,
            firing,
        }
    }

    #[test]
    fn a_firing_lost_connection_mutes_the_other_alerts_of_its_connection() {
        let event = Event::default();
        let firing = [key("connection-lost", None)];
        let inhibit = lost_mutes_all(vec![Equal::Connection]);
        let bills = subject("bills-failing", vec!["bills"], &firing, &event);
        assert_eq!(inhibit.source(&bills), Some(&firing[0]));
        let nothing_firing = subject("bills-failing", vec!["bills"], &[], &event);
        assert_eq!(inhibit.source(&nothing_firing), None);
        let elsewhere = [AlertKey {
            connection: "CON-2".into(),
            ..key("connection-lost", None)
        }];
        assert_eq!(
            inhibit.source(&subject("bills-failing", vec![], &elsewhere, &event)),
            None
        );
    }

    #[test]
    fn equal_data_type_needs_the_same_data_type() {
        let event = Event::default();
        let inhibit = Inhibit {
            when_firing: Matchers {
                rule: Some("auth-failing".into()),
                ..Matchers::default()
            },
            ..lost_mutes_all(vec![Equal::Connection, Equal::DataType])
        };
        let firing = [key("auth-failing", Some("bills"))];
        assert!(
            inhibit
                .source(&subject("slow", vec!["bills"], &firing, &event))
                .is_some()
        );
        assert!(
            inhibit
                .source(&subject("slow", vec!["invoices"], &firing, &event))
                .is_none()
        );
    }
}
