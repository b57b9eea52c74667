use std::path::Path;

use super::*;
use crate::config::load_str;
use crate::event::{Event, parse_event};
use crate::rules::Verdict;

fn rules(when_yaml: &[&str]) -> Vec<Rule> {
    let mut text = String::from("rules:\n");
    for (i, when) in when_yaml.iter().enumerate() {
        text.push_str(&format!("  - name: r{i}\n    notify: []\n    when: {when}\n"));
    }
    load_str(&text, Path::new("t.yaml"), &|_| None).unwrap().rules
}

fn fixture(name: &str) -> Event {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    parse_event(&std::fs::read(path).unwrap()).unwrap()
}

/// Whether the one rule with `when` fires on `event`.
fn fires(when: &str, event: &Event) -> bool {
    let rules = rules(&[when]);
    !evaluate(&rules, event, Environment::Production).is_empty()
}

fn full() -> Event {
    fixture("data-full.json")
}

#[test]
fn event_service_business_connection_and_sync_type_match_their_fields() {
    let event = full();
    assert!(fires("{ event: data }", &event));
    assert!(!fires("{ event: dataPerType }", &event));
    assert!(fires("{ service: [xero, quickbooks] }", &event));
    assert!(fires("{ business: 'BIZ-d6b1*' }", &event));
    assert!(fires("{ connection: CON-0a4e97aa-7a77-bbbb-00aa-b1b1001aa00 }", &event));
    assert!(!fires("{ connection: CON-other }", &event));
    assert!(fires("{ sync_type: manual* }", &event));
    assert!(!fires("{ sync_type: fullSync }", &event));
}

#[test]
fn a_matcher_on_a_field_the_event_lacks_does_not_hold_even_with_a_wildcard() {
    let event = parse_event(br#"{"data":{"event":"login"}}"#).unwrap();
    assert!(!fires("{ service: '*' }", &event));
    assert!(fires("{ event: '*' }", &event));
}

#[test]
fn data_type_matches_the_request_type_or_any_request() {
    assert!(fires("{ data_type: incomeStatements }", &full()));
    assert!(fires("{ data_type: '*Statements' }", &full()));
    assert!(!fires("{ data_type: bills }", &full()));
    let per_type = fixture("data-per-type.json");
    assert!(fires("{ data_type: billPaymentRequests }", &per_type));
}

#[test]
fn environment_uses_sandbox_or_the_configured_default() {
    let event = full();
    assert_eq!(event.sandbox, None);
    let rules = rules(&["{ environment: production }", "{ environment: sandbox }"]);
    let names = |env| -> Vec<&str> {
        evaluate(&rules, &event, env)
            .iter()
            .map(|m| m.rule.name.as_str())
            .collect()
    };
    assert_eq!(names(Environment::Production), ["r0"]);
    assert_eq!(names(Environment::Sandbox), ["r1"]);
    let sandbox = parse_event(br#"{"data":{"event":"data","sandbox":true}}"#).unwrap();
    assert!(fires("{ environment: sandbox }", &sandbox));
}

#[test]
fn thresholds_compare_as_named() {
    let event = full(); // failed 1, empty 1, success 3
    assert!(fires("{ failed: { above: 0 } }", &event));
    assert!(!fires("{ failed: { above: 1 } }", &event));
    assert!(fires("{ success: { at_least: 3 } }", &event));
    assert!(!fires("{ success: { at_least: 4 } }", &event));
    assert!(fires("{ empty: { below: 2 } }", &event));
    assert!(!fires("{ empty: { below: 1 } }", &event));
    assert!(fires("{ success: { at_least: 2, below: 4 } }", &event));
}

#[test]
fn counts_sum_the_simple_payload() {
    let event = fixture("data-simple.json"); // empty 3 + 7
    assert!(fires("{ empty: { at_least: 10 } }", &event));
    assert!(!fires("{ empty: { above: 10 } }", &event));
    assert!(fires(
        "{ empty: { at_least: 7, data_types: [billPaymentRequests] } }",
        &event
    ));
    assert!(fires("{ failed: { below: 1, data_types: [bills] } }", &event));
}

#[test]
fn narrowing_by_data_type_and_frequency_counts_only_those_requests() {
    let event = full();
    assert!(fires(
        "{ empty: { at_least: 1, data_types: [incomeStatements], report_frequency: month } }",
        &event
    ));
    assert!(!fires(
        "{ empty: { at_least: 1, data_types: [incomeStatements], report_frequency: year } }",
        &event
    ));
    assert!(fires(
        "{ failed: { above: 0, report_frequency: [quarter, year] } }",
        &event
    ));
    assert!(!fires("{ failed: { above: 0, data_types: [balanceSheets] } }", &event));
}

#[test]
fn an_event_without_the_narrowed_data_type_does_not_satisfy_the_condition() {
    // `below` would hold on a count of zero; the data type is simply absent.
    assert!(!fires("{ success: { below: 1, data_types: [bills] } }", &full()));
    let simple = fixture("data-simple.json");
    assert!(!fires("{ empty: { below: 100, report_frequency: month } }", &simple));
}

#[test]
fn any_holds_when_one_branch_holds() {
    let event = full();
    assert!(fires(
        "{ any: [ { service: xero }, { failed: { above: 0 } } ] }",
        &event
    ));
    assert!(!fires("{ any: [ { service: xero }, { event: login } ] }", &event));
}

#[test]
fn not_holds_when_its_conditions_do_not() {
    let event = full();
    assert!(fires("{ not: { sync_type: fullSync } }", &event));
    assert!(!fires("{ not: { sync_type: manualSync } }", &event));
    // All keys of the `not` mapping must hold for it to exclude.
    assert!(fires("{ not: { sync_type: manualSync, service: xero } }", &event));
}

#[test]
fn several_keys_must_all_hold() {
    let event = full();
    assert!(fires(
        "{ event: data, service: quickbooks, failed: { above: 0 } }",
        &event
    ));
    assert!(!fires("{ event: data, service: xero, failed: { above: 0 } }", &event));
}

#[test]
fn a_match_carries_the_tallies_that_made_it_fire() {
    let event = full();
    let rules = rules(&["{ empty: { at_least: 1, data_types: [incomeStatements] } }"]);
    let matches = evaluate(&rules, &event, Environment::Production);
    let tallies: Vec<_> = matches[0]
        .evidence
        .tallies()
        .iter()
        .map(|&i| &event.tallies[i])
        .collect();
    assert_eq!(tallies.len(), 1);
    assert_eq!(tallies[0].data_type.as_deref(), Some("incomeStatements"));
    assert_eq!(tallies[0].periods[0].to_string(), "2018-04-01..2018-04-30");
}

#[test]
fn a_rule_that_does_not_fire_says_why_in_one_line() {
    let event = full();
    let rules = rules(&[
        "{ environment: sandbox }",
        "{ failed: { above: 3 } }",
        "{ empty: { at_least: 1, data_types: [bills] } }",
        "{ service: xero }",
        "{ event: data }",
    ]);
    let reasons: Vec<String> = explain(&rules, &event, Environment::Production)
        .into_iter()
        .map(|v| v.map_or_else(|miss| miss.reason, |_| "fires".into()))
        .collect();
    assert_eq!(
        reasons,
        [
            "environment is production, rule wants sandbox",
            "failed count is 1, rule wants above 3",
            "empty: the event has no requests of data type `bills`",
            "service is `quickbooks`, rule wants `xero`",
            "fires",
        ]
    );
}

#[test]
fn rules_fire_in_file_order_and_independently() {
    let rules = rules(&["{ event: data }", "{ event: login }", "{ failed: { above: 0 } }"]);
    let names: Vec<&str> = evaluate(&rules, &full(), Environment::Production)
        .iter()
        .map(|m| m.rule.name.as_str())
        .collect();
    assert_eq!(names, ["r0", "r2"]);
}

#[test]
fn a_count_too_large_for_a_number_saturates_instead_of_wrapping() {
    let event = parse_event(
        br#"{"data":{"event":"data","requests":{"bills":{"failed":18446744073709551615},"invoices":{"failed":1}}}}"#,
    )
    .unwrap();
    assert!(fires("{ failed: { above: 0 } }", &event));
    assert_eq!(event.count(&crate::event::Status::Failed), u64::MAX);
}

#[test]
fn evidence_comes_only_from_the_any_branches_that_held() {
    let event =
        parse_event(br#"{"data":{"event":"data","requests":{"bills":{"failed":2},"invoices":{"empty":1}}}}"#).unwrap();
    // The `empty` branch holds; the `failed` branch finds bills failed but
    // fails on its service, so bills is no reason to notify.
    let rules = rules(&["{ any: [ { failed: { above: 0 }, service: xero }, { empty: { above: 0 } } ] }"]);
    let matches = evaluate(&rules, &event, Environment::Production);
    let cited: Vec<&str> = matches[0]
        .evidence
        .tallies()
        .iter()
        .map(|&i| event.tallies[i].data_type_label())
        .collect();
    assert_eq!(cited, ["invoices"]);
}

#[test]
fn evidence_over_many_data_types_is_collected_once_each() {
    let mut requests = String::new();
    for i in 0..20_000 {
        requests.push_str(&format!("\"t{i}\":{{\"failed\":1}},"));
    }
    requests.pop();
    let body = format!(r#"{{"data":{{"event":"data","requests":{{{requests}}}}}}}"#);
    let event = parse_event(body.as_bytes()).unwrap();
    let rules = rules(&["{ failed: { above: 0 }, any: [ { failed: { above: 1 } }, { failed: { at_least: 1 } } ] }"]);
    let matches = evaluate(&rules, &event, Environment::Production);
    assert_eq!(matches[0].evidence.tallies().len(), 20_000);
}

/// What the one rule with `when` says of `body` (a webhook body).
fn verdict(when: &str, body: &str) -> Verdict {
    let rule = &rules(&[when])[0];
    let event = parse_event(body.as_bytes()).unwrap();
    let environment = Environment::of(&event, Environment::Production);
    rule.when.verdict(&Context {
        event: &event,
        environment,
    })
}

fn sync(sync_type: &str, requests: &str) -> String {
    format!(
        r#"{{"data":{{"event":"data","dataSyncType":"{sync_type}","serviceName":"quickbooks","sandbox":false,"requests":[{requests}]}}}}"#
    )
}

const BILLS_OK: &str = r#"{"request":"bills","status":"success"}"#;
const BILLS_FAILED: &str = r#"{"request":"bills","status":"failed"}"#;
const BILLS_EMPTY: &str = r#"{"request":"bills","status":"empty"}"#;
const INVOICES_OK: &str = r#"{"request":"invoices","status":"success"}"#;

#[test]
fn a_narrowed_rule_applies_only_to_events_that_carry_its_data() {
    let when = "{ empty: { at_least: 1, data_types: [incomeStatements], report_frequency: month } }";
    let rule = &rules(&[when])[0];
    let cx = |event| Context {
        event,
        environment: Environment::Production,
    };
    assert_eq!(rule.when.verdict(&cx(&full())), Verdict::Fires);
    assert_eq!(verdict(when, &sync("fullSync", BILLS_OK)), Verdict::Out);
    let simple = r#"{"data":{"event":"data","requests":{"incomeStatements":{"success":3}}}}"#;
    assert_eq!(
        verdict(when, simple),
        Verdict::Out,
        "a simple payload has no report frequency"
    );
    assert_eq!(
        verdict("{ failed: { above: 0 } }", &sync("fullSync", BILLS_OK)),
        Verdict::Clean
    );
}

#[test]
fn a_sync_outside_the_rules_scope_is_not_clean() {
    // The sync type, data type and `not` matchers are the rule's scope.
    let full_only = "{ sync_type: fullSync, failed: { above: 0 } }";
    assert_eq!(verdict(full_only, &sync("manualSync", BILLS_OK)), Verdict::Out);
    assert_eq!(verdict(full_only, &sync("fullSync", BILLS_OK)), Verdict::Clean);
    let bills = "{ data_type: bills, failed: { above: 0 } }";
    assert_eq!(verdict(bills, &sync("fullSync", INVOICES_OK)), Verdict::Out);
    assert_eq!(verdict(bills, &sync("fullSync", BILLS_OK)), Verdict::Clean);
    let not_manual = "{ not: { sync_type: manualSync }, empty: { at_least: 1, data_types: [bills] } }";
    assert_eq!(verdict(not_manual, &sync("manualSync", BILLS_EMPTY)), Verdict::Out);
    assert_eq!(verdict(not_manual, &sync("manualSync", BILLS_OK)), Verdict::Out);
    assert_eq!(verdict(not_manual, &sync("fullSync", BILLS_EMPTY)), Verdict::Fires);
    assert_eq!(verdict(not_manual, &sync("fullSync", BILLS_OK)), Verdict::Clean);
    // Another environment or service is never the rule's.
    assert_eq!(
        verdict(
            "{ environment: sandbox, failed: { above: 0 } }",
            &sync("fullSync", BILLS_OK)
        ),
        Verdict::Never
    );
}

#[test]
fn an_any_rule_is_clean_only_where_every_branch_that_can_apply_is() {
    let any =
        "{ any: [ { failed: { above: 0, data_types: [bills] } }, { failed: { above: 0, data_types: [invoices] } } ] }";
    assert_eq!(verdict(any, &sync("fullSync", BILLS_FAILED)), Verdict::Fires);
    // Only the data of the branch that did not fire: nothing said of bills.
    assert_eq!(verdict(any, &sync("fullSync", INVOICES_OK)), Verdict::Out);
    assert_eq!(
        verdict(any, &sync("fullSync", &format!("{BILLS_OK},{INVOICES_OK}"))),
        Verdict::Clean
    );
    // A branch for another service cannot hold the verdict open for ever.
    let per_service =
        "{ any: [ { service: xero, failed: { above: 0 } }, { service: quickbooks, failed: { above: 1 } } ] }";
    assert_eq!(verdict(per_service, &sync("fullSync", BILLS_OK)), Verdict::Clean);
}

proptest::proptest! {
    /// The verdict fires exactly when the rule fires, whatever the rule.
    #[test]
    fn the_verdict_fires_exactly_when_the_rule_does(
        sync_type in proptest::sample::select(vec!["fullSync", "manualSync"]),
        bills in proptest::sample::select(vec!["", BILLS_OK, BILLS_FAILED, BILLS_EMPTY]),
        invoices in proptest::option::of(proptest::sample::select(vec![INVOICES_OK, r#"{"request":"invoices","status":"failed"}"#])),
        when in proptest::sample::select(vec![
            "{ sync_type: fullSync, failed: { above: 0 } }",
            "{ data_type: bills, failed: { above: 0 } }",
            "{ not: { sync_type: manualSync }, empty: { at_least: 1, data_types: [bills] } }",
            "{ any: [ { failed: { above: 0, data_types: [bills] } }, { failed: { above: 0, data_types: [invoices] } } ] }",
            "{ not: { failed: { above: 0, data_types: [invoices] } }, service: quickbooks }",
            "{ environment: production, success: { below: 1 } }",
        ]),
    ) {
        let requests: Vec<&str> = [bills].into_iter().chain(invoices).filter(|r| !r.is_empty()).collect();
        let body = sync(sync_type, &requests.join(","));
        let rule = &rules(&[when])[0];
        let event = parse_event(body.as_bytes()).unwrap();
        let fired = !evaluate(std::slice::from_ref(rule), &event, Environment::Production).is_empty();
        proptest::prop_assert_eq!(verdict(when, &body) == Verdict::Fires, fired);
    }
}
