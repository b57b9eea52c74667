//! Any body: parse, normalise, evaluate the example-like rules, and render
//! both messages for every match. Nothing may panic, and the normalised
//! counts must add up.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;
use std::time::SystemTime;

use libfuzzer_sys::fuzz_target;
use syncwatch::config::{Config, load_str};
use syncwatch::event::parse_event;
use syncwatch::render::{Alert, Facts, render_email, render_slack};
use syncwatch::rules::{Environment, evaluate};

const RULES: &str = "rules:
  - { name: a, notify: [], when: { failed: { above: 0 } } }
  - { name: b, notify: [], when: { empty: { at_least: 1, data_types: ['*Statements'], report_frequency: month } } }
  - { name: c, notify: [], when: { any: [ { event: data }, { not: { service: 'q*' } } ], success: { below: 3 } } }
  - { name: d, notify: [], when: { data_type: '*', connection: 'CON-*', environment: sandbox } }
";

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| load_str(RULES, Path::new("fuzz.yaml"), &|_| None).expect("fuzz rules are valid"))
}

fuzz_target!(|body: &[u8]| {
    let Ok(event) = parse_event(body) else {
        return;
    };
    let total: u64 = event.tallies.iter().map(|t| t.count).sum();
    let per_status: u64 = ["success", "failed", "empty"]
        .iter()
        .map(|s| event.count(&syncwatch::event::Status::parse(s)))
        .sum();
    assert!(per_status <= total);
    for matched in evaluate(&config().rules, &event, Environment::Production) {
        let alert = Alert {
            rule: matched.rule,
            event: &event,
            evidence: &matched.evidence,
            environment: Environment::Production,
            received_at: SystemTime::UNIX_EPOCH,
        };
        let facts = Facts::gather(&alert);
        let slack = render_slack(&facts);
        assert!(slack["blocks"].as_array().is_some_and(|b| b.len() <= 50));
        let email = render_email(&facts);
        assert!(!email.subject.contains(['\r', '\n']));
    }
});
