use super::*;
use crate::render::test_support::{HOSTILE, facts, hostile_payload, rule};

fn all_text(message: &Value) -> String {
    message.to_string()
}

#[test]
fn the_message_has_blocks_and_a_plain_text_fallback() {
    let rule = rule("{ failed: { above: 0 } }");
    let message = render_slack(&facts(&rule, &hostile_payload(2)));
    let text = message["text"].as_str().unwrap();
    assert!(
        text.starts_with("[PRODUCTION] CRITICAL prod-failed: 2 failed for "),
        "{text}"
    );
    let blocks = message["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "CRITICAL prod-failed");
    assert!(all_text(&message).contains("type0&lt;b&gt; month 2020-01-01..2020-01-31"));
    assert!(all_text(&message).contains("req-1"));
}

#[test]
fn payload_values_are_escaped_so_slack_shows_them() {
    let rule = rule("{ failed: { above: 0 } }");
    let message = render_slack(&facts(&rule, &hostile_payload(1)));
    let json = all_text(&message);
    assert!(!json.contains("<!channel>"), "{json}");
    assert!(!json.contains("<http://x|y>"), "{json}");
    assert!(json.contains("&lt;!channel&gt; &amp; &lt;http://x|y&gt;"), "{json}");
    assert!(
        !json.contains("\\r\\nBcc"),
        "line breaks in values are flattened: {json}"
    );
    assert!(HOSTILE.contains('\n'));
}

#[test]
fn five_thousand_failures_stay_within_slacks_limits() {
    let rule = rule("{ failed: { above: 0 } }");
    let message = render_slack(&facts(&rule, &hostile_payload(5000)));
    let blocks = message["blocks"].as_array().unwrap();
    assert!(blocks.len() <= 50);
    for block in blocks {
        if let Some(text) = block["text"]["text"].as_str() {
            let max = if block["type"] == "header" { 150 } else { 3000 };
            assert!(text.chars().count() <= max, "{} chars in {}", text.len(), block["type"]);
        }
        for field in block["fields"].as_array().into_iter().flatten() {
            assert!(field["text"].as_str().unwrap().chars().count() <= 2000);
        }
    }
    let listing = blocks
        .iter()
        .find_map(|b| b["text"]["text"].as_str().filter(|t| t.starts_with("*failed")))
        .unwrap();
    assert!(listing.starts_with("*failed (5000)*"), "{listing}");
    let more = listing.lines().last().unwrap();
    assert!(more.starts_with("… and ") && more.ends_with(" more"), "{more}");
    let shown = listing.lines().filter(|l| l.starts_with('•')).count();
    let hidden: usize = more
        .trim_start_matches("… and ")
        .trim_end_matches(" more")
        .parse()
        .unwrap();
    assert_eq!(shown + hidden, 5000, "every failure is shown or counted");
}

#[test]
fn a_long_rule_name_is_cut_in_the_header() {
    let mut rule = rule("{ failed: { above: 0 } }");
    rule.name = "x".repeat(400);
    let message = render_slack(&facts(&rule, &hostile_payload(1)));
    let header = message["blocks"][0]["text"]["text"].as_str().unwrap();
    assert_eq!(header.chars().count(), 150);
    assert!(header.ends_with('…'));
}
