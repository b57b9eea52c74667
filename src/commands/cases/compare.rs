//! A step's expectations against what was delivered: the same notifications
//! in any order, each expected one matching one delivered (`connection`
//! only when the case gives it).

use std::fmt;

use crate::store::sqlite::audit::Told;

use super::file::Expected;

/// What differed at one step.
#[derive(Debug)]
pub struct Difference {
    /// Expected, not delivered.
    pub missing: Vec<Expected>,
    /// Delivered, not expected.
    pub unexpected: Vec<Told>,
    /// Everything delivered at the step, for context.
    pub delivered: Vec<Told>,
}

/// `None` when `told` is exactly `expected`.
pub fn compare(expected: &[Expected], told: &[Told]) -> Option<Difference> {
    let mut unmatched: Vec<&Told> = told.iter().collect();
    let mut missing = Vec::new();
    for want in expected {
        match unmatched.iter().position(|got| matches(want, got)) {
            Some(found) => {
                unmatched.remove(found);
            }
            None => missing.push(want.clone()),
        }
    }
    if missing.is_empty() && unmatched.is_empty() {
        return None;
    }
    Some(Difference {
        missing,
        unexpected: unmatched.into_iter().cloned().collect(),
        delivered: told.to_vec(),
    })
}

fn matches(want: &Expected, got: &Told) -> bool {
    want.rule == got.rule
        && want.channel == got.channel
        && want.state == got.state
        && want
            .connection
            .as_ref()
            .is_none_or(|c| Some(c) == got.connection.as_ref())
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for want in &self.missing {
            let connection = want
                .connection
                .as_deref()
                .map(|c| format!(" for {c}"))
                .unwrap_or_default();
            writeln!(
                f,
                "    expected, not sent: {} -> {} {}{connection}",
                want.rule, want.channel, want.state
            )?;
        }
        for got in &self.unexpected {
            writeln!(f, "    sent, not expected: {}", told_line(got))?;
        }
        match self.delivered.is_empty() {
            true => writeln!(f, "    (nothing was sent by this step)"),
            false => {
                writeln!(f, "    sent by this step:")?;
                self.delivered
                    .iter()
                    .try_for_each(|got| writeln!(f, "      {}", told_line(got)))
            }
        }
    }
}

fn told_line(told: &Told) -> String {
    let connection = told
        .connection
        .as_deref()
        .map(|c| format!(" for {c}"))
        .unwrap_or_default();
    format!("{} -> {} {}{connection}", told.rule, told.channel, told.state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn told(rule: &str, state: &'static str, connection: &str) -> Told {
        Told {
            id: 1,
            rule: rule.into(),
            channel: "ops".into(),
            connection: Some(connection.into()),
            state,
            message: String::new(),
        }
    }

    fn expected(rule: &str, state: &'static str, connection: Option<&str>) -> Expected {
        Expected {
            rule: rule.into(),
            channel: "ops".into(),
            state,
            connection: connection.map(Into::into),
        }
    }

    #[test]
    fn the_same_notifications_in_another_order_match() {
        let sent = [told("a", "FIRING", "c1"), told("b", "RESOLVED", "c2")];
        let want = [expected("b", "RESOLVED", None), expected("a", "FIRING", Some("c1"))];
        assert!(compare(&want, &sent).is_none());
    }

    #[test]
    fn one_expected_notification_matches_one_sent() {
        let sent = [told("a", "FIRING", "c1")];
        let want = [expected("a", "FIRING", None), expected("a", "FIRING", None)];
        let difference = compare(&want, &sent).unwrap();
        assert_eq!(difference.missing, vec![expected("a", "FIRING", None)]);
        assert!(difference.unexpected.is_empty());
    }

    #[test]
    fn a_connection_given_must_be_the_one_sent_about() {
        let sent = [told("a", "FIRING", "c1")];
        let difference = compare(&[expected("a", "FIRING", Some("c2"))], &sent).unwrap();
        let text = difference.to_string();
        assert!(text.contains("expected, not sent: a -> ops FIRING for c2"), "{text}");
        assert!(text.contains("sent, not expected: a -> ops FIRING for c1"), "{text}");
    }

    #[test]
    fn nothing_expected_and_nothing_sent_holds() {
        assert!(compare(&[], &[]).is_none());
        let text = compare(&[expected("a", "FIRING", None)], &[]).unwrap().to_string();
        assert!(text.contains("(nothing was sent by this step)"), "{text}");
    }
}
