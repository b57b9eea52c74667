//! Accepting connections with limits, so a slow or stalled client cannot
//! exhaust the daemon: at most `max_connections` at once (more wait in the
//! kernel's backlog), and a connection that has not sent its request
//! headers within `header_timeout` is closed. warp's own server sets
//! neither, so the routes are served through hyper here.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::routes::routes;
use super::state::AppState;

/// The most a connection buffers of what it reads, headers included
/// (hyper's minimum). Its default (~400 KiB) let 1,000 connections that
/// stall mid-body hold 300 MB; bodies are collected under the shared
/// budget instead (see `body`), and Railz's headers are a few hundred
/// bytes, so 8 KiB leaves room for a proxy's own.
const READ_BUFFER_MAX: usize = 8 * 1024;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    /// From the connection's start (or the previous response) to the end
    /// of the request headers.
    pub header_timeout: Duration,
    /// For the whole body, once the headers are in.
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves until `shutdown` completes, then waits up to `grace` for
/// requests in flight: a stalled client cannot hold the stop up.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let service = warp::service(routes(state, limits.body_timeout));
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // Out of file descriptors, say: wait a moment, go on.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_buf_size(READ_BUFFER_MAX)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            drop(permit);
        });
    }
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still in flight at the end of the shutdown grace period were cut off");
    }
}
