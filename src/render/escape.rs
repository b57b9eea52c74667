//! Escaping payload values for each medium. Every value from a webhook is
//! hostile until escaped: a business named `<!channel>` must not page a
//! whole Slack workspace, a CR/LF must not reach an email header, and a
//! bidirectional control must not reverse what a subject or title reads.

/// Slack mrkdwn: only `&`, `<` and `>` are control characters.
pub fn slack_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Control characters (CR and LF above all) become spaces, so a value can
/// sit in a header or a one-line field.
pub fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Unicode bidirectional controls: the embeddings and overrides
/// (U+202A..U+202E), the isolates (U+2066..U+2069) and the marks (LRM
/// U+200E, RLM U+200F, ALM U+061C).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Bidirectional controls shown as `\u{202e}` rather than obeyed, so a
/// business named `Acme\u{202e}gnp.exe` cannot make a subject, a Slack
/// header or a title read `Acmeexe.png`. For subjects and titles: what a
/// reader sees first, and where a reversal would run to the end of the line.
pub fn bidi_escape(text: &str) -> String {
    if !text.chars().any(is_bidi_control) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_bidi_control(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// At most `max` characters, ending in `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_control_sequences_are_shown_not_interpreted() {
        assert_eq!(
            slack_escape("<!channel> & <http://x|y>"),
            "&lt;!channel&gt; &amp; &lt;http://x|y&gt;"
        );
    }

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(
            html_escape(r#"<b a="1">Tom's & co</b>"#),
            "&lt;b a=&quot;1&quot;&gt;Tom&#39;s &amp; co&lt;/b&gt;"
        );
    }

    #[test]
    fn line_breaks_never_survive_into_one_line() {
        assert_eq!(one_line("BIZ\r\nBcc: evil@x"), "BIZ  Bcc: evil@x");
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate("ééééé", 3), "éé…");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn every_bidirectional_control_is_shown_escaped_and_nothing_else() {
        let controls = [
            ('\u{202A}', r"\u{202a}"),
            ('\u{202B}', r"\u{202b}"),
            ('\u{202C}', r"\u{202c}"),
            ('\u{202D}', r"\u{202d}"),
            ('\u{202E}', r"\u{202e}"),
            ('\u{2066}', r"\u{2066}"),
            ('\u{2067}', r"\u{2067}"),
            ('\u{2068}', r"\u{2068}"),
            ('\u{2069}', r"\u{2069}"),
            ('\u{200E}', r"\u{200e}"),
            ('\u{200F}', r"\u{200f}"),
            ('\u{061C}', r"\u{61c}"),
        ];
        for (control, shown) in controls {
            assert_eq!(bidi_escape(&format!("a{control}b")), format!("a{shown}b"));
        }
        // Right-to-left letters, zero-width joiners and emoji are text, not controls.
        let text = "שלום مرحبا \u{200D}\u{200B} ✅ Café";
        assert_eq!(bidi_escape(text), text);
    }

    mod bidi_in_messages {
        use crate::render::test_support::{facts, rule};
        use crate::render::{Facts, Item, Medium, Template, TemplateContext, render_digest_email, render_digest_slack};
        use crate::render::{render_email, render_slack};

        const RLO: char = '\u{202E}';
        /// Reads `Acmeexe.png` where the override is obeyed.
        const SHOWN: &str = r"Acme\u{202e}gnp.exe";

        fn spoofed() -> Facts {
            let rule = rule("{ failed: { above: 0 } }");
            let body = r#"{"data":{"event":"data","businessName":"Acme\u202egnp.exe","serviceName":"xero","requests":[{"request":"bills","status":"failed"}]},"requestId":"req-1"}"#;
            let facts = facts(&rule, body);
            assert_eq!(
                facts.business,
                format!("Acme{RLO}gnp.exe"),
                "the payload's \\u202e is decoded"
            );
            facts
        }

        #[test]
        fn the_email_subject_and_titles_show_the_override_escaped() {
            let email = render_email(&spoofed());
            assert_eq!(
                email.subject,
                format!("[syncwatch] CRITICAL prod-failed: 1 failed for {SHOWN} (xero)")
            );
            let heading: Vec<&str> = email.text.lines().take(2).collect();
            assert_eq!(
                heading,
                [
                    "CRITICAL prod-failed (PRODUCTION)".to_owned(),
                    format!("1 failed for {SHOWN} (xero)")
                ]
            );
            assert!(
                email
                    .html
                    .contains(&format!("<p><strong>1 failed for {SHOWN} (xero)</strong></p>")),
                "{}",
                email.html
            );
            assert!(!email.subject.contains(RLO));
            let html_title = email.html.split("</p>").next().unwrap();
            assert!(!html_title.contains(RLO), "{html_title}");
        }

        #[test]
        fn slack_headers_and_titles_show_the_override_escaped() {
            let mut facts = spoofed();
            facts.rule = format!("prod{RLO}deliaf");
            let message = render_slack(&facts);
            let header = message["blocks"][0]["text"]["text"].as_str().unwrap();
            assert_eq!(header, r"CRITICAL prod\u{202e}deliaf");
            let fallback = message["text"].as_str().unwrap();
            assert_eq!(
                fallback,
                format!(r"[PRODUCTION] CRITICAL prod\u{{202e}}deliaf: 1 failed for {SHOWN} (xero)")
            );
            let summary = message["blocks"][1]["text"]["text"].as_str().unwrap();
            assert_eq!(summary, format!("*PRODUCTION* · 1 failed for {SHOWN} (xero)"));
        }

        #[test]
        fn digest_subjects_and_headers_show_the_override_escaped() {
            let mut facts = spoofed();
            facts.rule = format!("prod{RLO}deliaf");
            let items = [Item::of(&facts)];
            let slack = render_digest_slack(&items, 10);
            let header = slack["blocks"][0]["text"]["text"].as_str().unwrap();
            assert_eq!(header, r"syncwatch digest · 1 alert: 1 prod\u{202e}deliaf");
            assert!(!slack["text"].as_str().unwrap().contains(RLO));
            let email = render_digest_email(&items, 10);
            assert_eq!(email.subject, r"[syncwatch] 1 alert: 1 prod\u{202e}deliaf");
            assert!(email.html.contains(r"<h2>1 alert: 1 prod\u{202e}deliaf</h2>"));
        }

        #[test]
        fn a_templated_subject_shows_the_override_escaped() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("subject.j2");
            std::fs::write(&path, "{{ business }} failed").unwrap();
            let template = Template::load(&path, Medium::Subject).unwrap();
            let subject = template
                .render(&TemplateContext::of(&spoofed()), Medium::Subject)
                .unwrap();
            assert_eq!(subject, format!("{SHOWN} failed"));
        }
    }
}
