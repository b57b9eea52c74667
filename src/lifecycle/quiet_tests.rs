//! Silences against the lifecycle: a data-type matcher mutes only alerts
//! about that data type; a RESOLVED is never muted.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::test_support::States;
use super::*;
use crate::config::{Config, load_str};
use crate::event::parse_event;
use crate::quiet::{Matchers, Silence};
use crate::rules::Environment;

const RULES: &str = "channels:
  ops:
    slack: { webhook_url: 'https://hooks.slack.com/services/T0/B0/x' }
defaults:
  notify: [ops]
rules:
  - name: anything-failed
    when: { failed: { above: 0 } }
";

fn t(minutes: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + minutes * 60)
}

fn config() -> Arc<Config> {
    Arc::new(load_str(RULES, Path::new("rules.yaml"), &|_| None).unwrap())
}

fn silence(matchers: Matchers) -> Silence {
    Silence {
        id: "5113ce00".into(),
        matchers,
        starts_at: t(0),
        ends_at: t(600),
        comment: "test".into(),
        created_at: t(0),
        expired_at: None,
    }
}

/// A full sync of CON-1 with each `(data type, status)`.
fn sync(requests: &[(&str, &str)], at: SystemTime, silences: &[Silence], config: &Arc<Config>) -> AlertInput {
    let requests: Vec<String> = requests
        .iter()
        .map(|(name, status)| format!(r#"{{"request":"{name}","status":"{status}"}}"#))
        .collect();
    let body = format!(
        r#"{{"data":{{"event":"data","connectionId":"CON-1","serviceName":"xero","sandbox":false,"requests":[{}]}}}}"#,
        requests.join(",")
    );
    let event = Arc::new(parse_event(body.as_bytes()).unwrap());
    AlertInput {
        matches: matches_of(config, &event, Environment::Production),
        config: config.clone(),
        event,
        environment: Environment::Production,
        received_at: at,
        silences: Arc::new(silences.to_vec()),
        stale: false,
    }
}

fn told(applied: &Applied) -> Vec<(Effect, usize)> {
    let told = applied.notifications.iter();
    told.map(|n| (n.effect, n.deliveries.len())).collect()
}

#[test]
fn a_data_type_silence_mutes_only_alerts_about_that_data_type() {
    let config = config();
    let bills = [silence(Matchers {
        data_type: Some("bills".into()),
        ..Matchers::default()
    })];
    // Bills went fine; invoices failed: the alert is about invoices.
    let mut states = States::default();
    let input = sync(&[("bills", "success"), ("invoices", "failed")], t(1), &bills, &config);
    let applied = apply(&mut states, &input).unwrap();
    assert_eq!(told(&applied), [(Effect::Firing, 1)], "{:?}", applied.transitions);
    // An alert about bills and invoices still speaks for invoices.
    let mut states = States::default();
    let input = sync(&[("bills", "failed"), ("invoices", "failed")], t(1), &bills, &config);
    let applied = apply(&mut states, &input).unwrap();
    assert_eq!(told(&applied), [(Effect::Firing, 1)], "{:?}", applied.transitions);
    // An alert about bills alone is muted.
    let mut states = States::default();
    let input = sync(&[("bills", "failed"), ("invoices", "success")], t(1), &bills, &config);
    let applied = apply(&mut states, &input).unwrap();
    assert!(told(&applied).is_empty());
    assert_eq!(applied.transitions[0].muted_by.as_deref(), Some("silence 5113ce00"));
}

#[test]
fn a_resolved_for_a_told_firing_goes_out_through_a_silence() {
    let config = config();
    let mut states = States::default();
    let fired = apply(&mut states, &sync(&[("bills", "failed")], t(1), &[], &config)).unwrap();
    assert_eq!(told(&fired), [(Effect::Firing, 1)]);
    let all_xero = [silence(Matchers {
        service: Some("xero".into()),
        ..Matchers::default()
    })];
    let resolved = apply(&mut states, &sync(&[("bills", "success")], t(5), &all_xero, &config)).unwrap();
    assert_eq!(told(&resolved), [(Effect::Resolved, 1)], "{:?}", resolved.transitions);
    assert_eq!(resolved.transitions[0].muted_by, None);
}

#[test]
fn an_alert_muted_from_the_start_resolves_without_a_word() {
    let config = config();
    let all_xero = [silence(Matchers {
        service: Some("xero".into()),
        ..Matchers::default()
    })];
    let mut states = States::default();
    let fired = apply(&mut states, &sync(&[("bills", "failed")], t(1), &all_xero, &config)).unwrap();
    assert!(told(&fired).is_empty());
    let resolved = apply(&mut states, &sync(&[("bills", "success")], t(5), &all_xero, &config)).unwrap();
    assert!(told(&resolved).is_empty(), "nobody was told it fired");
}

#[test]
fn an_event_without_a_connection_notifies_each_time_and_stays_firing_nowhere() {
    let text = RULES.replace("when: { failed: { above: 0 } }", "when: { event: login }");
    let config = Arc::new(load_str(&text, Path::new("rules.yaml"), &|_| None).unwrap());
    let mut states = States::default();
    for minute in [1, 2] {
        let event = Arc::new(parse_event(br#"{"data":{"event":"login","businessName":"Acme"}}"#).unwrap());
        let input = AlertInput {
            matches: matches_of(&config, &event, Environment::Production),
            config: config.clone(),
            event,
            environment: Environment::Production,
            received_at: t(minute),
            silences: Arc::default(),
            stale: false,
        };
        let applied = apply(&mut states, &input).unwrap();
        assert_eq!(told(&applied), [(Effect::Firing, 1)], "login {minute}");
    }
    assert!(states.0.values().all(|s| s.phase == Phase::Resolved), "{:?}", states.0);
}
