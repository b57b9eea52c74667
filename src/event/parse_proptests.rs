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
