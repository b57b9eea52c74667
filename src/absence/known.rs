//! Known connections: every accepted event that names a connection records
//! it, so that a connection that stops syncing can be noticed.

use std::time::{Duration, SystemTime};

use crate::event::Event;
use crate::rules::Environment;

/// How long before its arrival a sign of life (a sync, an `auth`) counts
/// as having set the connection's status: Railz's clock (`effectiveOn`) and
/// syncwatch's (arrival) differ, and a disconnect delivered a little late
/// must not be taken as older than a sync that followed it.
pub const STATUS_GRACE: Duration = Duration::from_secs(300);

/// When the status an event speaks of took effect: a `connectionStatus` at
/// its `effectiveOn` (never later than its arrival: a clock ahead of ours
/// must not make every later disconnect look stale), any other event
/// [`STATUS_GRACE`] before it arrived at `at`.
pub fn status_time(event: &Event, at: SystemTime) -> SystemTime {
    match event.event.as_deref() {
        Some("connectionStatus") => event.effective_at(at).min(at),
        _ => at.checked_sub(STATUS_GRACE).unwrap_or(at),
    }
}

/// When syncwatch was last not running: from its last heartbeat before,
/// to its start after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Downtime {
    pub from: SystemTime,
    pub to: SystemTime,
}

/// What is remembered of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownConnection {
    /// `connectionId`, or `connectionUuid` (Railz sets both to one value).
    pub id: String,
    pub first_seen: SystemTime,
    pub last_event: SystemTime,
    /// The name of the last event (`data`, `auth`, `connectionStatus`, ...).
    pub last_event_name: Option<String>,
    pub last_sync: Option<SystemTime>,
    /// `newStatus` of the last `connectionStatus`; `active` again after a
    /// sync or an `auth` event.
    pub status: Option<String>,
    /// When it last became expected to sync again after a status other
    /// than `active`: its clock starts there.
    pub expected_since: Option<SystemTime>,
    /// When `status` took effect: the `effectiveOn` of the
    /// `connectionStatus` that set it, or when the event that set it
    /// arrived. A status older than this is stale (Railz retries deliver
    /// an old "disconnected" after a newer "active").
    pub status_at: Option<SystemTime>,
    pub service: Option<String>,
    pub business: Option<String>,
    pub environment: Environment,
}

impl KnownConnection {
    /// The connection after `event`, received `at`; `before` is what was
    /// known of it. Events may arrive out of order: times only move on.
    pub fn observe(
        before: Option<&KnownConnection>,
        event: &Event,
        environment: Environment,
        at: SystemTime,
    ) -> Option<KnownConnection> {
        let id = event.connection_id.clone()?;
        let mut known = before.cloned().unwrap_or(KnownConnection {
            id,
            first_seen: at,
            last_event: at,
            last_event_name: None,
            last_sync: None,
            status: None,
            expected_since: None,
            status_at: None,
            service: None,
            business: None,
            environment,
        });
        known.last_event = known.last_event.max(at);
        known.last_event_name = event.event.clone().or(known.last_event_name);
        known.service = event.service.clone().or(known.service);
        known.business = event.business_name.clone().or(known.business);
        // Railz's `auth` and `connectionStatus` events carry no `sandbox`:
        // they keep the environment the connection was seen in, and
        // `defaults.missing_sandbox` only decides for a connection never
        // seen with the flag.
        if event.sandbox.is_some() {
            known.environment = environment;
        }
        if event.is_sync() {
            known.last_sync = Some(known.last_sync.map_or(at, |last| last.max(at)));
        }
        let status = match event.event.as_deref() {
            Some("connectionStatus") => event.new_status.clone(),
            _ if event.shows_connection_back() => Some("active".to_owned()),
            _ => None,
        };
        // Only a `connectionStatus` can be stale: a sync or an `auth` is
        // news as it arrives.
        let effective = status_time(event, at);
        let stale = event.new_status.is_some() && known.is_stale(effective);
        if let Some(status) = status.filter(|_| !stale) {
            let back = status == "active" && !known.is_expected_to_sync();
            if back {
                known.expected_since = Some(at);
            }
            known.status = Some(status);
            known.status_at = Some(known.status_at.map_or(effective, |t| t.max(effective)));
        }
        Some(known)
    }

    /// Whether a status that took effect at `effective` (see
    /// [`status_time`]) is older than the one applied: it then changes no
    /// status and moves no alert.
    pub fn is_stale(&self, effective: SystemTime) -> bool {
        self.status_at.is_some_and(|applied| effective < applied)
    }

    /// A connection whose last status is other than `active` is not
    /// expected to sync: its connection-lost alert speaks for it.
    pub fn is_expected_to_sync(&self) -> bool {
        self.status.as_deref().is_none_or(|s| s == "active")
    }

    /// Where its clock starts for a rule of `no_sync_for: limit`: the last
    /// sync (or the first event, if it never synced), or later when it came
    /// back. When its deadline fell inside the last downtime (`floor`), a
    /// sync may have been lost meanwhile: the clock starts again when
    /// syncwatch did. A deadline before or after the downtime stays where it
    /// is, so a host that restarts daily still notices a connection that
    /// stopped syncing. `None` while not expected to sync.
    pub fn clock_start(&self, limit: Duration, floor: Option<Downtime>) -> Option<SystemTime> {
        if !self.is_expected_to_sync() {
            return None;
        }
        let base = self.last_sync.unwrap_or(self.first_seen);
        let base = self.expected_since.map_or(base, |back| base.max(back));
        let deadline = base + limit;
        Some(match floor {
            Some(down) if down.from <= deadline && deadline < down.to => down.to,
            _ => base,
        })
    }

    /// The event fields an absence rule's matchers read, from the last
    /// event.
    pub fn as_event(&self) -> Event {
        Event {
            event: self.last_event_name.clone(),
            connection_id: Some(self.id.clone()),
            business_name: self.business.clone(),
            service: self.service.clone(),
            sandbox: Some(self.environment == Environment::Sandbox),
            ..Event::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_event;

    fn at(hours: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + hours * 3600)
    }

    fn event(json: &str) -> Event {
        parse_event(json.as_bytes()).unwrap()
    }

    fn observe(before: Option<&KnownConnection>, json: &str, hours: u64) -> KnownConnection {
        KnownConnection::observe(before, &event(json), Environment::Production, at(hours)).unwrap()
    }

    const SYNC: &str = r#"{"data":{"event":"data","connectionId":"CON-1","serviceName":"xero"}}"#;
    const LOST: &str = r#"{"data":{"event":"connectionStatus","connectionId":"CON-1","newStatus":"disconnected"}}"#;
    const AUTH: &str = r#"{"data":{"event":"auth","connectionUuid":"CON-1"}}"#;

    const DAY: Duration = Duration::from_secs(26 * 3600);

    #[test]
    fn the_clock_starts_at_the_last_sync_or_the_first_event() {
        let first = observe(None, AUTH, 0);
        assert_eq!(first.clock_start(DAY, None), Some(at(0)));
        let synced = observe(Some(&first), SYNC, 5);
        assert_eq!(
            (synced.clock_start(DAY, None), synced.service.as_deref()),
            (Some(at(5)), Some("xero"))
        );
        let late = observe(Some(&synced), SYNC, 3);
        assert_eq!(
            late.last_sync,
            Some(at(5)),
            "an older event delivered late moves nothing back"
        );
    }

    #[test]
    fn after_a_downtime_only_a_clock_whose_deadline_fell_inside_it_starts_again() {
        let synced = observe(None, SYNC, 5);
        // Deadline at 31h: down from 30h to 32h, so a sync may have been lost.
        let across = Downtime {
            from: at(30),
            to: at(32),
        };
        assert_eq!(synced.clock_start(DAY, Some(across)), Some(at(32)));
        // A short restart every day (down 20h-20h05m): the deadline at 31h
        // stays, the connection that stopped syncing is still noticed.
        let daily = Downtime {
            from: at(20),
            to: at(20) + Duration::from_secs(300),
        };
        assert_eq!(synced.clock_start(DAY, Some(daily)), Some(at(5)));
        // Already overdue before the downtime: its alert fired then.
        let later = Downtime {
            from: at(40),
            to: at(41),
        };
        assert_eq!(synced.clock_start(DAY, Some(later)), Some(at(5)));
    }

    #[test]
    fn a_disconnected_connection_is_not_expected_until_it_is_back() {
        let synced = observe(None, SYNC, 0);
        let lost = observe(Some(&synced), LOST, 1);
        assert_eq!(lost.clock_start(DAY, None), None);
        let back = observe(Some(&lost), AUTH, 30);
        assert_eq!(
            back.clock_start(DAY, None),
            Some(at(30)),
            "its clock starts when it came back"
        );
    }

    #[test]
    fn an_older_status_delivered_late_changes_nothing() {
        let lost = |on: &str| {
            format!(
                r#"{{"data":{{"event":"connectionStatus","connectionId":"CON-1","newStatus":"disconnected","effectiveOn":"{on}"}}}}"#
            )
        };
        let back = r#"{"data":{"event":"connectionStatus","connectionId":"CON-1","newStatus":"active","effectiveOn":"2023-11-14T23:00:00Z"}}"#;
        let active = observe(Some(&observe(None, &lost("2023-11-14T22:00:00Z"), 1)), back, 2);
        assert!(active.is_expected_to_sync());
        // Railz retries the older disconnect after the newer active.
        let retried = observe(Some(&active), &lost("2023-11-14T22:00:00Z"), 3);
        assert_eq!(retried.status.as_deref(), Some("active"));
        assert!(retried.is_expected_to_sync(), "its absence clock keeps running");
        let newer = observe(Some(&active), &lost("2023-11-15T01:00:00Z"), 3);
        assert_eq!(newer.status.as_deref(), Some("disconnected"));
    }

    #[test]
    fn a_sign_of_life_right_after_a_disconnect_brings_it_back() {
        let lost = observe(Some(&observe(None, SYNC, 0)), LOST, 1);
        let back = KnownConnection::observe(
            Some(&lost),
            &event(AUTH),
            Environment::Production,
            at(1) + Duration::from_secs(3),
        )
        .unwrap();
        assert!(back.is_expected_to_sync(), "an auth is news as it arrives");
    }

    #[test]
    fn an_event_without_a_connection_is_not_recorded() {
        let login = event(r#"{"data":{"event":"login"}}"#);
        assert_eq!(
            KnownConnection::observe(None, &login, Environment::Production, at(0)),
            None
        );
    }
}
