//! The normalised event: what every rule and message reads, whatever shape
//! (full array, simple counts, `dataPerType`) the webhook arrived in.

use std::time::SystemTime;

use std::fmt;

/// The outcome of one sync request. Railz documents three; anything else is
/// kept under its own name rather than rejected, so a new status still
/// reaches the rules and the messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Success,
    Failed,
    Empty,
    Other(String),
}

impl Status {
    pub fn parse(raw: &str) -> Status {
        match raw {
            "success" => Status::Success,
            "failed" => Status::Failed,
            "empty" => Status::Empty,
            other => Status::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Status::Success => "success",
            Status::Failed => "failed",
            Status::Empty => "empty",
            Status::Other(name) => name,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How often a periodic data type is reported (`reportFrequency`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Frequency {
    Month,
    Quarter,
    Year,
    Other(String),
}

impl Frequency {
    pub fn parse(raw: &str) -> Frequency {
        match raw {
            "month" => Frequency::Month,
            "quarter" => Frequency::Quarter,
            "year" => Frequency::Year,
            other => Frequency::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Frequency::Month => "month",
            Frequency::Quarter => "quarter",
            Frequency::Year => "year",
            Frequency::Other(name) => name,
        }
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reporting period of one request, as Railz sent it (`YYYY-MM-DD`).
/// Dates are kept as text: syncwatch only shows them, never computes on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub start: Option<String>,
    pub end: Option<String>,
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let start = self.start.as_deref().unwrap_or("?");
        let end = self.end.as_deref().unwrap_or("?");
        write!(f, "{start}..{end}")
    }
}

/// All requests of one data type, frequency and status, counted together.
/// A full payload of 5,000 requests collapses into a few dozen tallies, so a
/// count condition costs the same whatever the payload's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataTypeTally {
    /// The data type (`request`); `None` when Railz left it out.
    pub data_type: Option<String>,
    pub frequency: Option<Frequency>,
    pub status: Status,
    pub count: u64,
    /// The periods behind `count`, in payload order. Empty for a simple
    /// payload, which sends counts only, and for non-periodic data types.
    pub periods: Vec<Period>,
}

impl DataTypeTally {
    /// The data type as shown to a human; an entry of a `data` event
    /// without `request` says what Railz left out.
    pub fn data_type_label(&self) -> &str {
        self.data_type
            .as_deref()
            .unwrap_or("(no `request` field: data type not given)")
    }
}

/// One webhook, normalised. Every field is optional because Railz sends
/// different subsets for different events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    pub request_id: Option<String>,
    /// `data`, `dataPerType`, or any other Railz event name.
    pub event: Option<String>,
    /// `connectionId`, or `connectionUuid` when that is all there is.
    pub connection_id: Option<String>,
    /// `businessName`, or `businessUuid` when that is all there is.
    pub business_name: Option<String>,
    pub service: Option<String>,
    pub sync_type: Option<String>,
    /// The data type a `dataPerType` event is about.
    pub request_type: Option<String>,
    /// `None` when the payload has no `sandbox` field; the config decides.
    pub sandbox: Option<bool>,
    /// `serviceAccountRef.id` and `serviceAccountRef.entityRef.id`.
    pub account_id: Option<String>,
    pub entity_id: Option<String>,
    /// Sorted by data type, frequency and status, so output is stable.
    pub tallies: Vec<DataTypeTally>,
    /// `connectionStatus` events: `oldStatus`, `newStatus` (`active`,
    /// `disconnected`, `expired`, ...), `disconnectReason`, Railz's
    /// `message` and `effectiveOn`.
    pub old_status: Option<String>,
    pub new_status: Option<String>,
    pub disconnect_reason: Option<String>,
    pub message: Option<String>,
    pub effective_on: Option<String>,
}

impl Event {
    pub fn is_data_per_type(&self) -> bool {
        self.event.as_deref() == Some("dataPerType")
    }

    /// When the event took effect: its `effectiveOn` (RFC 3339), else when
    /// it arrived (`received_at`).
    pub fn effective_at(&self, received_at: SystemTime) -> SystemTime {
        let parsed = (self.effective_on.as_deref()).and_then(|text| text.parse::<jiff::Timestamp>().ok());
        parsed.map_or(received_at, SystemTime::from)
    }

    /// A completed sync: `data` or `dataPerType`.
    pub fn is_sync(&self) -> bool {
        matches!(self.event.as_deref(), Some("data" | "dataPerType"))
    }

    /// A sign that the connection is back: an `auth` event, a
    /// `connectionStatus` to `active`, or a sync that reached the service
    /// (some request succeeded or came back empty). A sync in which every
    /// request failed is no such sign: it is what expired credentials look
    /// like.
    pub fn shows_connection_back(&self) -> bool {
        let reached = self.count(&Status::Success) > 0 || self.count(&Status::Empty) > 0;
        (self.is_sync() && (reached || self.count(&Status::Failed) == 0))
            || self.event.as_deref() == Some("auth")
            || (self.event.as_deref() == Some("connectionStatus") && self.new_status.as_deref() == Some("active"))
    }

    /// The number of requests with `status`, over every data type.
    pub fn count(&self, status: &Status) -> u64 {
        self.tallies
            .iter()
            .filter(|tally| &tally.status == status)
            .fold(0u64, |sum, tally| sum.saturating_add(tally.count))
    }

    /// The event as if it carried only `data_type`'s requests (a full sync
    /// seen as the `dataPerType` result of one of its data types); `None`
    /// when it carries none of them.
    pub fn narrowed_to(&self, data_type: &str) -> Option<Event> {
        let tallies: Vec<DataTypeTally> = self
            .tallies
            .iter()
            .filter(|t| t.data_type.as_deref() == Some(data_type))
            .cloned()
            .collect();
        if tallies.is_empty() {
            return None;
        }
        Some(Event {
            event: Some("dataPerType".to_owned()),
            request_type: Some(data_type.to_owned()),
            tallies,
            ..self.clone()
        })
    }

    /// The event as far as it concerns an alert about `data_types`: only
    /// their requests, so that a `data_type` matcher (in a maintenance
    /// window's `when`) sees the alert's data types, not every one the
    /// sync carried.
    pub fn about(&self, data_types: &[&str]) -> Event {
        let concerned = |t: Option<&str>| t.is_some_and(|t| data_types.contains(&t));
        Event {
            request_type: self.request_type.clone().filter(|t| concerned(Some(t))),
            tallies: (self.tallies.iter())
                .filter(|t| concerned(t.data_type.as_deref()))
                .cloned()
                .collect(),
            ..self.clone()
        }
    }

    /// Every data type named by the event: `requestType` and each request's.
    pub fn data_types(&self) -> impl Iterator<Item = &str> {
        self.request_type
            .as_deref()
            .into_iter()
            .chain(self.tallies.iter().filter_map(|t| t.data_type.as_deref()))
    }
}
