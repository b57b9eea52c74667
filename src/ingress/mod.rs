//! The HTTP side: the webhook endpoint and the health endpoints, on warp.

mod app;
mod body;
mod ingest;
mod rejection;
mod routes;

pub use app::{App, AppState, BuildError, Settings};
pub use ingest::{Answer, IngestError, ingest};
