//! Several rules, one message: one failed sync that three rules match is
//! one Slack message and one email, each rule a section; each alert keeps
//! its own story (its RESOLVED, the channels it told, `history`), on both
//! stores and in memory, and as a Slack app's thread.

use std::time::Duration;

use crate::helpers::{
    Backend, RulesFile, SlackApi, SlackReply, SlackStandIn, SmtpServer, TestApp, eventually, fast_settings,
    spawn_app_on, spawn_app_with, stdout, sync, syncwatch_async,
};

const WAIT: Duration = Duration::from_secs(15);

/// Three rules on bills failing; the third needs two clean syncs to
/// resolve, so it is still firing after one.
const THREE: &str = "rules:
  - name: production-sync-failed
    severity: critical
    when: { failed: { above: 0 } }
  - name: bills-failing
    when: { failed: { above: 0, data_types: [bills] } }
  - name: bills-keep-failing
    resolve_after: 2
    when: { failed: { above: 0, data_types: [bills] } }
";

const RULES: [&str; 3] = ["production-sync-failed", "bills-failing", "bills-keep-failing"];

fn failed(request_id: &str) -> String {
    sync("CON-1", request_id, "failed")
}

fn clean(request_id: &str) -> String {
    sync("CON-1", request_id, "success")
}

/// Channels `ops` (a Slack webhook) and `mail`, both told by default.
fn channels(slack: &SlackStandIn, smtp: &SmtpServer) -> String {
    format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n  mail:\n    email: {{ host: 127.0.0.1, port: {}, tls: none, from: syncwatch@example.com, to: ops@example.com }}\ndefaults:\n  notify: [ops, mail]\n",
        slack.url(),
        smtp.addr.port()
    )
}

/// `syncwatch history` on the app's database, as an operator runs it.
async fn history(backend: &Backend, app: &TestApp, rules: &str) -> String {
    let storage = match backend {
        Backend::Sqlite => format!("storage:\n  path: {}\n", crate::helpers::database(&app.dir).display()),
        Backend::Postgres(url) => format!("storage:\n  postgres: {url}\n"),
    };
    let file = RulesFile::new(&format!("{storage}{rules}"));
    let args = ["history", "--config", &file.path.display().to_string()].map(String::from);
    stdout(&syncwatch_async(args.to_vec()).await)
}

on_both_stores!(three_rules_on_one_failed_sync_are_one_message_per_channel_and_resolve_as_one);
async fn three_rules_on_one_failed_sync_are_one_message_per_channel_and_resolve_as_one(backend: Backend) {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    let rules = format!("{}{THREE}", channels(&slack, &smtp));
    let app = spawn_app_on(&backend, &rules, fast_settings()).await;
    app.post_ok(failed("f-1")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1 && smtp.accepted().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(slack.delivered().len(), 1, "one Slack message: {:?}", slack.headers());
    assert_eq!(smtp.accepted().len(), 1, "one email");
    let message = slack.delivered()[0].to_string();
    let mail = smtp.accepted()[0].text();
    for rule in RULES {
        assert!(message.contains(&format!("CRITICAL {rule}")) || message.contains(&format!("WARNING {rule}")));
        assert!(mail.contains(rule), "{rule} in {mail}");
    }
    assert_eq!(
        slack.headers()[0],
        "3 alerts: CRITICAL production-sync-failed, WARNING bills-failing, WARNING bills-keep-failing"
    );
    assert!(
        mail.contains("Subject: [syncwatch] 3 alerts for Acme (xero): CRITICAL production-sync-failed, WARNING bills-failing, WARNING bills-keep-failing"),
        "{mail}"
    );

    // Each alert's notification is in history, delivered, carried by the
    // group: one per rule and channel.
    let said = history(&backend, &app, &rules).await;
    for rule in RULES {
        for channel in ["ops", "mail"] {
            let line = format!("delivered  FIRING {rule} -> {channel}");
            assert_eq!(said.matches(&line).count(), 1, "{line} in {said}");
        }
    }
    assert_eq!(said.matches("carried by group #").count(), 6, "{said}");
    assert_eq!(said.matches("delivered  GROUP group of 3 -> ").count(), 2, "{said}");

    // A clean sync resolves two of them: one RESOLVED message per channel,
    // naming those two; the third is still firing and not said resolved.
    app.post_ok(clean("c-1")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2 && smtp.accepted().len() == 2).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!((slack.delivered().len(), smtp.accepted().len()), (2, 2));
    let resolved = slack.delivered()[1].to_string();
    let mail = smtp.accepted()[1].text();
    for said in [&resolved, &mail] {
        assert!(said.contains("RESOLVED production-sync-failed"), "{said}");
        assert!(said.contains("RESOLVED bills-failing"), "{said}");
        assert!(!said.contains("bills-keep-failing"), "still firing: {said}");
    }
    assert!(
        slack.headers()[1].starts_with("2 alerts: RESOLVED "),
        "{:?}",
        slack.headers()
    );
    // The resolved email answers the FIRING email, for the mail client's thread.
    let firing_id = header(&smtp.accepted()[0].text(), "Message-ID");
    assert!(header(&mail, "In-Reply-To").contains(&firing_id), "{mail}");
}

/// The value of header `name` in a raw email.
fn header(mail: &str, name: &str) -> String {
    let prefix = format!("{name}: ");
    mail.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in {mail}"))
        .to_owned()
}

on_both_stores!(a_rule_still_pending_is_not_in_the_message_of_the_one_that_fired);
async fn a_rule_still_pending_is_not_in_the_message_of_the_one_that_fired(backend: Backend) {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    let rules = format!(
        "{}rules:\n  - name: bills-failing\n    severity: critical\n    repeat_interval: 0s\n    when: {{ failed: {{ above: 0, data_types: [bills] }} }}\n  - name: bills-twice\n    after: 2\n    when: {{ failed: {{ above: 0, data_types: [bills] }} }}\n",
        channels(&slack, &smtp)
    );
    let app = spawn_app_on(&backend, &rules, fast_settings()).await;
    app.post_ok(failed("f-1")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1 && smtp.accepted().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!((slack.delivered().len(), smtp.accepted().len()), (1, 1));
    // The single message, as one rule alone sends it.
    assert_eq!(slack.headers(), ["CRITICAL bills-failing"]);
    assert!(!slack.delivered()[0].to_string().contains("bills-twice"));
    let mail = smtp.accepted()[0].text();
    assert!(
        mail.contains("Subject: [syncwatch] CRITICAL bills-failing: 1 failed for Acme (xero)"),
        "{mail}"
    );
    assert!(!mail.contains("bills-twice"), "{mail}");
    // The second failure fires the other, while the first is still
    // failing: now two alerts speak, in one message.
    app.post_ok(failed("f-2")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2 && smtp.accepted().len() == 2).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!((slack.delivered().len(), smtp.accepted().len()), (2, 2));
    assert_eq!(
        slack.headers()[1],
        "2 alerts: CRITICAL bills-failing (still failing), WARNING bills-twice"
    );
}

on_both_stores!(a_group_that_failed_for_good_tells_no_alert_it_carried);
async fn a_group_that_failed_for_good_tells_no_alert_it_carried(backend: Backend) {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    slack.script(&[SlackReply::status(404, "no_service")]);
    let rules = format!(
        "{}rules:\n  - name: bills-failing\n    when: {{ failed: {{ above: 0, data_types: [bills] }} }}\n  - name: any-failure\n    when: {{ failed: {{ above: 0 }} }}\n",
        channels(&slack, &smtp)
    );
    let app = spawn_app_on(&backend, &rules, fast_settings()).await;
    app.post_ok(failed("f-1")).await;
    assert!(eventually(WAIT, || slack.received().len() == 1 && smtp.accepted().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(slack.received().len(), 1, "a 404 is not retried");
    let said = history(&backend, &app, &rules).await;
    for rule in ["bills-failing", "any-failure"] {
        assert!(said.contains(&format!("failed     FIRING {rule} -> ops")), "{said}");
        assert!(said.contains(&format!("delivered  FIRING {rule} -> mail")), "{said}");
    }

    // Slack never saw the FIRING: no RESOLVED there; email saw it: one.
    app.post_ok(clean("c-1")).await;
    assert!(eventually(WAIT, || smtp.accepted().len() == 2).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(slack.delivered().is_empty(), "{:?}", slack.headers());
    assert!(smtp.accepted()[1].text().contains("RESOLVED bills-failing"));

    // The next failure is news to Slack: one FIRING message for both.
    app.post_ok(failed("f-2")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    assert_eq!(
        slack.headers(),
        ["2 alerts: WARNING bills-failing, WARNING any-failure"]
    );
}

#[tokio::test]
async fn in_memory_three_rules_are_one_message_and_a_failed_group_tells_none() {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    slack.script(&[SlackReply::status(404, "no_service")]);
    let rules = format!("{}{THREE}", channels(&slack, &smtp));
    let settings = syncwatch::ingress::Settings {
        in_memory: true,
        ..fast_settings()
    };
    let app = spawn_app_with(&rules, settings).await;
    app.post_ok(failed("f-1")).await;
    assert!(eventually(WAIT, || slack.received().len() == 1 && smtp.accepted().len() == 1).await);
    let mail = smtp.accepted()[0].text();
    assert!(RULES.iter().all(|rule| mail.contains(rule)), "{mail}");
    app.post_ok(clean("c-1")).await;
    assert!(eventually(WAIT, || smtp.accepted().len() == 2).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(slack.received().len(), 1, "no RESOLVED for a group nobody saw");
    let mail = smtp.accepted()[1].text();
    assert!(
        mail.contains("RESOLVED bills-failing") && !mail.contains("bills-keep-failing"),
        "{mail}"
    );
}

#[tokio::test]
async fn a_slack_apps_group_keeps_its_alerts_story_in_its_thread() {
    let api = SlackApi::start().await;
    let rules = format!(
        "channels:\n  ops:\n    {}\n    digest: off\ndefaults:\n  notify: [ops]\nrules:\n  - name: bills-failing\n    repeat_interval: 0s\n    when: {{ failed: {{ above: 0, data_types: [bills] }} }}\n  - name: any-failure\n    repeat_interval: 0s\n    when: {{ failed: {{ above: 0 }} }}\n",
        api.channel_yaml(crate::helpers::CHANNEL)
    );
    let app = spawn_app_on(&Backend::Sqlite, &rules, fast_settings()).await;
    app.post_ok(failed("f-1")).await;
    assert!(eventually(WAIT, || api.top_level().len() == 1).await, "{:?}", api.all());
    let group = api.top_level()[0].clone();
    assert_eq!(group.header(), "2 alerts: WARNING bills-failing, WARNING any-failure");

    // Both still failing: one reply in the group's thread.
    app.post_ok(failed("f-2")).await;
    assert!(
        eventually(WAIT, || api.replies(&group.ts).len() == 1).await,
        "{:?}",
        api.all()
    );
    let still = &api.replies(&group.ts)[0];
    assert!(
        still.words().contains("bills-failing · still failing"),
        "{}",
        still.words()
    );
    assert!(
        still.words().contains("any-failure · still failing"),
        "{}",
        still.words()
    );

    // Both resolved: one more reply there; the group is never rewritten.
    app.post_ok(clean("c-1")).await;
    assert!(
        eventually(WAIT, || api.replies(&group.ts).len() == 2).await,
        "{:?}",
        api.all()
    );
    let resolved = &api.replies(&group.ts)[1];
    // In the order the clean sync resolved them.
    let header = resolved.header();
    assert!(header.starts_with("2 alerts: RESOLVED "), "{header}");
    assert!(
        header.contains("RESOLVED bills-failing") && header.contains("RESOLVED any-failure"),
        "{header}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(api.top_level().len(), 1, "no new top-level message: {:?}", api.all());
    assert_eq!(api.top_level()[0].updates, 0, "a group is never rewritten");

    // A new episode of one of them alone is its own message again.
    app.post_ok(sync("CON-1", "f-3", "failed").replace("\"bills\"", "\"invoices\""))
        .await;
    assert!(eventually(WAIT, || api.top_level().len() == 2).await, "{:?}", api.all());
    assert_eq!(api.top_level()[1].header(), "WARNING any-failure");
}

#[tokio::test]
async fn a_group_counts_as_one_message_toward_the_digest_budget() {
    let slack = SlackStandIn::start().await;
    let rules = format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", min_interval: 0s }}\n    digest: {{ after: 2, window: 2s, max_items: 20 }}\ndefaults:\n  notify: [ops]\n{THREE}",
        slack.url()
    );
    let app = spawn_app_on(&Backend::Sqlite, &rules, fast_settings()).await;
    // Two connections fail: two groups of three, within the budget of two.
    for connection in ["CON-1", "CON-2"] {
        app.post_ok(sync(connection, &format!("f-{connection}"), "failed"))
            .await;
        let told = slack.delivered().len() + 1;
        assert!(
            eventually(WAIT, || slack.delivered().len() == told).await,
            "{:?}",
            slack.headers()
        );
    }
    assert!(
        slack.headers().iter().all(|h| h.starts_with("3 alerts: ")),
        "{:?}",
        slack.headers()
    );
    // A third: the window has had its two; the digest at its end takes it.
    app.post_ok(sync("CON-3", "f-CON-3", "failed")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(slack.delivered().len(), 2, "{:?}", slack.headers());
    assert!(eventually(WAIT, || slack.delivered().len() == 3).await);
    let digest = slack.delivered()[2].to_string();
    assert!(digest.contains("syncwatch digest · 3 alerts"), "{digest}");
    assert!(digest.contains("CON-3"), "{digest}");
}
