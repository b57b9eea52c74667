//! The writes that move alert state, on PostgreSQL: with the locks of the
//! connections involved held (see `locked`), read their alerts and rows,
//! run the lifecycle, write back what changed. The locks are what make instances agree: two
//! events of one connection taken by two instances move its alerts one
//! after the other, so `after: 2` counts both, and a redelivery waits for
//! the first copy's commit and then finds its key.
//!
//! Webhooks are written in batches (as the SQLite writer does): one
//! transaction, one round of locks, one of reads, one statement for all
//! the writes, one commit for whatever arrived together.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use deadpool_postgres::Client;
use futures_util::future::try_join;
use tokio_postgres::Error;

use crate::absence::{Check, Downtime, KnownConnection, watches};
use crate::alerts::AlertKey;
use crate::config::Config;
use crate::event::Status;
use crate::lifecycle::{AlertInput, AlertState, AlertStates, Phase, Sweep, apply, apply_absence, firing_besides};
use crate::outage;
use crate::quiet::Silence;
use crate::store::sqlite::{AbsenceOutcome, Checked};

use super::super::model::{Ingest, IngestOutcome};
use super::super::time::millis;
use super::locked::connection_lock;
use super::outage_moves::{Fetched, Moving};
use super::outage_runs::Wants;
use super::outages::{GroupKey, StagedOutages, Wanted};
use super::record::{Batch, NewEvent};
use super::rows;
use super::staged::Staged;

/// The locks a transaction over `connections` takes (see [`Locked`]).
///
/// [`Locked`]: super::locked::Locked
pub fn locks<'a>(connections: impl IntoIterator<Item = &'a str>) -> Vec<i64> {
    connections.into_iter().map(connection_lock).collect()
}

/// Reads the alerts and rows of `connections`, whose locks the
/// transaction holds: they see whatever the previous holders committed.
pub(super) async fn read(
    client: &Client,
    connections: &[String],
) -> Result<(Staged, HashMap<String, KnownConnection>), Error> {
    let (alerts, known) = try_join(
        query_cached(client, rows::ALERTS_OF, connections),
        query_cached(client, rows::CONNECTIONS_OF, connections),
    )
    .await?;
    let known = known
        .iter()
        .map(rows::connection)
        .map(|known| (known.id.clone(), known))
        .collect();
    Ok((Staged::new(alerts.iter().map(rows::alert)), known))
}

/// [`read`], and the outages firing (what holds the alerts an absence
/// check or a sweep moves), when the rules define any.
async fn read_held(
    client: &Client,
    config: &Config,
    connections: &[String],
) -> Result<(Staged, HashMap<String, KnownConnection>), Error> {
    if config.outages.is_empty() {
        return read(client, connections).await;
    }
    let firing = async {
        let rows = (client.query(
            "SELECT grp, min(outage) FROM outage_states WHERE firing GROUP BY grp",
            &[],
        ))
        .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    };
    let ((mut states, known), firing) = try_join(read(client, connections), firing).await?;
    states.set_outages(firing);
    Ok((states, known))
}

async fn query_cached<T>(client: &Client, sql: &str, keys: &[T]) -> Result<Vec<tokio_postgres::Row>, Error>
where
    T: tokio_postgres::types::ToSql + Sync,
{
    let statement = client.prepare_cached(sql).await?;
    client.query(&statement, &[&keys]).await
}

/// The connection an event's alerts belong to, for its lock.
pub fn connection_of(ingest: &Ingest) -> &str {
    ingest.alerts.event.connection_id.as_deref().unwrap_or("-")
}

/// What a transaction finds under its locks: the alerts and rows of its
/// connections, which of its events' keys are already stored, and the
/// outages its events count in (see `outages` and `outage_moves`). Kept as
/// first read: each run of the lifecycle starts from a copy.
#[derive(Clone)]
pub struct Found {
    pub(super) states: Staged,
    pub(super) known: HashMap<String, KnownConnection>,
    pub(super) seen: HashSet<String>,
    pub(super) outages: StagedOutages,
    pub(super) fetched: Fetched,
    /// The connections locked from the start (the events'), then those
    /// locked for the outages' moves.
    pub(super) own: Vec<String>,
    pub(super) locked: HashSet<String>,
    /// Where the window of each group read starts at the earliest.
    pub(super) windows: HashMap<GroupKey, SystemTime>,
}

/// Reads what the batch `ingests` needs (see [`Found`]); `groups` are its
/// outages' (`outage_runs::outage_groups`), whose locks the transaction holds.
pub async fn read_batch(client: &Client, ingests: &[&Ingest], groups: &[Wanted]) -> Result<Found, Error> {
    let mut connections: Vec<String> = ingests.iter().map(|i| connection_of(i).to_owned()).collect();
    connections.sort();
    connections.dedup();
    let keys: Vec<&str> = ingests.iter().map(|i| i.dedup_key.as_str()).collect();
    // Rules without outages read none (what an outage left behind holds
    // nothing once the rules drop it).
    let any = ingests.iter().any(|i| !i.alerts.config.outages.is_empty());
    let outages = async {
        match any {
            true => StagedOutages::read(client, groups, &connections).await,
            false => Ok(StagedOutages::default()),
        }
    };
    let (((states, known), seen), outages) = try_join(
        try_join(read(client, &connections), query_cached(client, rows::SEEN, &keys)),
        outages,
    )
    .await?;
    let seen = seen.iter().map(|row| row.get(0)).collect();
    Ok(Found {
        states,
        known,
        seen,
        outages,
        fetched: Fetched::new(&connections),
        locked: connections.iter().cloned().collect(),
        own: connections,
        windows: groups.iter().map(|g| (g.key.clone(), g.from)).collect(),
    })
}

/// Runs a batch of events through the lifecycle, in order: each event's
/// outcome (accepted, or a duplicate of a stored event or of an earlier
/// one in the batch), what to write, and the alerts that moved. An
/// outage that moved may ask for more rows first ([`Wants`]: see
/// `outage_runs::fetch`).
#[allow(clippy::type_complexity)]
pub fn apply_batch(
    ingests: &[&Ingest],
    found: &Found,
) -> Result<(Vec<IngestOutcome>, Batch, Vec<(AlertKey, AlertState)>), Wants> {
    let Found {
        mut states,
        mut known,
        mut seen,
        mut outages,
        mut fetched,
        ..
    } = found.clone();
    let mut batch = Batch::default();
    let mut outcomes = Vec::with_capacity(ingests.len());
    for ingest in ingests {
        let outcome = if seen.insert(ingest.dedup_key.clone()) {
            let mut moving = (&mut states, &mut outages, &mut fetched);
            accept(ingest, &mut moving, &mut known, &mut batch)
        } else {
            IngestOutcome::Duplicate
        };
        outcomes.push(outcome);
    }
    if fetched.wants(&outages) {
        let failing = outages.wants_failing().iter().cloned().collect();
        return Err(Wants {
            fetched: Box::new(fetched),
            failing,
        });
    }
    batch.outages(&outages);
    Ok((outcomes, batch, states.changed()))
}

/// Runs one new event through the outages and the lifecycle, adds what it
/// writes to `batch`, and says what it did.
fn accept(
    ingest: &Ingest,
    (states, outages, fetched): &mut (&mut Staged, &mut StagedOutages, &mut Fetched),
    known: &mut HashMap<String, KnownConnection>,
    batch: &mut Batch,
) -> IngestOutcome {
    let event = &ingest.alerts.event;
    let resolved = (event.connection_id.as_ref()).and_then(|id| ingest.alerts.as_known(known.get(id)));
    let alerts = resolved.as_ref().unwrap_or(&ingest.alerts);
    let mut moving = Moving {
        states,
        known,
        outages,
        fetched,
        batch,
        ticking: &[],
    };
    let Ok(moved) = outage::moves::on_event(&mut moving, alerts);
    states.set_outages(outages.firing_by_group());
    let Ok(mut applied) = apply(*states, alerts);
    // The outages' messages first: an outage's RESOLVED before the alerts
    // it releases.
    applied.notifications.splice(0..0, moved.notifications);
    let notified: Vec<AlertKey> = applied.notified().cloned().collect();
    let transitions: Vec<String> = moved.described.into_iter().chain(applied.described()).collect();
    let mut channels = Vec::new();
    let new_event = NewEvent {
        dedup_key: &ingest.dedup_key,
        request_id: ingest.request_id(),
        received_at: ingest.received_at(),
        event: event.event.as_deref(),
        connection: event.connection_id.as_deref(),
        environment: alerts.environment.as_str(),
        body: ingest.body.clone(),
        fired: &notified,
        suppressed: &applied.quiet,
        transitions: &transitions,
    };
    batch.event(new_event, &applied.notifications, &mut channels);
    let after = event.connection_id.as_ref().and_then(|id| {
        let before = known.get(id);
        let after = KnownConnection::observe(before, event, alerts.environment, ingest.received_at())?;
        if before != Some(&after) {
            batch.connection(&after);
            known.insert(id.clone(), after.clone());
        }
        Some(after)
    });
    if let Some((id, counts)) = event.connection_id.as_deref().zip(day_of(alerts)) {
        batch.day(id, ingest.received_at(), counts);
    }
    IngestOutcome::Accepted {
        notified,
        suppressed: applied.quiet,
        channels,
        transitions,
        known: after.map(Box::new),
    }
}

/// A sync's count in its connection's day, `[clean, failed, empty]`:
/// failed if any data type failed, else empty if any came back empty, else
/// clean. None for events that are not syncs.
fn day_of(alerts: &AlertInput) -> Option<[i64; 3]> {
    let event = &alerts.event;
    if !event.is_sync() {
        return None;
    }
    Some(if event.count(&Status::Failed) > 0 {
        [0, 1, 0]
    } else if event.count(&Status::Empty) > 0 {
        [0, 0, 1]
    } else {
        [1, 0, 0]
    })
}

/// A firing absence alert is checked again after its repeat_interval, but
/// not more often than this.
const MIN_RECHECK: Duration = Duration::from_secs(60);

/// Runs due absence checks of a few connections in one transaction, each
/// against the stored connection under its lock: whichever instance checks
/// first notifies, the other finds the alert firing.
pub async fn check_absence(
    client: &Client,
    config: &Config,
    checks: &[Check],
    (now, floor): (SystemTime, Option<Downtime>),
    silences: &Arc<Vec<Silence>>,
) -> Result<AbsenceOutcome, Error> {
    let mut ids: Vec<String> = checks.iter().map(|(_, id)| id.to_string()).collect();
    ids.sort();
    ids.dedup();
    let (mut states, known) = read_held(client, config, &ids).await?;
    let mut outcome = AbsenceOutcome::default();
    let mut batch = Batch::default();
    let cx = Cx {
        config,
        now,
        floor,
        silences,
    };
    for check in checks {
        let next = known
            .get(&*check.1)
            .and_then(|connection| check_one(&cx, check, connection, &mut states, &mut batch, &mut outcome));
        outcome.checked.push(Checked {
            check: check.clone(),
            next,
        });
    }
    batch.write(client, &states.changed()).await?;
    Ok(outcome)
}

struct Cx<'a> {
    config: &'a Config,
    now: SystemTime,
    floor: Option<Downtime>,
    silences: &'a Arc<Vec<Silence>>,
}

fn check_one(
    cx: &Cx<'_>,
    (rule, _): &Check,
    known: &KnownConnection,
    states: &mut Staged,
    batch: &mut Batch,
    outcome: &mut AbsenceOutcome,
) -> Option<SystemTime> {
    let (rule, silence) = cx.config.rules.get(*rule).and_then(|r| Some((r, r.absence?)))?;
    let start = known.clock_start(silence, cx.floor)?;
    if !watches(rule, &known.as_event(), known.environment) {
        return None;
    }
    let deadline = start + silence;
    if deadline > cx.now {
        return Some(deadline);
    }
    // The message says how long it has really been silent, even when its
    // clock started later (it came back, or syncwatch was down).
    let silent_since = known.last_sync.unwrap_or(known.first_seen);
    let Ok((applied, state)) = apply_absence(
        states,
        cx.config,
        rule,
        known,
        silent_since,
        cx.now,
        cx.silences.clone(),
    );
    let transitions: Vec<String> = applied.transitions.iter().map(|t| t.describe()).collect();
    // A check that moved its alert (muted or not) is recorded as an event
    // of its own (`absence`), so `history` and `explain absence:...` show it.
    if !applied.transitions.is_empty() {
        let dedup_key = format!("absence:{}:{}:{}", rule.name, known.id, millis(cx.now));
        let body = serde_json::json!({ "absence": rule.name, "connectionId": known.id }).to_string();
        let fired = [AlertKey {
            rule: rule.name.clone(),
            connection: known.id.clone(),
            data_type: None,
        }];
        let event = NewEvent {
            dedup_key: &dedup_key,
            request_id: None,
            received_at: cx.now,
            event: Some("absence"),
            connection: Some(&known.id),
            environment: known.environment.as_str(),
            body: body.into(),
            fired: &fired,
            suppressed: &[],
            transitions: &transitions,
        };
        batch.event(event, &applied.notifications, &mut outcome.channels);
    }
    outcome.transitions.extend(transitions);
    Some(match state.map(|s| s.phase) {
        Some(Phase::Firing) => cx.now + rule.repeat_interval.max(MIN_RECHECK),
        Some(Phase::Pending) => cx.now + silence,
        _ => deadline.max(cx.now + MIN_RECHECK),
    })
}

/// Runs `sweep` over the alerts of `connections` (whose locks the
/// transaction holds): see [`Sweep`].
pub async fn sweep(
    client: &Client,
    config: &Config,
    connections: &[String],
    (sweep, now): (&Sweep, SystemTime),
) -> Result<AbsenceOutcome, Error> {
    let (mut states, known) = read_held(client, config, connections).await?;
    let mut outcome = AbsenceOutcome::default();
    let mut batch = Batch::default();
    for connection in connections {
        let Ok(active) = states.active(connection);
        for (key, state) in active {
            let known = known.get(&key.connection);
            let firing = match sweep.needs_firing() {
                true => firing_besides(&key, states.active(connection).unwrap_or_default()),
                false => Vec::new(),
            };
            let Some(swept) = sweep.visit(config, (&key, &state), (known, &firing), now) else {
                continue;
            };
            let Ok(()) = states.put(&key, &swept.state);
            let note = swept.note.as_deref().map_or(String::new(), |n| format!(" ({n})"));
            let transitions: Vec<String> = (swept.applied.transitions.iter())
                .map(|t| format!("{}{note}", t.describe()))
                .collect();
            if !swept.applied.transitions.is_empty() {
                let dedup_key = format!("{}:{}:{}:{}", swept.kind, key.rule, key.connection, millis(now));
                let body = serde_json::json!({ swept.kind: key.rule, "connectionId": key.connection }).to_string();
                let event = NewEvent {
                    dedup_key: &dedup_key,
                    request_id: None,
                    received_at: now,
                    event: Some(swept.kind),
                    connection: Some(&key.connection),
                    environment: known.map_or("production", |k| k.environment.as_str()),
                    body: body.into(),
                    fired: &[],
                    suppressed: &[],
                    transitions: &transitions,
                };
                batch.event(event, &swept.applied.notifications, &mut outcome.channels);
            }
            outcome.transitions.extend(transitions);
        }
    }
    batch.write(client, &states.changed()).await?;
    Ok(outcome)
}
