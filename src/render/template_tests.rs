//! A template sees every value escaped for where its text goes. The
//! variables are found by walking the serialized context, not listed here,
//! so a variable added later is tested without anyone remembering to.

use std::collections::BTreeMap;

use serde_json::Value;

use super::*;
use crate::render::Message;
use crate::render::channel::{slack_message, templated_email};
use crate::render::email::EmailMessage;

/// Slack mentions, HTML, mrkdwn, a Markdown link, and a line break that
/// would forge a header or another line of the message.
const HOSTILE: &str = "<!channel> <@U123> <script>x</script> *bold* [x](http://evil)\r\nBcc: evil@example.com";

/// One step down to a variable's value: a field, or every element of a list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Field(String),
    Each,
}

type Route = Vec<Step>;

fn shown(path: &[Step]) -> String {
    path.iter()
        .map(|step| match step {
            Step::Field(name) => format!(".{name}"),
            Step::Each => "[]".to_owned(),
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_owned()
}

/// The first element of every list at `path` in any sample, so that a list
/// empty in one kind of message (a firing's `items`) can be filled.
fn prototypes(value: &Value, path: &mut Route, found: &mut BTreeMap<Route, Value>) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields {
                path.push(Step::Field(name.clone()));
                prototypes(field, path, found);
                path.pop();
            }
        }
        Value::Array(values) => {
            path.push(Step::Each);
            if let Some(first) = values.first() {
                found.entry(path.clone()).or_insert_with(|| first.clone());
            }
            values.iter().for_each(|v| prototypes(v, path, found));
            path.pop();
        }
        _ => {}
    }
}

/// `value` with every empty list given one element (a prototype, or a
/// null that may become text), so that each list's elements are tested.
fn filled(value: &mut Value, path: &mut Route, found: &BTreeMap<Route, Value>) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                path.push(Step::Field(name.clone()));
                filled(field, path, found);
                path.pop();
            }
        }
        Value::Array(values) => {
            path.push(Step::Each);
            if values.is_empty() {
                values.push(found.get(path).cloned().unwrap_or(Value::Null));
            }
            values.iter_mut().for_each(|v| filled(v, path, found));
            path.pop();
        }
        _ => {}
    }
}

/// The path of every value that is not an object or a list.
fn leaves(value: &Value, path: &mut Route, out: &mut Vec<Route>) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields {
                path.push(Step::Field(name.clone()));
                leaves(field, path, out);
                path.pop();
            }
        }
        Value::Array(values) => {
            path.push(Step::Each);
            values.iter().for_each(|v| leaves(v, path, out));
            path.pop();
        }
        _ if !out.contains(path) => out.push(path.clone()),
        _ => {}
    }
}

/// Every value at `path` replaced by `text`.
fn set(value: &mut Value, path: &[Step], text: &str) {
    match (path.split_first(), value) {
        (None, value) => *value = Value::String(text.to_owned()),
        (Some((Step::Field(name), rest)), Value::Object(fields)) => {
            if let Some(field) = fields.get_mut(name) {
                set(field, rest, text);
            }
        }
        (Some((Step::Each, rest)), Value::Array(values)) => values.iter_mut().for_each(|v| set(v, rest, text)),
        _ => {}
    }
}

/// `sample` with hostile text in every variable that can hold text (a
/// number cannot, and is left), and the paths of those variables.
fn hostile(sample: &Context, found: &BTreeMap<Route, Value>) -> (Context, Vec<Route>) {
    let mut value = serde_json::to_value(sample).unwrap();
    filled(&mut value, &mut Vec::new(), found);
    let mut paths = Vec::new();
    leaves(&value, &mut Vec::new(), &mut paths);
    let mut texts = Vec::new();
    for path in paths {
        let mut tried = value.clone();
        set(&mut tried, &path, HOSTILE);
        if serde_json::from_value::<Context>(tried.clone()).is_ok() {
            value = tried;
            texts.push(path);
        }
    }
    (serde_json::from_value(value).unwrap(), texts)
}

/// A template that prints the value at `path`, looping through lists.
fn printing(path: &[Step]) -> String {
    let (mut expr, mut open, mut close) = (String::new(), String::new(), String::new());
    for (depth, step) in path.iter().enumerate() {
        match step {
            Step::Field(name) if expr.is_empty() => expr = name.clone(),
            Step::Field(name) => expr = format!("{expr}.{name}"),
            Step::Each => {
                open.push_str(&format!("{{% for x{depth} in {expr} %}}"));
                close.insert_str(0, "{% endfor %}");
                expr = format!("x{depth}");
            }
        }
    }
    format!("[{open}{{{{ {expr} }}}}{close}]")
}

/// The template's own outcome, never the built-in fallback: a failure here
/// is the test's failure, not a pass on the built-in message's escaping.
fn rendered(template: &Template, context: &Context) -> impl FnMut(&Template, Medium) -> Option<String> {
    let (template, context) = (template.clone(), context.clone());
    move |_, medium| Some(template.outcome(&context, medium).unwrap())
}

fn slack_text(template: &Template, context: &Context) -> String {
    match slack_message(Some(template), &mut rendered(template, context), || Value::Null) {
        Message::Slack { payload, .. } => payload["text"].as_str().unwrap().to_owned(),
        _ => unreachable!(),
    }
}

fn email(template: &Template, context: &Context) -> EmailMessage {
    let built_in = EmailMessage {
        subject: "built-in".into(),
        text: "built-in".into(),
        html: "built-in".into(),
        message_id: None,
        in_reply_to: None,
    };
    let mut render = rendered(template, context);
    templated_email(built_in, Some(template), Some(template), &mut render)
}

/// Each sample's kind (`firing`, ...: the sample's own, before the walk
/// made it hostile too), made hostile, with the paths it filled with text.
fn hostile_samples() -> Vec<(String, Context, Vec<Route>)> {
    let mut found = BTreeMap::new();
    for sample in samples() {
        prototypes(&serde_json::to_value(&sample).unwrap(), &mut Vec::new(), &mut found);
    }
    samples()
        .iter()
        .map(|sample| {
            let (context, paths) = hostile(sample, &found);
            (format!("{} ({})", sample.kind, sample.rule), context, paths)
        })
        .collect()
}

#[test]
fn every_variable_of_every_kind_of_message_is_escaped_for_where_it_goes() {
    let samples = hostile_samples();
    assert_eq!(
        samples.len(),
        6,
        "firing, still failing, resolved, digest, absence, connection lost"
    );
    for (kind, context, paths) in &samples {
        for path in paths {
            let source = printing(path);
            let template = Template::compile(std::path::Path::new("hostile.j2"), source.clone()).unwrap();
            let at = format!("`{}` of the {kind} sample, template {source}", shown(path));

            // The operator's own text (a rule's description) keeps its
            // lines; a payload's value never has any.
            let own = matches!(path.first(), Some(Step::Field(name)) if OWN_TEXT.contains(&name.as_str()));

            let slack = slack_text(&template, context);
            assert!(!slack.contains(['<', '>']), "{at} reaches Slack unescaped: {slack}");
            assert!(slack.contains("&lt;!channel&gt;"), "{at} printed no value: {slack}");
            assert!(
                own || !slack.contains(['\r', '\n']),
                "{at} breaks a Slack line: {slack}"
            );

            let email = email(&template, context);
            for raw in ["<script", "<!channel>", "<@U123>"] {
                assert!(
                    !email.html.contains(raw),
                    "{at} reaches the HTML part raw: {}",
                    email.html
                );
            }
            assert!(
                email.html.contains("&lt;script&gt;"),
                "{at} printed no value: {}",
                email.html
            );
            assert!(
                !email.subject.contains(['\r', '\n']),
                "{at} breaks the subject: {:?}",
                email.subject
            );
            assert!(
                own || !email.text.contains(['\r', '\n']),
                "{at} breaks a line of the text: {:?}",
                email.text
            );
        }
    }
}

#[test]
fn the_walk_reaches_every_variable_and_the_payload_values_deep_in_lists() {
    let samples = hostile_samples();
    let top: Vec<String> = match serde_json::to_value(&samples[0].1).unwrap() {
        Value::Object(fields) => fields.keys().cloned().collect(),
        _ => unreachable!(),
    };
    let mut documented: Vec<String> = VARIABLES.iter().map(|v| (*v).to_owned()).collect();
    documented.sort();
    assert_eq!(
        top, documented,
        "VARIABLES (and the README) name every variable the context has"
    );
    for (kind, _, paths) in &samples {
        let names: Vec<String> = paths.iter().map(|p| shown(p)).collect();
        for deep in [
            "counts",
            "items[].reason",
            "problems[].status",
            "problems[].lines[]",
            "data_type",
        ] {
            assert!(names.contains(&deep.to_owned()), "{deep} untested in {kind}: {names:?}");
        }
    }
}

#[test]
fn only_numbers_cannot_hold_text() {
    // A variable the walk could not fill with text must be a number in some
    // sample, or the walk skipped text it should have tested.
    let mut numbers = Vec::new();
    for sample in samples() {
        let value = serde_json::to_value(&sample).unwrap();
        let mut paths = Vec::new();
        leaves(&value, &mut Vec::new(), &mut paths);
        for path in paths {
            let mut at = vec![&value];
            for step in &path {
                at = at
                    .into_iter()
                    .flat_map(|v| match (step, v) {
                        (Step::Field(name), Value::Object(fields)) => fields.get(name).into_iter().collect(),
                        (Step::Each, Value::Array(values)) => values.iter().collect::<Vec<_>>(),
                        _ => Vec::new(),
                    })
                    .collect();
            }
            if at.iter().any(|v| v.is_number()) {
                numbers.push(path);
            }
        }
    }
    for (_, context, texts) in hostile_samples() {
        let mut all = Vec::new();
        leaves(&serde_json::to_value(&context).unwrap(), &mut Vec::new(), &mut all);
        for path in all.iter().filter(|p| !texts.contains(p)) {
            assert!(numbers.contains(path), "`{}` holds no text and no number", shown(path));
        }
    }
}

#[test]
fn numbers_stay_numbers_and_a_description_keeps_its_lines() {
    let digest = samples().remove(3);
    let template = Template::compile(std::path::Path::new("n.j2"), "{{ count }} {{ more }}".into()).unwrap();
    assert_eq!(template.try_render(&digest, Medium::Slack).unwrap(), "30 10");

    let mut firing = samples().remove(0);
    firing.description = Some("Check the <ledger>\nthen call finance".into());
    let template = Template::compile(std::path::Path::new("d.j2"), "{{ description }}".into()).unwrap();
    assert_eq!(
        template.try_render(&firing, Medium::Slack).unwrap(),
        "Check the &lt;ledger&gt;\nthen call finance"
    );
    assert_eq!(
        template.try_render(&firing, Medium::Text).unwrap(),
        "Check the <ledger>\nthen call finance"
    );
    assert_eq!(
        template.try_render(&firing, Medium::Subject).unwrap(),
        "Check the <ledger> then call finance"
    );
}

#[test]
fn a_template_that_renders_nothing_is_a_failure_that_names_the_file() {
    let template = Template::compile(std::path::Path::new("/t/empty.j2"), "  \n".into()).unwrap();
    let error = template.outcome(&samples()[0], Medium::Slack).unwrap_err();
    assert_eq!(error, "/t/empty.j2: rendered nothing");
}

/// The Slack template of docs/channels.md, as a reader copies it.
fn readme_template() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/channels.md")).unwrap();
    let start = readme
        .find("{# /etc/syncwatch/slack.j2 #}")
        .expect("docs/channels.md shows slack.j2");
    let end = start + readme[start..].find("\n```").unwrap();
    readme[start..end].to_owned()
}

#[test]
fn the_readmes_template_reads_well_for_every_kind_of_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slack.j2");
    std::fs::write(&path, readme_template()).unwrap();
    let template = Template::load(&path, Medium::Slack).expect("the README's template is valid");
    for sample in crate::render::template_samples::samples() {
        let text = template.try_render(&sample, Medium::Slack).unwrap();
        assert!(
            !text.contains("None") && !text.contains("none"),
            "{}: {text}",
            sample.kind
        );
        if sample.kind != "digest" {
            let connection = sample.connection.as_deref().unwrap_or_default();
            assert!(text.contains(connection), "{}: no connection in {text}", sample.kind);
        }
    }
}
