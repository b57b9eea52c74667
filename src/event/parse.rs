//! From the raw body to an [`Event`]: tolerant of everything Railz really
//! sends (missing fields, `null`, numbers where strings are usual, unknown
//! statuses and fields), strict only about what makes a body not an event.
//!
//! The body is read straight into the summary, without building a tree of
//! JSON values: the visitors in [`wire`] take only the fields syncwatch
//! reads, borrow strings that need no unescaping, and note the shape of
//! anything unexpected so that the errors below say what and where.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use super::summary::{DataTypeTally, Event, Frequency, Period, Status};
use super::wire::{Counts, Data, Entry, Envelope, Requests, Shape, Value};

/// Why a body is not a Railz event. Each message says what is wrong and
/// where, because the sender (or the person replaying a payload) has to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("body is not JSON: {message} at line {line} column {column}")]
    NotJson {
        message: String,
        line: usize,
        column: usize,
    },
    #[error("body is {found}, expected a JSON object with a `data` object")]
    NotAnObject { found: &'static str },
    #[error("`data` is missing: a Railz webhook is {{\"data\": {{...}}, \"requestId\": \"...\"}}")]
    MissingData,
    #[error("`data` must be an object, found {found}")]
    DataNotAnObject { found: &'static str },
    #[error("`data.requests` must be an array (full payload) or an object (simple payload), found {found}")]
    RequestsShape { found: &'static str },
    #[error("`data.requests[{index}]` must be an object, found {found}")]
    RequestNotAnObject { index: usize, found: &'static str },
    #[error("`data.requests.{data_type}` must be an object of counts per status, found {found}")]
    CountsNotAnObject { data_type: String, found: &'static str },
    #[error("`data.requests.{data_type}.{status}` must be a count (a whole number, 0 or more), found {found}")]
    BadCount {
        data_type: String,
        status: String,
        found: String,
    },
}

impl ParseError {
    /// The JSON path of the offending value, for the HTTP error body.
    pub fn path(&self) -> String {
        match self {
            ParseError::NotJson { .. } | ParseError::NotAnObject { .. } => "$".into(),
            ParseError::MissingData | ParseError::DataNotAnObject { .. } => "data".into(),
            ParseError::RequestsShape { .. } => "data.requests".into(),
            ParseError::RequestNotAnObject { index, .. } => format!("data.requests[{index}]"),
            ParseError::CountsNotAnObject { data_type, .. } => format!("data.requests.{data_type}"),
            ParseError::BadCount { data_type, status, .. } => format!("data.requests.{data_type}.{status}"),
        }
    }
}

/// Parses and normalises one webhook body.
pub fn parse_event(body: &[u8]) -> Result<Event, ParseError> {
    let envelope: Shape<Envelope<'_>> = serde_json::from_slice(body).map_err(|err| ParseError::NotJson {
        message: json_error_message(&err),
        line: err.line(),
        column: err.column(),
    })?;
    let envelope = match envelope {
        Shape::Object(envelope) => envelope,
        Shape::Other(found) => return Err(ParseError::NotAnObject { found }),
    };
    let data = match envelope.data {
        None | Some(Shape::Other("null")) => return Err(ParseError::MissingData),
        Some(Shape::Object(data)) => data,
        Some(Shape::Other(found)) => return Err(ParseError::DataNotAnObject { found }),
    };
    let mut event = read_fields(&data);
    event.request_id = envelope.request_id.and_then(Value::into_text);
    let requests = data.wire.requests;
    event.tallies = read_requests(requests, event.request_type.as_deref())?;
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

fn read_fields(data: &Data<'_>) -> Event {
    let text = |value: &Option<Value<'_>>| value.clone().and_then(Value::into_text);
    Event {
        event: text(&data.event),
        connection_id: text(&data.connection_id).or_else(|| text(&data.connection_uuid)),
        business_name: text(&data.business_name).or_else(|| text(&data.business_uuid)),
        service: text(&data.service_name),
        sync_type: text(&data.data_sync_type),
        request_type: text(&data.request_type),
        sandbox: data.sandbox.as_ref().and_then(Value::flag),
        account_id: data.account_id.clone(),
        entity_id: data.entity_id.clone(),
        old_status: text(&data.old_status),
        new_status: text(&data.new_status),
        disconnect_reason: text(&data.disconnect_reason),
        message: text(&data.message),
        effective_on: text(&data.effective_on),
        ..Event::default()
    }
}

fn read_requests(requests: Option<Requests<'_>>, request_type: Option<&str>) -> Result<Vec<DataTypeTally>, ParseError> {
    match requests {
        None | Some(Requests::Other("null")) => Ok(Vec::new()),
        Some(Requests::Full(entries)) => read_full(entries, request_type),
        Some(Requests::Simple(counts)) => read_simple(counts),
        Some(Requests::Other(found)) => Err(ParseError::RequestsShape { found }),
    }
}

/// A tally's identity, borrowed from the payload where it can be: looking
/// an entry up copies nothing; only a new tally owns its strings.
type TallyKey<'v> = (Option<Cow<'v, str>>, Option<Cow<'v, str>>, Cow<'v, str>);

/// Full payload: one entry per request, each with its own period.
fn read_full<'v>(
    entries: Vec<Shape<Entry<'v>>>,
    request_type: Option<&'v str>,
) -> Result<Vec<DataTypeTally>, ParseError> {
    let mut index: HashMap<TallyKey<'v>, usize> = HashMap::new();
    let mut tallies: Vec<DataTypeTally> = Vec::new();
    for (position, entry) in entries.into_iter().enumerate() {
        let entry = match entry {
            Shape::Object(entry) => entry,
            Shape::Other(found) => return Err(ParseError::RequestNotAnObject { index: position, found }),
        };
        // A dataPerType event is about one data type; an entry that does
        // not repeat it still belongs to it.
        let data_type = entry
            .request
            .and_then(Value::into_cow)
            .or(request_type.map(Cow::Borrowed));
        let key = (
            data_type,
            entry.report_frequency.and_then(Value::into_cow),
            entry
                .status
                .and_then(Value::into_cow)
                .unwrap_or(Cow::Borrowed("unknown")),
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
            entry.start_date.and_then(Value::into_text),
            entry.end_date.and_then(Value::into_text),
        );
        if start.is_some() || end.is_some() {
            tally.periods.push(Period { start, end });
        }
    }
    Ok(sorted(tallies))
}

/// Simple payload: counts per status for each data type, no periods. Read
/// in key order, the last of a repeated key winning, as a JSON object is.
fn read_simple(counts: BTreeMap<Cow<'_, str>, Shape<Counts<'_>>>) -> Result<Vec<DataTypeTally>, ParseError> {
    let mut tallies = Vec::new();
    for (data_type, per_status) in counts {
        let per_status = match per_status {
            Shape::Object(per_status) => per_status,
            Shape::Other("null") => continue,
            Shape::Other(found) => {
                return Err(ParseError::CountsNotAnObject {
                    data_type: data_type.into_owned(),
                    found,
                });
            }
        };
        for (status, count) in per_status.0 {
            let count = count.map_err(|found| ParseError::BadCount {
                data_type: data_type.to_string(),
                status: status.to_string(),
                found,
            })?;
            tallies.push(DataTypeTally {
                data_type: Some(data_type.to_string()),
                frequency: None,
                status: Status::parse(&status),
                count,
                periods: Vec::new(),
            });
        }
    }
    Ok(sorted(tallies))
}

fn sorted(mut tallies: Vec<DataTypeTally>) -> Vec<DataTypeTally> {
    tallies.sort_by(|a, b| (&a.data_type, &a.frequency, &a.status).cmp(&(&b.data_type, &b.frequency, &b.status)));
    tallies
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "parse_proptests.rs"]
mod proptests;

/// The parser of the first release, on a tree of JSON values: kept as the
/// oracle the property tests compare this one against.
#[cfg(test)]
#[path = "parse_tree.rs"]
pub(crate) mod tree;
