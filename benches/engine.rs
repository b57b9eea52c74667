//! Micro-benchmarks of the pure core: parse + normalise a webhook, evaluate
//! rule sets of growing size, and render the messages.
//!
//! Run: `cargo bench --bench engine`

use std::path::Path;
use std::time::SystemTime;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use syncwatch::config::load_str;
use syncwatch::event::parse_event;
use syncwatch::render::{Alert, Facts, render_email, render_slack};
use syncwatch::rules::{Environment, Rule, evaluate};

const FULL: &str = include_str!("../tests/fixtures/data-full.json");

/// `n` rules cycling through every kind of condition; one in ten fires on
/// the full fixture, like a real rules file where most rules stay quiet.
fn rules(n: usize) -> Vec<Rule> {
    // One `when` a line, shared with bench/make_rules.py.
    let whens: Vec<&str> = include_str!("../bench/whens.txt")
        .lines()
        .filter(|l| !l.is_empty())
        .collect();
    let mut text = String::from("rules:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - name: rule-{i}\n    notify: []\n    when: {}\n",
            whens[i % whens.len()]
        ));
    }
    load_str(&text, Path::new("bench.yaml"), &|_| None)
        .expect("bench rules load")
        .rules
}

fn full_payload(requests: usize) -> String {
    let entries: Vec<String> = (0..requests)
        .map(|i| {
            let status = ["success", "failed", "empty"][i % 3];
            format!(
                r#"{{"id":"{i}","request":"type{}","startDate":"2020-01-01","endDate":"2020-01-31","reportFrequency":"month","status":"{status}"}}"#,
                i % 25
            )
        })
        .collect();
    format!(
        r#"{{"data":{{"event":"data","connectionId":"CON-1","businessName":"BIZ-1","serviceName":"quickbooks","dataSyncType":"fullSync","sandbox":false,"requests":[{}]}},"requestId":"r-1"}}"#,
        entries.join(",")
    )
}

fn parse_and_evaluate(c: &mut Criterion) {
    let rules = rules(100);
    c.bench_function("fixture data-full: parse + normalise + evaluate 100 rules", |b| {
        b.iter(|| {
            let event = parse_event(FULL.as_bytes()).unwrap();
            evaluate(&rules, &event, Environment::Production).len()
        })
    });
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse + normalise");
    for requests in [5, 500, 5000] {
        let body = full_payload(requests);
        group.throughput(Throughput::Elements(requests as u64));
        group.bench_with_input(BenchmarkId::from_parameter(requests), &body, |b, body| {
            b.iter(|| parse_event(body.as_bytes()).unwrap())
        });
    }
    group.finish();
}

fn evaluation(c: &mut Criterion) {
    let event = parse_event(FULL.as_bytes()).unwrap();
    let mut group = c.benchmark_group("evaluate (rules)");
    for n in [1, 10, 100, 1000] {
        let rules = rules(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &rules, |b, rules| {
            b.iter(|| evaluate(rules, &event, Environment::Production).len())
        });
    }
    group.finish();
}

fn rendering(c: &mut Criterion) {
    let rules = rules(1);
    let event = parse_event(FULL.as_bytes()).unwrap();
    let matched = evaluate(&rules, &event, Environment::Production).remove(0);
    let alert = Alert {
        rule: matched.rule,
        event: &event,
        evidence: &matched.evidence,
        environment: Environment::Production,
        received_at: SystemTime::now(),
    };
    c.bench_function("render slack", |b| b.iter(|| render_slack(&Facts::gather(&alert))));
    c.bench_function("render email", |b| b.iter(|| render_email(&Facts::gather(&alert))));
}

criterion_group!(benches, parse_and_evaluate, parse, evaluation, rendering);
criterion_main!(benches);
