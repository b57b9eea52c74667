//! The load generator of `bench/ingest.sh`: posts the Railz full-payload
//! fixture with a unique requestId per request (and a Railz-Signature when
//! given a secret), and reports throughput and latency percentiles.
//!
//! Closed loop (as fast as it goes):
//!   loadgen --url URL --connections 32 --seconds 10 [--secret S]
//! Fixed rate (latency at a given load):
//!   loadgen --url URL --rate 1000 --seconds 10 [--secret S]
//! Notification latency (webhook sent → message at a local Slack sink):
//!   loadgen --url URL --rate 100 --seconds 10 --sink 127.0.0.1:9799
//! Many known connections (each request a connection of its own, N in all):
//!   loadgen --url URL --connections 32 --seconds 600 --requests 100000 --distinct-connections 1
//! Prints one JSON line.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use warp::Filter;

const FIXTURE: &str = include_str!("../tests/fixtures/data-full.json");

struct Args {
    url: String,
    connections: usize,
    seconds: u64,
    rate: Option<u64>,
    secret: Option<String>,
    sink: Option<String>,
    /// Stop after this many requests.
    requests: Option<u64>,
    /// Give each request a connectionId of its own.
    distinct_connections: bool,
}

fn args() -> Args {
    let mut args = Args {
        url: "http://127.0.0.1:9650/webhooks/railz".into(),
        connections: 32,
        seconds: 10,
        rate: None,
        secret: None,
        sink: None,
        requests: None,
        distinct_connections: false,
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--url" => args.url = value,
            "--connections" => args.connections = value.parse().expect("a number"),
            "--seconds" => args.seconds = value.parse().expect("a number"),
            "--rate" => args.rate = Some(value.parse().expect("a number")),
            "--secret" => args.secret = Some(value),
            "--sink" => args.sink = Some(value),
            "--requests" => args.requests = Some(value.parse().expect("a number")),
            "--distinct-connections" => args.distinct_connections = value == "1",
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

/// The fixture with `requestId` replaced, so every request is a new event
/// (and the connection, with `distinct`). The ids look like Railz's, random
/// UUIDs: a counter would sort in arrival order and spare the store's
/// dedup index the random page each real event costs it.
fn body(id: &str, n: u64, distinct: bool) -> Bytes {
    let mut text = FIXTURE.replace("a3b4fc83-3e24-41aa-ba99-13cab09b0b7a", id);
    if distinct {
        text = text.replace("CON-0a4e97aa-7a77-bbbb-00aa-b1b1001aa00", &format!("CON-bench-{n}"));
    }
    Bytes::from(text)
}

/// The `n`th request's id in run `run`: random-looking, in the layout of a
/// version 4 UUID, the same for the same inputs.
fn request_id(run: u128, n: u64) -> String {
    let seed = run as u64 ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let (a, b) = (
        splitmix64(seed),
        splitmix64(seed ^ n.rotate_left(32) ^ 0x5851_f42d_4c95_7f2d),
    );
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

fn is_uuid(word: &str) -> bool {
    word.len() == 36
        && word
            .char_indices()
            .all(|(i, c)| (c == '-') == matches!(i, 8 | 13 | 18 | 23))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[derive(Default)]
struct Tally {
    /// Latency of each answered request, in microseconds.
    latencies: Vec<u64>,
    errors: u64,
    statuses: std::collections::BTreeMap<u16, u64>,
}

async fn send(
    client: &reqwest::Client,
    args: &Args,
    run: u128,
    n: u64,
    tally: &Mutex<Tally>,
    sent: &Mutex<Vec<(String, Instant)>>,
) {
    let id = request_id(run, n);
    let body = body(&id, n, args.distinct_connections);
    let mut request = client.post(&args.url).header("content-type", "application/json");
    if let Some(secret) = &args.secret {
        request = request.header(
            "Railz-Signature",
            syncwatch::verify::sign(secret, &body, SystemTime::now()),
        );
    }
    let start = Instant::now();
    if args.sink.is_some() {
        sent.lock().unwrap().push((id, start));
    }
    let result = request.body(body).send().await;
    let elapsed = start.elapsed().as_micros() as u64;
    let mut tally = tally.lock().unwrap();
    match result {
        Ok(response) => {
            *tally.statuses.entry(response.status().as_u16()).or_default() += 1;
            tally.latencies.push(elapsed);
        }
        Err(_) => tally.errors += 1,
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index] as f64 / 1000.0
}

/// A Slack stand-in that notes when each message arrives, under every
/// UUID-shaped word in it: the one that is a requestId sent is matched at
/// the end.
fn start_sink(addr: &str, arrivals: Arc<Mutex<Vec<(String, Instant)>>>) {
    let route = warp::post().and(warp::body::bytes()).map(move |body: Bytes| {
        let at = Instant::now();
        let text = String::from_utf8_lossy(&body);
        let mut words: Vec<&str> = text
            .split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
            .filter(|word| is_uuid(word))
            .collect();
        words.sort_unstable();
        words.dedup();
        let mut arrivals = arrivals.lock().unwrap();
        arrivals.extend(words.into_iter().map(|word| (word.to_owned(), at)));
        "ok"
    });
    let addr: std::net::SocketAddr = addr.parse().expect("sink address");
    tokio::spawn(warp::serve(route).run(addr));
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Arc::new(args());
    let run = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    if let Some(sink) = &args.sink {
        start_sink(sink, arrivals.clone());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let client = reqwest::Client::builder().pool_max_idle_per_host(1024).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    match args.rate {
        None => {
            for _ in 0..args.connections {
                let (client, args, tally, sent, counter) = (
                    client.clone(),
                    args.clone(),
                    tally.clone(),
                    sent.clone(),
                    counter.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    while Instant::now() < deadline {
                        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if args.requests.is_some_and(|max| n >= max) {
                            break;
                        }
                        send(&client, &args, run, n, &tally, &sent).await;
                    }
                }));
            }
        }
        Some(rate) => {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut n = 0;
            while Instant::now() < deadline {
                tick.tick().await;
                let (client, args, tally, sent) = (client.clone(), args.clone(), tally.clone(), sent.clone());
                tasks.push(tokio::spawn(async move {
                    send(&client, &args, run, n, &tally, &sent).await
                }));
                n += 1;
            }
        }
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if args.sink.is_some() {
        // Let the last notifications arrive.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let tally = tally.lock().unwrap();
    let mut latencies = tally.latencies.clone();
    latencies.sort_unstable();
    let mut notify = Vec::new();
    if args.sink.is_some() {
        let sent: std::collections::HashMap<String, Instant> = sent.lock().unwrap().iter().cloned().collect();
        for (id, at) in arrivals.lock().unwrap().iter() {
            if let Some(start) = sent.get(id) {
                notify.push(at.duration_since(*start).as_micros() as u64);
            }
        }
        notify.sort_unstable();
    }
    println!(
        "{{\"requests\":{},\"errors\":{},\"statuses\":{:?},\"seconds\":{:.2},\"rps\":{:.0},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"notified\":{},\"notify_p50_ms\":{:.2},\"notify_p99_ms\":{:.2}}}",
        latencies.len(),
        tally.errors,
        format!("{:?}", tally.statuses),
        elapsed,
        latencies.len() as f64 / elapsed,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        notify.len(),
        percentile(&notify, 0.50),
        percentile(&notify, 0.99),
    );
}
