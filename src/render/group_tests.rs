use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::render::test_support::{HOSTILE, facts, hostile_payload, rule};
use crate::render::{Facts, Notice, SlackThread, Thread, render_email, render_slack, render_teams, slack_thread_of};

const FAILED: &str = r#"{"data":{"event":"data","businessName":"Acme","serviceName":"xero","connectionId":"CON-1","requests":[{"request":"bills","status":"failed"}]},"requestId":"req-1"}"#;

/// The facts of rule `name` firing on `body`, in its own thread.
fn fired(name: &str, body: &str) -> Facts {
    let mut rule = rule("{ failed: { above: 0 } }");
    rule.name = name.into();
    let mut facts = facts(&rule, body);
    facts.thread = Some(Thread {
        key: format!("{name}/CON-1"),
        since: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    });
    facts
}

fn resolved(mut facts: Facts) -> Facts {
    facts.notice = Notice::Resolved {
        since: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        lasted: Duration::from_secs(600),
        failing: 1,
        clean_request: Some("clean-1".into()),
        reason: None,
    };
    facts
}

fn slack(facts: &Facts) -> Section {
    Section {
        item: Item::of(facts),
        message: Message::Slack {
            payload: render_slack(facts),
            thread: slack_thread_of(facts),
        },
    }
}

fn email(facts: &Facts, id: &str, answers: Option<&str>) -> Section {
    let mut email = render_email(facts);
    email.message_id = Some(format!("<{id}@example.com>"));
    email.in_reply_to = answers.map(|a| format!("<{a}@example.com>"));
    Section {
        item: Item::of(facts),
        message: Message::Email(email),
    }
}

fn teams(facts: &Facts) -> Section {
    Section {
        item: Item::of(facts),
        message: Message::Teams {
            payload: render_teams(facts),
        },
    }
}

const RULES: [&str; 3] = ["production-sync-failed", "bills-failing", "any-failure"];

fn three(section: fn(&Facts) -> Section) -> Vec<Section> {
    RULES.iter().map(|name| section(&fired(name, FAILED))).collect()
}

/// Every block of a Slack payload within Slack's limits.
fn within_slack_limits(payload: &Value) {
    let blocks = payload["blocks"].as_array().unwrap();
    assert!(blocks.len() <= BLOCKS_MAX, "{} blocks", blocks.len());
    for block in blocks {
        let max = if block["type"] == "header" {
            HEADER_MAX
        } else {
            SECTION_MAX
        };
        let text = block["text"]["text"].as_str().unwrap_or_default();
        assert!(
            text.chars().count() <= max,
            "{} in a {}",
            text.chars().count(),
            block["type"]
        );
    }
    assert!(payload["text"].as_str().unwrap().chars().count() <= FALLBACK_MAX);
}

#[test]
fn a_slack_group_is_one_message_with_each_rules_blocks_under_one_title() {
    let sections = three(slack);
    let Some(Message::Slack { payload, thread }) = group_message(&sections) else {
        panic!("three Slack messages make one")
    };
    within_slack_limits(&payload);
    let blocks = payload["blocks"].as_array().unwrap();
    assert_eq!(
        blocks[0]["text"]["text"],
        "3 alerts: CRITICAL production-sync-failed, CRITICAL bills-failing, CRITICAL any-failure"
    );
    let text = payload["text"].as_str().unwrap();
    assert_eq!(
        text,
        "[syncwatch] 3 alerts for Acme (xero): CRITICAL production-sync-failed, CRITICAL bills-failing, CRITICAL any-failure"
    );
    // Each rule's own message, block for block, after a divider.
    let mut at = 1;
    for section in &sections {
        let Message::Slack { payload: own, .. } = &section.message else {
            unreachable!()
        };
        assert_eq!(blocks[at]["type"], "divider");
        let own = own["blocks"].as_array().unwrap();
        assert_eq!(&blocks[at + 1..at + 1 + own.len()], own.as_slice());
        at += 1 + own.len();
    }
    assert_eq!(at, blocks.len());
    let Some(SlackThread::Group { episodes, ends }) = thread else {
        panic!("a group's place in the threads: {thread:?}")
    };
    let keys: Vec<String> = episodes.iter().map(|e| e.key.clone()).collect();
    assert_eq!(keys, RULES.map(|r| format!("{r}/CON-1")));
    assert!(ends.is_empty());
}

#[test]
fn a_group_of_resolved_ends_each_episode_it_tells() {
    let sections: Vec<Section> = RULES[..2].iter().map(|r| slack(&resolved(fired(r, FAILED)))).collect();
    let Some(Message::Slack { payload, thread }) = group_message(&sections) else {
        panic!()
    };
    assert!(
        payload["text"]
            .as_str()
            .unwrap()
            .contains("RESOLVED production-sync-failed, RESOLVED bills-failing"),
        "{payload}"
    );
    let Some(SlackThread::Group { ends, .. }) = thread else {
        panic!()
    };
    assert_eq!(ends.len(), 2);
    assert_eq!(ends[0].header, "✅ RESOLVED production-sync-failed");
}

#[test]
fn a_slack_group_of_huge_messages_stays_within_limits_and_names_every_rule() {
    let body = hostile_payload(5000);
    let sections: Vec<Section> = (0..12).map(|i| slack(&fired(&format!("rule-{i}"), &body))).collect();
    let Some(Message::Slack { payload, .. }) = group_message(&sections) else {
        panic!()
    };
    within_slack_limits(&payload);
    let all = payload.to_string();
    for i in 0..12 {
        assert!(all.contains(&format!("rule-{i}")), "rule-{i} is named: {all}");
    }
    assert!(!all.contains("<!channel>"), "payload values stay escaped");
}

#[test]
fn a_templates_text_is_a_section_of_the_group() {
    let mut sections = three(slack);
    sections[1].message = Message::Slack {
        payload: json!({ "text": "custom *bills* text" }),
        thread: None,
    };
    let Some(Message::Slack { payload, .. }) = group_message(&sections) else {
        panic!()
    };
    let blocks = payload["blocks"].as_array().unwrap();
    assert!(
        blocks.iter().any(|b| b["text"]["text"] == "custom *bills* text"),
        "{payload}"
    );
}

#[test]
fn an_email_group_names_every_rule_in_its_subject_and_carries_each_email() {
    let sections: Vec<Section> = vec![
        email(&fired(RULES[0], FAILED), "firing-a", None),
        email(&fired(RULES[1], FAILED), "still-b", Some("firing-b")),
        email(&resolved(fired(RULES[2], FAILED)), "resolved-c", Some("firing-c")),
        email(&fired("again-b", FAILED), "still-b2", Some("firing-b")),
    ];
    let Some(Message::Email(group)) = group_message(&sections) else {
        panic!("four emails make one")
    };
    assert_eq!(
        group.subject,
        "[syncwatch] 4 alerts for Acme (xero): CRITICAL production-sync-failed, CRITICAL bills-failing, RESOLVED any-failure, CRITICAL again-b"
    );
    assert_eq!(group.message_id.as_deref(), Some("<firing-a@example.com>"));
    assert_eq!(
        group.in_reply_to.as_deref(),
        Some("<firing-b@example.com> <firing-c@example.com>"),
        "it answers each FIRING the emails answered, once"
    );
    for section in &sections {
        let Message::Email(own) = &section.message else {
            unreachable!()
        };
        let text = own.text.strip_suffix(SIGNATURE).unwrap();
        assert!(group.text.contains(text.trim_end()), "{}", group.text);
        let title = own.html.lines().find(|l| l.starts_with("<h2>")).unwrap();
        assert!(group.html.contains(title), "{title} in {}", group.html);
    }
    assert_eq!(group.text.matches("sent by syncwatch").count(), 1);
    assert_eq!(group.html.matches("sent by syncwatch").count(), 1);
    assert_eq!(group.html.matches("<body").count(), 1);
    assert_eq!(group.html.matches("</body>").count(), 1);
}

#[test]
fn an_email_group_of_hostile_values_keeps_its_subject_one_line_and_its_html_escaped() {
    let body = hostile_payload(3);
    let sections: Vec<Section> = RULES.iter().map(|r| email(&fired(r, &body), r, None)).collect();
    let Some(Message::Email(group)) = group_message(&sections) else {
        panic!()
    };
    assert!(
        !group.subject.contains('\n') && !group.subject.contains('\r'),
        "{}",
        group.subject
    );
    assert!(group.subject.chars().count() <= SUBJECT_MAX);
    assert!(!group.html.contains("<!channel>"), "{}", group.html);
    assert!(group.html.contains(&html_escape(&one_line(HOSTILE))), "{}", group.html);
    assert_eq!(group.in_reply_to, None);
}

#[test]
fn a_teams_group_is_one_card_with_each_cards_body_within_the_limit() {
    let sections = three(teams);
    let Some(Message::Teams { payload }) = group_message(&sections) else {
        panic!()
    };
    let card = &payload["attachments"][0]["content"];
    let body = card["body"].as_array().unwrap();
    assert_eq!(body[0]["text"], "3 alerts for Acme (xero)");
    for name in RULES {
        assert!(body[1]["text"].as_str().unwrap().contains(name), "{}", body[1]);
    }
    assert_eq!(body.len(), 2 + 3, "one container per rule");
    assert_eq!(body[2]["items"], sections_card_body(&sections[0]));

    let huge = hostile_payload(5000);
    let sections: Vec<Section> = (0..10).map(|i| teams(&fired(&format!("rule-{i}"), &huge))).collect();
    let Some(Message::Teams { payload }) = group_message(&sections) else {
        panic!()
    };
    let all = payload.to_string();
    assert!(all.len() <= MESSAGE_MAX, "{} bytes", all.len());
    for i in 0..10 {
        assert!(all.contains(&format!("rule-{i}")), "rule-{i} is named");
    }
}

fn sections_card_body(section: &Section) -> Value {
    let Message::Teams { payload } = &section.message else {
        unreachable!()
    };
    payload["attachments"][0]["content"]["body"].clone()
}

#[test]
fn only_two_or_more_messages_of_one_human_read_kind_group() {
    let sections = three(slack);
    assert_eq!(group_message(&sections[..1]), None, "a lone message is sent as it is");
    let mixed = vec![sections[0].clone(), email(&fired("x", FAILED), "x", None)];
    assert_eq!(group_message(&mixed), None);
    let paged: Vec<Section> = (0..2)
        .map(|_| Section {
            item: sections[0].item.clone(),
            message: Message::Pagerduty { event: json!({}) },
        })
        .collect();
    assert_eq!(group_message(&paged), None, "PagerDuty takes one event per alert");
    assert!(!groups(&paged[0].message));
    assert!(groups(&sections[0].message));
    assert!(!groups(&Message::Webhook { document: json!({}) }));
    assert!(!groups(&Message::Alertmanager { alerts: json!([]) }));
}
