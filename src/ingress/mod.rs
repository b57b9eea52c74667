//! The HTTP side: the webhook endpoint and the health endpoints, on warp.

mod app;
mod background;
mod body;
mod ingest;
mod listener;
mod monitor;
mod rejection;
mod routes;
mod state;

pub use app::{App, BuildError, Settings};
pub use ingest::{Answer, IngestError, Running, ingest};
pub use listener::Limits;
pub use state::AppState;
