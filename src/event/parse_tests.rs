use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(path).expect("fixture exists")
}

fn tally<'a>(event: &'a Event, data_type: &str, status: &Status) -> Option<&'a DataTypeTally> {
    event
        .tallies
        .iter()
        .find(|t| t.data_type.as_deref() == Some(data_type) && &t.status == status)
}

#[test]
fn the_full_fixture_keeps_each_request_with_its_period() {
    let event = parse_event(&fixture("data-full.json")).unwrap();
    assert_eq!(event.event.as_deref(), Some("data"));
    assert_eq!(
        event.request_id.as_deref(),
        Some("a3b4fc83-3e24-41aa-ba99-13cab09b0b7a")
    );
    assert_eq!(event.sandbox, None, "the fixture has no sandbox field");
    assert_eq!(event.count(&Status::Success), 3);
    assert_eq!(event.count(&Status::Failed), 1);
    assert_eq!(event.count(&Status::Empty), 1);
    let empty = tally(&event, "incomeStatements", &Status::Empty).unwrap();
    assert_eq!(empty.frequency, Some(Frequency::Month));
    assert_eq!(empty.periods[0].to_string(), "2018-04-01..2018-04-30");
    assert_eq!(event.account_id.as_deref(), Some("DEV"));
    assert_eq!(event.entity_id.as_deref(), Some("100"));
}

#[test]
fn a_request_without_a_data_type_is_still_counted() {
    let event = parse_event(&fixture("data-full.json")).unwrap();
    let failed: Vec<_> = event.tallies.iter().filter(|t| t.status == Status::Failed).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].data_type, None);
    assert_eq!(failed[0].frequency, Some(Frequency::Quarter));
    assert_eq!(failed[0].periods[0].to_string(), "2018-06-01..2018-09-30");
}

#[test]
fn the_simple_fixture_sums_counts_per_data_type() {
    let event = parse_event(&fixture("data-simple.json")).unwrap();
    assert_eq!(event.sandbox, Some(false));
    assert_eq!(event.count(&Status::Success), 8);
    assert_eq!(event.count(&Status::Empty), 10);
    assert_eq!(event.count(&Status::Failed), 0);
    assert_eq!(tally(&event, "billPaymentRequests", &Status::Empty).unwrap().count, 7);
    assert!(event.tallies.iter().all(|t| t.periods.is_empty()));
}

#[test]
fn the_per_type_fixture_reads_its_request_type_and_connection() {
    let event = parse_event(&fixture("data-per-type.json")).unwrap();
    assert!(event.is_data_per_type());
    assert_eq!(event.request_type.as_deref(), Some("billPaymentRequests"));
    assert_eq!(
        event.connection_id.as_deref(),
        Some("CON-8ed8f748-0e52-42f8-b7d9-50b121d57d20")
    );
    let empty = tally(&event, "billPaymentRequests", &Status::Empty).unwrap();
    assert_eq!(empty.count, 2);
    assert_eq!(empty.frequency, None, "no reportFrequency in the payload");
    assert_eq!(empty.periods.len(), 2);
}

#[test]
fn connection_uuid_stands_in_for_a_missing_connection_id() {
    let body = br#"{"data":{"event":"auth","connectionUuid":"CON-1","businessUuid":"BIZ-1"}}"#;
    let event = parse_event(body).unwrap();
    assert_eq!(event.connection_id.as_deref(), Some("CON-1"));
    assert_eq!(event.business_name.as_deref(), Some("BIZ-1"));
    assert!(event.tallies.is_empty());
    assert_eq!(event.request_id, None);
}

#[test]
fn other_railz_events_are_events_without_requests() {
    for name in ["login", "auth", "disconnected", "pushData"] {
        let body = format!(r#"{{"data":{{"event":"{name}","connectionId":"CON-1"}},"requestId":"r"}}"#);
        let event = parse_event(body.as_bytes()).unwrap();
        assert_eq!(event.event.as_deref(), Some(name));
        assert!(event.tallies.is_empty());
    }
}

#[test]
fn nulls_unknown_fields_and_unknown_statuses_are_accepted() {
    let body = br#"{"data":{"event":"data","connectionId":null,"sandbox":null,"extra":{"x":1},
        "requests":[{"request":"bills","status":"partial","reportFrequency":"week","startDate":null},
                    {"request":null,"status":null}]},"requestId":12}"#;
    let event = parse_event(body).unwrap();
    assert_eq!(event.connection_id, None);
    assert_eq!(event.sandbox, None);
    assert_eq!(event.request_id.as_deref(), Some("12"));
    let partial = tally(&event, "bills", &Status::Other("partial".into())).unwrap();
    assert_eq!(partial.frequency, Some(Frequency::Other("week".into())));
    assert!(partial.periods.is_empty());
    assert_eq!(event.count(&Status::Other("unknown".into())), 1);
}

#[test]
fn five_thousand_requests_collapse_into_tallies_with_every_period() {
    let entries: Vec<String> = (0..5000)
        .map(|i| {
            let status = if i % 10 == 0 { "failed" } else { "success" };
            format!(
                r#"{{"id":"{i}","request":"type{}","startDate":"2020-01-01","endDate":"2020-01-31","reportFrequency":"month","status":"{status}"}}"#,
                i % 20
            )
        })
        .collect();
    let body = format!(r#"{{"data":{{"event":"data","requests":[{}]}}}}"#, entries.join(","));
    let event = parse_event(body.as_bytes()).unwrap();
    assert_eq!(event.count(&Status::Failed), 500);
    assert_eq!(event.count(&Status::Success), 4500);
    assert!(event.tallies.len() <= 40);
    let periods: usize = event.tallies.iter().map(|t| t.periods.len()).sum();
    assert_eq!(periods, 5000);
}

#[test]
fn hostile_strings_are_kept_verbatim_for_the_renderers_to_escape() {
    let body = br#"{"data":{"event":"data","businessName":"<!channel> & <http://x|y>\r\nBcc: evil@x"}}"#;
    let event = parse_event(body).unwrap();
    assert_eq!(
        event.business_name.as_deref(),
        Some("<!channel> & <http://x|y>\r\nBcc: evil@x")
    );
}

#[test]
fn a_body_that_is_not_json_says_where() {
    let err = parse_event(b"{\"data\": {\n  \"event\": }").unwrap_err();
    match &err {
        ParseError::NotJson { line, .. } => assert_eq!(*line, 2),
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("body is not JSON: expected value at line 2")
    );
}

#[test]
fn json_that_is_not_an_event_says_what_is_missing() {
    let cases: [(&[u8], &str); 6] = [
        (b"[1,2]", "body is an array, expected a JSON object"),
        (b"{}", "`data` is missing"),
        (br#"{"data":"x"}"#, "`data` must be an object, found a string"),
        (
            br#"{"data":{"requests":"bills"}}"#,
            "`data.requests` must be an array (full payload) or an object (simple payload), found a string",
        ),
        (
            br#"{"data":{"requests":[{},3]}}"#,
            "`data.requests[1]` must be an object, found a number",
        ),
        (
            br#"{"data":{"requests":{"bills":{"failed":-1}}}}"#,
            "`data.requests.bills.failed` must be a count",
        ),
    ];
    for (body, expected) in cases {
        let err = parse_event(body).unwrap_err();
        assert!(
            err.to_string().starts_with(expected),
            "{} should start with {expected}",
            err
        );
    }
}

#[test]
fn a_parse_error_names_the_path_of_the_bad_value() {
    let err = parse_event(br#"{"data":{"requests":{"bills":[1]}}}"#).unwrap_err();
    assert_eq!(err.path(), "data.requests.bills");
}
