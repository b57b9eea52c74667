//! What quiets an active alert now: the silences in force and the
//! maintenance windows open now, matched when the alert is read (not when
//! it last matched) with the matchers the lifecycle mutes with. One
//! definition for `syncwatch alerts`, `/api/status` and the page: a new
//! silence shows at once on the alerts it covers, an expired one at once
//! on none.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;

use crate::event::Event;
use crate::lifecycle::HELD_BY;
use crate::quiet::{Mutes, Silence, Subject, Window};
use crate::rules::Environment;

/// What the store keeps of an active alert, as matching needs it. The
/// business, service, environment and last event are its connection's,
/// as last known (absence alerts are matched the same way when they fire).
#[derive(Debug, Clone, Copy, Default)]
pub struct AlertFacts<'a> {
    pub rule: &'a str,
    pub connection: &'a str,
    /// The key's data type (`dataPerType` alerts).
    pub data_type: Option<&'a str>,
    pub business: Option<&'a str>,
    pub service: Option<&'a str>,
    /// `production` or `sandbox`.
    pub environment: Option<&'a str>,
    /// The name of the connection's last event.
    pub last_event: Option<&'a str>,
    /// What held back its last message, as the lifecycle recorded it:
    /// `silence ID` or `maintenance NAME`.
    pub muted_by: Option<&'a str>,
}

/// Whether, and by what, an alert is quiet now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cover {
    /// A silence in force or a window open now covers it: `silence ID` or
    /// `maintenance NAME`.
    By(String),
    /// Its last message was held back by this window, and the reader does
    /// not know the windows (a command that reads no rules file): whether
    /// it is still open cannot be said.
    Unchecked(String),
    /// Nothing covers it now; `ended` is what held back its last message,
    /// if anything (it has ended since).
    Not { ended: Option<String> },
}

impl Cover {
    /// Covered now.
    pub fn is_quiet(&self) -> bool {
        matches!(self, Cover::By(_))
    }
}

/// The silences in force and the windows open at one moment.
#[derive(Debug, Clone)]
pub struct Quiet {
    mutes: Mutes,
    /// False when the windows are unknown to the reader.
    windows_known: bool,
    /// The firing alerts (`rule/connection[/data type]`) the reader knows
    /// of: an alert held back by `inhibit KEY` is still muted while KEY
    /// fires.
    firing: HashSet<String>,
    /// Whether `firing` is every firing alert (else one page of them).
    firing_complete: bool,
    /// The outages firing now, when the reader knows them: an alert held
    /// by one (`held by outage NAME`) stays held while it fires.
    outages: Option<HashSet<String>>,
    now: SystemTime,
}

impl Quiet {
    /// `windows`: the maintenance windows of rules.yaml, or `None` when the
    /// reader has no rules file.
    pub fn new(silences: &[Silence], windows: Option<&[Window]>, now: SystemTime) -> Quiet {
        let windows_known = windows.is_some();
        let silences: Vec<Silence> = silences.iter().filter(|s| s.is_active(now)).cloned().collect();
        let open: Vec<Window> = (windows.unwrap_or_default().iter())
            .filter(|w| w.is_open(now))
            .cloned()
            .collect();
        Quiet {
            mutes: Mutes {
                silences: Arc::new(silences),
                windows: Arc::new(open),
                inhibit: Arc::default(),
            },
            windows_known,
            firing: HashSet::new(),
            firing_complete: false,
            outages: None,
            now,
        }
    }

    /// Knows the outages firing now, by name.
    pub fn with_outages(mut self, names: impl IntoIterator<Item = String>) -> Quiet {
        self.outages = Some(names.into_iter().collect());
        self
    }

    /// Knows the firing alerts: `keys`, every one when `complete`.
    pub fn with_firing(mut self, keys: impl IntoIterator<Item = String>, complete: bool) -> Quiet {
        self.firing = keys.into_iter().collect();
        self.firing_complete = complete;
        self
    }

    /// Whether anything quiets alerts now: when not, no alert is covered.
    pub fn in_force(&self) -> bool {
        !self.mutes.silences.is_empty() || !self.mutes.windows.is_empty()
    }

    /// What covers `alert` now. What held back its last message counts
    /// while it is still in force: the lifecycle matched it against the
    /// alert's own data types (its evidence), which the store does not keep.
    pub fn cover(&self, alert: &AlertFacts<'_>) -> Cover {
        let stored = alert.muted_by;
        if let Some(by) = stored.filter(|by| self.still_in_force(by)) {
            return Cover::By(by.to_owned());
        }
        if self.in_force() {
            let data_types: Vec<&str> = alert.data_type.into_iter().collect();
            let environment = (Environment::ALL.iter())
                .find(|(name, _)| Some(*name) == alert.environment)
                .map_or(Environment::Production, |(_, e)| *e);
            let event = Event {
                event: alert.last_event.map(str::to_owned),
                connection_id: Some(alert.connection.to_owned()),
                business_name: alert.business.map(str::to_owned),
                service: alert.service.map(str::to_owned),
                sandbox: Some(environment == Environment::Sandbox),
                request_type: alert.data_type.map(str::to_owned),
                ..Event::default()
            };
            let subject = Subject {
                rule: alert.rule,
                connection: Some(alert.connection),
                business: alert.business,
                service: alert.service,
                environment,
                data_types,
                event: &event,
                firing: &[],
            };
            if let Some(by) = self.mutes.muted_by(&subject, self.now) {
                return Cover::By(by);
            }
        }
        match stored {
            Some(by) if !self.windows_known && by.starts_with("maintenance ") => Cover::Unchecked(by.to_owned()),
            Some(by) if !self.firing_complete && by.starts_with("inhibit ") => Cover::Unchecked(by.to_owned()),
            Some(by) if self.outages.is_none() && by.starts_with(HELD_BY) => Cover::Unchecked(by.to_owned()),
            _ => Cover::Not {
                ended: stored.map(str::to_owned),
            },
        }
    }

    /// Whether `silence ID` or `maintenance NAME` is in force now.
    fn still_in_force(&self, by: &str) -> bool {
        if let Some(id) = by.strip_prefix("silence ") {
            return self.mutes.silences.iter().any(|s| s.id == id);
        }
        if let Some(name) = by.strip_prefix("maintenance ") {
            return self.mutes.windows.iter().any(|w| w.name == name);
        }
        if let Some(key) = by.strip_prefix("inhibit ") {
            return self.firing.contains(key);
        }
        if let Some(name) = by.strip_prefix(HELD_BY) {
            return self.outages.as_ref().is_some_and(|firing| firing.contains(name));
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::quiet::Matchers;

    /// Saturday 2026-11-28, 03:00 UTC.
    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_834_800)
    }

    fn silence(id: &str, matchers: Matchers) -> Silence {
        Silence {
            id: id.to_owned(),
            matchers,
            starts_at: now() - Duration::from_secs(60),
            ends_at: now() + Duration::from_secs(3600),
            comment: "c".into(),
            created_at: now() - Duration::from_secs(60),
            expired_at: None,
        }
    }

    fn windows(yaml: &str) -> Vec<Window> {
        let text = format!("{yaml}rules:\n  - name: r\n    notify: []\n    when: {{ failed: {{ above: 0 }} }}\n");
        let config = crate::config::load_str(&text, Path::new("rules.yaml"), &|_| None).unwrap();
        config.maintenance.to_vec()
    }

    fn alert<'a>() -> AlertFacts<'a> {
        AlertFacts {
            rule: "bills-failing",
            connection: "CON-1",
            data_type: None,
            business: Some("Acme"),
            service: Some("xero"),
            environment: Some("production"),
            last_event: Some("data"),
            muted_by: None,
        }
    }

    #[test]
    fn status_a_silence_covers_what_it_matches_now_not_at_the_next_match() {
        let service = silence(
            "aaaa0001",
            Matchers {
                service: Some("x*".into()),
                ..Matchers::default()
            },
        );
        let quiet = Quiet::new(std::slice::from_ref(&service), Some(&[]), now());
        assert!(quiet.in_force());
        assert_eq!(quiet.cover(&alert()), Cover::By("silence aaaa0001".into()));
        let other = AlertFacts {
            service: Some("quickbooks"),
            ..alert()
        };
        assert_eq!(quiet.cover(&other), Cover::Not { ended: None });
        let sandbox = silence(
            "aaaa0002",
            Matchers {
                environment: Some("sandbox".into()),
                ..Matchers::default()
            },
        );
        let quiet = Quiet::new(&[sandbox], None, now());
        assert!(!quiet.cover(&alert()).is_quiet());
        let in_sandbox = AlertFacts {
            environment: Some("sandbox"),
            ..alert()
        };
        assert!(quiet.cover(&in_sandbox).is_quiet());
    }

    #[test]
    fn status_what_muted_the_last_message_counts_only_while_in_force() {
        let muted = AlertFacts {
            muted_by: Some("silence aaaa0001"),
            ..alert()
        };
        // Matched on the alert's evidence when it was muted: still holds.
        let narrow = silence(
            "aaaa0001",
            Matchers {
                data_type: Some("bills".into()),
                ..Matchers::default()
            },
        );
        let quiet = Quiet::new(std::slice::from_ref(&narrow), None, now());
        assert_eq!(quiet.cover(&muted), Cover::By("silence aaaa0001".into()));
        // Expired, or over.
        let expired = Silence {
            expired_at: Some(now() - Duration::from_secs(1)),
            ..narrow.clone()
        };
        let over = Silence {
            ends_at: now(),
            ..narrow
        };
        for ended in [expired, over] {
            let quiet = Quiet::new(&[ended], None, now());
            assert!(!quiet.in_force());
            assert_eq!(
                quiet.cover(&muted),
                Cover::Not {
                    ended: Some("silence aaaa0001".into())
                }
            );
        }
    }

    #[test]
    fn status_a_data_type_silence_holds_against_the_keys_data_type() {
        let bills = silence(
            "aaaa0003",
            Matchers {
                data_type: Some("bills".into()),
                ..Matchers::default()
            },
        );
        let quiet = Quiet::new(&[bills], None, now());
        let per_type = |data_type| AlertFacts {
            data_type: Some(data_type),
            ..alert()
        };
        assert!(quiet.cover(&per_type("bills")).is_quiet());
        assert!(!quiet.cover(&per_type("invoices")).is_quiet());
        // A full-sync alert's data types are its evidence, not stored: only
        // its next match can say.
        assert!(!quiet.cover(&alert()).is_quiet());
    }

    #[test]
    fn status_a_window_open_now_covers_what_its_when_matches() {
        let all = windows(
            "maintenance:\n  - name: xero-weekend\n    when: { service: xero }\n    weekdays: [saturday]\n    times: [\"02:00-06:00\"]\n",
        );
        let quiet = Quiet::new(&[], Some(&all), now());
        assert!(quiet.in_force());
        assert_eq!(quiet.cover(&alert()), Cover::By("maintenance xero-weekend".into()));
        let other = AlertFacts {
            service: Some("quickbooks"),
            ..alert()
        };
        assert!(!quiet.cover(&other).is_quiet());
        // Closed: what it held back is no longer covered.
        let sunday = windows(
            "maintenance:\n  - name: xero-weekend\n    when: { service: xero }\n    weekdays: [sunday]\n    times: [\"02:00-06:00\"]\n",
        );
        let muted = AlertFacts {
            muted_by: Some("maintenance xero-weekend"),
            ..alert()
        };
        let quiet = Quiet::new(&[], Some(&sunday), now());
        assert!(!quiet.in_force());
        assert_eq!(
            quiet.cover(&muted),
            Cover::Not {
                ended: Some("maintenance xero-weekend".into())
            }
        );
        // A reader without the windows cannot say.
        let quiet = Quiet::new(&[], None, now());
        assert_eq!(quiet.cover(&muted), Cover::Unchecked("maintenance xero-weekend".into()));
    }

    #[test]
    fn status_an_inhibited_alert_is_covered_while_its_inhibitor_fires() {
        let muted = AlertFacts {
            muted_by: Some("inhibit connection-lost/CON-1"),
            ..alert()
        };
        let firing = || vec!["connection-lost/CON-1".to_owned()];
        let quiet = |keys: Vec<String>, complete| Quiet::new(&[], Some(&[]), now()).with_firing(keys, complete);
        let by = Cover::By("inhibit connection-lost/CON-1".into());
        assert_eq!(quiet(firing(), true).cover(&muted), by);
        assert_eq!(quiet(firing(), false).cover(&muted), by);
        let ended = Some("inhibit connection-lost/CON-1".to_owned());
        assert_eq!(quiet(Vec::new(), true).cover(&muted), Cover::Not { ended });
        assert!(
            matches!(quiet(Vec::new(), false).cover(&muted), Cover::Unchecked(_)),
            "not on this page"
        );
    }
}
