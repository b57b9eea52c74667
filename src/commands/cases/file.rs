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
    cases: Vec<RawCase>,
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
pub fn read_cases(path: &Path, config: &Config) -> Result<Vec<Case>, Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| vec![format!("{}: cannot read the file: {err}", path.display())])?;
    let raw: RawFile = serde_yaml::from_str(&text)
        .map_err(|err| vec![format!("{}: not a valid cases file: {err}", path.display())])?;
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut errors = Vec::new();
    let cases = raw
        .cases
        .into_iter()
        .map(|case| read_case(case, folder, config, &mut errors))
        .collect();
    match errors.is_empty() {
        true => Ok(cases),
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
