//! Which moment of an alert's life a message tells: it fired, it is still
//! failing, or it resolved. The renderers word the title and add a line.

use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Notice {
    #[default]
    Firing,
    StillFailing {
        /// When the alert started firing.
        since: SystemTime,
        /// Failing syncs so far in this episode.
        failing: u64,
    },
    Resolved {
        /// When it started firing.
        since: SystemTime,
        /// How long it fired.
        lasted: Duration,
        failing: u64,
        /// The requestId of the clean sync that resolved it.
        clean_request: Option<String>,
        /// Why it was closed without a clean sync: its rule was removed,
        /// it no longer holds after a reload, its connection was forgotten.
        reason: Option<String>,
    },
}

impl Notice {
    /// `FIRING`, `STILL FAILING`, `RESOLVED` or `CLOSED`: the one spelling
    /// that titles, digests and templates use. An alert closed without a
    /// clean sync (its rule removed, its connection forgotten) is CLOSED:
    /// the problem may well go on, so it must not read as an all-clear.
    pub fn label(&self) -> &'static str {
        match self {
            Notice::Firing => "FIRING",
            Notice::StillFailing { .. } => "STILL FAILING",
            Notice::Resolved { reason: Some(_), .. } => "CLOSED",
            Notice::Resolved { .. } => "RESOLVED",
        }
    }

    /// One line on the alert's life, `None` for a first notification.
    pub fn line(&self) -> Option<String> {
        match self {
            Notice::Firing => None,
            Notice::StillFailing { since, failing: 0 } => Some(format!("Still failing since {}", rfc3339(*since))),
            Notice::StillFailing { since, failing } => Some(format!(
                "Still failing since {} ({} failing {} so far)",
                rfc3339(*since),
                failing,
                syncs(*failing)
            )),
            Notice::Resolved {
                since,
                lasted,
                failing,
                reason: Some(reason),
                ..
            } => Some(format!(
                "Closed: {reason}; it had fired since {} for {}{}",
                rfc3339(*since),
                rounded(*lasted),
                failing_syncs(*failing)
            )),
            Notice::Resolved {
                since,
                lasted,
                failing,
                clean_request,
                reason: None,
            } => Some(format!(
                "Resolved: firing since {} for {}{}; clean sync requestId {}",
                rfc3339(*since),
                rounded(*lasted),
                failing_syncs(*failing),
                clean_request.as_deref().unwrap_or("(none)")
            )),
        }
    }
}

/// `, 3 failing syncs`; nothing for an alert whose condition is a state
/// (a lost connection, no sync for a while), which counts no syncs.
fn failing_syncs(count: u64) -> String {
    match count {
        0 => String::new(),
        n => format!(", {n} failing {}", syncs(n)),
    }
}

fn syncs(count: u64) -> &'static str {
    if count == 1 { "sync" } else { "syncs" }
}

pub fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// `2h5m`: to the second under a minute, to the minute beyond.
pub fn rounded(duration: Duration) -> String {
    let secs = duration.as_secs();
    let shown = if secs < 60 { secs } else { secs - secs % 60 };
    crate::config::format_duration(Duration::from_secs(shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_notice_says_where_the_alert_stands() {
        let since = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_000_000);
        assert_eq!(Notice::Firing.line(), None);
        let still = Notice::StillFailing { since, failing: 3 };
        assert_eq!(
            still.line().unwrap(),
            "Still failing since 2025-11-24T16:00:00Z (3 failing syncs so far)"
        );
        let resolved = Notice::Resolved {
            since,
            lasted: Duration::from_secs(2 * 3600 + 5 * 60 + 7),
            failing: 1,
            clean_request: Some("req-9".into()),
            reason: None,
        };
        assert_eq!(
            resolved.line().unwrap(),
            "Resolved: firing since 2025-11-24T16:00:00Z for 2h5m, 1 failing sync; clean sync requestId req-9"
        );
        let lost = Notice::StillFailing { since, failing: 0 };
        assert_eq!(
            lost.line().unwrap(),
            "Still failing since 2025-11-24T16:00:00Z",
            "a state counts no syncs"
        );
        let closed = Notice::Resolved {
            since,
            lasted: Duration::from_secs(2 * 3600 + 5 * 60 + 7),
            failing: 1,
            clean_request: None,
            reason: Some("rule `r` was removed from rules.yaml".into()),
        };
        assert_eq!(
            closed.line().unwrap(),
            "Closed: rule `r` was removed from rules.yaml; it had fired since 2025-11-24T16:00:00Z for 2h5m, 1 failing sync"
        );
    }
}
