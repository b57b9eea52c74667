//! `syncwatch test` shows what each channel would really receive: its
//! templates applied to the payload's values (escaped for the channel), or
//! the built-in message when a template fails at run time, and says so.

use std::path::Path;

use crate::helpers::{RulesFile, stderr, stdout, syncwatch};

/// Slack channel `ops` with `slack.j2`, email channel `mail` with
/// `subject.j2` and `body.j2`, and an untemplated Slack channel `plain`.
fn rules(dir: &Path, slack: &str, subject: &str, body: &str) -> String {
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"http://127.0.0.1:9/h\", template: {} }}\n  mail:\n    email: {{ host: 127.0.0.1, port: 1, tls: none, from: a@example.com, to: ops@example.com, subject_template: {}, body_template: {} }}\n  plain:\n    slack: {{ webhook_url: \"http://127.0.0.1:9/p\" }}\ndefaults:\n  notify: [ops, mail, plain]\nrules:\n  - name: bills-failing\n    when: {{ failed: {{ above: 0 }} }}\n",
        write("slack.j2", slack),
        write("subject.j2", subject),
        write("body.j2", body)
    )
}

/// `syncwatch test` on `payload`: its standard output.
fn test_command(rules: &RulesFile, payload: &str) -> String {
    let file = rules.dir.path().join("payload.json");
    std::fs::write(&file, payload).unwrap();
    let output = syncwatch(
        &["test", "--config", rules.path.to_str().unwrap(), file.to_str().unwrap()],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    stdout(&output)
}

/// A business name and an unknown status that would ping a Slack channel
/// and run a script in the HTML part if they reached either raw.
const HOSTILE: &str = r#"{"data":{"event":"data","connectionId":"CON-1","businessName":"<!channel> <script>x</script>","sandbox":false,"requests":[{"request":"bills","status":"failed"},{"request":"invoices","status":"<!channel>"}]},"requestId":"t1"}"#;

#[test]
fn test_shows_each_channel_its_template_applied_with_the_payload_values_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let rules = RulesFile::new(&rules(
        dir.path(),
        "CUSTOM {{ rule }} for {{ business }}: {{ counts }}",
        "[ours] {{ rule }}: {{ business }}",
        "Body for {{ business }}\nstatuses {{ counts }}",
    ));
    let out = test_command(&rules, HOSTILE);
    let slack = dir.path().join("slack.j2").display().to_string();
    assert!(
        out.contains(&format!(
            "--- bills-failing -> ops (slack) (template {slack}) would receive:"
        )),
        "{out}"
    );
    assert!(
        out.contains(r#""text": "CUSTOM bills-failing for &lt;!channel&gt; &lt;script&gt;x&lt;/script&gt;: failed 1, &lt;!channel&gt; 1""#),
        "the template's text, values escaped for Slack: {out}"
    );
    let (subject, body) = (dir.path().join("subject.j2"), dir.path().join("body.j2"));
    assert!(
        out.contains(&format!(
            "--- bills-failing -> mail (email) (subject template {}) (body template {}) would receive:",
            subject.display(),
            body.display()
        )),
        "{out}"
    );
    assert!(
        out.contains("Subject: [ours] bills-failing: <!channel> <script>x</script>\n"),
        "{out}"
    );
    assert!(
        out.contains("Body for <!channel> <script>x</script>\nstatuses failed 1, <!channel> 1"),
        "the text part is plain text: {out}"
    );
    assert!(
        out.contains("--- bills-failing -> plain (slack) would receive:"),
        "no template, nothing said: {out}"
    );
    assert!(
        out.contains(r#""type": "header""#),
        "a channel without a template shows the built-in blocks: {out}"
    );
    assert!(!out.contains("template failed"), "{out}");
}

#[test]
fn test_shows_the_built_in_message_when_a_template_fails_at_run_time_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // Valid for every sample `check` renders; fails for this business.
    let failing = "{% if business == \"Acme\" %}{{ items[5].rule }}{% else %}{{ rule }}{% endif %}";
    let rules = RulesFile::new(&rules(dir.path(), failing, "{{ rule }}", failing));
    let payload = r#"{"data":{"event":"data","connectionId":"CON-1","businessName":"Acme","sandbox":false,"requests":[{"request":"bills","status":"failed"}]},"requestId":"t2"}"#;
    let out = test_command(&rules, payload);
    let ops = out
        .split("\n--- ")
        .find(|part| part.starts_with("bills-failing -> ops "))
        .unwrap_or_else(|| panic!("{out}"));
    let slack = dir.path().join("slack.j2").display().to_string();
    assert!(
        ops.contains(&format!("template failed: {slack}:1:")),
        "the failure, with the file: {ops}"
    );
    assert!(ops.contains("send the built-in text instead"), "{ops}");
    assert!(
        ops.contains(r#""type": "header""#),
        "the built-in message is what the daemon sends: {ops}"
    );
    let mail = out
        .split("\n--- ")
        .find(|part| part.starts_with("bills-failing -> mail "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        mail.contains("Subject: bills-failing\n"),
        "the subject template that works is used: {mail}"
    );
    assert!(
        mail.contains("template failed") && mail.contains("sent by syncwatch"),
        "the body that fails gives way to the built-in text part: {mail}"
    );
}
