//! The same sync sent as a full payload and as a simple payload must
//! normalise to the same counts, whatever the mix of requests.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

const TYPES: [&str; 5] = ["accounts", "bills", "invoices", "balanceSheets", "incomeStatements"];
const STATUSES: [&str; 4] = ["success", "failed", "empty", "partial"];

fn request() -> impl Strategy<Value = (usize, usize, Option<usize>)> {
    (0..TYPES.len(), 0..STATUSES.len(), proptest::option::of(0..3usize))
}

fn full(requests: &[(usize, usize, Option<usize>)]) -> Value {
    let entries: Vec<Value> = requests
        .iter()
        .map(|&(t, s, f)| {
            let mut entry = json!({ "request": TYPES[t], "status": STATUSES[s] });
            if let Some(f) = f {
                entry["reportFrequency"] = json!(["month", "quarter", "year"][f]);
                entry["startDate"] = json!("2020-01-01");
                entry["endDate"] = json!("2020-01-31");
            }
            entry
        })
        .collect();
    json!({ "data": { "event": "data", "requests": entries } })
}

fn simple(requests: &[(usize, usize, Option<usize>)]) -> Value {
    let mut counts: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    for &(t, s, _) in requests {
        *counts.entry(TYPES[t]).or_default().entry(STATUSES[s]).or_default() += 1;
    }
    json!({ "data": { "event": "data", "requests": counts } })
}

/// Count per (data type, status), whatever the frequencies.
fn per_type(event: &Event) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for tally in &event.tallies {
        let key = (tally.data_type_label().to_owned(), tally.status.to_string());
        *out.entry(key).or_default() += tally.count;
    }
    out.retain(|_, n| *n > 0);
    out
}

proptest! {
    #[test]
    fn full_and_simple_payloads_of_one_sync_normalise_to_the_same_counts(
        requests in proptest::collection::vec(request(), 0..200)
    ) {
        let full = parse_event(full(&requests).to_string().as_bytes()).unwrap();
        let simple = parse_event(simple(&requests).to_string().as_bytes()).unwrap();
        prop_assert_eq!(per_type(&full), per_type(&simple));
        for status in STATUSES {
            let status = Status::parse(status);
            prop_assert_eq!(full.count(&status), simple.count(&status));
        }
        let periods: usize = full.tallies.iter().map(|t| t.periods.len()).sum();
        prop_assert_eq!(periods, requests.iter().filter(|r| r.2.is_some()).count());
    }

    #[test]
    fn any_json_object_body_parses_or_fails_with_a_reason(body in ".{0,200}") {
        if let Err(err) = parse_event(body.as_bytes()) {
            prop_assert!(!err.to_string().is_empty());
            prop_assert!(!err.path().is_empty());
        }
    }
}

/// Any JSON value, small: what a careless or hostile sender could put in
/// any field.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        "[a-z\"\\\\\n ]{0,8}".prop_map(Value::String),
        prop_oneof![Just("true"), Just("FALSE"), Just("data"), Just("failed"), Just("month")].prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const FIELDS: [&str; 12] = [
    "event",
    "connectionId",
    "connectionUuid",
    "businessName",
    "serviceName",
    "requestType",
    "sandbox",
    "serviceAccountRef",
    "newStatus",
    "request",
    "status",
    "reportFrequency",
];

/// A webhook-like body: known keys with any values, `requests` in either
/// shape (or anything else), entries and counts of any kind.
fn webhook() -> impl Strategy<Value = String> {
    let entry = prop::collection::btree_map(prop::sample::select(FIELDS.to_vec()), any_json(), 0..5)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
    let counts = prop::collection::btree_map(
        prop::sample::select(TYPES.to_vec()),
        prop_oneof![
            prop::collection::btree_map(prop::sample::select(STATUSES.to_vec()), any_json(), 0..3)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
            any_json(),
        ],
        0..4,
    )
    .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
    let requests = prop_oneof![
        prop::collection::vec(prop_oneof![entry, any_json()], 0..6).prop_map(Value::Array),
        counts,
        any_json(),
    ];
    let data = (
        prop::collection::btree_map(prop::sample::select(FIELDS.to_vec()), any_json(), 0..6),
        proptest::option::of(requests),
    )
        .prop_map(|(fields, requests)| {
            let mut data: serde_json::Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            if let Some(requests) = requests {
                data.insert("requests".into(), requests);
            }
            Value::Object(data)
        });
    (prop_oneof![data, any_json()], any_json(), any::<bool>()).prop_map(|(data, request_id, duplicate)| {
        let body = json!({ "data": data, "requestId": request_id }).to_string();
        // A repeated key: the last one wins, in both parsers.
        if duplicate {
            body.replacen('{', "{\"requestId\":\"first\",", 1)
        } else {
            body
        }
    })
}

proptest! {
    /// The visitor-based parser reads every body exactly as the first
    /// release's parser on a tree of JSON values did: the same event, or
    /// the same error.
    #[test]
    fn the_parser_without_a_tree_agrees_with_the_tree_parser(body in webhook()) {
        prop_assert_eq!(parse_event(body.as_bytes()), super::tree::parse_event_tree(body.as_bytes()));
    }

    /// A truncated body is refused at the same place (serde_json may word
    /// the syntax error differently on the two paths: "while parsing an
    /// object" or "a value").
    #[test]
    fn broken_bodies_are_refused_at_the_same_place(body in webhook(), cut in 0usize..200) {
        let cut = cut.min(body.len());
        let broken = &body.as_bytes()[..cut];
        match (parse_event(broken), super::tree::parse_event_tree(broken)) {
            (Err(ParseError::NotJson { line, column, .. }), Err(ParseError::NotJson { line: l, column: c, .. })) => {
                prop_assert_eq!((line, column), (l, c));
            }
            (new, old) => prop_assert_eq!(new, old),
        }
    }
}

#[test]
fn every_fixture_reads_the_same_with_or_without_a_tree() {
    for name in [
        "data-full.json",
        "data-simple.json",
        "data-per-type.json",
        "connection-status.json",
        "auth.json",
    ] {
        let body = std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert_eq!(parse_event(&body), super::tree::parse_event_tree(&body), "{name}");
    }
}
