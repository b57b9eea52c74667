//! The admin commands on the configuration the package installs: outside
//! systemd `STATE_DIRECTORY` is unset and the secrets are not exported, and
//! the commands must still find the daemon's database, never a new one.

use crate::helpers::{RulesFile, repo_file, spawn_app_in, stderr, stdout, syncwatch_async};

/// A rules file shaped like the shipped one: its database path is
/// `${VAR:-default}` (the default being where the daemon below keeps its
/// database), its channel a secret that an admin shell does not have.
fn shipped_like(state_dir: &std::path::Path) -> String {
    format!(
        "storage:\n  path: ${{SYNCWATCH_TEST_STATE_DIRECTORY:-{}}}/syncwatch.db\nchannels:\n  ops:\n    slack: {{ webhook_url: \"${{SLACK_WEBHOOK_URL}}\" }}\ndefaults:\n  notify: [ops]\nrules:\n  - name: bills-failing\n    when: {{ failed: {{ above: 0 }} }}\n",
        state_dir.display()
    )
}

async fn run(args: &[&str]) -> std::process::Output {
    syncwatch_async(args.iter().map(|a| a.to_string()).collect()).await
}

#[tokio::test]
async fn admin_commands_find_the_daemons_database_through_a_default_and_never_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let rules = RulesFile::new(&shipped_like(dir.path()));
    let config = rules.path.to_str().unwrap();
    let db = dir.path().join("syncwatch.db");

    // Before the daemon ever ran: refused, naming the path, nothing created.
    let refused = run(&[
        "silence",
        "add",
        "--service",
        "xero",
        "--for",
        "1h",
        "--comment",
        "x",
        "--config",
        config,
    ])
    .await;
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let said = stderr(&refused);
    assert!(
        said.contains(&format!(
            "cannot write the database {}: it does not exist (refusing to create one)",
            db.display()
        )),
        "{said}"
    );
    assert!(!db.exists(), "a command created the database");

    // The daemon opens the database at the same default path.
    let app = spawn_app_in(dir, "rules: []\n", crate::helpers::fast_settings()).await;
    assert_eq!(crate::helpers::database(&app.dir), db);

    // Options after the subcommand, no SLACK_WEBHOOK_URL, no STATE_DIRECTORY.
    let added = run(&[
        "silence",
        "add",
        "--service",
        "xero",
        "--for",
        "1h",
        "--comment",
        "outage",
        "--config",
        config,
    ])
    .await;
    assert_eq!(added.status.code(), Some(0), "{}", stderr(&added));
    let id = stdout(&added).trim().to_owned();
    let listed = run(&["silence", "list", "--config", config]).await;
    assert!(stdout(&listed).contains(&id), "{}{}", stdout(&listed), stderr(&listed));
    // The daemon's own database holds it: the one `--db` names.
    let by_path = run(&["silence", "list", "--db", db.to_str().unwrap()]).await;
    assert!(stdout(&by_path).contains(&id), "{}", stdout(&by_path));
    for command in ["alerts", "connections", "history"] {
        let output = run(&[command, "--config", config]).await;
        assert_eq!(output.status.code(), Some(0), "{command}: {}", stderr(&output));
    }
    drop(app);
}

#[tokio::test]
async fn the_shipped_rules_resolve_the_database_to_var_lib_without_state_directory() {
    let example = repo_file("rules.example.yaml");
    let output = run(&["silence", "list", "--config", example.to_str().unwrap()]).await;
    let expected = std::path::Path::new("/var/lib/syncwatch/syncwatch.db");
    match expected.exists() {
        // A machine where the daemon runs under systemd: it is found.
        true => assert_eq!(output.status.code(), Some(0), "{}", stderr(&output)),
        false => {
            assert_eq!(output.status.code(), Some(1));
            let said = format!("{}{}", stdout(&output), stderr(&output));
            assert!(
                said.contains("cannot read the database /var/lib/syncwatch/syncwatch.db: it does not exist"),
                "{said}"
            );
        }
    }
}

#[tokio::test]
async fn a_silence_can_be_planned_and_a_rule_that_does_not_exist_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let rules = RulesFile::new(&shipped_like(dir.path()));
    let config = rules.path.to_str().unwrap();
    let app = spawn_app_in(dir, "rules: []\n", crate::helpers::fast_settings()).await;
    let typo = run(&[
        "silence",
        "add",
        "--rule",
        "bills-faling",
        "--for",
        "1h",
        "--comment",
        "x",
        "--config",
        config,
    ])
    .await;
    assert_eq!(typo.status.code(), Some(0), "{}", stderr(&typo));
    assert!(
        stderr(&typo).contains("--rule bills-faling matches no rule of the rules file")
            && stderr(&typo).contains("the rules are: bills-failing"),
        "{}",
        stderr(&typo)
    );
    let tomorrow = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24)).to_string();
    let planned = run(&[
        "silence",
        "add",
        "--service",
        "xero",
        "--start",
        &tomorrow,
        "--for",
        "2h",
        "--comment",
        "upgrade",
        "--config",
        config,
    ])
    .await;
    assert_eq!(planned.status.code(), Some(0), "{}", stderr(&planned));
    let id = stdout(&planned).trim().to_owned();
    let listed = stdout(&run(&["silence", "list", "--config", config]).await);
    let line = listed
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(line.contains("pending") && line.contains("from "), "{line}");
    drop(app);
}

#[tokio::test]
async fn the_listings_speak_json_for_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let rules = RulesFile::new(&shipped_like(dir.path()));
    let config = rules.path.to_str().unwrap();
    let yaml = "rules:\n  - name: bills-failing\n    when: { failed: { above: 0 } }\n";
    let app = spawn_app_in(dir, yaml, crate::helpers::fast_settings()).await;
    let failing = r#"{"data":{"event":"data","connectionId":"CON-1","businessName":"Acme","serviceName":"xero","sandbox":false,"requests":[{"request":"bills","status":"failed"}]},"requestId":"j1"}"#;
    app.post_ok(failing).await;
    let added = run(&[
        "silence",
        "add",
        "--service",
        "xero",
        "--for",
        "1h",
        "--comment",
        "x",
        "--config",
        config,
    ])
    .await;
    let id = stdout(&added).trim().to_owned();
    let json = |args: &'static [&'static str]| {
        let config = config.to_owned();
        async move {
            let mut all = args.to_vec();
            all.extend(["-o", "json", "--config", &config]);
            let output = run(&all).await;
            assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
            serde_json::from_str::<serde_json::Value>(&stdout(&output))
                .unwrap_or_else(|err| panic!("{args:?}: {err}: {}", stdout(&output)))
        }
    };
    let alerts = json(&["alerts"]).await;
    assert_eq!(alerts["firing"], 1, "{alerts}");
    assert_eq!(alerts["alerts"][0]["rule"], "bills-failing");
    assert_eq!(alerts["alerts"][0]["connection"], "CON-1");
    assert_eq!(alerts["alerts"][0]["muted_by"], format!("silence {id}"));
    let connections = json(&["connections"]).await;
    assert_eq!(connections["connections"][0]["id"], "CON-1", "{connections}");
    assert_eq!(connections["connections"][0]["state"], "failing");
    assert_eq!(connections["connections"][0]["firing"][0], "bills-failing/CON-1");
    let history = json(&["history"]).await;
    assert_eq!(history["events"][0]["request_id"], "j1", "{history}");
    let moved = history["events"][0]["transitions"][0].as_str().unwrap_or_default();
    assert!(moved.starts_with("bills-failing/CON-1: new → firing"), "{history}");
    let silences = json(&["silence", "list"]).await;
    assert_eq!(silences["silences"][0]["id"], id, "{silences}");
    assert_eq!(silences["silences"][0]["matchers"]["service"], "xero");
    assert_eq!(silences["silences"][0]["state"], "active");
}

/// The credentials recipe of rules.example.yaml and the unit: one line
/// that reads systemd's copy under the service and the source file from a
/// root shell, where `CREDENTIALS_DIRECTORY` is unset.
#[test]
fn one_credentials_line_works_under_the_service_and_from_a_shell() {
    let source = tempfile::tempdir().unwrap();
    let copied = tempfile::tempdir().unwrap();
    std::fs::write(
        source.path().join("slack-webhook-url"),
        "https://hooks.slack.com/services/T/B/source\n",
    )
    .unwrap();
    std::fs::write(copied.path().join("slack-webhook-url"), "not a url\n").unwrap();
    let rules = RulesFile::new(&format!(
        "channels:\n  ops:\n    slack:\n      webhook_url_file: ${{CREDENTIALS_DIRECTORY:-{}}}/slack-webhook-url\nrules:\n  - name: r\n    when: {{ failed: {{ above: 0 }} }}\n    notify: [ops]\n",
        source.path().display()
    ));
    let check =
        |env: &[(&str, &str)]| crate::helpers::syncwatch(&["check", "--config", rules.path.to_str().unwrap()], env);
    let from_shell = check(&[]);
    assert_eq!(from_shell.status.code(), Some(0), "{}", stderr(&from_shell));
    // Under the service the copy is read: here it holds no URL, so the
    // error proves which file was read.
    let under_systemd = check(&[("CREDENTIALS_DIRECTORY", copied.path().to_str().unwrap())]);
    assert_eq!(under_systemd.status.code(), Some(1));
    assert!(
        stderr(&under_systemd).contains("is not an http(s) URL"),
        "{}",
        stderr(&under_systemd)
    );
}

/// `alerts` shows the severity, business and service of each alert, and
/// counts failing syncs only for alerts about syncs: a lost connection
/// has none.
#[tokio::test]
async fn alerts_show_who_and_how_bad_and_no_failing_syncs_for_a_lost_connection() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "{}  - name: connection-lost\n    severity: critical\n    when: {{ event: connectionStatus, connection_status: [disconnected] }}\n",
        shipped_like(dir.path())
    );
    let rules = RulesFile::new(&yaml);
    let daemon = yaml.replace("${SLACK_WEBHOOK_URL}", "http://127.0.0.1:9/hook");
    let app = spawn_app_in(dir, &daemon, crate::helpers::fast_settings()).await;
    app.post_ok(crate::helpers::sync("CON-1", "r1", "failed")).await;
    app.post_ok(r#"{"data":{"event":"connectionStatus","connectionId":"CON-2","businessName":"Bakery","serviceName":"quickbooks","newStatus":"disconnected","sandbox":false},"requestId":"r2"}"#)
        .await;
    let listing = stdout(&run(&["alerts", "--config", rules.path.to_str().unwrap()]).await);
    let lost = listing.lines().find(|l| l.contains("connection-lost")).expect(&listing);
    assert!(
        lost.starts_with("firing   critical connection-lost  CON-2  Bakery · quickbooks  since"),
        "{listing}"
    );
    assert!(!lost.contains("failing sync"), "{listing}");
    let bills = listing.lines().find(|l| l.contains("bills-failing")).expect(&listing);
    assert!(
        bills.contains("warning  bills-failing  CON-1  Acme · xero  since") && bills.contains("  1 failing sync  "),
        "{listing}"
    );
}

/// A rule's `runbook` is a link in every message of its alerts: the Slack
/// section, the email's text and HTML parts.
#[test]
fn a_rules_runbook_is_linked_in_slack_and_email() {
    let rules = RulesFile::new(
        "channels:\n  ops:\n    slack: { webhook_url: \"${SLACK_WEBHOOK_URL}\" }\n  mail:\n    email: { host: 127.0.0.1, tls: none, from: a@example.com, to: ops@example.com }\nrules:\n  - name: bills-failing\n    runbook: https://wiki.example.com/runbooks/bills?team=a|b\n    when: { failed: { above: 0 } }\n    notify: [ops, mail]\n",
    );
    let payload = repo_file("examples/rule-tests/payloads/sync-bills-failed.json");
    let output = crate::helpers::syncwatch(
        &[
            "test",
            "--config",
            rules.path.to_str().unwrap(),
            payload.to_str().unwrap(),
        ],
        &[],
    );
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    assert!(
        out.contains("<https://wiki.example.com/runbooks/bills?team=a%7Cb|Runbook>"),
        "a `|` cannot end the Slack link early: {out}"
    );
    assert!(
        out.contains("Runbook: https://wiki.example.com/runbooks/bills?team=a|b\n"),
        "{out}"
    );

    let bad = RulesFile::new("rules:\n  - name: r\n    runbook: wiki/bills\n    when: { failed: { above: 0 } }\n");
    let output = crate::helpers::syncwatch(&["check", "--config", bad.path.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("rules.yaml:3: rule \"r\": rules[0].runbook: is not an http(s) URL"),
        "{}",
        stderr(&output)
    );
}

/// An outage is silenced by its name, as a rule: no warning that it
/// matches nothing.
#[tokio::test]
async fn a_silence_of_an_outage_by_its_name_is_not_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let outage = "outages:\n  - name: provider-outage\n    failing: { at_least: 10, share: 20% }\n    window: 15m\n";
    let rules = RulesFile::new(&format!("{}{outage}", shipped_like(dir.path())));
    let config = rules.path.to_str().unwrap();
    let _app = spawn_app_in(dir, "rules: []\n", crate::helpers::fast_settings()).await;
    let args = ["silence", "add", "--rule", "provider-outage", "--service", "xero"];
    let added = run(&[&args[..], &["--for", "1h", "--comment", "x", "--config", config]].concat()).await;
    assert_eq!(added.status.code(), Some(0), "{}", stderr(&added));
    assert!(!stderr(&added).contains("matches no rule"), "{}", stderr(&added));
}
