//! A connection's state: one definition, used by `syncwatch connections
//! [--state S]`, `/api/status` and the page (the stores count `quiet`
//! connections with the same rule, in SQL).

/// What a connection's state says. When several hold, the first in this
/// order wins: `disconnected` > `failing` > `quiet` > `ok`.
///
/// - `disconnected` first: Railz says the connection cannot sync until it
///   is back (re-authorised); its connection-lost alert speaks for it, and
///   whatever else fires follows from it.
/// - `failing` before `quiet`: syncs that did arrive failed, and only a
///   clean sync ends that; a connection whose last syncs failed and which
///   then fell silent has still not synced cleanly. `quiet` is for the
///   connections whose only problem is silence. (It also keeps the state
///   of such a connection the same for a reader that cannot tell absence
///   rules apart: every firing alert makes it `failing` either way.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Its last `connectionStatus` said other than `active` (and no sync,
    /// `auth` or `active` status came since).
    Disconnected,
    /// An alert of a rule other than an absence rule fires.
    Failing,
    /// Only absence (`no_sync_for`) alerts fire.
    Quiet,
    /// Nothing fires.
    Ok,
}

impl ConnectionState {
    /// Every state, as `--state` and the JSON spell them.
    pub const NAMES: [&'static str; 4] = ["ok", "failing", "quiet", "disconnected"];

    /// `status`: `newStatus` of its last `connectionStatus` (`active` again
    /// after a sync or an `auth` event); `firing`: the rules of its firing
    /// alerts; `absence_rules`: the rules with `no_sync_for`.
    pub fn of<'a>(
        status: Option<&str>,
        firing: impl IntoIterator<Item = &'a str>,
        absence_rules: &[String],
    ) -> ConnectionState {
        if status.is_some_and(|s| s != "active") {
            return ConnectionState::Disconnected;
        }
        let mut quiet = false;
        for rule in firing {
            if !absence_rules.iter().any(|absence| absence == rule) {
                return ConnectionState::Failing;
            }
            quiet = true;
        }
        match quiet {
            true => ConnectionState::Quiet,
            false => ConnectionState::Ok,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Disconnected => "disconnected",
            ConnectionState::Failing => "failing",
            ConnectionState::Quiet => "quiet",
            ConnectionState::Ok => "ok",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ConnectionState::{self, *};

    fn state(status: Option<&str>, firing: &[&str]) -> ConnectionState {
        ConnectionState::of(status, firing.iter().copied(), &["stopped-syncing".to_owned()])
    }

    #[test]
    fn status_state_precedence_is_disconnected_failing_quiet_ok() {
        assert_eq!(state(None, &[]), Ok);
        assert_eq!(state(Some("active"), &[]), Ok);
        assert_eq!(state(None, &["stopped-syncing"]), Quiet);
        assert_eq!(state(None, &["bills-failing"]), Failing);
        // The case the CLI and the page used to disagree on.
        assert_eq!(state(None, &["stopped-syncing", "bills-failing"]), Failing);
        assert_eq!(state(None, &["bills-failing", "stopped-syncing"]), Failing);
        assert_eq!(
            state(Some("disconnected"), &["bills-failing", "stopped-syncing"]),
            Disconnected
        );
        assert_eq!(state(Some("expired"), &[]), Disconnected);
    }

    #[test]
    fn status_state_names_are_what_the_cli_accepts() {
        for state in [Disconnected, Failing, Quiet, Ok] {
            assert!(ConnectionState::NAMES.contains(&state.as_str()));
        }
    }
}
