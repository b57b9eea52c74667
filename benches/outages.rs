//! The cost of an outage's evaluation per event at storm size: 2,000
//! connections of two services, 1,000 of one failing, the outage firing.
//! Each event records its connection's latest outcome, counts its service
//! over the window and moves the outage: on the memory counters (the pure
//! core) and on SQLite's tables inside a transaction (what the daemon runs).
//!
//! Run: `cargo bench --bench outages`

use std::path::Path;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use rusqlite::Connection;

use syncwatch::config::{Config, load_str};
use syncwatch::event::{Event, parse_event};
use syncwatch::outage::{MemoryOutages, OutageStates, observe};
use syncwatch::rules::Environment;
use syncwatch::store::sqlite::outages::SqlOutages;
use syncwatch::store::sqlite::schema::migrate;

const RULES: &str = "rules: []
outages:
  - name: provider-outage
    when: { environment: production }
    failing: { at_least: 10, share: 20% }
    window: 15m
    notify: []
";

const CONNECTIONS: usize = 2000;

fn sync(connection: usize, failed: bool) -> Event {
    let service = if connection.is_multiple_of(2) {
        "quickbooks"
    } else {
        "xero"
    };
    let status = if failed { "failed" } else { "success" };
    let body = format!(
        r#"{{"data":{{"event":"data","connectionId":"CON-{connection}","serviceName":"{service}","sandbox":false,"requests":[{{"request":"bills","status":"{status}"}}]}}}}"#
    );
    parse_event(body.as_bytes()).unwrap()
}

/// Every connection synced once; QuickBooks' all failed: the outage fires.
fn storm<S: OutageStates>(states: &mut S, config: &Config, events: &[Event], start: SystemTime) {
    for (n, event) in events.iter().enumerate() {
        let at = start + Duration::from_millis(n as u64 * 60);
        let Ok(_) = observe(states, &config.outages, (event, Environment::Production), at) else {
            panic!("observe")
        };
    }
}

fn evaluation_per_event(c: &mut Criterion) {
    let config = load_str(RULES, Path::new("bench.yaml"), &|_| None).unwrap();
    let events: Vec<Event> = (0..CONNECTIONS).map(|n| sync(n, n.is_multiple_of(2))).collect();
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let after = start + Duration::from_secs(120);

    let mut memory = MemoryOutages::default();
    storm(&mut memory, &config, &events, start);
    let mut n = 0;
    c.bench_function("outage evaluation per event, 2,000 connections, memory counters", |b| {
        b.iter(|| {
            n = (n + 1) % CONNECTIONS;
            observe(
                &mut memory,
                &config.outages,
                (&events[n], Environment::Production),
                after,
            )
            .map(|(t, _)| t.len())
        })
    });

    let mut conn = Connection::open_in_memory().unwrap();
    migrate(&mut conn).unwrap();
    let tx = conn.transaction().unwrap();
    storm(&mut SqlOutages::new(&tx), &config, &events, start);
    let mut n = 0;
    c.bench_function("outage evaluation per event, 2,000 connections, SQLite counters", |b| {
        b.iter(|| {
            n = (n + 1) % CONNECTIONS;
            let event = (&events[n], Environment::Production);
            observe(&mut SqlOutages::new(&tx), &config.outages, event, after).map(|(t, _)| t.len())
        })
    });
}

criterion_group!(benches, evaluation_per_event);
criterion_main!(benches);
