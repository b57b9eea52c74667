//! The limit of the stack, for `bench/ingest.sh`: a warp 0.4 server that
//! only reads the body and parses the JSON, nothing else. syncwatch's
//! ingest is measured against it.
//!
//! Run: `cargo run --release --example bare_warp -- 127.0.0.1:9700`

use bytes::Bytes;
use warp::Filter;

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9700".into());
    let route = warp::post().and(warp::body::bytes()).map(|body: Bytes| {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(_) => warp::reply::with_status("{\"status\":\"accepted\"}", warp::http::StatusCode::OK),
            Err(_) => warp::reply::with_status("{\"error\":\"not JSON\"}", warp::http::StatusCode::BAD_REQUEST),
        }
    });
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    warp::serve(route).incoming(listener).run().await;
}
