//! Alerts held by an outage, as properties over random stories: an outage
//! of the service goes on and off while its connections fail and recover.
//! No held alert is lost (each still firing when the outage ends is told
//! exactly once), no RESOLVED follows a FIRING that was held, and an alert
//! told before the outage keeps its normal life.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;

use super::test_support::States;
use super::*;
use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::config::{Config, load_str};
use crate::event::parse_event;
use crate::quiet::Mutes;
use crate::rules::Environment;

const RULES: &str = "channels:
  ops:
    slack: { webhook_url: 'https://hooks.slack.com/services/T0/B0/x' }
defaults:
  notify: [ops]
rules:
  - name: anything-failed
    when: { failed: { above: 0 } }
outages:
  - name: provider-outage
    failing: { at_least: 10, share: 20% }
    window: 15m
";

fn t(minutes: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + minutes * 60)
}

/// The map of states, and whether the service's outage fires.
#[derive(Default)]
struct WithOutage {
    states: States,
    outage: bool,
}

impl AlertStates for WithOutage {
    type Error = Infallible;
    fn get(&mut self, key: &AlertKey) -> Result<Option<AlertState>, Infallible> {
        self.states.get(key)
    }
    fn active(&mut self, connection: &str) -> Result<Vec<(AlertKey, AlertState)>, Infallible> {
        self.states.active(connection)
    }
    fn put(&mut self, key: &AlertKey, state: &AlertState) -> Result<(), Infallible> {
        self.states.put(key, state)
    }
    fn outage_of(&mut self, service: &str) -> Result<Option<String>, Infallible> {
        Ok((self.outage && service == "xero").then(|| "provider-outage".to_owned()))
    }
}

#[derive(Debug, Clone, Copy)]
enum Step {
    OutageFires,
    OutageResolves,
    Sync { connection: usize, failed: bool },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => Just(Step::OutageFires),
        1 => Just(Step::OutageResolves),
        6 => (0usize..4, any::<bool>()).prop_map(|(connection, failed)| Step::Sync { connection, failed }),
    ]
}

fn input(connection: usize, failed: bool, at: SystemTime, config: &Arc<Config>) -> AlertInput {
    let status = if failed { "failed" } else { "success" };
    let body = format!(
        r#"{{"data":{{"event":"data","connectionId":"CON-{connection}","serviceName":"xero","sandbox":false,"requests":[{{"request":"bills","status":"{status}"}}]}}}}"#
    );
    let event = Arc::new(parse_event(body.as_bytes()).unwrap());
    AlertInput {
        matches: matches_of(config, &event, Environment::Production),
        config: config.clone(),
        event,
        environment: Environment::Production,
        received_at: at,
        silences: Arc::default(),
        stale: false,
    }
}

fn known(id: &str) -> KnownConnection {
    KnownConnection {
        id: id.to_owned(),
        first_seen: t(0),
        last_event: t(0),
        last_event_name: Some("data".into()),
        last_sync: Some(t(0)),
        status: Some("active".into()),
        expected_since: None,
        status_at: None,
        service: Some("xero".into()),
        business: None,
        environment: Environment::Production,
    }
}

/// What the channel heard of each alert in its current episode.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Heard {
    firing: u32,
}

fn hear(heard: &mut HashMap<AlertKey, Heard>, notifications: &[Notification]) -> Result<(), TestCaseError> {
    for n in notifications {
        let entry = heard.entry(n.key.clone()).or_default();
        match n.effect {
            Effect::Firing => {
                prop_assert_eq!(entry.firing, 0, "two FIRINGs in one episode of {}", n.key);
                entry.firing = 1;
            }
            Effect::StillFailing => prop_assert_eq!(entry.firing, 1, "STILL FAILING unheard {}", n.key),
            Effect::Resolved => {
                prop_assert_eq!(entry.firing, 1, "RESOLVED of a held FIRING {}", n.key);
                heard.remove(&n.key);
            }
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn no_held_alert_is_lost_and_none_is_resolved_aloud(steps in prop::collection::vec(step(), 1..60)) {
        let config = Arc::new(load_str(RULES, Path::new("rules.yaml"), &|_| None).unwrap());
        let mut states = WithOutage::default();
        let mut heard: HashMap<AlertKey, Heard> = HashMap::new();
        for (i, step) in steps.iter().enumerate() {
            let now = t(i as u64);
            match *step {
                Step::OutageFires => states.outage = true,
                Step::OutageResolves => {
                    states.outage = false;
                    let firing: Vec<(AlertKey, AlertState)> = (states.states.0.iter())
                        .filter(|(_, s)| s.phase == Phase::Firing)
                        .map(|(k, s)| (k.clone(), s.clone()))
                        .collect();
                    for (key, state) in firing {
                        let released = release(&config, (&key, &state), &[], (&known(&key.connection), "provider-outage"), &Mutes::default(), now);
                        let held = state.muted_by.as_deref() == Some("held by outage provider-outage");
                        prop_assert_eq!(released.is_some(), held, "only held alerts are released: {:?}", state);
                        if let Some((next, applied)) = released {
                            prop_assert_eq!(applied.notifications.len(), 1);
                            hear(&mut heard, &applied.notifications)?;
                            states.states.0.insert(key, next);
                        }
                    }
                }
                Step::Sync { connection, failed } => {
                    let applied = apply(&mut states, &input(connection, failed, now, &config)).unwrap();
                    if states.outage {
                        for n in &applied.notifications {
                            prop_assert!(n.effect != Effect::Firing, "a FIRING during the outage: {:?}", steps);
                        }
                    }
                    hear(&mut heard, &applied.notifications)?;
                }
            }
            // Outside an outage, every firing alert has been heard of.
            if !states.outage {
                for (key, state) in &states.states.0 {
                    if state.phase == Phase::Firing {
                        prop_assert_eq!(heard.get(key).map(|h| h.firing), Some(1), "unheard {} after {:?}", key, steps);
                    }
                }
            }
        }
    }
}

#[test]
fn only_the_connections_the_outage_counts_are_held() {
    let text = RULES.replace(
        "    window: 15m\n",
        "    window: 15m\n    when: { environment: production }\n",
    );
    let config = Arc::new(load_str(&text, Path::new("rules.yaml"), &|_| None).unwrap());
    let mut states = WithOutage {
        outage: true,
        ..WithOutage::default()
    };
    let production = apply(&mut states, &input(1, true, t(0), &config)).unwrap();
    assert!(production.notifications.is_empty(), "held");
    assert_eq!(
        production.described(),
        ["anything-failed/CON-1: new → firing, FIRING held by outage provider-outage"]
    );
    let mut sandbox = input(2, true, t(0), &config);
    sandbox.environment = Environment::Sandbox;
    sandbox.matches = matches_of(&config, &sandbox.event, Environment::Sandbox);
    let sandbox = apply(&mut states, &sandbox).unwrap();
    assert_eq!(sandbox.notifications.len(), 1, "a sandbox connection is not held");
}
