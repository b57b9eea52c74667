//! Every refusal the HTTP side can give, mapped to its status and a JSON
//! body that says why, in one place.

use std::convert::Infallible;
use std::sync::Arc;

use serde_json::json;
use warp::http::StatusCode;
use warp::{Rejection, Reply};

use crate::event::ParseError;
use crate::metrics::Metrics;
use crate::verify::Refusal;

/// Why a request was refused.
#[derive(Debug)]
pub enum Problem {
    /// Not JSON, or JSON that is not a Railz event.
    NotAnEvent(ParseError),
    TooLarge {
        max: u64,
    },
    /// The body did not arrive in time: a stalled or very slow client.
    BodyTimeout {
        timeout: std::time::Duration,
    },
    BodyRead(String),
    /// Nothing was stored: Railz should retry.
    StorageUnavailable,
    /// Not signed (or not authorised) as `security` requires.
    Unauthorized(Refusal),
}

impl warp::reject::Reject for Problem {}

impl Problem {
    /// The `outcome` label of the events metric.
    fn outcome(&self) -> &'static str {
        match self {
            Problem::NotAnEvent(_) | Problem::BodyRead(_) => "invalid",
            Problem::TooLarge { .. } => "too_large",
            Problem::BodyTimeout { .. } => "timeout",
            Problem::StorageUnavailable => "unavailable",
            Problem::Unauthorized(_) => "unauthorized",
        }
    }

    fn status_and_body(&self) -> (StatusCode, serde_json::Value) {
        match self {
            Problem::NotAnEvent(err) => (
                StatusCode::BAD_REQUEST,
                json!({ "error": err.to_string(), "path": err.path() }),
            ),
            Problem::TooLarge { max } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({ "error": format!("body is larger than server.max_body ({max} bytes)") }),
            ),
            Problem::BodyTimeout { timeout } => (
                StatusCode::REQUEST_TIMEOUT,
                json!({ "error": format!("the body did not arrive within {} s", timeout.as_secs()) }),
            ),
            Problem::BodyRead(reason) => (
                StatusCode::BAD_REQUEST,
                json!({ "error": format!("cannot read the body: {reason}") }),
            ),
            Problem::Unauthorized(refusal) => (
                StatusCode::UNAUTHORIZED,
                json!({ "error": refusal.to_string(), "check": refusal.check() }),
            ),
            Problem::StorageUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": "storage unavailable: the event was not stored, retry later" }),
            ),
        }
    }
}

pub async fn handle_rejection(rejection: Rejection, metrics: Arc<Metrics>) -> Result<impl Reply, Infallible> {
    let (status, body) = if let Some(problem) = rejection.find::<Problem>() {
        metrics.event("unknown", "unknown", problem.outcome());
        problem.status_and_body()
    } else if rejection.is_not_found() {
        (StatusCode::NOT_FOUND, json!({ "error": "not found" }))
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        (StatusCode::METHOD_NOT_ALLOWED, json!({ "error": "method not allowed" }))
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        (StatusCode::PAYLOAD_TOO_LARGE, json!({ "error": "body too large" }))
    } else {
        tracing::warn!(?rejection, "unhandled rejection");
        (StatusCode::BAD_REQUEST, json!({ "error": format!("{rejection:?}") }))
    };
    Ok(warp::reply::with_status(warp::reply::json(&body), status))
}
