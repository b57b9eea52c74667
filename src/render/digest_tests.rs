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
        header.contains("1000 alerts: 900 production-sync-failed, 100 connection-lost"),
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
        "[syncwatch] 37 alerts: 33 production-sync-failed, 4 connection-lost"
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
