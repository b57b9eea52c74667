//! The cases file of `syncwatch test --cases`: named cases, each a list of
//! steps at times from the case's start that post payloads and say which
//! notifications are due by then. Everything is read and checked before
//! any case runs, so a typo is one clear error, not a failed case.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::{Config, DURATION_FORMS, parse_duration};

/// What a case says of a notification: `state` as the messages say it.
pub const STATES: [&str; 3] = ["FIRING", "STILL FAILING", "RESOLVED"];

#[derive(Debug)]
pub struct Case {
    pub name: String,
    pub steps: Vec<Step>,
}

#[derive(Debug)]
pub struct Step {
    /// From the case's start.
    pub at: Duration,
    /// `at` as written, for the report.
    pub at_text: String,
    /// Webhook bodies to post at `at`, in order.
    pub posts: Vec<Vec<u8>>,
    /// `None`: the step only feeds the clock and the events.
    pub expect: Option<Vec<Expected>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub rule: String,
    pub channel: String,
    pub state: &'static str,
    pub connection: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    /// When `0s` is (RFC 3339); by default a fixed Monday, 00:00 UTC, so
    /// a case with maintenance windows gives the same result whenever CI
    /// runs it.
    #[serde(default)]
    start: Option<String>,
    cases: Vec<RawCase>,
}

/// `0s` of every case unless the file says otherwise: Monday 2026-01-05,
/// 00:00 UTC.
pub const DEFAULT_START: &str = "2026-01-05T00:00:00Z";
/// The simulated clock ticks through every minute up to a step: a year is
/// seconds of work, a century would be hours.
const LONGEST: Duration = Duration::from_secs(366 * 86_400);

/// The cases of a file, and when their `0s` is.
pub struct Cases {
    pub start: std::time::SystemTime,
    pub cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    steps: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    at: String,
    #[serde(default)]
    post: Option<OneOrMany>,
    #[serde(default)]
    expect: Option<Vec<RawExpected>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpected {
    rule: String,
    channel: String,
    state: String,
    #[serde(default)]
    connection: Option<String>,
}

/// Reads the cases at `path`; payload paths are relative to its folder.
/// Every problem found is returned, each naming its case and step.
pub fn read_cases(path: &Path, config: &Config) -> Result<Cases, Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| vec![format!("{}: cannot read the file: {err}", path.display())])?;
    let raw: RawFile = serde_yaml::from_str(&text)
        .map_err(|err| vec![format!("{}: not a valid cases file: {err}", path.display())])?;
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut errors = Vec::new();
    let start = raw.start.as_deref().unwrap_or(DEFAULT_START);
    let start = match start.parse::<jiff::Timestamp>() {
        Ok(start) => std::time::SystemTime::from(start),
        Err(err) => {
            errors.push(format!(
                "`start: {start}` is not an RFC 3339 time (2026-01-05T00:00:00Z): {err}"
            ));
            std::time::SystemTime::UNIX_EPOCH
        }
    };
    // A file that tests nothing must not pass in CI.
    if raw.cases.is_empty() {
        errors.push("lists no case: a cases file that tests nothing would always pass".into());
    }
    let mut names = std::collections::HashSet::new();
    for case in &raw.cases {
        if !names.insert(case.name.as_str()) {
            errors.push(format!("two cases are named `{}`: give each its own name", case.name));
        }
        if case.steps.is_empty() {
            errors.push(format!("case `{}` has no step", case.name));
        }
    }
    let cases = raw
        .cases
        .into_iter()
        .map(|case| read_case(case, folder, config, &mut errors))
        .collect();
    match errors.is_empty() {
        true => Ok(Cases { start, cases }),
        false => Err(errors.into_iter().map(|e| format!("{}: {e}", path.display())).collect()),
    }
}

fn read_case(raw: RawCase, folder: &Path, config: &Config, errors: &mut Vec<String>) -> Case {
    let mut steps: Vec<Step> = Vec::new();
    for (index, step) in raw.steps.into_iter().enumerate() {
        let mut error = |message: String| errors.push(format!("case `{}`, step {}: {message}", raw.name, index + 1));
        let at = parse_duration(&step.at);
        match at {
            None => error(format!("`at: {}` is not a duration: {DURATION_FORMS}", step.at)),
            Some(at) if at > LONGEST => error(format!("`at: {}` is more than a year (366d) from the start", step.at)),
            Some(at) => {
                if let Some(before) = steps.last().filter(|s| s.at > at) {
                    error(format!(
                        "`at: {}` is earlier than the step before it ({})",
                        step.at, before.at_text
                    ));
                }
            }
        }
        let posts = read_posts(step.post, folder, &mut error);
        let expect = step.expect.map(|items| {
            items
                .into_iter()
                .filter_map(|e| read_expected(e, config, &mut error))
                .collect()
        });
        steps.push(Step {
            at: at.unwrap_or_default(),
            at_text: step.at,
            posts,
            expect,
        });
    }
    Case { name: raw.name, steps }
}

fn read_posts(post: Option<OneOrMany>, folder: &Path, error: &mut impl FnMut(String)) -> Vec<Vec<u8>> {
    let paths = match post {
        None => Vec::new(),
        Some(OneOrMany::One(path)) => vec![path],
        Some(OneOrMany::Many(paths)) => paths,
    };
    let mut bodies = Vec::new();
    for path in paths {
        let resolved: PathBuf = folder.join(&path);
        match std::fs::read(&resolved) {
            Ok(body) => bodies.push(body),
            Err(err) => error(format!("cannot read `{}`: {err}", resolved.display())),
        }
    }
    bodies
}

fn read_expected(raw: RawExpected, config: &Config, error: &mut impl FnMut(String)) -> Option<Expected> {
    let mut valid = true;
    if !config.rules.iter().any(|rule| rule.name == raw.rule) {
        error(format!("expects rule `{}`, which rules.yaml does not have", raw.rule));
        valid = false;
    }
    if !config.channels.contains_key(&raw.channel) {
        error(format!(
            "expects channel `{}`, which rules.yaml does not have",
            raw.channel
        ));
        valid = false;
    }
    let state = STATES.iter().find(|s| s.eq_ignore_ascii_case(&raw.state));
    if state.is_none() {
        error(format!("`state: {}` is not one of {}", raw.state, STATES.join(", ")));
    }
    Some(Expected {
        rule: raw.rule,
        channel: raw.channel,
        state: state?,
        connection: raw.connection,
    })
    .filter(|_| valid)
}
