//! Templates: checked against every kind of message before they are used,
//! with file and line in the error; used at run time; and a template that
//! still fails gives way to the built-in message.

use std::time::Duration;

use crate::helpers::{RulesFile, SlackStandIn, eventually, spawn_app, stderr, stdout, syncwatch};

const WAIT: Duration = Duration::from_secs(10);

fn rules_with(dir: &std::path::Path, slack_url: &str, template: &str) -> String {
    let path = dir.join("slack.j2");
    std::fs::write(&path, template).unwrap();
    format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{slack_url}\", template: {} }}\n    digest: off\ndefaults:\n  notify: [ops]\nrules:\n  - name: bills-failing\n    when: {{ failed: {{ above: 0 }} }}\n",
        path.display()
    )
}

fn check(text: &str) -> (Option<i32>, String, String) {
    let file = RulesFile::new(text);
    let output = syncwatch(&["check", "--config", file.path.to_str().unwrap()], &[]);
    (output.status.code(), stdout(&output), stderr(&output))
}

#[test]
fn check_names_the_template_file_and_line_of_a_syntax_error_or_an_unknown_variable() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = check(&rules_with(dir.path(), "http://127.0.0.1:9/h", "line one\n{{ rule \n"));
    assert_eq!(code, Some(1), "{err}");
    let file = dir.path().join("slack.j2").display().to_string();
    assert!(err.contains(&format!("template {file}:2: syntax error")), "{err}");

    let (code, _, err) = check(&rules_with(
        dir.path(),
        "http://127.0.0.1:9/h",
        "{{ rule }}\n{{ bussiness }}\n",
    ));
    assert_eq!(code, Some(1));
    assert!(
        err.contains(&format!("template {file}:2: unknown variable `bussiness`")),
        "{err}"
    );

    let (code, out, err) = check(&rules_with(
        dir.path(),
        "http://127.0.0.1:9/h",
        "Something failed. Look at syncwatch.\n",
    ));
    assert_eq!(code, Some(0), "plain text is a valid template: {err}");
    assert!(out.contains("OK"), "{out}");
}

/// Every documented variable, used once.
const EVERY_VARIABLE: &str = "{{ kind }} {{ state }} {{ rule }} {{ description }} {{ severity }} {{ environment }} \
{{ business }} {{ connection }} {{ service }} {{ sync_type }} {{ event }} {{ data_type }} {{ headline }} \
{{ summary }} {{ counts }} {% for p in problems %}{{ p.status }} {{ p.total }} {{ p.lines | join(\",\") }}{% endfor %} \
{{ failed | join(\",\") }} {{ empty | join(\",\") }} {{ request_id }} {{ received_at }} {{ since }} {{ failing }} \
{{ lasted }} {{ clean_request }} {{ connection_status }} {{ disconnect_reason }} {{ status_message }} {{ last_sync }} \
{{ line }} {{ count }} {% for i in items %}{{ i.rule }} {{ i.business }}{% endfor %} {{ more }}";

#[tokio::test]
async fn a_template_using_every_variable_shapes_the_message_and_escapes_payload_values() {
    let slack = SlackStandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(&rules_with(
        dir.path(),
        &slack.url(),
        &format!("ALERT {{{{ rule }}}} for {{{{ business }}}}\n{EVERY_VARIABLE}"),
    ))
    .await;
    let body = r#"{"data":{"event":"data","connectionId":"CON-1","businessName":"<!channel> & Co","sandbox":false,"requests":[{"request":"bills","status":"failed"}]},"requestId":"t1"}"#;
    assert_eq!(app.post_json(body.to_owned()).await.0, 200);
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    let text = slack.delivered()[0]["text"].as_str().unwrap().to_owned();
    assert!(
        text.starts_with("ALERT bills-failing for &lt;!channel&gt; &amp; Co\nfiring FIRING bills-failing"),
        "{text}"
    );
    assert!(text.contains("failed 1 bills"), "{text}");
    assert!(
        slack.delivered()[0].get("blocks").is_none(),
        "the template replaces the built-in message"
    );
}

#[tokio::test]
async fn a_template_that_fails_at_run_time_gives_way_to_the_built_in_message() {
    let slack = SlackStandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Valid for every sample; fails for this business (no such item).
    let template = "{% if business == \"Acme\" %}{{ items[5].rule }}{% else %}{{ rule }}{% endif %}";
    let app = spawn_app(&rules_with(dir.path(), &slack.url(), template)).await;
    let body = r#"{"data":{"event":"data","connectionId":"CON-1","businessName":"Acme","sandbox":false,"requests":[{"request":"bills","status":"failed"}]},"requestId":"t2"}"#;
    assert_eq!(app.post_json(body.to_owned()).await.0, 200);
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    assert!(
        slack.delivered()[0]["blocks"].is_array(),
        "the built-in message went out"
    );
    // The counter is process-wide, and other tests here fail templates on
    // purpose too: this failure is among those it counted.
    let metrics = app.metrics().await;
    let counted: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("syncwatch_template_failures_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    assert!(counted >= 1, "{metrics}");
}

#[tokio::test]
async fn a_template_that_renders_nothing_gives_way_to_the_built_in_message() {
    let slack = SlackStandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let template = "{% if business != \"Acme\" %}{{ rule }}{% endif %}";
    let app = spawn_app(&rules_with(dir.path(), &slack.url(), template)).await;
    let body = r#"{"data":{"event":"data","connectionId":"CON-1","businessName":"Acme","sandbox":false,"requests":[{"request":"bills","status":"failed"}]},"requestId":"t3"}"#;
    assert_eq!(app.post_json(body.to_owned()).await.0, 200);
    assert!(eventually(WAIT, || slack.delivered().len() == 1).await);
    assert!(
        slack.delivered()[0]["blocks"].is_array(),
        "Slack would refuse an empty text"
    );
}
