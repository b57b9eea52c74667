//! `syncwatch test`: payloads as one story through the lifecycle, and rule
//! tests over time (`--cases`) on a simulated clock, as CI would run them.
//! None of it needs a secret: the shipped example runs with no variable set.

use std::path::Path;

use crate::helpers::{RulesFile, repo_file, stderr, stdout, syncwatch};

/// `syncwatch test --config rules.example.yaml --cases FILE`, with no
/// environment variable set (`syncwatch()` removes the example's).
fn run_cases(cases: &Path) -> (Option<i32>, String) {
    let example = repo_file("rules.example.yaml");
    let output = syncwatch(
        &[
            "test",
            "--config",
            example.to_str().unwrap(),
            "--cases",
            cases.to_str().unwrap(),
        ],
        &[],
    );
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
    (output.status.code(), stdout(&output))
}

/// A cases file in a temporary folder, beside copies of the example's payloads.
fn cases_file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("payloads")).unwrap();
    for entry in std::fs::read_dir(repo_file("examples/rule-tests/payloads")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join("payloads").join(entry.file_name())).unwrap();
    }
    let path = dir.path().join("cases.yaml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn the_shipped_rule_tests_pass_against_the_shipped_rules_without_any_secret() {
    let (code, out) = run_cases(&repo_file("examples/rule-tests/cases.yaml"));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("ok    a connection that stops syncing is noticed after 26 hours (4 steps)"),
        "{out}"
    );
    assert!(
        out.contains("ok    a lost connection reminds every 4 hours until it is back (3 steps)"),
        "{out}"
    );
    assert!(out.contains("4 cases: 4 passed, 0 failed"), "{out}");
}

#[test]
fn an_absence_expectation_that_does_not_hold_fails_with_what_was_sent_instead() {
    let (_dir, cases) = cases_file(
        "cases:\n  - name: silence is noticed\n    steps:\n      - at: 0s\n        post: payloads/sync-clean.json\n      - at: 25h\n        expect:\n          - { rule: connection-stopped-syncing, channel: ops-slack, state: FIRING }\n      - at: 27h\n        expect: []\n",
    );
    let (code, out) = run_cases(&cases);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAIL  silence is noticed"), "{out}");
    assert!(
        out.contains("  step 2 (at 25h):\n    expected, not sent: connection-stopped-syncing -> ops-slack FIRING\n    (nothing was sent by this step)"),
        "{out}"
    );
    assert!(
        out.contains("  step 3 (at 27h):\n    sent, not expected: connection-stopped-syncing -> ops-slack FIRING for CON-0a4e97aa-7a77-bbbb-00aa-b1b1001aa00"),
        "{out}"
    );
    assert!(out.contains("1 case: 0 passed, 1 failed"), "{out}");
}

#[test]
fn a_step_without_expect_leaves_its_notifications_to_the_next_expect() {
    let (_dir, cases) = cases_file(
        "cases:\n  - name: accumulated\n    steps:\n      - at: 0s\n        post: payloads/sync-bills-failed.json\n      - at: 1h\n        post: [payloads/sync-clean.json]\n        expect:\n          - { rule: production-sync-failed, channel: ops-slack, state: FIRING }\n          - { rule: production-sync-failed, channel: finance-email, state: FIRING }\n          - { rule: production-sync-failed, channel: ops-slack, state: RESOLVED }\n          - { rule: production-sync-failed, channel: finance-email, state: RESOLVED }\n",
    );
    let (code, out) = run_cases(&cases);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn a_cases_file_naming_what_rules_yaml_lacks_is_refused_before_any_case_runs() {
    let (_dir, cases) = cases_file(
        "cases:\n  - name: typos\n    steps:\n      - at: 1x\n        post: payloads/missing.json\n        expect:\n          - { rule: prod-sync-failed, channel: ops, state: FIRED }\n",
    );
    let (code, out) = run_cases(&cases);
    assert_eq!(code, Some(1), "{out}");
    for error in [
        "case `typos`, step 1: `at: 1x` is not a duration",
        "case `typos`, step 1: cannot read `",
        "case `typos`, step 1: expects rule `prod-sync-failed`, which rules.yaml does not have",
        "case `typos`, step 1: expects channel `ops`, which rules.yaml does not have",
        "case `typos`, step 1: `state: FIRED` is not one of FIRING, STILL FAILING, RESOLVED",
    ] {
        assert!(out.contains(error), "{error}: {out}");
    }
    assert!(!out.contains("passed"), "no case ran: {out}");
}

#[test]
fn payloads_given_to_test_are_one_story_pending_before_firing() {
    let rules = RulesFile::new(
        "channels:\n  ops:\n    slack: { webhook_url: \"${SLACK_WEBHOOK_URL}\" }\ndefaults:\n  notify: [ops]\nrules:\n  - name: bills-failing-twice\n    after: 2\n    when: { failed: { above: 0 } }\n",
    );
    let payload = repo_file("examples/rule-tests/payloads/sync-bills-failed.json");
    let payload = payload.to_str().unwrap();
    let output = syncwatch(
        &["test", "--config", rules.path.to_str().unwrap(), payload, payload],
        &[],
    );
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    let parts: Vec<&str> = out.split("\n== ").collect();
    let [_, first, second] = parts[..] else {
        panic!("two payloads reported: {out}")
    };
    assert!(
        first.contains("alert   bills-failing-twice/CON-0a4e97aa-7a77-bbbb-00aa-b1b1001aa00: new → pending"),
        "{out}"
    );
    assert!(!first.contains("would receive"), "a pending alert sends nothing: {out}");
    assert!(second.contains("pending → firing, FIRING to ops"), "{out}");
    assert!(
        second.contains("--- bills-failing-twice -> ops (slack) would receive:"),
        "{out}"
    );
}

#[test]
fn replay_needs_only_the_signing_secret_and_says_when_no_daemon_answers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rules = RulesFile::new(&format!(
        "server: {{ listen: \"127.0.0.1:{port}\" }}\nsecurity: {{ signing_secret: \"${{RAILZ_SIGNING_SECRET}}\" }}\nchannels:\n  ops:\n    slack: {{ webhook_url: \"${{SLACK_WEBHOOK_URL}}\" }}\ndefaults:\n  notify: [ops]\nrules:\n  - name: failing\n    when: {{ failed: {{ above: 0 }} }}\n"
    ));
    let payload = repo_file("examples/rule-tests/payloads/sync-bills-failed.json");
    let args = [
        "replay",
        "--config",
        rules.path.to_str().unwrap(),
        payload.to_str().unwrap(),
    ];
    let output = syncwatch(&args, &[("RAILZ_SIGNING_SECRET", "s3cret")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("nothing answers there; is `syncwatch serve` running with this rules file?"),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let unsigned = syncwatch(&args, &[]);
    assert!(
        stderr(&unsigned).contains("environment variable `RAILZ_SIGNING_SECRET` is not set"),
        "what replay signs with must be set: {}",
        stderr(&unsigned)
    );
}

/// `0s` is a fixed time, or the file's `start`: a maintenance window gives
/// the same answer whenever CI runs. rules.example.yaml mutes xero on
/// weekend nights (02:00-06:00 America/Toronto).
#[test]
fn the_simulated_clock_starts_at_a_fixed_time_or_the_files_start() {
    let case = |start: &str| {
        format!(
            "{start}cases:\n  - name: xero fails\n    steps:\n      - at: 0s\n        post: payloads/xero-failed.json\n        expect:\n          - {{ rule: production-sync-failed, channel: ops-slack, state: FIRING }}\n          - {{ rule: production-sync-failed, channel: finance-email, state: FIRING }}\n"
        )
    };
    let xero = std::fs::read_to_string(repo_file("examples/rule-tests/payloads/sync-bills-failed.json"))
        .unwrap()
        .replace("\"quickbooks\"", "\"xero\"");
    let (dir, weekday) = cases_file(&case(""));
    std::fs::write(dir.path().join("payloads/xero-failed.json"), &xero).unwrap();
    let (code, out) = run_cases(&weekday);
    assert_eq!(
        code,
        Some(0),
        "by default 0s is Monday 00:00 UTC, outside the window: {out}"
    );

    // Saturday 08:00 UTC is 03:00 in Toronto: inside the window, muted.
    std::fs::write(&weekday, case("start: 2026-01-10T08:00:00Z\n")).unwrap();
    let (code, out) = run_cases(&weekday);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("(nothing was sent by this step)"), "{out}");
}

#[test]
fn a_cases_file_that_tests_nothing_or_runs_for_ever_is_refused() {
    let (_dir, cases) = cases_file(
        "cases:\n  - name: a\n    steps: []\n  - name: a\n    steps:\n      - at: 400d\n        expect: []\n",
    );
    let (code, out) = run_cases(&cases);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("case `a` has no step"), "{out}");
    assert!(out.contains("two cases are named `a`"), "{out}");
    assert!(
        out.contains("`at: 400d` is more than a year (366d) from the start"),
        "{out}"
    );
    let (_dir, empty) = cases_file("cases: []\n");
    let (code, out) = run_cases(&empty);
    assert_eq!(code, Some(1));
    assert!(out.contains("lists no case"), "{out}");
}
