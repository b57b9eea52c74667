//! When each (absence rule, connection) falls due: an ordered index, so the
//! timer sleeps until the earliest deadline and wakes only for what is due,
//! whatever the number of connections.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use crate::config::Config;
use crate::rules::Condition;
use crate::rules::{Environment, Evidence, Rule};

use super::known::{Downtime, KnownConnection};

/// A rule (index into `config.rules`) and a connection.
pub type Check = (usize, Arc<str>);

#[derive(Debug, Default)]
pub struct Deadlines {
    by_time: BTreeSet<(SystemTime, Arc<str>, usize)>,
    /// What each connection has planned, to replace it.
    planned: HashMap<Arc<str>, Vec<(usize, SystemTime)>>,
}

impl Deadlines {
    pub fn len(&self) -> usize {
        self.by_time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_time.is_empty()
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<SystemTime> {
        self.by_time.first().map(|(at, _, _)| *at)
    }

    /// Plans `connection` afresh for every absence rule that watches it:
    /// its clock start plus the rule's `no_sync_for`.
    pub fn plan(&mut self, config: &Config, connection: &KnownConnection, floor: Option<Downtime>) {
        // Without absence rules there is nothing to plan: this runs after
        // every webhook, so it costs nothing then.
        if self.planned.is_empty() && !config.rules.iter().any(|r| r.absence.is_some()) {
            return;
        }
        let id: Arc<str> = match self.planned.get_key_value(connection.id.as_str()) {
            Some((id, _)) => id.clone(),
            None => Arc::from(connection.id.as_str()),
        };
        self.forget(&id);
        let event = connection.as_event();
        let planned: Vec<(usize, SystemTime)> = config
            .rules
            .iter()
            .enumerate()
            .filter_map(|(index, rule)| {
                let limit = rule.absence?;
                Some((index, connection.clock_start(limit, floor)? + limit, rule))
            })
            .filter(|(_, _, rule)| watches(rule, &event, connection.environment))
            .map(|(index, at, _)| (index, at))
            .collect();
        for (rule, at) in &planned {
            self.by_time.insert((*at, id.clone(), *rule));
        }
        if !planned.is_empty() {
            self.planned.insert(id, planned);
        }
    }

    /// Sets one check to `at`, after it ran (a repeat while firing).
    pub fn set(&mut self, (rule, id): Check, at: SystemTime) {
        let planned = self.planned.entry(id.clone()).or_default();
        if let Some(slot) = planned.iter_mut().find(|(r, _)| *r == rule) {
            self.by_time.remove(&(slot.1, id.clone(), rule));
            slot.1 = at;
        } else {
            planned.push((rule, at));
        }
        self.by_time.insert((at, id, rule));
    }

    /// Drops one check (the connection was forgotten, or is not expected
    /// to sync).
    pub fn drop_check(&mut self, (rule, id): &Check) {
        let Some(planned) = self.planned.get_mut(id) else {
            return;
        };
        planned.retain(|(r, at)| {
            let keep = r != rule;
            if !keep {
                self.by_time.remove(&(*at, id.clone(), *r));
            }
            keep
        });
    }

    pub fn forget(&mut self, id: &str) {
        if let Some((id, planned)) = self.planned.remove_entry(id) {
            for (rule, at) in planned {
                self.by_time.remove(&(at, id.clone(), rule));
            }
        }
    }

    /// Takes every check due at `now`, earliest first, at most `limit`.
    pub fn take_due(&mut self, now: SystemTime, limit: usize) -> Vec<(Check, SystemTime)> {
        let mut due = Vec::new();
        while due.len() < limit {
            let Some(first) = self.by_time.first().filter(|(at, _, _)| *at <= now).cloned() else {
                break;
            };
            self.by_time.remove(&first);
            let (at, id, rule) = first;
            if let Some(planned) = self.planned.get_mut(&id) {
                planned.retain(|(r, _)| *r != rule);
                if planned.is_empty() {
                    self.planned.remove(&id);
                }
            }
            due.push(((rule, id), at));
        }
        due
    }
}

/// Whether absence rule `rule` watches a connection whose last event
/// reads as `event`: its matchers (environment, service, business,
/// connection) hold.
pub fn watches(rule: &Rule, event: &crate::event::Event, environment: Environment) -> bool {
    let cx = crate::rules::Context { event, environment };
    let when: &Condition = &rule.when;
    when.evaluate(&cx, &mut Evidence::default())
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::config::load_str;

    const HOUR: Duration = Duration::from_secs(3600);

    fn at(hours: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) + HOUR * hours as u32
    }

    fn config() -> Config {
        let text = "rules:\n  - name: quiet\n    notify: []\n    when: { environment: production, no_sync_for: 26h }\n  - name: xero-quiet\n    notify: []\n    when: { service: xero, no_sync_for: 2h }\n  - name: failed\n    notify: []\n    when: { failed: { above: 0 } }\n";
        load_str(text, Path::new("t.yaml"), &|_| None).unwrap()
    }

    fn connection(id: &str, service: &str, last_sync: u64) -> KnownConnection {
        KnownConnection {
            id: id.into(),
            first_seen: at(0),
            last_event: at(last_sync),
            last_event_name: Some("data".into()),
            last_sync: Some(at(last_sync)),
            status: None,
            expected_since: None,
            status_at: None,
            service: Some(service.into()),
            business: None,
            environment: Environment::Production,
        }
    }

    #[test]
    fn each_absence_rule_that_watches_a_connection_gets_a_deadline() {
        let config = config();
        let mut deadlines = Deadlines::default();
        deadlines.plan(&config, &connection("CON-1", "xero", 1), None);
        deadlines.plan(&config, &connection("CON-2", "quickbooks", 0), None);
        assert_eq!(deadlines.len(), 3);
        assert_eq!(deadlines.next(), Some(at(3)));
        let due = deadlines.take_due(at(26), 10);
        assert_eq!(
            due,
            [((1, Arc::from("CON-1")), at(3)), ((0, Arc::from("CON-2")), at(26))]
        );
        assert_eq!(deadlines.next(), Some(at(27)));
    }

    #[test]
    fn a_new_sync_replans_the_connection() {
        let config = config();
        let mut deadlines = Deadlines::default();
        deadlines.plan(&config, &connection("CON-1", "xero", 1), None);
        deadlines.plan(&config, &connection("CON-1", "xero", 10), None);
        assert_eq!(deadlines.len(), 2);
        assert_eq!(deadlines.next(), Some(at(12)));
        deadlines.forget("CON-1");
        assert!(deadlines.is_empty());
    }

    #[test]
    fn a_disconnected_connection_has_no_deadline() {
        let mut lost = connection("CON-1", "xero", 1);
        lost.status = Some("disconnected".into());
        let mut deadlines = Deadlines::default();
        deadlines.plan(&config(), &lost, None);
        assert!(deadlines.is_empty());
    }

    #[test]
    fn a_check_can_be_set_again_after_it_ran() {
        let config = config();
        let mut deadlines = Deadlines::default();
        deadlines.plan(&config, &connection("CON-1", "quickbooks", 0), None);
        let due = deadlines.take_due(at(30), 10);
        assert_eq!(due.len(), 1);
        deadlines.set(due[0].0.clone(), at(34));
        assert_eq!(deadlines.next(), Some(at(34)));
        deadlines.drop_check(&due[0].0);
        assert!(deadlines.is_empty());
    }
}
