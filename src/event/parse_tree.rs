//! The first release's parser, on a tree of JSON values: the oracle that
//! the property tests compare the visitor-based parser against.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{Map, Value};

use super::ParseError;
use crate::event::{DataTypeTally, Event, Frequency, Period, Status};

/// Parses and normalises one webhook body.
pub fn parse_event_tree(body: &[u8]) -> Result<Event, ParseError> {
    let root: Value = serde_json::from_slice(body).map_err(|err| ParseError::NotJson {
        message: json_error_message(&err),
        line: err.line(),
        column: err.column(),
    })?;
    let Value::Object(mut envelope) = root else {
        return Err(ParseError::NotAnObject { found: kind_of(&root) });
    };
    let data = match envelope.remove("data") {
        None | Some(Value::Null) => return Err(ParseError::MissingData),
        Some(Value::Object(data)) => data,
        Some(other) => {
            return Err(ParseError::DataNotAnObject { found: kind_of(&other) });
        }
    };
    let mut event = read_fields(&data);
    event.request_id = envelope.get("requestId").and_then(text);
    event.tallies = read_requests(&data, event.request_type.as_deref())?;
    Ok(event)
}

/// serde_json appends the position to its message; we report it separately.
fn json_error_message(err: &serde_json::Error) -> String {
    let full = err.to_string();
    match full.rfind(" at line ") {
        Some(cut) => full[..cut].to_owned(),
        None => full,
    }
}

fn read_fields(data: &Map<String, Value>) -> Event {
    let field = |name: &str| data.get(name).and_then(text);
    let account = data.get("serviceAccountRef");
    Event {
        event: field("event"),
        connection_id: field("connectionId").or_else(|| field("connectionUuid")),
        business_name: field("businessName").or_else(|| field("businessUuid")),
        service: field("serviceName"),
        sync_type: field("dataSyncType"),
        request_type: field("requestType"),
        sandbox: data.get("sandbox").and_then(flag),
        account_id: account.and_then(|a| a.get("id")).and_then(text),
        entity_id: account
            .and_then(|a| a.get("entityRef"))
            .and_then(|e| e.get("id"))
            .and_then(text),
        old_status: field("oldStatus"),
        new_status: field("newStatus"),
        disconnect_reason: field("disconnectReason"),
        message: field("message"),
        effective_on: field("effectiveOn"),
        ..Event::default()
    }
}

fn read_requests(data: &Map<String, Value>, request_type: Option<&str>) -> Result<Vec<DataTypeTally>, ParseError> {
    match data.get("requests") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(entries)) => read_full(entries, request_type),
        Some(Value::Object(counts)) => read_simple(counts),
        Some(other) => Err(ParseError::RequestsShape { found: kind_of(other) }),
    }
}

/// A tally's identity, borrowed from the payload: looking an entry up
/// copies nothing; only a new tally owns its strings.
type TallyKey<'v> = (Option<Cow<'v, str>>, Option<Cow<'v, str>>, Cow<'v, str>);

/// Full payload: one entry per request, each with its own period.
fn read_full<'v>(entries: &'v [Value], request_type: Option<&'v str>) -> Result<Vec<DataTypeTally>, ParseError> {
    let mut index: HashMap<TallyKey<'v>, usize> = HashMap::new();
    let mut tallies: Vec<DataTypeTally> = Vec::new();
    for (position, entry) in entries.iter().enumerate() {
        let Value::Object(entry) = entry else {
            return Err(ParseError::RequestNotAnObject {
                index: position,
                found: kind_of(entry),
            });
        };
        let field = |name: &str| entry.get(name).and_then(text_cow);
        // A dataPerType event is about one data type; an entry that does
        // not repeat it still belongs to it.
        let data_type = field("request").or(request_type.map(Cow::Borrowed));
        let key = (
            data_type,
            field("reportFrequency"),
            field("status").unwrap_or(Cow::Borrowed("unknown")),
        );
        let slot = match index.get(&key) {
            Some(&slot) => slot,
            None => {
                tallies.push(DataTypeTally {
                    data_type: key.0.as_deref().map(str::to_owned),
                    frequency: key.1.as_deref().map(Frequency::parse),
                    status: Status::parse(&key.2),
                    count: 0,
                    periods: Vec::new(),
                });
                index.insert(key, tallies.len() - 1);
                tallies.len() - 1
            }
        };
        let tally = &mut tallies[slot];
        tally.count += 1;
        let (start, end) = (
            entry.get("startDate").and_then(text),
            entry.get("endDate").and_then(text),
        );
        if start.is_some() || end.is_some() {
            tally.periods.push(Period { start, end });
        }
    }
    Ok(sorted(tallies))
}

/// Simple payload: counts per status for each data type, no periods.
fn read_simple(counts: &Map<String, Value>) -> Result<Vec<DataTypeTally>, ParseError> {
    let mut tallies = Vec::new();
    for (data_type, per_status) in counts {
        let per_status = match per_status {
            Value::Object(per_status) => per_status,
            Value::Null => continue,
            other => {
                return Err(ParseError::CountsNotAnObject {
                    data_type: data_type.clone(),
                    found: kind_of(other),
                });
            }
        };
        for (status, count) in per_status {
            let count = read_count(data_type, status, count)?;
            tallies.push(DataTypeTally {
                data_type: Some(data_type.clone()),
                frequency: None,
                status: Status::parse(status),
                count,
                periods: Vec::new(),
            });
        }
    }
    Ok(sorted(tallies))
}

fn read_count(data_type: &str, status: &str, count: &Value) -> Result<u64, ParseError> {
    match count {
        Value::Null => Ok(0),
        Value::Number(n) => n.as_u64().ok_or_else(|| bad_count(data_type, status, count)),
        _ => Err(bad_count(data_type, status, count)),
    }
}

fn bad_count(data_type: &str, status: &str, found: &Value) -> ParseError {
    ParseError::BadCount {
        data_type: data_type.to_owned(),
        status: status.to_owned(),
        found: found.to_string(),
    }
}

fn sorted(mut tallies: Vec<DataTypeTally>) -> Vec<DataTypeTally> {
    tallies.sort_by(|a, b| (&a.data_type, &a.frequency, &a.status).cmp(&(&b.data_type, &b.frequency, &b.status)));
    tallies
}

/// Like [`text`], without copying a string.
fn text_cow(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        other => text(other).map(Cow::Owned),
    }
}

/// A text field: strings as they are, numbers as written, anything else
/// (null, objects) as absent. Railz sends `id` as a number in some payloads.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `sandbox`: a boolean, or its spelling as a string; anything else counts
/// as absent so that `defaults.missing_sandbox` decides.
fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
