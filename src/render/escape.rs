//! Escaping payload values for each medium. Every value from a webhook is
//! hostile until escaped: a business named `<!channel>` must not page a
//! whole Slack workspace, and a CR/LF must not reach an email header.

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
}
