//! One message of every kind, for checking a template before it is used.

use std::time::{Duration, SystemTime};

use super::digest::Item;
use super::notice::rfc3339;
use super::template::{Context, Problem};

/// One message of every kind, to check a template against before it is
/// used: firing, still failing, resolved, digest, absence, connection lost.
pub fn samples() -> Vec<Context> {
    let since = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_000_000);
    let mut firing = Context {
        kind: "firing".into(),
        state: "FIRING".into(),
        rule: "production-sync-failed".into(),
        description: Some("A production sync finished with failed data types".into()),
        runbook: Some("https://wiki.example.com/runbooks/sync-failed".into()),
        severity: "CRITICAL".into(),
        environment: "PRODUCTION".into(),
        business: "Sample Business <&> Ltd".into(),
        connection: Some("CON-sample".into()),
        service: Some("quickbooks".into()),
        sync_type: Some("fullSync".into()),
        event: Some("data".into()),
        data_type: None,
        headline: "1 failed, 1 empty".into(),
        summary: "1 failed, 1 empty for Sample Business <&> Ltd (quickbooks)".into(),
        counts: "failed 1, empty 1, success 3".into(),
        problems: vec![Problem {
            status: "failed".into(),
            total: 1,
            lines: vec!["bills".into()],
        }],
        failed: vec!["bills".into()],
        empty: vec!["incomeStatements month 2018-04-01..2018-04-30".into()],
        request_id: Some("a3b4fc83-3e24-41aa-ba99-13cab09b0b7a".into()),
        received_at: rfc3339(since),
        since: None,
        failing: None,
        lasted: None,
        clean_request: None,
        connection_status: None,
        disconnect_reason: None,
        status_message: None,
        last_sync: None,
        line: None,
        count: 1,
        items: Vec::new(),
        more: 0,
    };
    let mut still = firing.clone();
    (still.kind, still.state, still.since, still.failing) = (
        "still_failing".into(),
        "STILL FAILING".into(),
        Some(rfc3339(since)),
        Some(3),
    );
    still.line = Some("Still failing since 2025-11-24T16:00:00Z (3 failing syncs so far)".into());
    let mut resolved = still.clone();
    (resolved.kind, resolved.state) = ("resolved".into(), "RESOLVED".into());
    (resolved.lasted, resolved.clean_request) = (Some("2h5m".into()), Some("b1c2".into()));
    resolved.headline = "back to normal".into();
    let mut absence = firing.clone();
    (absence.rule, absence.headline) = ("connection-stopped-syncing".into(), "no sync for 1d 2h".into());
    absence.last_sync = Some(rfc3339(since));
    absence.problems.clear();
    let mut lost = firing.clone();
    lost.rule = "connection-lost".into();
    lost.headline = "connection disconnected (expiredCredentials)".into();
    lost.connection_status = Some("active → disconnected".into());
    lost.disconnect_reason = Some("expiredCredentials".into());
    lost.status_message = Some("Refresh token expired for quickbooks, reconnection required".into());
    let item = Item {
        state: "FIRING".into(),
        rule: "production-sync-failed".into(),
        severity: "CRITICAL".into(),
        business: "Sample Business".into(),
        connection: Some("CON-sample".into()),
        service: Some("xero".into()),
        data_types: vec!["bills".into()],
        reason: None,
        headline: "1 failed".into(),
    };
    let digest = Context::digest(&vec![item; 30], 20, since);
    firing.line = None;
    vec![firing, still, resolved, digest, absence, lost]
}
