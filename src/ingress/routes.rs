//! The HTTP routes: POST on the webhook path, `GET /healthz`, `GET /readyz`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde_json::json;
use warp::http::StatusCode;
use warp::path::FullPath;
use warp::{Filter, Rejection, Reply};

use super::body;
use super::ingest::{Answer, IngestError, Running, ingest};
use super::rejection::{Problem, handle_rejection};
use super::state::AppState;
use crate::config::Config;
use crate::metrics::{Format, Metrics};
use crate::status::{self, Filter as StatusFilter};
use crate::verify::{Refusal, check_body, check_headers, parse_header};

pub fn routes(
    state: Arc<AppState>,
    body_timeout: Duration,
) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let (path, max_body) = {
        let config = state.config();
        (config.server.path.clone(), config.server.max_body)
    };
    let budget = body::Budget::for_max_body(max_body);
    let webhook = exact_path(path)
        .and(warp::post())
        .and(warp::header::optional::<String>("railz-signature"))
        .and(warp::header::optional::<String>("authorization"))
        .and(with_state(state.clone()))
        .and_then(check_headers_first)
        .untuple_one()
        .and(body::limited(max_body, body_timeout, budget))
        .and_then(receive_webhook);
    let healthz = warp::path!("healthz")
        .and(warp::get().or(warp::head()).unify())
        .map(|| warp::reply::json(&json!({ "status": "ok" })));
    let readyz = warp::path!("readyz")
        .and(warp::get().or(warp::head()).unify())
        .and(with_state(state.clone()))
        .then(readiness);
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(warp::header::headers_cloned())
        .and(with_state(state.clone()))
        .then(render_metrics);
    let api = warp::path!("api" / "status")
        .and(warp::get())
        .and(warp::query::<StatusFilter>())
        .and(with_state(state.clone()))
        .then(api_status);
    let ui = warp::path("ui")
        .and(warp::path::tail())
        .and(warp::get())
        .and_then(ui_asset);
    let counted = state.metrics.clone();
    webhook
        .or(healthz)
        .or(readyz)
        .or(metrics)
        .or(api)
        .or(ui)
        .recover(move |rejection| handle_rejection(rejection, counted.clone()))
}

/// The configured webhook path, which may have any number of segments.
fn exact_path(path: String) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::path::full()
        .and_then(move |full: FullPath| {
            let matches = full.as_str() == path;
            async move {
                if matches {
                    Ok(())
                } else {
                    Err(warp::reject::not_found())
                }
            }
        })
        .untuple_one()
}

fn with_state(state: Arc<AppState>) -> impl Filter<Extract = (Arc<AppState>,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// Refuses a request whose headers already fail the checks before its body
/// is read, so that an unauthenticated client cannot make the daemon hold
/// megabytes for it.
/// The configuration is read once here and serves the whole request, so a
/// reload in between cannot check the headers and the body against two
/// different secrets.
async fn check_headers_first(
    signature: Option<String>,
    authorization: Option<String>,
    state: Arc<AppState>,
) -> Result<(Option<String>, Arc<Config>, Arc<AppState>), Rejection> {
    let config = state.config();
    let checked = check_headers(
        &config.security,
        signature.as_deref(),
        authorization.as_deref(),
        SystemTime::now(),
    );
    match checked {
        Ok(_) => Ok((signature, config, state)),
        Err(refusal) => Err(refuse(refusal)),
    }
}

fn refuse(refusal: Refusal) -> Rejection {
    tracing::warn!(check = refusal.check(), reason = %refusal, "event rejected: not verified as from Railz");
    warp::reject::custom(Problem::Unauthorized(refusal))
}

async fn receive_webhook(
    signature: Option<String>,
    config: Arc<Config>,
    state: Arc<AppState>,
    (body, _held): (Bytes, body::Held),
) -> Result<impl Reply, Rejection> {
    // The token and the header's form and age passed before the body was
    // read; what is left is the signature over the body.
    let header = signature.as_deref().and_then(|s| parse_header(s).ok());
    if let Err(refusal) = check_body(&config.security, header.as_ref(), &body) {
        return Err(refuse(refusal));
    }
    let bytes = body.len();
    let running = Running {
        config: config.clone(),
        silences: state.silences(),
    };
    match ingest(running, &state.store, &state.metrics, body, SystemTime::now()).await {
        Ok(ingested) => {
            state.wake(&ingested.channels);
            if let Some(known) = &ingested.known {
                state.absence.seen(&config, known);
            }
            let status = match ingested.answer {
                Answer::Accepted => "accepted",
                Answer::Duplicate => "duplicate",
            };
            let event = if ingested.event.is_empty() {
                "unknown"
            } else {
                &ingested.event
            };
            state.metrics.event(event, ingested.environment.as_str(), status);
            Ok(warp::reply::json(&json!({ "status": status })))
        }
        Err(IngestError::NotAnEvent(err)) => {
            tracing::warn!(error = %err, bytes, "event rejected: not a Railz event");
            Err(warp::reject::custom(Problem::NotAnEvent(err)))
        }
        Err(IngestError::Storage(err)) => {
            tracing::error!(error = %err, "event not stored: answering 503 so that Railz retries");
            Err(warp::reject::custom(Problem::StorageUnavailable))
        }
    }
}

/// Headers of every page answer: the page runs only its own script and
/// style, loads nothing from elsewhere, and is never framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async fn ui_asset(tail: warp::path::Tail) -> Result<impl Reply, Rejection> {
    let asset = status::asset(tail.as_str()).ok_or_else(warp::reject::not_found)?;
    let reply = warp::reply::with_header(asset.body, "content-type", asset.content_type);
    Ok(page_headers(reply))
}

fn page_headers(reply: impl Reply) -> impl Reply {
    let reply = warp::reply::with_header(reply, "content-security-policy", CSP);
    let reply = warp::reply::with_header(reply, "x-content-type-options", "nosniff");
    let reply = warp::reply::with_header(reply, "referrer-policy", "no-referrer");
    warp::reply::with_header(reply, "cache-control", "no-store")
}

async fn api_status(filter: StatusFilter, state: Arc<AppState>) -> warp::reply::Response {
    let config = state.config();
    let silences = state.silences();
    let now = SystemTime::now();
    let request = status::request(&config, &silences, &filter, now);
    let read = (state.store).status(&request.filter, &request.absence_rules, request.recent, now);
    match read.await {
        Ok(read) => {
            let status = status::complete(&request, read, &config, &silences, now);
            page_headers(warp::reply::json(&status)).into_response()
        }
        Err(err) => {
            let body = json!({ "error": err.to_string() });
            let reply = warp::reply::with_status(warp::reply::json(&body), StatusCode::SERVICE_UNAVAILABLE);
            page_headers(reply).into_response()
        }
    }
}

/// `/metrics` in the format the scraper's `Accept` asks for: OpenMetrics,
/// or the Prometheus text format 0.0.4 (see `Format::negotiate`).
async fn render_metrics(headers: warp::http::HeaderMap, state: Arc<AppState>) -> impl Reply {
    if let Ok(depth) = state.store.pending_count().await {
        state.metrics.outbox_depth.set(depth as i64);
    }
    state.metrics.absence_planned.set(state.absence.planned() as i64);
    if let Ok(firing) = state.store.firing_by_rule().await {
        let rules: Vec<String> = state.config().rules.iter().map(|r| r.name.clone()).collect();
        state.metrics.set_firing(&rules, &firing);
    }
    Metrics::catch_up(&state.metrics.template_failures, crate::render::template_failures());
    if let Some(sessions) = state.store.sessions() {
        state.metrics.database_sessions.set(sessions.open as i64);
        state.metrics.database_sessions_idle.set(sessions.idle as i64);
        state.metrics.database_session_waiters.set(sessions.waiting as i64);
    }
    if let Some(keys) = state.store.dedup_window() {
        state.metrics.dedup_window.set(keys as i64);
    }
    let (commits, writes) = crate::store::commit_counts();
    Metrics::catch_up(&state.metrics.store_commits, commits);
    Metrics::catch_up(&state.metrics.store_writes, writes);
    // Every Accept line, as one list; a value that is not text is skipped.
    let accept: Vec<&str> = headers
        .get_all(warp::http::header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    let format = Format::negotiate((!accept.is_empty()).then(|| accept.join(",")).as_deref());
    let page = warp::reply::with_header(state.metrics.render(format), "content-type", format.content_type());
    warp::reply::with_header(page, "vary", "accept")
}

async fn readiness(state: Arc<AppState>) -> impl Reply {
    let storage = state.store.is_ready().await;
    let lanes = state.lane_problems();
    let ready = storage && lanes.is_empty();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "storage": storage,
        "config": true,
        "lanes": lanes,
    });
    warp::reply::with_status(warp::reply::json(&body), status)
}
