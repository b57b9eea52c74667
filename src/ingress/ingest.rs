//! One webhook, from bytes to stored deliveries: parse, skip a redelivery,
//! evaluate, render, and store it all in one step. Nothing here waits on
//! Slack or SMTP.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::absence::KnownConnection;
use crate::config::Config;
use crate::event::{Event, ParseError, parse_event};
use crate::lifecycle::{AlertInput, matches_of};
use crate::metrics::Metrics;
use crate::quiet::Silence;
use crate::rules::Environment;
use crate::store::{Ingest, IngestOutcome, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    NotAnEvent(#[from] ParseError),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// The result of a successful ingest, and the channels to wake.
pub struct Ingested {
    pub answer: Answer,
    pub channels: Vec<String>,
    /// For metrics: the event's name and environment.
    pub event: String,
    pub environment: Environment,
    /// The connection the event names, as now known, for absence rules.
    pub known: Option<Box<KnownConnection>>,
    /// The alerts it moved, described (`rule/connection: new → firing, ...`).
    pub transitions: Vec<String>,
}

/// Bodies above this size are parsed and evaluated on a blocking thread:
/// a payload of 100,000 data types takes long enough to stall every other
/// request (and `/healthz`) served by the same async worker.
const HEAVY_BODY: usize = 256 * 1024;

/// What ingest reads of the running daemon: the configuration and the
/// silences in force, as one consistent snapshot.
#[derive(Clone)]
pub struct Running {
    pub config: Arc<Config>,
    pub silences: Arc<Vec<Silence>>,
}

pub async fn ingest(
    running: Running,
    store: &Store,
    metrics: &Metrics,
    body: Bytes,
    received_at: SystemTime,
) -> Result<Ingested, IngestError> {
    if body.len() <= HEAVY_BODY {
        return ingest_parsed(&running, store, metrics, parse_event(&body)?, body, received_at).await;
    }
    let parsing = body.clone();
    let event = off_runtime(move || parse_event(&parsing)).await?;
    ingest_parsed(&running, store, metrics, event, body, received_at).await
}

/// Runs `work` on tokio's blocking pool.
async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(err) => std::panic::resume_unwind(err.into_panic()),
    }
}

async fn ingest_parsed(
    running: &Running,
    store: &Store,
    metrics: &Metrics,
    event: Event,
    body: Bytes,
    received_at: SystemTime,
) -> Result<Ingested, IngestError> {
    let dedup_key = dedup_key(&event, &body);
    let environment = Environment::of(&event, running.config.defaults.missing_sandbox);
    // No read-before-write for duplicates: the store's transaction
    // recognises a redelivery atomically, and evaluating one costs
    // microseconds, less than a query on this async worker would.
    let (event, record, matched) = if body.len() <= HEAVY_BODY {
        plan(running, event, dedup_key, body, environment, received_at)
    } else {
        let running = running.clone();
        off_runtime(move || plan(&running, event, dedup_key, body, environment, received_at)).await
    };
    let outcome = store.ingest(record).await?;
    // A redelivery is not a match again.
    if matches!(outcome, IngestOutcome::Accepted { .. }) {
        for rule in &matched {
            metrics.rule_matched(rule);
        }
    }
    Ok(log_outcome(&event, environment, &matched, outcome))
}

/// Evaluates the rules: everything the store needs to record the event
/// and move its alerts in one step. Rendering waits for the transitions,
/// which only the store can know.
fn plan(
    running: &Running,
    event: Event,
    dedup_key: String,
    body: Bytes,
    environment: Environment,
    received_at: SystemTime,
) -> (Arc<Event>, Ingest, Vec<String>) {
    let config = &running.config;
    let matches = matches_of(config, &event, environment);
    let matched: Vec<String> = matches.iter().map(|m| config.rules[m.rule].name.clone()).collect();
    let event = Arc::new(event);
    let record = Ingest {
        dedup_key,
        body,
        alerts: AlertInput {
            config: config.clone(),
            event: event.clone(),
            environment,
            received_at,
            matches,
            silences: running.silences.clone(),
            stale: false,
        },
    };
    (event, record, matched)
}

/// The `requestId`, which Railz repeats on a retry; without one, the body
/// itself identifies the event.
fn dedup_key(event: &Event, body: &[u8]) -> String {
    match &event.request_id {
        Some(id) => id.clone(),
        None => {
            let digest = Sha256::digest(body);
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            format!("sha256:{hex}")
        }
    }
}

fn log_outcome(event: &Event, environment: Environment, matched: &[String], outcome: IngestOutcome) -> Ingested {
    let request_id = event.request_id.as_deref().unwrap_or("-");
    let kind = event.event.as_deref().unwrap_or("-");
    let connection = event.connection_id.as_deref().unwrap_or("-");
    let ingested = |answer, channels, known, transitions| Ingested {
        answer,
        channels,
        event: kind.to_owned(),
        environment,
        known,
        transitions,
    };
    match outcome {
        IngestOutcome::Duplicate => {
            tracing::info!(request_id, "duplicate event ignored");
            ingested(Answer::Duplicate, Vec::new(), None, Vec::new())
        }
        IngestOutcome::Accepted {
            notified,
            suppressed,
            channels,
            transitions,
            known,
        } => {
            let quiet: Vec<String> = suppressed.iter().map(ToString::to_string).collect();
            for transition in &transitions {
                tracing::info!(request_id, alert = %transition, "alert moved");
            }
            tracing::info!(
                request_id,
                event = kind,
                environment = environment.as_str(),
                connection,
                matched = %matched.join(","),
                notifying = notified.len(),
                quiet = %quiet.join(","),
                "event received"
            );
            ingested(Answer::Accepted, channels, known, transitions)
        }
    }
}
