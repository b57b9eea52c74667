use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::audit::find_event;
use super::*;
use std::path::Path;
use std::sync::Arc;

use crate::config::{Config, load_str};
use crate::event::parse_event;
use crate::lifecycle::AlertInput;
use crate::rules::Environment;
use crate::store::{Ingest, IngestOutcome, Pruned, Settle};

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db"), Duration::from_secs(1)).unwrap();
    (dir, store)
}

/// A config with one rule, `failed`, notifying the Slack channel `ops`
/// every hour at most.
fn config() -> Arc<Config> {
    let text = "channels:\n  ops:\n    slack: { webhook_url: 'http://127.0.0.1:9/hook' }\ndefaults:\n  notify: [ops]\n  repeat_interval: 1h\nrules:\n  - name: failed\n    when: { failed: { above: 0 } }\n";
    Arc::new(load_str(text, Path::new("t.yaml"), &|_| None).unwrap())
}

/// A failed sync of `connection`, as ingest would hand it to the store.
fn ingest(request_id: &str, connection: &str, at: SystemTime) -> Ingest {
    sync(request_id, connection, "failed", at)
}

/// A sync of `connection` whose bills ended `status`.
fn sync(request_id: &str, connection: &str, status: &str, at: SystemTime) -> Ingest {
    let body = format!(
        r#"{{"data":{{"event":"data","connectionId":"{connection}","requests":[{{"request":"bills","status":"{status}"}}]}},"requestId":"{request_id}"}}"#
    );
    let event = parse_event(body.as_bytes()).unwrap();
    let config = config();
    let matches = crate::lifecycle::matches_of(&config, &event, Environment::Production);
    Ingest {
        dedup_key: request_id.into(),
        body: Bytes::from(body),
        alerts: AlertInput {
            config: config.clone(),
            event: Arc::new(event),
            environment: Environment::Production,
            received_at: at,
            matches,
            silences: Arc::default(),
            stale: false,
        },
    }
}

fn accepted(outcome: IngestOutcome) -> usize {
    match outcome {
        IngestOutcome::Accepted { notified, .. } => notified.len(),
        IngestOutcome::Duplicate => panic!("unexpected duplicate"),
    }
}

#[tokio::test]
async fn concurrent_ingests_share_commits_and_all_land() {
    let (_dir, store) = store();
    let store = std::sync::Arc::new(store);
    let now = SystemTime::now();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.ingest(ingest(&format!("r-{i}"), &format!("CON-{i}"), now)).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(accepted(task.await.unwrap().unwrap()), 1);
    }
    let mut claimed = 0;
    while let Some(delivery) = store.claim_next("ops", SystemTime::now()).unwrap() {
        store
            .settle(
                delivery.id,
                Settle::Delivered {
                    answer: "200 ok".into(),
                },
            )
            .await
            .unwrap();
        claimed += 1;
    }
    assert_eq!(claimed, 200);
}

#[tokio::test]
async fn a_dedup_key_is_accepted_once() {
    let (_dir, store) = store();
    let now = SystemTime::now();
    assert_eq!(accepted(store.ingest(ingest("r-1", "CON-1", now)).await.unwrap()), 1);
    assert_eq!(
        store.ingest(ingest("r-1", "CON-1", now)).await.unwrap(),
        IngestOutcome::Duplicate
    );
    let other = store.ingest(ingest("r-2", "CON-1", now)).await.unwrap();
    assert!(
        matches!(other, IngestOutcome::Accepted { .. }),
        "another key is a new event"
    );
}

#[tokio::test]
async fn a_resolved_waits_for_its_firing_and_is_dropped_when_the_firing_never_arrives() {
    let (_dir, store) = store();
    let now = SystemTime::now();
    store.ingest(ingest("r-1", "CON-1", now)).await.unwrap();
    store.ingest(sync("r-2", "CON-1", "success", now)).await.unwrap();
    let firing = store.claim_next("ops", now).unwrap().unwrap();
    // The RESOLVED waits while its FIRING is in a lane's hands or retrying.
    assert_eq!(store.claim_next("ops", now).unwrap(), None);
    let later = now + Duration::from_secs(10);
    let retry = Settle::Retry {
        at: later,
        error: "503".into(),
    };
    store.settle(firing.id, retry).await.unwrap();
    assert_eq!(
        store.claim_next("ops", now).unwrap(),
        None,
        "the RESOLVED overtook its FIRING"
    );
    assert_eq!(
        store.next_due("ops").unwrap().map(super::millis),
        Some(super::millis(later))
    );
    let firing = store.claim_next("ops", later).unwrap().unwrap();
    let failed = Settle::Failed {
        error: "404 no_service".into(),
    };
    store.settle(firing.id, failed).await.unwrap();
    assert_eq!(
        store.claim_next("ops", later).unwrap(),
        None,
        "nothing to resolve where FIRING never arrived"
    );
    assert_eq!(store.next_due("ops").unwrap(), None);
}

#[tokio::test]
async fn a_digest_does_not_carry_a_resolved_whose_firing_expired() {
    let (_dir, store) = store();
    let now = SystemTime::now();
    let long_ago = now - Duration::from_secs(7200);
    store.ingest(ingest("r-1", "CON-1", long_ago)).await.unwrap();
    store.ingest(sync("r-2", "CON-1", "success", now)).await.unwrap();
    let kind = config().channels["ops"].kind.clone();
    let built = store
        .build_digest("ops", kind, 20, Duration::from_secs(3600), now)
        .await
        .unwrap();
    assert_eq!(built, None, "the RESOLVED of an expired FIRING went into a digest");
    assert_eq!(store.pending_count().unwrap(), 0);
}

#[tokio::test]
async fn a_claimed_delivery_is_not_handed_out_twice_and_a_retry_waits_until_due() {
    let (_dir, store) = store();
    let now = SystemTime::now();
    store.ingest(ingest("r-1", "CON-1", now)).await.unwrap();
    let first = store.claim_next("ops", now).unwrap().unwrap();
    assert_eq!(store.claim_next("ops", now).unwrap(), None);
    let later = now + Duration::from_secs(10);
    let retry = Settle::Retry {
        at: later,
        error: "503".into(),
    };
    store.settle(first.id, retry).await.unwrap();
    assert_eq!(store.claim_next("ops", now).unwrap(), None);
    assert_eq!(
        super::from_millis(super::millis(later)),
        store.next_due("ops").unwrap().unwrap()
    );
    let again = store.claim_next("ops", later).unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (first.id, 1));
}

#[tokio::test]
async fn pruning_removes_settled_records_and_keeps_pending_ones() {
    let (dir, store) = store();
    let old = SystemTime::now() - Duration::from_secs(40 * 86_400);
    store.ingest(ingest("done", "CON-1", old)).await.unwrap();
    store.ingest(ingest("waiting", "CON-2", old)).await.unwrap();
    let done = store.claim_next("ops", SystemTime::now()).unwrap().unwrap();
    store
        .settle(
            done.id,
            Settle::Delivered {
                answer: "200 ok".into(),
            },
        )
        .await
        .unwrap();

    // CON-1 had its last event at `old`; CON-2 too, but is kept younger.
    let pruned = store
        .prune(SystemTime::now() + Duration::from_secs(1), old + Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(
        pruned,
        Pruned {
            events: 1,
            deliveries: 1,
            connections: 2,
        }
    );
    assert!(store.connections().unwrap().is_empty(), "forgotten after forget_after");
    let conn = open_read_only(&dir.path().join("db")).unwrap();
    assert!(find_event(&conn, "done").unwrap().is_none());
    let waiting = find_event(&conn, "waiting")
        .unwrap()
        .expect("a pending delivery keeps its event");
    assert_eq!(waiting.notifications[0].0.status, "pending");
}

#[tokio::test]
async fn repeat_interval_is_read_from_the_stored_alert() {
    let (_dir, store) = store();
    let now = SystemTime::now();
    assert_eq!(accepted(store.ingest(ingest("r-1", "CON-1", now)).await.unwrap()), 1);
    let soon = now + Duration::from_secs(60);
    assert_eq!(accepted(store.ingest(ingest("r-2", "CON-1", soon)).await.unwrap()), 0);
    let later = now + Duration::from_secs(3601);
    assert_eq!(accepted(store.ingest(ingest("r-3", "CON-1", later)).await.unwrap()), 1);
}

#[test]
fn a_database_newer_than_the_program_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let Err(err) = SqliteStore::open(&path, Duration::from_secs(1)) else {
        panic!("a newer schema must be refused");
    };
    assert!(
        err.to_string().contains("schema version 99, newer than this syncwatch"),
        "{err}"
    );
}

/// A database file as syncwatch of schema `version` left it.
fn database_of_schema(version: usize) -> (tempfile::TempDir, std::path::PathBuf, rusqlite::Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    schema::migrate_to(&mut conn, version).unwrap();
    (dir, path, conn)
}

#[tokio::test]
async fn a_database_of_the_first_release_keeps_its_events_and_its_active_alerts_fire_on() {
    let (_dir, path, conn) = database_of_schema(2);
    conn.execute_batch(
        "INSERT INTO events (id, dedup_key, request_id, received_at, event, connection, environment, body)
         VALUES (1, 'old', 'old', 1000, 'data', 'CON-1', 'production', x'7b7d');
         INSERT INTO deliveries (event_id, request_id, rule, channel, message, status, created_at, due_at)
         VALUES (1, 'old', 'failed', 'ops', '{}', 'pending', 1000, 1000);
         INSERT INTO alerts (rule, connection, data_type, last_notified) VALUES ('failed', 'CON-1', '', 1000);",
    )
    .unwrap();
    drop(conn);

    let store = SqliteStore::open(&path, Duration::from_secs(1)).unwrap();
    let conn = open_read_only(&path).unwrap();
    let active = alerts::active_of(&conn, None).unwrap();
    assert_eq!(active.len(), 1);
    let (key, state) = &active[0];
    assert_eq!((key.rule.as_str(), key.connection.as_str()), ("failed", "CON-1"));
    assert_eq!(state.phase, crate::lifecycle::Phase::Firing);
    assert_eq!(state.notified, ["ops"]);
    assert_eq!(state.last_notified, Some(from_millis(1000)));
    assert_eq!(store.pending_count().unwrap(), 1, "the queue is kept");
    let old = find_event(&conn, "old").unwrap().expect("the events are kept");
    assert_eq!(old.body, b"{}", "a body stored before compression reads back as it was");

    // A clean sync of CON-1 now resolves it, with a RESOLVED message to ops.
    let now = SystemTime::now();
    let mut clean = ingest("clean", "CON-1", now);
    clean.alerts.matches.clear();
    let body = r#"{"data":{"event":"data","connectionId":"CON-1","requests":[{"request":"bills","status":"success"}]},"requestId":"clean"}"#;
    clean.alerts.event = Arc::new(parse_event(body.as_bytes()).unwrap());
    let IngestOutcome::Accepted {
        notified, transitions, ..
    } = store.ingest(clean).await.unwrap()
    else {
        panic!("accepted")
    };
    assert_eq!(notified.len(), 1);
    assert_eq!(transitions, ["failed/CON-1: firing → resolved, RESOLVED to ops"]);
}

#[tokio::test]
async fn a_redelivery_is_recognised_across_the_upgrade_that_drops_the_unique_index_and_across_restarts() {
    let (_dir, path, conn) = database_of_schema(8);
    let recent = millis(SystemTime::now() - Duration::from_secs(600));
    conn.execute(
        "INSERT INTO events (id, dedup_key, request_id, received_at, event, connection, environment, body)
         VALUES (41, 'before', 'before', ?1, 'data', 'CON-1', 'production', x'7b7d')",
        [recent],
    )
    .unwrap();
    drop(conn);

    let store = SqliteStore::open(&path, Duration::from_secs(1)).unwrap();
    let now = SystemTime::now();
    assert_eq!(
        store.ingest(ingest("before", "CON-1", now)).await.unwrap(),
        IngestOutcome::Duplicate,
        "an event stored before the upgrade"
    );
    assert_eq!(accepted(store.ingest(ingest("after", "CON-1", now)).await.unwrap()), 1);
    drop(store);

    let store = SqliteStore::open(&path, Duration::from_secs(1)).unwrap();
    for request_id in ["before", "after"] {
        assert_eq!(
            store.ingest(ingest(request_id, "CON-1", now)).await.unwrap(),
            IngestOutcome::Duplicate,
            "{request_id}, after a restart"
        );
    }
    let conn = open_read_only(&path).unwrap();
    let kept = find_event(&conn, "before").unwrap().expect("the event is kept");
    assert_eq!(kept.body, b"{}");
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM events ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids, [41, 42], "ids carry on from the rebuilt table");
}

#[tokio::test]
async fn an_alert_updated_in_place_keeps_its_counts_and_leaves_the_active_list_when_it_resolves() {
    let (dir, store) = store();
    let now = SystemTime::now();
    for (n, request) in ["r-1", "r-2", "r-3"].into_iter().enumerate() {
        store
            .ingest(ingest(request, "CON-1", now + Duration::from_secs(n as u64)))
            .await
            .unwrap();
    }
    let conn = open_read_only(&dir.path().join("db")).unwrap();
    let active = alerts::active_of(&conn, Some("CON-1")).unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].1.phase, crate::lifecycle::Phase::Firing);
    assert_eq!(active[0].1.matches, 3, "each same-phase update counted");

    let mut clean = ingest("r-4", "CON-1", now + Duration::from_secs(10));
    clean.alerts.matches.clear();
    let body = r#"{"data":{"event":"data","connectionId":"CON-1","requests":[{"request":"bills","status":"success"}]},"requestId":"r-4"}"#;
    clean.alerts.event = Arc::new(parse_event(body.as_bytes()).unwrap());
    store.ingest(clean).await.unwrap();
    assert!(alerts::active_of(&conn, Some("CON-1")).unwrap().is_empty());
    assert!(
        alerts::active_of(&conn, None).unwrap().is_empty(),
        "the active index follows the new phase"
    );
}

/// One step of an operator's day: a sync in, or the lane's attempt at the
/// next message with the channel's answer.
#[derive(Debug, Clone)]
enum Step {
    Failing,
    Clean,
    Delivered,
    Retried,
    FailedForGood,
}

fn steps() -> impl proptest::strategy::Strategy<Value = Vec<Step>> {
    use proptest::prelude::*;
    let step = prop_oneof![
        Just(Step::Failing),
        Just(Step::Clean),
        Just(Step::Delivered),
        Just(Step::Retried),
        Just(Step::FailedForGood),
    ];
    proptest::collection::vec(step, 1..40)
}

fn says_resolved(delivery: &crate::store::Delivery) -> bool {
    serde_json::to_string(&delivery.message).unwrap().contains("RESOLVED")
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
    /// Whatever the channel answers and whenever, once the queue drains:
    /// the channel's last delivered word about the alert matches its state
    /// (or, where a FIRING failed for good, the alert is untold and its
    /// next match tells), and no RESOLVED reached it without a FIRING of
    /// that episode first.
    #[test]
    fn a_channels_last_word_matches_the_alerts_state(steps in steps()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let (dir, store) = store();
            let start = SystemTime::now();
            let mut delivered: Vec<bool> = Vec::new(); // true: a RESOLVED
            // The channel refused the RESOLVED itself: nothing can tell it.
            let mut resolved_refused = false;
            for (i, step) in steps.iter().enumerate() {
                let now = start + Duration::from_secs(60 * i as u64);
                let request = format!("r-{i}");
                let answer = match step {
                    Step::Failing => { store.ingest(sync(&request, "CON-1", "failed", now)).await.unwrap(); continue; }
                    Step::Clean => { store.ingest(sync(&request, "CON-1", "success", now)).await.unwrap(); continue; }
                    Step::Delivered => Settle::Delivered { answer: "ok".into() },
                    Step::Retried => Settle::Retry { at: now + Duration::from_secs(30), error: "503".into() },
                    Step::FailedForGood => Settle::Failed { error: "404 no_service".into() },
                };
                let Some(next) = store.claim_next("ops", now).unwrap() else { continue };
                match answer {
                    Settle::Delivered { .. } => {
                        delivered.push(says_resolved(&next));
                        resolved_refused = false;
                    }
                    Settle::Failed { .. } => resolved_refused |= says_resolved(&next),
                    _ => {}
                }
                store.settle(next.id, answer).await.unwrap();
            }
            // The channel comes back: everything still queued goes out.
            let end = start + Duration::from_secs(60 * (steps.len() as u64 + 10));
            while let Some(next) = store.claim_next("ops", end).unwrap() {
                delivered.push(says_resolved(&next));
                resolved_refused = false;
                store.settle(next.id, Settle::Delivered { answer: "ok".into() }).await.unwrap();
            }
            let conn = open_read_only(&dir.path().join("db")).unwrap();
            let active = alerts::active_of(&conn, Some("CON-1")).unwrap();
            let firing = active.iter().find(|(_, s)| s.phase == crate::lifecycle::Phase::Firing);
            match (delivered.last(), firing) {
                // Over, yet the channel's last word says it fires.
                (Some(false), None) => proptest::prop_assert!(resolved_refused, "last word FIRING, alert over: {:?}", delivered),
                // A new episode whose FIRING failed for good: it must be
                // untold, so that its next match tells the channel.
                (Some(true), Some((_, state))) => proptest::prop_assert!(
                    state.notified.is_empty() && state.last_notified.is_none(),
                    "last word RESOLVED while firing and counted as told: {:?} {:?}", delivered, state
                ),
                _ => {}
            }
            let mut told = false;
            for &resolved in &delivered {
                proptest::prop_assert!(!resolved || told, "a RESOLVED before any FIRING: {:?}", delivered);
                told = !resolved;
            }
            Ok(())
        })?;
    }
}
