use super::*;

fn item(n: usize, rule: &str, state: &str) -> Item {
    Item {
        state: state.into(),
        rule: rule.into(),
        severity: "CRITICAL".into(),
        business: format!("Business <{n}> & co"),
        connection: Some(format!("CON-{n}")),
        service: Some(if n.is_multiple_of(2) { "xero" } else { "quickbooks" }.into()),
        data_types: vec!["bills".into(), format!("type{}", n % 3)],
        reason: None,
        headline: "2 failed".into(),
    }
}

fn storm(n: usize) -> Vec<Item> {
    (0..n)
        .map(|i| match i % 10 {
            0 => item(i, "connection-lost", "FIRING"),
            1 => item(i, "production-sync-failed", "RESOLVED"),
            _ => item(i, "production-sync-failed", "FIRING"),
        })
        .collect()
}

#[test]
fn a_slack_digest_counts_everything_lists_max_items_and_stays_within_limits() {
    let items = storm(1000);
    let message = render_digest_slack(&items, 20);
    let blocks = message["blocks"].as_array().unwrap();
    assert!(blocks.len() <= 50);
    let header = blocks[0]["text"]["text"].as_str().unwrap();
    assert!(header.chars().count() <= 150, "{header}");
    assert!(
        header.contains("1000 alerts, 100 resolved: 900 production-sync-failed, 100 connection-lost"),
        "{header}"
    );
    for block in &blocks[1..] {
        if let Some(text) = block["text"]["text"].as_str() {
            assert!(text.chars().count() <= 3000);
            assert!(!text.contains("<1>"), "payload values are escaped: {text}");
        }
    }
    let all = message.to_string();
    assert!(
        all.contains("By state:* 800 FIRING, 100 RESOLVED, 100 FIRING") || all.contains("900 FIRING, 100 RESOLVED"),
        "{all}"
    );
    assert!(all.contains("By service:* 500 quickbooks, 500 xero"), "{all}");
    assert!(all.contains("and 980 more"), "{all}");
    assert_eq!(all.matches("• ").count(), 20);
}

#[test]
fn an_email_digest_has_a_counting_subject_and_a_table() {
    let items = storm(37);
    let email = render_digest_email(&items, 20);
    assert_eq!(
        email.subject,
        "[syncwatch] 37 alerts, 4 resolved: 33 production-sync-failed, 4 connection-lost"
    );
    assert!(
        email
            .text
            .contains("By rule: 33 production-sync-failed, 4 connection-lost"),
        "{}",
        email.text
    );
    assert!(email.text.contains("… and 17 more"), "{}", email.text);
    assert_eq!(email.html.matches("<tr><td>").count(), 20);
    assert!(email.html.contains("Business &lt;0&gt; &amp; co"), "{}", email.html);
}

#[test]
fn a_small_digest_lists_every_alert() {
    let items = storm(3);
    let all = render_digest_slack(&items, 20).to_string();
    assert!(all.contains("every alert of this window is listed"), "{all}");
    assert_eq!(all.matches("• ").count(), 3);
}

/// A digest's notifications as the store gathers them, in queue order,
/// each with its alert (rule, connection, data type; `None`: queued by an
/// older version).
type Queued = (Option<(String, String, String)>, Item);

fn queued(rule: &str, connection: usize, data_type: &str, state: &str) -> Queued {
    let key = (rule.to_owned(), format!("CON-{connection}"), data_type.to_owned());
    (Some(key), item(connection, rule, state))
}

/// The bullet lines of a Slack digest.
fn bullets(message: &Value) -> Vec<String> {
    let blocks = message["blocks"].as_array().unwrap();
    blocks
        .iter()
        .filter_map(|block| block["text"]["text"].as_str())
        .flat_map(|text| text.lines())
        .filter_map(|line| line.strip_prefix("• "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn an_alert_that_fired_and_resolved_in_one_digest_is_one_alert_in_its_latest_state() {
    let alerts = Item::latest_per_alert(vec![
        queued("production-sync-failed", 1, "", "FIRING"),
        queued("production-sync-failed", 2, "", "FIRING"),
        queued("production-sync-failed", 1, "", "RESOLVED"),
    ]);
    let message = render_digest_slack(&alerts, 20);
    let header = message["blocks"][0]["text"]["text"].as_str().unwrap();
    assert_eq!(
        header,
        "syncwatch digest · 2 alerts, 1 resolved: 2 production-sync-failed"
    );
    let all = message.to_string();
    assert!(all.contains("By state:* 1 FIRING, 1 RESOLVED"), "{all}");
    assert!(all.contains("By rule:* 2 production-sync-failed"), "{all}");
    assert!(all.contains("every alert of this window is listed"), "{all}");
    let lines = bullets(&message);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("RESOLVED production-sync-failed") && lines[0].contains("CON-1"),
        "CON-1 in its latest state, where it came first: {lines:?}"
    );
    assert!(
        lines[1].starts_with("CRITICAL production-sync-failed") && lines[1].contains("CON-2"),
        "{lines:?}"
    );

    let email = render_digest_email(&alerts, 20);
    assert_eq!(
        email.subject,
        "[syncwatch] 2 alerts, 1 resolved: 2 production-sync-failed"
    );
    assert!(email.text.contains("By state: 1 FIRING, 1 RESOLVED"), "{}", email.text);
    assert_eq!(email.text.matches("  - ").count(), 2, "{}", email.text);
    assert_eq!(email.html.matches("<tr><td>").count(), 2, "{}", email.html);
    assert!(email.html.contains("<tr><td>RESOLVED</td>"), "{}", email.html);
}

#[test]
fn an_alert_is_its_rule_connection_and_data_type() {
    let alerts = Item::latest_per_alert(vec![
        queued("production-sync-failed", 1, "", "FIRING"),
        queued("production-sync-failed", 1, "bills", "FIRING"),
        queued("connection-lost", 1, "", "FIRING"),
        queued("production-sync-failed", 2, "", "FIRING"),
        queued("production-sync-failed", 1, "bills", "STILL FAILING"),
        queued("production-sync-failed", 1, "", "RESOLVED"),
    ]);
    let states: Vec<(&str, &str)> = alerts.iter().map(|a| (a.rule.as_str(), a.state.as_str())).collect();
    assert_eq!(
        states,
        [
            ("production-sync-failed", "RESOLVED"),
            ("production-sync-failed", "STILL FAILING"),
            ("connection-lost", "FIRING"),
            ("production-sync-failed", "FIRING"),
        ],
        "one per key, in its latest state, where it came first"
    );
    let subject = render_digest_email(&alerts, 20).subject;
    assert_eq!(
        subject,
        "[syncwatch] 4 alerts, 1 resolved: 3 production-sync-failed, 1 connection-lost"
    );
}

#[test]
fn notifications_queued_by_an_older_version_are_each_an_alert() {
    let old = || (None, item(1, "production-sync-failed", "FIRING"));
    let alerts = Item::latest_per_alert(vec![old(), queued("production-sync-failed", 1, "", "RESOLVED"), old()]);
    assert_eq!(alerts.len(), 3, "nothing is merged that names no alert");
    let header = render_digest_slack(&alerts, 20)["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(header.contains("3 alerts, 1 resolved"), "{header}");
}

#[test]
fn a_storm_of_repeated_alerts_counts_alerts_and_stays_within_slacks_limits() {
    // 3,000 alerts, each firing then still failing, a third of them resolved:
    // more than 50 blocks would hold, even one line per alert.
    let mut notifications = Vec::new();
    for state in ["FIRING", "STILL FAILING", "RESOLVED"] {
        for n in 0..3000 {
            if state != "RESOLVED" || n % 3 == 0 {
                notifications.push(queued("production-sync-failed", n, "bills", state));
            }
        }
    }
    let alerts = Item::latest_per_alert(notifications);
    assert_eq!(alerts.len(), 3000);
    let message = render_digest_slack(&alerts, 5000);
    let blocks = message["blocks"].as_array().unwrap();
    assert!(blocks.len() <= 50, "{}", blocks.len());
    for block in blocks {
        if let Some(text) = block["text"]["text"].as_str() {
            assert!(text.chars().count() <= 3000);
        }
    }
    let header = blocks[0]["text"]["text"].as_str().unwrap();
    assert_eq!(
        header,
        "syncwatch digest · 3000 alerts, 1000 resolved: 3000 production-sync-failed"
    );
    let all = message.to_string();
    assert!(all.contains("By state:* 2000 STILL FAILING, 1000 RESOLVED"), "{header}");
    let listed = bullets(&message);
    assert!(listed.len() < 3000);
    assert!(
        listed.iter().all(|line| !line.starts_with("CRITICAL")),
        "no FIRING left"
    );
    let closing = blocks.last().unwrap()["elements"][0]["text"].as_str().unwrap();
    assert!(
        closing.starts_with(&format!("… and {} more", 3000 - listed.len())),
        "{closing}"
    );
}
