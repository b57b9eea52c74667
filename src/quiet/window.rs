//! Maintenance windows from rules.yaml: recurring times (weekdays, local
//! times, an IANA time zone) during which matching alerts notify nobody.

use std::time::SystemTime;

use jiff::Timestamp;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;

use crate::rules::Condition;

/// `HH:MM-HH:MM`, local time; an end before the start crosses midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: Time,
    pub end: Time,
}

#[derive(Debug, Clone)]
pub struct Window {
    pub name: String,
    /// Absent: everything.
    pub when: Option<Condition>,
    /// Empty: every day.
    pub weekdays: Vec<Weekday>,
    pub times: Vec<Span>,
    pub timezone: TimeZone,
    /// As written, for messages.
    pub timezone_name: String,
}

impl Window {
    /// Whether `now` falls in the window. A span that crosses midnight
    /// belongs to the day it starts: `saturday 23:00-02:00` covers Sunday
    /// 01:00.
    pub fn is_open(&self, now: SystemTime) -> bool {
        let Ok(timestamp) = Timestamp::try_from(now) else {
            return false;
        };
        let local = timestamp.to_zoned(self.timezone.clone());
        let (day, time) = (local.weekday(), local.time());
        let yesterday = day.previous();
        let on = |weekday: Weekday| self.weekdays.is_empty() || self.weekdays.contains(&weekday);
        self.times.iter().any(|span| {
            if span.start < span.end {
                on(day) && span.start <= time && time < span.end
            } else {
                (on(day) && time >= span.start) || (on(yesterday) && time < span.end)
            }
        })
    }
}

pub const WEEKDAYS: [(&str, Weekday); 7] = [
    ("monday", Weekday::Monday),
    ("tuesday", Weekday::Tuesday),
    ("wednesday", Weekday::Wednesday),
    ("thursday", Weekday::Thursday),
    ("friday", Weekday::Friday),
    ("saturday", Weekday::Saturday),
    ("sunday", Weekday::Sunday),
];

/// `02:00-06:00`
pub fn parse_span(text: &str) -> Option<Span> {
    let (start, end) = text.split_once('-')?;
    let parse = |t: &str| -> Option<Time> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
        if !(0..=24).contains(&h) || !(0..60).contains(&m) || (h == 24 && m != 0) {
            return None;
        }
        // 24:00 is the end of the day.
        if h == 24 {
            return Time::new(23, 59, 59, 999_999_999).ok();
        }
        Time::new(h, m, 0, 0).ok()
    };
    let span = Span {
        start: parse(start)?,
        end: parse(end)?,
    };
    (span.start != span.end).then_some(span)
}

/// The time zone of an IANA name, from the database bundled in the binary
/// (a host without tzdata behaves the same).
pub fn time_zone(name: &str) -> Option<TimeZone> {
    jiff::tz::db().get(name).ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(rfc3339: &str) -> SystemTime {
        let ts: Timestamp = rfc3339.parse().unwrap();
        SystemTime::UNIX_EPOCH + Duration::from_secs(ts.as_second() as u64)
    }

    fn window(weekdays: &[Weekday], times: &[&str], zone: &str) -> Window {
        Window {
            name: "w".into(),
            when: None,
            weekdays: weekdays.to_vec(),
            times: times.iter().map(|t| parse_span(t).unwrap()).collect(),
            timezone: time_zone(zone).unwrap(),
            timezone_name: zone.into(),
        }
    }

    #[test]
    fn a_window_is_open_on_its_weekdays_and_times_in_its_time_zone() {
        // 2026-11-28 is a Saturday; Toronto is UTC-5 in November.
        let xero = window(
            &[Weekday::Saturday, Weekday::Sunday],
            &["02:00-06:00"],
            "America/Toronto",
        );
        assert!(xero.is_open(at("2026-11-28T08:00:00Z")), "03:00 in Toronto");
        assert!(!xero.is_open(at("2026-11-28T02:00:00Z")), "21:00 on Friday in Toronto");
        assert!(!xero.is_open(at("2026-11-27T08:00:00Z")), "Friday");
        assert!(!xero.is_open(at("2026-11-28T11:00:00Z")), "06:00 is the end");
    }

    #[test]
    fn a_window_across_midnight_belongs_to_the_day_it_starts() {
        let late = window(&[Weekday::Saturday], &["23:00-02:00"], "UTC");
        assert!(late.is_open(at("2026-11-28T23:30:00Z")));
        assert!(
            late.is_open(at("2026-11-29T01:30:00Z")),
            "Sunday 01:30 is Saturday's night"
        );
        assert!(!late.is_open(at("2026-11-29T23:30:00Z")), "not Sunday night");
        assert!(!late.is_open(at("2026-11-28T01:30:00Z")), "not Friday's night");
    }

    #[test]
    fn spans_are_checked() {
        assert!(parse_span("02:00-06:00").is_some());
        assert!(parse_span("22:30-24:00").is_some());
        for bad in ["2-6", "02:00", "25:00-26:00", "02:60-03:00", "03:00-03:00"] {
            assert!(parse_span(bad).is_none(), "{bad}");
        }
        assert!(time_zone("America/Toronto").is_some());
        assert!(time_zone("Mars/Olympus").is_none());
    }
}
