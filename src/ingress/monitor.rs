//! The dead man's switch: while syncwatch is healthy (storage takes
//! writes, no delivery lane is stuck), it calls `heartbeat.url` every
//! `heartbeat.every`. An external monitor that stops hearing it raises the
//! alarm, which a dead or wedged daemon cannot raise itself.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::Heartbeat;
use crate::metrics::ResultLabels;

use super::state::AppState;

/// A monitor that does not answer within this is counted as failed; the
/// next call comes at the next interval anyway.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Without `heartbeat:`, how often to look again (a reload may add one).
const IDLE: Duration = Duration::from_secs(30);

pub async fn call_heartbeat(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "cannot build the heartbeat client: no heartbeat will be sent");
            return;
        }
    };
    let mut failing = false;
    while !*stop.borrow() {
        let heartbeat = state.config().heartbeat.clone();
        let wait = match &heartbeat {
            Some(heartbeat) => {
                let result = beat(&state, &client, heartbeat, &mut failing).await;
                let labels = ResultLabels { result: result.into() };
                state.metrics.heartbeats.get_or_create(&labels).inc();
                heartbeat.every
            }
            None => IDLE,
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}

/// One interval: `skipped` while unhealthy, else the call's result. Logs a
/// change (first failure, recovery), not every beat.
async fn beat(state: &AppState, client: &reqwest::Client, heartbeat: &Heartbeat, failing: &mut bool) -> &'static str {
    let problems = state.lane_problems();
    if !state.store.is_ready().await || !problems.is_empty() {
        tracing::warn!(lanes = ?problems, "not healthy: the heartbeat is not sent, so its monitor will raise the alarm");
        return "skipped";
    }
    let answer = client.get(heartbeat.url.expose()).send().await;
    // The URL is a credential: log what went wrong, never the URL.
    let error = match answer {
        Ok(response) if response.status().is_success() => None,
        Ok(response) => Some(format!("answered {}", response.status())),
        Err(err) => Some(if err.is_timeout() {
            "no answer".to_owned()
        } else {
            "unreachable".to_owned()
        }),
    };
    match (error, *failing) {
        (None, true) => {
            tracing::info!("the heartbeat monitor answers again");
            *failing = false;
            "ok"
        }
        (None, false) => "ok",
        (Some(error), was_failing) => {
            if !was_failing {
                tracing::warn!(
                    error,
                    "the heartbeat monitor did not take the heartbeat; trying again each interval"
                );
            }
            *failing = true;
            "failed"
        }
    }
}
