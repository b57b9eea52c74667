//! The operator's invariant over random sequences of syncs, in and out of
//! each rule's scope: an alert resolves (or a pending one is cleared) only
//! on a sync that the rule applies to and that shows its problem gone; and
//! such a sync always does resolve a firing alert.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;

use super::test_support::States;
use super::*;
use crate::config::load_str;
use crate::event::parse_event;
use crate::rules::Environment;

const RULES: &str = "rules:
  - name: full-bills
    when: { sync_type: fullSync, failed: { above: 0, data_types: [bills] } }
  - name: any-type
    when: { any: [ { failed: { above: 0, data_types: [bills] } }, { failed: { above: 0, data_types: [invoices] } } ] }
  - name: bills-empty-not-manual
    when: { not: { sync_type: manualSync }, empty: { at_least: 1, data_types: [bills] } }
    after: 2
  - name: about-bills
    when: { data_type: bills, failed: { above: 0 } }
";

/// One sync: its type, and the status of bills and invoices (`None`: the
/// sync does not carry that data type).
#[derive(Debug, Clone)]
struct Sync {
    full: bool,
    bills: Option<&'static str>,
    invoices: Option<&'static str>,
}

impl Sync {
    fn body(&self) -> String {
        let requests: Vec<String> = [("bills", self.bills), ("invoices", self.invoices)]
            .into_iter()
            .filter_map(|(name, status)| Some(format!(r#"{{"request":"{name}","status":"{}"}}"#, status?)))
            .collect();
        let sync_type = if self.full { "fullSync" } else { "manualSync" };
        format!(
            r#"{{"data":{{"event":"data","connectionId":"CON-1","dataSyncType":"{sync_type}","sandbox":false,"requests":[{}]}}}}"#,
            requests.join(",")
        )
    }

    /// The oracle, written from the README's definition for each rule: the
    /// sync is in the rule's scope, carries its data, and shows no problem.
    fn shows_clean(&self, rule: &str) -> bool {
        let ok = |status: Option<&str>, bad: &str| status.is_some_and(|s| s != bad);
        match rule {
            "full-bills" => self.full && ok(self.bills, "failed"),
            "any-type" => ok(self.bills, "failed") && ok(self.invoices, "failed"),
            "bills-empty-not-manual" => self.full && ok(self.bills, "empty"),
            "about-bills" => ok(self.bills, "failed") && self.invoices != Some("failed"),
            other => panic!("no oracle for {other}"),
        }
    }
}

fn syncs() -> impl Strategy<Value = Vec<Sync>> {
    let status = || proptest::option::of(prop::sample::select(vec!["success", "failed", "empty"]));
    let sync = (any::<bool>(), status(), status()).prop_map(|(full, bills, invoices)| Sync { full, bills, invoices });
    prop::collection::vec(sync, 1..30)
}

proptest! {
    #[test]
    fn an_alert_resolves_only_on_a_clean_sync_the_rule_applies_to(sequence in syncs()) {
        let config = Arc::new(load_str(RULES, Path::new("rules.yaml"), &|_| None).unwrap());
        let mut states = States::default();
        for (i, sync) in sequence.iter().enumerate() {
            let event = Arc::new(parse_event(sync.body().as_bytes()).unwrap());
            let before = states.0.clone();
            let input = AlertInput {
                matches: matches_of(&config, &event, Environment::Production),
                config: config.clone(),
                event,
                environment: Environment::Production,
                received_at: SystemTime::UNIX_EPOCH + Duration::from_secs(60 * i as u64),
                silences: Arc::new(Vec::new()),
                stale: false,
            };
            apply(&mut states, &input).unwrap();
            for (key, was) in before.iter().filter(|(_, s)| s.phase != Phase::Resolved) {
                let now = &states.0[key];
                let clean = sync.shows_clean(&key.rule);
                if now.phase == Phase::Resolved {
                    prop_assert!(clean, "{key} was {:?}, resolved by {sync:?}", was.phase);
                }
                if clean && was.phase == Phase::Firing {
                    prop_assert_eq!(now.phase, Phase::Resolved, "{} stayed firing after {:?}", key, sync);
                }
                // Out of scope, a pending alert keeps its streak.
                if !clean && now.phase == was.phase && !input.matches.iter().any(|m| &m.key == key) {
                    prop_assert_eq!(now.streak, was.streak, "{} lost its streak to {:?}", key, sync);
                }
            }
        }
    }
}
