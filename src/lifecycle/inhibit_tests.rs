//! Inhibit rules against the lifecycle: a lost connection mutes the sync
//! failures of that connection, recorded as `inhibit KEY`; once it is
//! back, the next failure tells; a muted FIRING never gets a RESOLVED.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;

use super::test_support::States;
use super::*;
use crate::alerts::AlertKey;
use crate::config::{Config, load_str};
use crate::event::parse_event;
use crate::rules::Environment;

const RULES: &str = "channels:
  ops:
    slack: { webhook_url: 'https://hooks.slack.com/services/T0/B0/x' }
defaults:
  notify: [ops]
rules:
  - name: connection-lost
    when: { event: connectionStatus, connection_status: [disconnected] }
  - name: anything-failed
    when: { failed: { above: 0 } }
inhibit:
  - when_firing: { rule: connection-lost }
    mute: { rule: '*' }
    equal: [connection]
";

fn t(minutes: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + minutes * 60)
}

fn config() -> Arc<Config> {
    Arc::new(load_str(RULES, Path::new("rules.yaml"), &|_| None).unwrap())
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Lost,
    Back,
    Failed,
    Fine,
}

fn body(step: Step, connection: &str) -> String {
    let data = match step {
        Step::Lost => r#""event":"connectionStatus","newStatus":"disconnected""#.to_owned(),
        Step::Back => r#""event":"connectionStatus","newStatus":"active""#.to_owned(),
        Step::Failed => r#""event":"data","requests":[{"request":"bills","status":"failed"}]"#.to_owned(),
        Step::Fine => r#""event":"data","requests":[{"request":"bills","status":"success"}]"#.to_owned(),
    };
    format!(r#"{{"data":{{{data},"connectionId":"{connection}","serviceName":"xero","sandbox":false}}}}"#)
}

fn input(step: Step, connection: &str, at: SystemTime, config: &Arc<Config>) -> AlertInput {
    let event = Arc::new(parse_event(body(step, connection).as_bytes()).unwrap());
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

fn told(applied: &Applied) -> Vec<(String, Effect)> {
    let told = applied.notifications.iter();
    told.map(|n| (n.key.rule.clone(), n.effect)).collect()
}

fn said(rule: &str, effect: Effect) -> (String, Effect) {
    (rule.to_owned(), effect)
}

#[test]
fn a_lost_connection_mutes_its_sync_failures_until_it_is_back() {
    let config = config();
    let mut states = States::default();
    let lost = apply(&mut states, &input(Step::Lost, "CON-1", t(0), &config)).unwrap();
    assert_eq!(told(&lost), [said("connection-lost", Effect::Firing)]);
    let failed = apply(&mut states, &input(Step::Failed, "CON-1", t(1), &config)).unwrap();
    assert!(told(&failed).is_empty(), "{:?}", failed.transitions);
    assert_eq!(
        failed.described(),
        ["anything-failed/CON-1: new → firing, FIRING muted by inhibit connection-lost/CON-1"]
    );
    let elsewhere = apply(&mut states, &input(Step::Failed, "CON-2", t(1), &config)).unwrap();
    assert_eq!(
        told(&elsewhere),
        [said("anything-failed", Effect::Firing)],
        "another connection"
    );
    let back = apply(&mut states, &input(Step::Back, "CON-1", t(2), &config)).unwrap();
    assert_eq!(told(&back), [said("connection-lost", Effect::Resolved)]);
    let again = apply(&mut states, &input(Step::Failed, "CON-1", t(3), &config)).unwrap();
    assert_eq!(
        told(&again),
        [said("anything-failed", Effect::Firing)],
        "told once back"
    );
}

#[test]
fn a_failure_told_before_the_connection_was_lost_still_resolves() {
    let config = config();
    let mut states = States::default();
    apply(&mut states, &input(Step::Failed, "CON-1", t(0), &config)).unwrap();
    apply(&mut states, &input(Step::Lost, "CON-1", t(1), &config)).unwrap();
    let fine = apply(&mut states, &input(Step::Fine, "CON-1", t(2), &config)).unwrap();
    assert!(
        told(&fine).contains(&said("anything-failed", Effect::Resolved)),
        "{:?}",
        fine.transitions
    );
}

#[test]
fn an_unknown_rule_in_an_inhibit_rule_is_an_error_with_its_line() {
    let text = RULES.replace("mute: { rule: '*' }", "mute: { rule: anything-faild }");
    let errors = load_str(&text, Path::new("rules.yaml"), &|_| None)
        .unwrap_err()
        .to_string();
    assert!(errors.contains("no rule is named `anything-faild`"), "{errors}");
    assert!(errors.contains("rules.yaml:13:"), "the line: {errors}");
    let text = RULES.replace("equal: [connection]", "equal: [connection]\n    mutes: {}");
    let errors = load_str(&text, Path::new("rules.yaml"), &|_| None)
        .unwrap_err()
        .to_string();
    assert!(errors.contains("unknown key `mutes`"), "{errors}");
    let text = RULES.replace("equal: [connection]", "equal: [service]");
    let errors = load_str(&text, Path::new("rules.yaml"), &|_| None)
        .unwrap_err()
        .to_string();
    assert!(errors.contains("must list `connection`"), "{errors}");
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![Just(Step::Lost), Just(Step::Back), Just(Step::Failed), Just(Step::Fine)]
}

fn is_firing(states: &States, rule: &str) -> bool {
    let key = AlertKey {
        rule: rule.into(),
        connection: "CON-1".into(),
        data_type: None,
    };
    states.0.get(&key).is_some_and(|s| s.phase == Phase::Firing)
}

proptest! {
    /// Whatever the order: nothing about the failures is told while the
    /// connection is lost; no RESOLVED follows a muted FIRING; a failure
    /// while the connection is not lost leaves the alert told.
    #[test]
    fn inhibited_alerts_are_never_told_and_told_once_free(steps in prop::collection::vec(step(), 1..30)) {
        let config = config();
        let mut states = States::default();
        let mut told_firing = false;
        for (i, step) in steps.iter().enumerate() {
            let lost_before = is_firing(&states, "connection-lost");
            let applied = apply(&mut states, &input(*step, "CON-1", t(i as u64), &config)).unwrap();
            for (rule, effect) in told(&applied) {
                if rule != "anything-failed" {
                    continue;
                }
                prop_assert!(!(lost_before && effect.says_firing()), "told while lost: {:?}", steps);
                if effect == Effect::Resolved {
                    prop_assert!(told_firing, "RESOLVED of a muted FIRING: {:?}", steps);
                }
                told_firing = effect.says_firing();
            }
            if !is_firing(&states, "anything-failed") {
                told_firing = false;
            }
            if matches!(step, Step::Failed) && !lost_before {
                prop_assert!(told_firing, "a failure while not lost is told: {:?}", steps);
            }
        }
    }
}
