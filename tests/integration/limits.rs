//! Slow and stalled clients: they are cut off, and valid webhooks still get
//! through while they hang on.

use std::time::{Duration, Instant};

use syncwatch::ingress::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{fast_settings, fixture, spawn_app_with};

const RULES: &str = "rules:\n  - name: failed\n    notify: []\n    when: { failed: { above: 0 } }\n";

fn settings(max_connections: usize) -> syncwatch::ingress::Settings {
    let mut settings = fast_settings();
    settings.limits = Limits {
        max_connections,
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
    };
    settings
}

/// Opens a connection and sends the start of a request, never its end.
async fn stalled(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /webhooks/railz HTTP/1.1\r\nHost: syncwatch\r\nX-Slow: ")
        .await
        .unwrap();
    stream
}

/// Whether the server closed the connection (a read ends or fails).
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 1024];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await,
        Ok(Ok(_)) | Ok(Err(_))
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_connections_are_cut_off_and_valid_webhooks_still_get_through() {
    const STALLED: usize = 300;
    let app = spawn_app_with(RULES, settings(1024)).await;
    let mut slow = Vec::new();
    for _ in 0..STALLED {
        slow.push(stalled(app.addr).await);
    }
    let body = std::fs::read(fixture("data-full.json")).unwrap();
    for i in 0..20 {
        let unique = String::from_utf8_lossy(&body).replace("a3b4fc83", &format!("slow-{i}"));
        assert_eq!(
            app.post_json(unique).await.0,
            200,
            "a valid webhook among {STALLED} stalled connections"
        );
    }
    let mut cut = 0;
    for stream in &mut slow {
        if closed_by_server(stream).await {
            cut += 1;
        }
    }
    assert_eq!(
        cut, STALLED,
        "every stalled connection is closed after the header timeout"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_stops_arriving_gets_408() {
    let app = spawn_app_with(RULES, settings(1024)).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"POST /webhooks/railz HTTP/1.1\r\nHost: syncwatch\r\nContent-Length: 100\r\n\r\n{\"data\":")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server answered and closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("the body did not arrive within 1 s"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn at_the_connection_cap_a_new_client_waits_for_a_free_slot() {
    let app = spawn_app_with(RULES, settings(4)).await;
    let mut slow = Vec::new();
    for _ in 0..4 {
        slow.push(stalled(app.addr).await);
    }
    let started = Instant::now();
    let (status, _) = app.post_json(std::fs::read(fixture("data-full.json")).unwrap()).await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "served only once the stalled ones were cut off"
    );
}
