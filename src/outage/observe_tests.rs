//! Outages over a storm, on the memory counters: one FIRING when the
//! threshold is crossed, STILL FAILING on `repeat_interval`, RESOLVED only
//! after the share has stayed under half the threshold for a window.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;

use super::*;
use crate::config::{Config, load_str};
use crate::event::parse_event;
use crate::lifecycle::Effect;
use crate::rules::Environment;

const RULES: &str = "channels:
  ops:
    slack: { webhook_url: 'https://hooks.slack.com/services/T0/B0/x' }
defaults:
  notify: [ops]
  repeat_interval: 1h
rules: []
outages:
  - name: provider-outage
    when: { environment: production }
    failing: { at_least: 10, share: 20% }
    window: 15m
";

fn config() -> Arc<Config> {
    Arc::new(load_str(RULES, Path::new("rules.yaml"), &|_| None).unwrap())
}

fn t(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
}

fn sync(connection: usize, service: &str, failed: bool) -> crate::event::Event {
    let status = if failed { "failed" } else { "success" };
    let body = format!(
        r#"{{"data":{{"event":"data","connectionId":"CON-{connection}","serviceName":"{service}","sandbox":false,"requests":[{{"request":"bills","status":"{status}"}}]}}}}"#
    );
    parse_event(body.as_bytes()).unwrap()
}

fn post(states: &mut MemoryOutages, config: &Config, event: &crate::event::Event, at: SystemTime) -> Vec<Effect> {
    let Ok((told, _)) = observe(states, &config.outages, (event, Environment::Production), at);
    told.iter().map(|t| t.effect).collect()
}

#[test]
fn a_storm_fires_one_outage_that_resolves_after_a_clear_window() {
    let config = config();
    let mut states = MemoryOutages::default();
    let mut effects = Vec::new();
    for n in 0..100 {
        effects.extend(post(&mut states, &config, &sync(n, "xero", false), t(n as u64)));
    }
    for n in 0..30 {
        effects.extend(post(&mut states, &config, &sync(n, "xero", true), t(100 + n as u64)));
    }
    assert_eq!(effects, [Effect::Firing], "one FIRING for 30 failing of 100");
    let Ok(Some(state)) = states.get("provider-outage", "xero") else {
        panic!("stored")
    };
    assert_eq!(
        (state.counts.failing, state.counts.synced),
        (30, 100),
        "as last counted"
    );
    // Recovery: every connection syncs clean, 20 minutes later (the
    // failures fall out of the window), then a window of clear share.
    let mut later = Vec::new();
    for n in 0..100 {
        later.extend(post(&mut states, &config, &sync(n, "xero", false), t(1300 + n as u64)));
    }
    assert!(later.is_empty(), "clear, but not yet for a window: {later:?}");
    for n in 0..100 {
        later.extend(post(&mut states, &config, &sync(n, "xero", false), t(2300 + n as u64)));
    }
    assert_eq!(later, [Effect::Resolved]);
}

#[test]
fn the_message_says_how_many_of_how_many_since_when_and_the_data_types() {
    let config = config();
    let mut states = MemoryOutages::default();
    for n in 0..40 {
        post(&mut states, &config, &sync(n, "quickbooks", false), t(0));
    }
    let mut fired = None;
    for n in 0..12 {
        let event = sync(n, "quickbooks", true);
        let Ok((told, described)) = observe(&mut states, &config.outages, (&event, Environment::Production), t(60));
        if let Some(told) = told.into_iter().next() {
            assert_eq!(
                described,
                ["outage provider-outage/quickbooks: FIRING (10 of 40 failing)"]
            );
            fired = Some(told);
        }
    }
    let fired = fired.expect("fired");
    let outage = &config.outages[0];
    assert_eq!(
        headline(outage, &fired),
        "quickbooks outage: 10 of 40 production connections failing (25%) since 22:14 UTC"
    );
    let facts = facts(outage, &fired, t(60));
    assert_eq!(facts.problems[0].lines, ["bills (10 connections)"]);
}

/// Ending on the timer after the provider's connections went quiet: the
/// RESOLVED does not say "0 of 0 still failing" while it releases the
/// held connections that are.
#[test]
fn a_resolved_says_how_many_are_still_failing_even_when_nothing_synced() {
    let config = config();
    let outage = &config.outages[0];
    let mut states = MemoryOutages::default();
    for n in 0..12 {
        post(&mut states, &config, &sync(n, "quickbooks", true), t(n as u64));
    }
    // Nothing syncs any more: clear from the first look after the window,
    // resolved a window later.
    let Ok(cleared) = evaluate(&mut states, (0, outage), "quickbooks", t(16 * 60));
    assert_eq!(cleared, None);
    let Ok(Some(mut told)) = evaluate(&mut states, (0, outage), "quickbooks", t(32 * 60)) else {
        panic!("resolved a window after it cleared");
    };
    assert_eq!(told.effect, Effect::Resolved);
    told.still_failing = 2;
    assert_eq!(
        headline(outage, &told),
        "quickbooks outage over: no production connections synced in the last 15m; \
         2 still failing, each told on its own"
    );
    told.still_failing = 0;
    assert!(headline(outage, &told).ends_with("; none still failing"));
}

#[test]
fn other_services_and_sandbox_connections_do_not_count() {
    let config = config();
    let mut states = MemoryOutages::default();
    for n in 0..20 {
        post(&mut states, &config, &sync(n, "xero", false), t(0));
        post(&mut states, &config, &sync(100 + n, "quickbooks", true), t(1));
    }
    let Ok(xero) = states.counts("provider-outage", "xero", t(0));
    assert_eq!((xero.synced, xero.failing), (20, 0));
    let sandbox = sync(7, "xero", true);
    let Ok((told, _)) = observe(&mut states, &config.outages, (&sandbox, Environment::Sandbox), t(2));
    assert!(told.is_empty());
    let Ok(xero) = states.counts("provider-outage", "xero", t(0));
    assert_eq!(xero.failing, 0, "a sandbox sync does not count");
}

#[test]
fn outages_are_checked_with_their_lines() {
    let bad = RULES.replace("share: 20%", "share: 120%");
    let errors = load_str(&bad, Path::new("rules.yaml"), &|_| None)
        .unwrap_err()
        .to_string();
    assert!(errors.contains("rules.yaml:11:") && errors.contains("120%"), "{errors}");
    let bad = RULES.replace("window: 15m", "window: 15m\n    windw: 1m");
    let errors = load_str(&bad, Path::new("rules.yaml"), &|_| None)
        .unwrap_err()
        .to_string();
    assert!(errors.contains("unknown key `windw`"), "{errors}");
}

proptest! {
    /// Whatever the order of syncs: at most one FIRING per episode, a
    /// RESOLVED only after a FIRING, and FIRING and RESOLVED alternate.
    #[test]
    fn firing_and_resolved_alternate(syncs in prop::collection::vec((0usize..30, any::<bool>(), 0u64..120), 1..300)) {
        let config = config();
        let mut states = MemoryOutages::default();
        let mut now = 0;
        let mut firing = false;
        for (connection, failed, gap) in syncs {
            now += gap;
            for effect in post(&mut states, &config, &sync(connection, "xero", failed), t(now)) {
                match effect {
                    Effect::Firing => { prop_assert!(!firing); firing = true; }
                    Effect::Resolved => { prop_assert!(firing); firing = false; }
                    Effect::StillFailing => prop_assert!(firing),
                }
            }
        }
    }
}
