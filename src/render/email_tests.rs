use super::*;
use crate::render::test_support::{facts, hostile_payload, rule};

#[test]
fn the_subject_reads_in_an_inbox_list() {
    let rule = rule("{ failed: { above: 0 } }");
    let body = r#"{"data":{"event":"data","businessName":"BIZ-1","serviceName":"quickbooks","requests":[{"request":"bills","status":"failed"},{"request":"accounts","status":"failed"}]}}"#;
    let message = render_email(&facts(&rule, body));
    assert_eq!(
        message.subject,
        "[syncwatch] CRITICAL prod-failed: 2 failed for BIZ-1 (quickbooks)"
    );
}

#[test]
fn no_line_break_from_the_payload_reaches_the_subject() {
    let rule = rule("{ failed: { above: 0 } }");
    let message = render_email(&facts(&rule, &hostile_payload(1)));
    assert!(!message.subject.contains(['\r', '\n']), "{:?}", message.subject);
    assert!(
        message.subject.contains("Bcc: evil@example.com"),
        "shown as text, harmless"
    );
}

#[test]
fn the_html_part_escapes_every_value() {
    let rule = rule("{ failed: { above: 0 } }");
    let message = render_email(&facts(&rule, &hostile_payload(1)));
    assert!(!message.html.contains("<!channel>"));
    assert!(!message.html.contains("type0<b>"));
    assert!(message.html.contains("&lt;!channel&gt; &amp; &lt;http://x|y&gt;"));
    assert!(
        message
            .html
            .contains("<li>type0&lt;b&gt; month 2020-01-01..2020-01-31</li>")
    );
}

#[test]
fn the_text_part_lists_what_failed_with_periods_and_the_request_id() {
    let rule = rule("{ failed: { above: 0 } }");
    let message = render_email(&facts(&rule, &hostile_payload(2)));
    for expected in [
        "CRITICAL prod-failed (PRODUCTION)",
        "Connection: CON-1",
        "Service: quickbooks",
        "Request ID: req-1",
        "Received: 2023-11-14T22:13:20Z",
        "failed (2):\n  - type0<b> month 2020-01-01..2020-01-31\n  - type1<b> month 2020-01-01..2020-01-31\n",
    ] {
        assert!(
            message.text.contains(expected),
            "missing {expected:?} in\n{}",
            message.text
        );
    }
}

#[test]
fn long_lists_end_in_and_n_more() {
    let rule = rule("{ failed: { above: 0 } }");
    let message = render_email(&facts(&rule, &hostile_payload(5000)));
    assert!(message.text.contains("  … and 4800 more\n"));
    assert!(message.html.contains("<li>… and 4800 more</li>"));
}
