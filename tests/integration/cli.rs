//! `syncwatch check` and `syncwatch test`, run as processes.

use crate::helpers::{EXAMPLE_ENV, RulesFile, fixture, repo_file, stderr, stdout, syncwatch};

#[test]
fn check_accepts_the_example_rules_once_their_variables_are_set() {
    let example = repo_file("rules.example.yaml");
    let output = syncwatch(&["check", "--config", example.to_str().unwrap()], EXAMPLE_ENV);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("OK, 6 rules, 2 channels"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn check_names_each_unset_variable_of_the_example() {
    let example = repo_file("rules.example.yaml");
    let output = syncwatch(&["check", "--config", example.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    for name in ["RAILZ_SIGNING_SECRET", "SLACK_WEBHOOK_URL", "SMTP_PASSWORD"] {
        assert!(
            err.contains(&format!("environment variable `{name}` is not set")),
            "{err}"
        );
    }
    assert!(err.contains("3 errors"), "{err}");
}

#[test]
fn check_reports_every_error_with_file_line_rule_and_key() {
    let rules = RulesFile::new("rules:\n  - name: r\n    notify: [nowhere]\n    when:\n      failed: { abov: 1 }\n");
    let output = syncwatch(&["check", "--config", rules.path.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    let file = rules.path.display();
    assert!(
        err.contains(&format!(
            "{file}:3: rule \"r\": rules[0].notify[0]: no channel is named `nowhere`"
        )),
        "{err}"
    );
    assert!(err.contains(&format!("{file}:5: rule \"r\": rules[0].when.failed.abov: unknown key `abov` (allowed: above, at_least, below, data_types, report_frequency)")), "{err}");
}

#[test]
fn check_takes_the_config_from_the_environment_when_not_given() {
    let rules = RulesFile::new("rules: []\n");
    let output = syncwatch(&["check"], &[("SYNCWATCH_CONFIG", rules.path.to_str().unwrap())]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn check_without_a_readable_file_says_so() {
    let output = syncwatch(&["check", "--config", "/nonexistent/rules.yaml"], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("/nonexistent/rules.yaml: cannot read the file"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_usage_error_exits_2() {
    assert_eq!(syncwatch(&["check", "--bogus"], &[]).status.code(), Some(2));
    assert_eq!(syncwatch(&["test", "--config", "x.yaml"], &[]).status.code(), Some(2));
}

fn test_example(payload: &str) -> String {
    let example = repo_file("rules.example.yaml");
    let payload = fixture(payload);
    let output = syncwatch(
        &["test", "--config", example.to_str().unwrap(), payload.to_str().unwrap()],
        EXAMPLE_ENV,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    stdout(&output)
}

#[test]
fn test_on_the_full_payload_shows_the_rules_that_fire_and_the_messages() {
    let out = test_example("data-full.json");
    assert!(
        out.contains("matches production-sync-failed (critical) -> ops-slack, finance-email"),
        "{out}"
    );
    assert!(
        out.contains("matches empty-monthly-income-statements (warning) -> finance-email"),
        "{out}"
    );
    assert!(
        out.contains("no      sandbox-failures-to-slack-only: environment is production, rule wants sandbox"),
        "{out}"
    );
    assert!(out.contains("Subject: [syncwatch] CRITICAL production-sync-failed: 1 failed for BIZ-d6b1c7d3-fe41-4447-ae72-3814b78b5142 (quickbooks)"), "{out}");
    assert!(out.contains("incomeStatements month 2018-04-01..2018-04-30"), "{out}");
    assert!(out.contains("\"type\": \"header\""), "the Slack JSON is shown: {out}");
    assert!(out.contains("a3b4fc83-3e24-41aa-ba99-13cab09b0b7a"), "{out}");
    assert!(!out.contains("hooks.slack.com"), "the webhook URL is a secret: {out}");
}

#[test]
fn test_on_the_simple_payload_explains_why_nothing_fires() {
    let out = test_example("data-simple.json");
    assert!(!out.contains("matches "), "{out}");
    assert!(
        out.contains("no      production-sync-failed: failed count is 0, rule wants above 0"),
        "{out}"
    );
}

#[test]
fn test_on_the_per_type_payload_reads_its_data_type() {
    let out = test_example("data-per-type.json");
    assert!(
        out.contains("no      quickbooks-bills-all-empty: service is `sageIntacct`, rule wants `quick*`"),
        "{out}"
    );
}

#[test]
fn test_reports_a_payload_that_is_not_an_event_and_goes_on() {
    let rules = RulesFile::new("rules: []\n");
    let bad = rules.dir.path().join("bad.json");
    std::fs::write(&bad, "{\"data\": 3}").unwrap();
    let good = fixture("data-full.json");
    let output = syncwatch(
        &[
            "test",
            "--config",
            rules.path.to_str().unwrap(),
            bad.to_str().unwrap(),
            good.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(
        out.contains("not a Railz event: `data` must be an object, found a number"),
        "{out}"
    );
    assert!(
        out.contains("requests: failed 1, empty 1, success 3"),
        "the next payload is still evaluated: {out}"
    );
}

#[test]
fn check_under_journald_gives_each_error_line_the_err_priority() {
    let rules = RulesFile::new("rules:\n  - name: r\n    notify: []\n    when: { failed: { abov: 1 } }\n");
    let output = syncwatch(
        &["check", "--config", rules.path.to_str().unwrap()],
        &[("JOURNAL_STREAM", "8:1")],
    );
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(!err.is_empty());
    for line in err.lines() {
        assert!(line.starts_with("<3>"), "{err}");
    }
}

#[test]
fn check_warns_about_what_can_never_match_and_still_exits_0() {
    let rules = RulesFile::new(
        "rules:\n  - name: r\n    notify: []\n    when: { service: Quickbooks, failed: { above: 0 } }\n",
    );
    let output = syncwatch(&["check", "--config", rules.path.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let said = stdout(&output);
    assert!(said.contains("warning: rule \"r\": notifies no channel"), "{said}");
    assert!(
        said.contains("warning: rule \"r\": service `Quickbooks` never matches: Railz sends `quickbooks`"),
        "{said}"
    );
}
