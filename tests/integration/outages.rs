//! Provider outages, end to end on the real clock: a storm of one
//! service's failures is one outage message; the alerts it held are on the
//! page, and when it resolves the connections still failing are told.

use std::time::{Duration, Instant};

use crate::helpers::{
    Backend, RulesFile, SlackReply, SlackStandIn, TestApp, database, eventually, fast_settings, spawn_app_on,
    syncwatch_async,
};

const WAIT: Duration = Duration::from_secs(30);

fn rules(slack: &SlackStandIn, after: u32, window: &str) -> String {
    format!(
        "channels:
  ops:
    slack: {{ webhook_url: \"{}\", min_interval: 0s }}
    digest: {{ after: {after}, window: 20s, max_items: 20 }}
defaults:
  notify: [ops]
rules:
  - name: sync-failed
    when: {{ failed: {{ above: 0 }} }}
outages:
  - name: provider-outage
    when: {{ environment: production }}
    failing: {{ at_least: 10, share: 20% }}
    window: {window}
",
        slack.url()
    )
}

fn sync(connection: usize, service: &str, request_id: &str, status: &str) -> String {
    format!(
        r#"{{"data":{{"event":"data","connectionId":"CON-{connection}","businessName":"Acme {connection}","serviceName":"{service}","sandbox":false,"requests":[{{"request":"bills","status":"{status}"}}]}},"requestId":"{request_id}"}}"#
    )
}

async fn post_all(app: &TestApp, bodies: Vec<String>) {
    for chunk in bodies.chunks(16) {
        let posts = chunk.iter().map(|body| app.post_ok(body.clone()));
        futures_util::future::join_all(posts).await;
    }
}

/// How the CLI finds the app's store: `--db FILE` for SQLite, `--config`
/// with a rules file naming the database for PostgreSQL (kept alive with
/// the arguments).
fn cli_store(app: &TestApp, backend: &Backend, yaml: &str) -> (Vec<String>, Option<RulesFile>) {
    match backend {
        Backend::Sqlite => (vec!["--db".into(), database(&app.dir).display().to_string()], None),
        Backend::Postgres(url) => {
            let file = RulesFile::new(&format!("{yaml}storage:\n  postgres: {url}\n"));
            (vec!["--config".into(), file.path.display().to_string()], Some(file))
        }
    }
}

/// A failed sync of each connection `CON-n` of `service`, one after the
/// other (requestId `prefix-n`).
async fn fail_each(app: &TestApp, service: &str, connections: std::ops::Range<usize>, prefix: &str) {
    for n in connections {
        app.post_ok(sync(n, service, &format!("{prefix}-{n}"), "failed")).await;
    }
}

async fn firing_alerts(app: &TestApp) -> Vec<serde_json::Value> {
    let status = app.status("?alerts_per_page=1000&rule=sync-failed").await;
    status["alerts"].as_array().cloned().unwrap_or_default()
}

/// 2,000 connections, 1,000 of QuickBooks failing within 2 minutes: at
/// most `digest.after` messages before the outage fired, then the outage's
/// one message; every failing connection on the page, held.
async fn a_storm_of_one_service_is_one_outage_message(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let after = 3;
    // A digest window far longer than the test: the outage's message must
    // not wait for its end.
    let yaml = rules(&slack, after, "15m").replace("window: 20s", "window: 10m");
    let app = spawn_app_on(&backend, &yaml, fast_settings()).await;
    let services = |n: usize| if n.is_multiple_of(2) { "quickbooks" } else { "xero" };
    let clean = (0..2000).map(|n| sync(n, services(n), &format!("clean-{n}"), "success"));
    post_all(&app, clean.collect()).await;
    let started = Instant::now();
    let failed = (0..2000)
        .step_by(2)
        .map(|n| sync(n, "quickbooks", &format!("fail-{n}"), "failed"));
    post_all(&app, failed.collect()).await;
    let storm = started.elapsed();
    assert!(storm < Duration::from_secs(120), "within 2 minutes: {storm:?}");
    let outage = |m: &serde_json::Value| m.to_string().contains("quickbooks outage");
    assert!(
        eventually(WAIT, || slack.delivered().iter().any(outage)).await,
        "{:?}",
        slack.headers()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let delivered = slack.delivered();
    let position = delivered.iter().position(outage).unwrap();
    assert!(
        position <= after as usize,
        "{} messages before the outage: {:?}",
        position,
        slack.headers()
    );
    assert_eq!(delivered.len(), position + 1, "nothing after it: {:?}", slack.headers());
    assert_eq!(
        slack.headers()[position],
        "CRITICAL provider-outage",
        "the outage's message stands alone, never in a digest"
    );
    assert!(
        delivered[position]
            .to_string()
            .contains("of 1000 production connections failing"),
        "{}",
        delivered[position]
    );
    let firing = firing_alerts(&app).await;
    assert_eq!(firing.len(), 1000, "every failing connection on the page");
    let held = firing
        .iter()
        .filter(|a| a["silenced_by"] == "held by outage provider-outage")
        .count();
    assert!(held >= 1000 - after as usize, "held: {held}");
    eprintln!(
        "storm: 1000 failures posted in {storm:?}; {} messages, outage at {position}",
        delivered.len()
    );
}

on_both_stores!(a_storm_of_one_service_is_one_outage_message);

on_both_stores!(when_the_outage_resolves_the_connections_still_failing_are_told);

/// A short window on the real clock: the outage fires at the 10th
/// failure (the 9 before it were told); it resolves after a clear window;
/// the two connections still failing (held) are then told as FIRING, the
/// held ones that recovered send nothing, the told ones their RESOLVED.
async fn when_the_outage_resolves_the_connections_still_failing_are_told(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let app = spawn_app_on(&backend, &rules(&slack, 100, "2s"), fast_settings()).await;
    fail_each(&app, "xero", 0..20, "a").await;
    let outage = |m: &serde_json::Value| m.to_string().contains("xero outage");
    assert!(
        eventually(WAIT, || slack.delivered().iter().any(outage)).await,
        "{:?}",
        slack.headers()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The 10th failure fired it; a FIRING still queued then was held too.
    let told = slack.delivered().iter().position(outage).unwrap();
    assert!((5..=9).contains(&told), "{:?}", slack.headers());
    assert_eq!(slack.delivered().len(), told + 1, "{:?}", slack.headers());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // All but CON-18 and CON-19 recover, over two windows.
    for round in 0..2 {
        let recovered = (0..18).map(|n| sync(n, "xero", &format!("b-{round}-{n}"), "success"));
        post_all(&app, recovered.collect()).await;
        tokio::time::sleep(Duration::from_millis(2100)).await;
    }
    app.post_ok(sync(40, "xero", "c-40", "success")).await;
    let released = |m: &serde_json::Value| m.to_string().contains("still failing after the outage");
    let count = |f: &dyn Fn(&serde_json::Value) -> bool| slack.delivered().iter().filter(|m| f(m)).count();
    assert!(
        eventually(WAIT, || count(&released) == 2).await,
        "{:#?}",
        slack.headers()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let headers = slack.headers();
    let over = |m: &serde_json::Value| m.to_string().contains("xero outage over");
    assert_eq!(count(&over), 1, "{headers:#?}");
    let resolved = headers.iter().filter(|h| h.contains("RESOLVED sync-failed")).count();
    assert_eq!(
        resolved, told,
        "the told ones resolve, the held ones say nothing: {headers:#?}"
    );
    assert_eq!(headers.len(), told + 1 + told + 1 + 2, "{headers:#?}");
    let told: Vec<String> = slack
        .delivered()
        .iter()
        .filter(|m| released(m))
        .map(|m| m.to_string())
        .collect();
    assert!(
        told.iter().any(|m| m.contains("CON-18")) && told.iter().any(|m| m.contains("CON-19")),
        "{told:?}"
    );
}

on_both_stores!(an_outage_resolves_on_the_timer_when_nothing_syncs_any_more);

/// No event after the storm (the provider's connections all went quiet):
/// the timer still resolves the outage after a clear window, and tells the
/// held alerts, which no sync has shown clean.
async fn an_outage_resolves_on_the_timer_when_nothing_syncs_any_more(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let app = spawn_app_on(&backend, &rules(&slack, 100, "1s"), fast_settings()).await;
    // Two services at once: both resolve on the same tick, each recorded
    // as an event of its own.
    for n in 0..12 {
        app.post_ok(sync(n, "sage", &format!("q-{n}"), "failed")).await;
        app.post_ok(sync(100 + n, "zoho", &format!("z-{n}"), "failed")).await;
    }
    for service in ["sage", "zoho"] {
        let over = |m: &serde_json::Value| m.to_string().contains(&format!("{service} outage over"));
        assert!(
            eventually(WAIT, || slack.delivered().iter().any(over)).await,
            "{:?}",
            slack.headers()
        );
    }
    let released = |m: &serde_json::Value| m.to_string().contains("still failing after the outage");
    assert!(eventually(WAIT, || slack.delivered().iter().filter(|m| released(m)).count() >= 6).await);
    // Each outage's RESOLVED comes before the alerts it releases, and
    // counts them although none of its connections synced since.
    let delivered = slack.delivered();
    let over = |m: &serde_json::Value| m.to_string().contains("outage over");
    let first_over = delivered.iter().position(over).unwrap();
    let first_released = delivered.iter().position(released).unwrap();
    assert!(first_over < first_released, "{:#?}", slack.headers());
    let said = delivered[first_over].to_string();
    assert!(
        said.contains("no production connections synced in the last 1s; 12 still failing"),
        "{said}"
    );
    let status = app.status("").await;
    assert_eq!(
        status["outages"].as_array().map(Vec::len),
        Some(0),
        "no banner: {}",
        status["outages"]
    );
}

on_both_stores!(the_page_shows_a_banner_per_firing_outage_and_the_failure_chart);

async fn the_page_shows_a_banner_per_firing_outage_and_the_failure_chart(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let yaml = rules(&slack, 100, "15m");
    let app = spawn_app_on(&backend, &yaml, fast_settings()).await;
    for n in 0..4 {
        app.post_ok(sync(100 + n, "xero", &format!("ok-{n}"), "success")).await;
    }
    fail_each(&app, "quickbooks", 0..12, "p").await;
    let status = app.status("").await;
    assert_eq!(status["outages"][0]["group"], "quickbooks", "{}", status["outages"]);
    let page = app.dom("/ui").await;
    assert!(
        page.contains("quickbooks outage (provider-outage): 12 of 12 connections failing (100%)")
            && page.contains("their alerts are held until it resolves"),
        "the banner: {page}"
    );
    assert!(
        page.contains("<svg") && page.contains("class=\"bar\""),
        "the chart: {page}"
    );
    assert!(
        page.contains("quickbooks, failing share per hour: "),
        "its text: {page}"
    );
    assert!(
        page.contains("xero, failing share per hour: ") && page.contains("0% of 4"),
        "{page}"
    );
    assert!(
        page.contains("held by outage provider-outage"),
        "the held alerts: {page}"
    );
    // The 10th failure fired it: the ones after it (and any still queued)
    // are held, and count as silenced.
    let status = app.status("?alerts_per_page=100").await;
    let alerts = status["alerts"].as_array().unwrap();
    let held = (alerts.iter())
        .filter(|a| a["silenced_by"] == "held by outage provider-outage")
        .count();
    assert!(held >= 3, "{}", status["alerts"]);
    assert_eq!(
        status["totals"]["silenced"], held,
        "held counts as silenced: {}",
        status["totals"]
    );
    let (store, _file) = cli_store(&app, &backend, &yaml);
    let listed = syncwatch_async([vec!["alerts".into()], store.clone()].concat()).await;
    let stderr = String::from_utf8_lossy(&listed.stderr).to_string();
    assert!(
        !stderr.contains("NOTICE"),
        "a read-only command says nothing of the schema: {stderr}"
    );
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(listed.contains("OUTAGES (1 firing)"), "{listed}");
    // The queued FIRINGs it held, as documented: `history --status held`.
    let history = [vec!["history".into(), "--status".into(), "held".into()], store.clone()].concat();
    let history = syncwatch_async(history).await;
    assert_eq!(
        history.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&history.stderr)
    );

    assert!(
        listed.contains("provider-outage  quickbooks  12 of 12 connections failing"),
        "{listed}"
    );
}

on_both_stores!(a_reload_that_removes_a_firing_outage_tells_what_it_held);

/// An outage removed by a reload while it fires: what it held is told (no
/// alert stays held by an outage nobody defines any more).
async fn a_reload_that_removes_a_firing_outage_tells_what_it_held(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let yaml = rules(&slack, 100, "15m");
    let app = spawn_app_on(&backend, &yaml, fast_settings()).await;
    fail_each(&app, "xero", 0..12, "r").await;
    let outage = |m: &serde_json::Value| m.to_string().contains("xero outage");
    assert!(eventually(WAIT, || slack.delivered().iter().any(outage)).await);
    let without = yaml[..yaml.find("outages:").unwrap()].to_owned();
    app.reload(&without).await;
    let released = |m: &serde_json::Value| m.to_string().contains("still failing after the outage");
    assert!(
        eventually(WAIT, || slack.delivered().iter().filter(|m| released(m)).count() >= 2).await,
        "{:?}",
        slack.headers()
    );
    // Its channel, told it fired, hears that it is over, and why.
    let closed = |m: &serde_json::Value| {
        m.to_string()
            .contains("outage `provider-outage` was removed from rules.yaml")
    };
    assert!(
        eventually(WAIT, || slack.delivered().iter().filter(|m| closed(m)).count() == 1).await,
        "{:?}",
        slack.headers()
    );
    let status = app.status("").await;
    assert_eq!(
        status["outages"].as_array().map(Vec::len),
        Some(0),
        "{}",
        status["outages"]
    );
}

/// Two instances on one PostgreSQL database, the failing syncs split
/// between them and posted at once: the outage fires once (one message
/// per channel), and when it resolves on the timer (both instances tick)
/// it is over once, and each held connection is told once.
#[tokio::test]
async fn two_instances_fire_and_resolve_one_outage_once_per_channel() {
    let (ops, oncall) = (SlackStandIn::start().await, SlackStandIn::start().await);
    let yaml = format!(
        "channels:
  ops:
    slack: {{ webhook_url: \"{}\", min_interval: 0s }}
    digest: off
  oncall:
    slack: {{ webhook_url: \"{}\", min_interval: 0s }}
    digest: off
defaults:
  notify: [ops, oncall]
rules:
  - name: sync-failed
    when: {{ failed: {{ above: 0 }} }}
outages:
  - name: provider-outage
    when: {{ environment: production }}
    failing: {{ at_least: 10, share: 20% }}
    window: 2s
",
        ops.url(),
        oncall.url()
    );
    let backend = Backend::postgres();
    let (a, b) = tokio::join!(
        spawn_app_on(&backend, &yaml, fast_settings()),
        spawn_app_on(&backend, &yaml, fast_settings())
    );
    let instance = |n: usize| if n.is_multiple_of(2) { &a } else { &b };
    let clean = (0..40).map(|n| instance(n).post_ok(sync(n, "xero", &format!("ok-{n}"), "success")));
    futures_util::future::join_all(clean).await;
    let failed = (0..30).map(|n| instance(n).post_ok(sync(n, "xero", &format!("fail-{n}"), "failed")));
    futures_util::future::join_all(failed).await;
    let over = |m: &serde_json::Value| m.to_string().contains("xero outage over");
    for slack in [&ops, &oncall] {
        assert!(
            eventually(WAIT, || slack.delivered().iter().any(over)).await,
            "{:#?}",
            slack.headers()
        );
    }
    // Both instances tick: whatever the second finds was already told.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let fired = |m: &serde_json::Value| m.to_string().contains("xero outage:");
    let released = |m: &serde_json::Value| m.to_string().contains("still failing after the outage");
    let mut told_per_channel = Vec::new();
    for slack in [&ops, &oncall] {
        let delivered = slack.delivered();
        let count = |f: &dyn Fn(&serde_json::Value) -> bool| delivered.iter().filter(|m| f(m)).count();
        assert_eq!(count(&fired), 1, "one FIRING: {:#?}", slack.headers());
        assert_eq!(count(&over), 1, "one RESOLVED: {:#?}", slack.headers());
        let firing = delivered.iter().position(fired).unwrap();
        let mut connections: Vec<String> = (delivered.iter())
            .filter(|m| released(m))
            .map(|m| m["text"].to_string())
            .collect();
        let told = connections.len();
        connections.sort();
        connections.dedup();
        assert_eq!(
            connections.len(),
            told,
            "each held connection told once: {:#?}",
            slack.headers()
        );
        assert_eq!(
            firing + 1 + told + 1,
            delivered.len(),
            "the ones before the outage, the outage, the released ones and its end: {:#?}",
            slack.headers()
        );
        assert_eq!(
            firing + told,
            30,
            "every failing connection told once: {:#?}",
            slack.headers()
        );
        told_per_channel.push(told);
    }
    assert_eq!(told_per_channel[0], told_per_channel[1]);
    eprintln!(
        "two instances: {} told before the outage, {} held and told after it",
        30 - told_per_channel[0],
        told_per_channel[0]
    );
}

on_both_stores!(an_absence_alert_of_a_service_in_outage_is_held);

/// A connection of the service in outage that stops syncing: its absence
/// alert is held by the outage too (the outage says it for everyone).
async fn an_absence_alert_of_a_service_in_outage_is_held(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let yaml = rules(&slack, 100, "15m").replace(
        "outages:",
        "  - name: stopped-syncing\n    when: { environment: production, no_sync_for: 2s }\noutages:",
    );
    let app = spawn_app_on(&backend, &yaml, fast_settings()).await;
    app.post_ok(sync(50, "xero", "ok-50", "success")).await;
    fail_each(&app, "xero", 0..12, "f").await;
    let outage = |m: &serde_json::Value| m.to_string().contains("xero outage:");
    assert!(eventually(WAIT, || slack.delivered().iter().any(outage)).await);
    let held = |alerts: &serde_json::Value| {
        (alerts.as_array().unwrap().iter())
            .filter(|a| a["rule"] == "stopped-syncing" && a["silenced_by"] == "held by outage provider-outage")
            .count()
    };
    // CON-50 and the 12 failing ones all stopped syncing.
    let deadline = Instant::now() + WAIT;
    let mut alerts = serde_json::Value::Null;
    while Instant::now() < deadline {
        alerts = app.status("?alerts_per_page=100&rule=stopped-syncing").await["alerts"].clone();
        if held(&alerts) == 13 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(held(&alerts), 13, "{alerts}");
    let headers = slack.headers();
    assert!(
        !headers.iter().any(|h| h.contains("stopped-syncing")),
        "held, not told: {headers:#?}"
    );
}

on_both_stores!(a_data_type_outage_holds_nothing);

/// A data type's outage tells its one message and holds nothing: an alert
/// is a connection's, and nothing would ever release it. Slack is slow
/// here, so FIRINGs are still queued when the outage fires.
async fn a_data_type_outage_holds_nothing(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let yaml = rules(&slack, 100, "15m")
        .replace("min_interval: 0s", "min_interval: 1s")
        .replace(
            "    when: { environment: production }",
            "    by: data_type\n    when: { environment: production }",
        );
    let app = spawn_app_on(&backend, &yaml, fast_settings()).await;
    fail_each(&app, "xero", 0..12, "d").await;
    let outage = |m: &serde_json::Value| m.to_string().contains("bills outage");
    let firing = |m: &serde_json::Value| m.to_string().contains("WARNING sync-failed");
    let count = |f: &dyn Fn(&serde_json::Value) -> bool| slack.delivered().iter().filter(|m| f(m)).count();
    assert!(
        eventually(WAIT, || count(&outage) == 1 && count(&firing) == 12).await,
        "{:#?}",
        slack.headers()
    );
    let status = app.status("?alerts_per_page=100").await;
    assert_eq!(status["totals"]["silenced"], 0, "{}", status["alerts"]);
    assert_eq!(
        status["outages"][0]["holds"], false,
        "its banner says nothing of holding"
    );
}

/// Two Slack channels, `ops` (with `digest`) and `team` (no digest); the
/// rules notify `notify`; one outage with `window`.
fn two_channels((ops, digest): (&SlackStandIn, &str), team: &SlackStandIn, notify: &str, window: &str) -> String {
    format!(
        "channels:
  ops:
    slack: {{ webhook_url: \"{}\", min_interval: 0s }}
    digest: {digest}
  team:
    slack: {{ webhook_url: \"{}\", min_interval: 0s }}
    digest: off
defaults:
  notify: {notify}
rules:
  - name: sync-failed
    when: {{ failed: {{ above: 0 }} }}
outages:
  - name: provider-outage
    when: {{ environment: production }}
    failing: {{ at_least: 10, share: 20% }}
    window: {window}
",
        ops.url(),
        team.url()
    )
}

on_both_stores!(an_alert_told_on_one_channel_is_not_held_on_another);
/// Told on one channel, held on another: a FIRING that a channel without
/// digest already delivered is not held on the channel whose digest it
/// waited for, so every channel hears every connection still failing
/// (the outage's end releases only alerts nobody heard of).
async fn an_alert_told_on_one_channel_is_not_held_on_another(backend: Backend) {
    let ops = SlackStandIn::start().await;
    let team = SlackStandIn::start().await;
    let ops_digest = "{ after: 2, window: 3s, max_items: 100 }";
    let yaml = two_channels((&ops, ops_digest), &team, "[ops, team]", "2s");
    let app = spawn_app_on(&backend, &yaml, fast_settings()).await;
    // One by one, so that team (no digest) tells each at once while ops
    // keeps them for its digest: the outage fires at the 10th.
    for n in 100..120 {
        app.post_ok(sync(n, "xero", &format!("h-{n}"), "failed")).await;
        let id = format!("CON-{n}");
        eventually(WAIT, || team.delivered().iter().any(|m| m.to_string().contains(&id))).await;
    }
    // Nothing syncs after the storm: the timer ends the outage and tells
    // what it held. Every connection is then named on both channels.
    let named = |slack: &SlackStandIn, n: usize| {
        let id = format!("CON-{n}");
        slack.delivered().iter().any(|m| m.to_string().contains(&id))
    };
    for slack in [&ops, &team] {
        assert!(
            eventually(WAIT, || (100..120).all(|n| named(slack, n))).await,
            "missing: {:?} in {:#?}",
            (100..120).filter(|n| !named(slack, *n)).collect::<Vec<_>>(),
            slack.headers()
        );
    }
}

on_both_stores!(a_released_alert_is_muted_by_inhibit);
/// Released when the outage ends, a held connection's sync failure is
/// muted by its lost connection (inhibit), as it would have been without
/// the outage: only the connection-lost is told.
async fn a_released_alert_is_muted_by_inhibit(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let yaml = rules(&slack, 100, "1s").replace(
        "outages:",
        "  - name: connection-lost
    when: { event: connectionStatus, connection_status: [disconnected] }
inhibit:
  - when_firing: { rule: connection-lost }
    mute: { rule: '*' }
    equal: [connection]
outages:",
    );
    let app = spawn_app_on(&backend, &yaml, fast_settings()).await;
    fail_each(&app, "xero", 0..12, "i").await;
    let lost = r#"{"data":{"event":"connectionStatus","connectionId":"CON-11","businessName":"Acme 11","serviceName":"xero","newStatus":"disconnected"},"requestId":"i-lost"}"#;
    app.post_ok(lost.to_owned()).await;
    let released = |m: &serde_json::Value| m.to_string().contains("still failing after the outage");
    let lost_told = |m: &serde_json::Value| released(m) && m.to_string().contains("connection-lost");
    assert!(
        eventually(WAIT, || slack.delivered().iter().any(lost_told)).await,
        "{:#?}",
        slack.headers()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let about_11: Vec<String> = (slack.delivered().iter())
        .filter(|m| released(m) && m.to_string().contains("CON-11"))
        .map(|m| m.to_string())
        .collect();
    assert!(
        about_11.iter().all(|m| !m.contains("sync-failed")),
        "muted by connection-lost/CON-11: {about_11:#?}"
    );
}

on_both_stores!(no_outage_resolved_for_a_firing_a_channel_never_got);
/// The outage's RESOLVED goes only to the channels told it fired: one
/// whose FIRING failed for good (404) hears nothing of its end.
async fn no_outage_resolved_for_a_firing_a_channel_never_got(backend: Backend) {
    let ops = SlackStandIn::start().await;
    let team = SlackStandIn::start().await;
    let yaml = two_channels((&ops, "off"), &team, "[ops]", "1s")
        .replace("    window: 1s\n", "    window: 1s\n    notify: [ops, team]\n");
    team.answer_all(SlackReply::status(404, "no_service"));
    let app = spawn_app_on(&backend, &yaml, fast_settings()).await;
    fail_each(&app, "xero", 0..12, "n").await;
    let outage = |m: &serde_json::Value| m.to_string().contains("xero outage");
    assert!(eventually(WAIT, || ops.delivered().iter().any(outage)).await);
    assert!(eventually(WAIT, || !team.received().is_empty()).await);
    team.answer_all(SlackReply::ok());
    // Nothing syncs: the timer ends it; ops hears its end, team nothing.
    let over = |m: &serde_json::Value| m.to_string().contains("xero outage over");
    assert!(
        eventually(WAIT, || ops.delivered().iter().any(over)).await,
        "{:?}",
        ops.headers()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !team.delivered().iter().any(over),
        "team never got the FIRING: {:?}",
        team.headers()
    );
}
