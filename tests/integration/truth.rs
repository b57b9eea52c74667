//! Alerts that tell the truth, on both stores: a sync outside a rule's
//! scope resolves nothing; a sandbox connection stays sandbox when an
//! event does not say.

use std::time::Duration;

use crate::helpers::{Backend, SlackReply, SlackStandIn, TestApp, eventually, fast_settings, spawn_app_on};

const WAIT: Duration = Duration::from_secs(15);

async fn start(backend: &Backend, slack: &SlackStandIn, rules: &str) -> TestApp {
    let yaml = format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: off\ndefaults:\n  notify: [ops]\nrules:\n{rules}",
        slack.url()
    );
    spawn_app_on(backend, &yaml, fast_settings()).await
}

fn sync(request_id: &str, sync_type: &str, sandbox: bool, requests: &[(&str, &str)]) -> String {
    let requests: Vec<String> = requests
        .iter()
        .map(|(name, status)| format!(r#"{{"request":"{name}","status":"{status}"}}"#))
        .collect();
    format!(
        r#"{{"data":{{"event":"data","connectionId":"CON-1","businessName":"Acme","serviceName":"quickbooks","dataSyncType":"{sync_type}","sandbox":{sandbox},"requests":[{}]}},"requestId":"{request_id}"}}"#,
        requests.join(",")
    )
}

async fn firing(app: &TestApp) -> Vec<String> {
    let status = app.status("").await;
    let alerts = status["alerts"].as_array().cloned().unwrap_or_default();
    alerts
        .iter()
        .filter(|a| a["state"] == "firing")
        .map(|a| a["rule"].as_str().unwrap_or_default().to_owned())
        .collect()
}

on_both_stores!(a_sync_outside_the_rules_scope_resolves_nothing);
async fn a_sync_outside_the_rules_scope_resolves_nothing(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let rule =
        "  - name: full-sync-bills\n    when: { sync_type: fullSync, failed: { above: 0, data_types: [bills] } }\n";
    let app = start(&backend, &slack, rule).await;
    app.post_ok(sync("f1", "fullSync", false, &[("bills", "failed")])).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    // A manual sync that went fine, and a full sync without bills.
    app.post_ok(sync("m1", "manualSync", false, &[("bills", "success")]))
        .await;
    app.post_ok(sync("f2", "fullSync", false, &[("invoices", "success")]))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(slack.delivered().len(), 1, "{:?}", slack.headers());
    assert_eq!(firing(&app).await, ["full-sync-bills"]);
    // The sync the rule is about.
    app.post_ok(sync("f3", "fullSync", false, &[("bills", "success")]))
        .await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    assert_eq!(slack.headers()[1], "✅ RESOLVED full-sync-bills");
    assert!(firing(&app).await.is_empty());
}

on_both_stores!(an_event_without_sandbox_keeps_the_connections_environment);
async fn an_event_without_sandbox_keeps_the_connections_environment(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let rule = "  - name: lost-in-production\n    when: { environment: production, event: connectionStatus, connection_status: [disconnected] }\n    severity: critical\n";
    let app = start(&backend, &slack, rule).await;
    app.post_ok(sync("s1", "fullSync", true, &[("bills", "success")])).await;
    // Railz's connectionStatus carries no `sandbox`.
    let lost = r#"{"data":{"event":"connectionStatus","connectionId":"CON-1","serviceName":"quickbooks","oldStatus":"active","newStatus":"disconnected","disconnectReason":"expiredCredentials"},"requestId":"c1"}"#;
    app.post_ok(lost).await;
    let status = app.status("?q=con-1").await;
    assert_eq!(status["connections"]["rows"][0]["environment"], "sandbox", "{status}");
    assert!(firing(&app).await.is_empty(), "{status}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(slack.received().is_empty(), "{:?}", slack.headers());
}

fn failing(request_id: &str) -> String {
    sync(request_id, "fullSync", false, &[("bills", "failed")])
}

fn clean(request_id: &str) -> String {
    sync(request_id, "fullSync", false, &[("bills", "success")])
}

const BILLS_FAILING: &str = "  - name: bills-failing\n    when: { failed: { above: 0, data_types: [bills] } }\n";

on_both_stores!(a_resolved_never_overtakes_the_firing_it_ends);
async fn a_resolved_never_overtakes_the_firing_it_ends(backend: Backend) {
    let slack = SlackStandIn::start().await;
    // The channel is out when the FIRING goes: it waits a second to retry.
    slack.script(&[SlackReply::rate_limited(1)]);
    let app = start(&backend, &slack, BILLS_FAILING).await;
    app.post_ok(failing("f1")).await;
    assert!(eventually(WAIT, || slack.received().len() == 1).await);
    // Over while its FIRING waits: the RESOLVED is due first, yet goes second.
    app.post_ok(clean("c1")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    assert_eq!(slack.headers(), ["WARNING bills-failing", "✅ RESOLVED bills-failing"]);
}

on_both_stores!(a_firing_that_failed_for_good_is_not_told);
async fn a_firing_that_failed_for_good_is_not_told(backend: Backend) {
    let slack = SlackStandIn::start().await;
    // A revoked webhook, fixed afterwards.
    slack.script(&[SlackReply::status(404, "no_service")]);
    let app = start(&backend, &slack, BILLS_FAILING).await;
    app.post_ok(failing("f1")).await;
    assert!(eventually(WAIT, || slack.received().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Nobody heard of it: its next match tells them, whatever repeat_interval says.
    app.post_ok(failing("f2")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    assert_eq!(slack.headers(), ["WARNING bills-failing"]);
    app.post_ok(clean("c1")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    assert_eq!(slack.headers()[1], "✅ RESOLVED bills-failing");
}

on_both_stores!(no_resolved_goes_where_the_firing_never_arrived);
async fn no_resolved_goes_where_the_firing_never_arrived(backend: Backend) {
    let slack = SlackStandIn::start().await;
    // The FIRING waits to retry, then the webhook turns out revoked.
    slack.script(&[SlackReply::rate_limited(1), SlackReply::status(404, "no_service")]);
    let app = start(&backend, &slack, BILLS_FAILING).await;
    app.post_ok(failing("f1")).await;
    assert!(eventually(WAIT, || slack.received().len() == 1).await);
    app.post_ok(clean("c1")).await;
    assert!(eventually(WAIT, || slack.received().len() == 2).await);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let said: Vec<u16> = slack.received().iter().map(|r| r.status).collect();
    assert_eq!(
        said,
        [429, 404],
        "a RESOLVED reached a channel that never saw the FIRING"
    );
    assert!(firing(&app).await.is_empty());
}

fn status(request_id: &str, new_status: &str, effective_on: &str) -> String {
    format!(
        r#"{{"data":{{"event":"connectionStatus","connectionId":"CON-1","serviceName":"quickbooks","newStatus":"{new_status}","disconnectReason":"expiredCredentials","effectiveOn":"{effective_on}"}},"requestId":"{request_id}"}}"#
    )
}

on_both_stores!(an_older_connection_status_delivered_late_moves_nothing);
async fn an_older_connection_status_delivered_late_moves_nothing(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let rule = "  - name: connection-lost\n    when: { event: connectionStatus, connection_status: [disconnected] }\n";
    let app = start(&backend, &slack, rule).await;
    let ago = |minutes: i64| (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(minutes)).to_string();
    app.post_ok(clean("s1")).await;
    // Railz retries a disconnect from before that sync.
    app.post_ok(status("d0", "disconnected", &ago(10))).await;
    let row = &app.status("?q=con-1").await["connections"]["rows"][0];
    assert_eq!(row["status"], "active", "{row}");
    assert!(firing(&app).await.is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(slack.received().is_empty(), "{:?}", slack.headers());
    // A newer one is news.
    app.post_ok(status("d1", "disconnected", &ago(0))).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    assert_eq!(firing(&app).await, ["connection-lost"]);
}

fn yaml(slack: &SlackStandIn, rules: &str) -> String {
    format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: off\ndefaults:\n  notify: [ops]\nrules:\n{rules}",
        slack.url()
    )
}

/// The rules file the CLI reads beside the app: its rules and its database.
fn rules_file(backend: &Backend, app: &TestApp, slack: &SlackStandIn, rules: &str) -> crate::helpers::RulesFile {
    let storage = match backend {
        Backend::Sqlite => format!("storage:\n  path: {}\n", crate::helpers::database(&app.dir).display()),
        Backend::Postgres(url) => format!("storage:\n  postgres: {url}\n"),
    };
    crate::helpers::RulesFile::new(&format!("{}{storage}", yaml(slack, rules)))
}

on_both_stores!(a_rule_removed_by_a_reload_closes_its_alerts);
async fn a_rule_removed_by_a_reload_closes_its_alerts(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let app = start(&backend, &slack, BILLS_FAILING).await;
    app.post_ok(failing("f1")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    app.reload(&yaml(
        &slack,
        "  - name: renamed-bills\n    when: { failed: { above: 0, data_types: [bills] } }\n",
    ))
    .await;
    assert!(firing(&app).await.is_empty(), "the removed rule's alert is closed");
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    assert_eq!(slack.headers()[1], "⏹ CLOSED bills-failing");
    let said = slack.delivered()[1].to_string();
    assert!(
        said.contains("rule `bills-failing` was removed from rules.yaml"),
        "{said}"
    );
}

on_both_stores!(a_reload_that_loosens_an_absence_rule_resolves_what_no_longer_holds);
async fn a_reload_that_loosens_an_absence_rule_resolves_what_no_longer_holds(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let quiet = |after: &str| format!("  - name: stopped-syncing\n    when: {{ no_sync_for: {after} }}\n");
    let app = start(&backend, &slack, &quiet("1s")).await;
    app.post_ok(clean("s1")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    assert_eq!(firing(&app).await, ["stopped-syncing"]);
    app.reload(&yaml(&slack, &quiet("26h"))).await;
    assert!(firing(&app).await.is_empty());
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    let said = slack.delivered()[1].to_string();
    assert!(said.contains("the rule now says no_sync_for 1d2h"), "{said}");
    let row = &app.status("?q=con-1").await["connections"]["rows"][0];
    assert_ne!(row["state"], "quiet", "{row}");
}

on_both_stores!(forgetting_a_connection_closes_its_firing_alerts);
async fn forgetting_a_connection_closes_its_firing_alerts(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let app = start(&backend, &slack, BILLS_FAILING).await;
    app.post_ok(failing("f1")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    let file = rules_file(&backend, &app, &slack, BILLS_FAILING);
    let args = [
        "connections",
        "forget",
        "CON-1",
        "--config",
        file.path.to_str().unwrap(),
    ];
    let output = crate::helpers::syncwatch_async(args.iter().map(|a| a.to_string()).collect()).await;
    assert_eq!(output.status.code(), Some(0), "{}", crate::helpers::stderr(&output));
    assert!(firing(&app).await.is_empty());
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    let said = slack.delivered()[1].to_string();
    assert!(said.contains("its connection was forgotten"), "{said}");
}

on_both_stores!(a_lost_connection_is_reminded_without_an_event);
async fn a_lost_connection_is_reminded_without_an_event(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let rule = "  - name: connection-lost\n    when: { event: connectionStatus, connection_status: [disconnected] }\n    repeat_interval: 1s\n";
    let app = start(&backend, &slack, rule).await;
    let now = jiff::Timestamp::now().to_string();
    app.post_ok(status("d1", "disconnected", &now)).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    // No further event: the timer reminds, saying since when.
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    let reminder = slack.delivered()[1].to_string();
    assert!(
        reminder.contains("still failing") && reminder.contains("Still failing since"),
        "{reminder}"
    );
    // Back: resolved, and no more reminders.
    app.post_ok(clean("s1")).await;
    assert!(eventually(WAIT, || slack.headers().last().unwrap().contains("RESOLVED")).await);
    let told = slack.delivered().len();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(slack.delivered().len(), told, "{:?}", slack.headers());
}

on_both_stores!(an_absence_alert_held_by_a_silence_is_told_when_it_ends);
async fn an_absence_alert_held_by_a_silence_is_told_when_it_ends(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let rules = "  - name: stopped-syncing\n    when: { no_sync_for: 1s }\n";
    let app = start(&backend, &slack, rules).await;
    let file = rules_file(&backend, &app, &slack, rules);
    let config = file.path.to_str().unwrap();
    let silence = [
        "silence",
        "add",
        "--connection",
        "CON-1",
        "--for",
        "1h",
        "--comment",
        "planned",
        "--config",
        config,
    ];
    let added = crate::helpers::syncwatch_async(silence.iter().map(|a| a.to_string()).collect()).await;
    assert_eq!(added.status.code(), Some(0), "{}", crate::helpers::stderr(&added));
    let id = crate::helpers::stdout(&added).trim().to_owned();
    app.post_ok(clean("s1")).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(slack.received().is_empty(), "silenced: {:?}", slack.headers());
    assert_eq!(firing(&app).await, ["stopped-syncing"]);
    let expire = ["silence", "expire", &id, "--config", config];
    let expired = crate::helpers::syncwatch_async(expire.iter().map(|a| a.to_string()).collect()).await;
    assert_eq!(expired.status.code(), Some(0), "{}", crate::helpers::stderr(&expired));
    // Told within seconds, not after repeat_interval (4h).
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    assert!(slack.headers()[0].contains("stopped-syncing"), "{:?}", slack.headers());
}

on_both_stores!(an_absence_notification_has_an_id_that_history_prints_and_explain_takes);
async fn an_absence_notification_has_an_id_that_history_prints_and_explain_takes(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let rules = "  - name: stopped-syncing\n    when: { no_sync_for: 1s }\n";
    let app = start(&backend, &slack, rules).await;
    app.post_ok(clean("s1")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    let file = rules_file(&backend, &app, &slack, rules);
    let run = |args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(["--config".to_owned(), file.path.display().to_string()]);
        crate::helpers::syncwatch_async(all)
    };
    let history = crate::helpers::stdout(&run(&["history", "--rule", "stopped-syncing"]).await);
    let id = history
        .split_whitespace()
        .find(|word| word.starts_with("absence:stopped-syncing:CON-1:"))
        .unwrap_or_else(|| panic!("no absence id in history: {history}"))
        .to_owned();
    let explained = run(&["explain", &id]).await;
    assert_eq!(
        explained.status.code(),
        Some(0),
        "{}",
        crate::helpers::stderr(&explained)
    );
    let said = crate::helpers::stdout(&explained);
    assert!(
        said.contains("stopped-syncing/CON-1: new → firing, FIRING to ops"),
        "{said}"
    );
    // Which kind of message went out, in history and explain.
    assert!(
        history.contains("delivered  FIRING stopped-syncing -> ops"),
        "{history}"
    );
    assert!(said.contains("FIRING stopped-syncing -> ops: delivered"), "{said}");
}

on_both_stores!(a_sync_in_which_everything_failed_does_not_bring_a_lost_connection_back);
async fn a_sync_in_which_everything_failed_does_not_bring_a_lost_connection_back(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let rule = "  - name: connection-lost\n    when: { event: connectionStatus, connection_status: [disconnected] }\n";
    let app = start(&backend, &slack, rule).await;
    app.post_ok(clean("s1")).await;
    // A disconnect that took effect a minute before the failing sync below
    // arrived, delivered after it: still news.
    let minute_ago = (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(1)).to_string();
    let all_failed = sync("f1", "fullSync", false, &[("bills", "failed"), ("invoices", "failed")]);
    app.post_ok(all_failed).await;
    app.post_ok(status("d1", "disconnected", &minute_ago)).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    // Expired credentials make every request fail: not a sign of life.
    app.post_ok(sync(
        "f2",
        "fullSync",
        false,
        &[("bills", "failed"), ("invoices", "failed")],
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(firing(&app).await, ["connection-lost"]);
    assert_eq!(slack.delivered().len(), 1, "{:?}", slack.headers());
    let row = &app.status("?q=con-1").await["connections"]["rows"][0];
    assert_eq!(row["status"], "disconnected", "{row}");
    app.post_ok(sync(
        "s2",
        "fullSync",
        false,
        &[("bills", "success"), ("invoices", "failed")],
    ))
    .await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    assert_eq!(slack.headers()[1], "✅ RESOLVED connection-lost");
}

on_both_stores!(an_alert_whose_rule_no_longer_applies_to_its_connection_is_closed);
async fn an_alert_whose_rule_no_longer_applies_to_its_connection_is_closed(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let app = start(&backend, &slack, BILLS_FAILING).await;
    app.post_ok(failing("f1")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    // Narrowed to xero: this quickbooks connection's alert would wait for
    // ever for a clean sync the rule applies to.
    let narrowed = "  - name: bills-failing\n    when: { service: xero, failed: { above: 0, data_types: [bills] } }\n";
    app.reload(&yaml(&slack, narrowed)).await;
    assert!(firing(&app).await.is_empty());
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    assert_eq!(slack.headers()[1], "⏹ CLOSED bills-failing");
    assert!(
        slack.delivered()[1]
            .to_string()
            .contains("no longer applies to this connection")
    );
}

on_both_stores!(a_renamed_channel_still_hears_that_its_alert_is_over);
async fn a_renamed_channel_still_hears_that_its_alert_is_over(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let app = start(&backend, &slack, BILLS_FAILING).await;
    app.post_ok(failing("f1")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    let renamed = yaml(&slack, BILLS_FAILING)
        .replace("  ops:\n", "  ops-slack:\n")
        .replace("notify: [ops]", "notify: [ops-slack]");
    app.reload(&renamed).await;
    app.post_ok(clean("c1")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2).await);
    assert_eq!(slack.headers()[1], "✅ RESOLVED bills-failing");
}

on_both_stores!(after_an_outage_with_reminders_queued_the_channels_last_word_is_resolved);
/// A channel down long enough for a lost connection's FIRING and its
/// first reminders to expire, while later reminders are still queued:
/// when it comes back and the connection too, its last delivered word is
/// RESOLVED, never a CRITICAL about an alert that has ended.
async fn after_an_outage_with_reminders_queued_the_channels_last_word_is_resolved(backend: Backend) {
    let slack = SlackStandIn::start().await;
    slack.answer_all(SlackReply::status(503, "service_unavailable"));
    let yaml = format!(
        "delivery:\n  max_age: 2s\nchannels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: off\ndefaults:\n  notify: [ops]\nrules:\n  - name: connection-lost\n    when: {{ event: connectionStatus, connection_status: [disconnected] }}\n    repeat_interval: 1s\n",
        slack.url()
    );
    let app = spawn_app_on(&backend, &yaml, fast_settings()).await;
    let now = jiff::Timestamp::now().to_string();
    app.post_ok(status("d1", "disconnected", &now)).await;
    // Messages expire and reminders queue behind them while Slack is down.
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    slack.answer_all(SlackReply::ok());
    assert!(
        eventually(WAIT, || !slack.delivered().is_empty()).await,
        "Slack hears of it once back"
    );
    let later = jiff::Timestamp::now().to_string();
    app.post_ok(status("a1", "active", &later)).await;
    assert!(
        eventually(WAIT, || slack.headers().last().is_some_and(|h| h.contains("RESOLVED"))).await,
        "the last word is RESOLVED: {:?}",
        slack.headers()
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let headers = slack.headers();
    assert!(headers.last().unwrap().contains("RESOLVED"), "{headers:?}");
}

on_both_stores!(a_notification_not_sent_in_dry_run_is_not_told);
/// `delivery.dry_run` turned on by a reload, then off: the FIRING logged
/// in the dry run reached nobody, so `history` says `dry_run`, not
/// delivered, and the clean sync after it sends no RESOLVED to a channel
/// that never saw the FIRING.
async fn a_notification_not_sent_in_dry_run_is_not_told(backend: Backend) {
    let slack = SlackStandIn::start().await;
    let rules = "  - name: bills-failing\n    when: { failed: { above: 0 } }\n";
    let app = start(&backend, &slack, rules).await;
    let yaml = |dry_run: bool| {
        format!(
            "delivery:\n  dry_run: {dry_run}\nchannels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: off\ndefaults:\n  notify: [ops]\nrules:\n{rules}",
            slack.url()
        )
    };
    app.reload(&yaml(true)).await;
    app.post_ok(failing("f1")).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    app.reload(&yaml(false)).await;
    app.post_ok(clean("c1")).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        slack.delivered().is_empty(),
        "no RESOLVED for a FIRING nobody saw: {:?}",
        slack.headers()
    );
    // The next failure is news to the channel: a FIRING.
    app.post_ok(failing("f2")).await;
    assert!(eventually(WAIT, || slack.headers().len() == 1).await);
    assert!(slack.headers()[0].contains("bills-failing"), "{:?}", slack.headers());
    assert!(!slack.headers()[0].contains("RESOLVED"), "{:?}", slack.headers());
}
