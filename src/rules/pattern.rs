//! Value patterns in rules: exact text, with `*` matching any run of
//! characters (`quick*`, `*Statements`, `*`).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    raw: String,
    /// The text between the `*`s; precomputed so matching allocates nothing.
    parts: Vec<String>,
    wildcard: bool,
}

impl Pattern {
    pub fn new(raw: &str) -> Pattern {
        Pattern {
            raw: raw.to_owned(),
            parts: raw.split('*').map(str::to_owned).collect(),
            wildcard: raw.contains('*'),
        }
    }

    pub fn matches(&self, text: &str) -> bool {
        if !self.wildcard {
            return self.raw == text;
        }
        let (first, last) = (&self.parts[0], &self.parts[self.parts.len() - 1]);
        if text.len() < first.len() + last.len() || !text.starts_with(first.as_str()) {
            return false;
        }
        let mut rest = &text[first.len()..];
        for middle in &self.parts[1..self.parts.len() - 1] {
            match rest.find(middle.as_str()) {
                Some(at) => rest = &rest[at + middle.len()..],
                None => return false,
            }
        }
        rest.ends_with(last.as_str())
    }

    pub fn any_matches(patterns: &[Pattern], text: &str) -> bool {
        patterns.iter().any(|p| p.matches(text))
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// `a, b or c` for messages.
pub fn list(patterns: &[Pattern]) -> String {
    let names: Vec<String> = patterns.iter().map(|p| format!("`{p}`")).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_patterns_match_only_themselves() {
        assert!(Pattern::new("quickbooks").matches("quickbooks"));
        assert!(!Pattern::new("quickbooks").matches("quickbooksOnline"));
        assert!(!Pattern::new("quickbooks").matches("QuickBooks"));
    }

    #[test]
    fn stars_match_any_run_of_characters() {
        assert!(Pattern::new("*").matches(""));
        assert!(Pattern::new("*").matches("anything"));
        assert!(Pattern::new("quick*").matches("quickbooks"));
        assert!(Pattern::new("*Statements").matches("incomeStatements"));
        assert!(Pattern::new("BIZ-*-5142").matches("BIZ-d6b1-5142"));
        assert!(Pattern::new("a*b*c").matches("a-b-b-c"));
        assert!(!Pattern::new("a*b*c").matches("a-c"));
        assert!(!Pattern::new("ab*ba").matches("aba"));
    }

    #[test]
    fn lists_read_as_alternatives() {
        let patterns = [Pattern::new("a"), Pattern::new("b"), Pattern::new("c")];
        assert_eq!(list(&patterns), "`a`, `b` or `c`");
        assert_eq!(list(&patterns[..1]), "`a`");
    }
}
