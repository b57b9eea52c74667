use std::path::Path;
use std::time::Duration;

use super::*;
use crate::config::{ChannelKind, ConfigErrors, TlsMode};
use crate::rules::Environment;

fn env(name: &str) -> Option<String> {
    match name {
        "SLACK_URL" => Some("https://hooks.slack.com/services/T/B/X".into()),
        "SECRET" => Some("s3cret".into()),
        _ => None,
    }
}

fn load(text: &str) -> Result<Config, ConfigErrors> {
    load_str(text, Path::new("rules.yaml"), &env)
}

/// Every error message of `text`, one string each.
fn errors(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

const CHANNELS: &str = "channels:\n  ops:\n    slack:\n      webhook_url: ${SLACK_URL}\n";

#[test]
fn an_empty_file_gives_the_documented_defaults() {
    let config = load("{}").unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:9650");
    assert_eq!(config.server.path, "/webhooks/railz");
    assert_eq!(config.server.max_body, 4 * 1024 * 1024);
    assert_eq!(config.security.signature_tolerance, Duration::from_secs(300));
    assert!(config.security.signing_secrets.is_empty());
    assert_eq!(config.storage.path, Path::new("/var/lib/syncwatch/syncwatch.db"));
    assert_eq!(config.defaults.repeat_interval, Duration::from_secs(4 * 3600));
    assert_eq!(config.defaults.missing_sandbox, Environment::Production);
    assert_eq!(config.delivery.max_age, Duration::from_secs(86_400));
}

#[test]
fn the_spec_example_loads_with_every_key() {
    let text = include_str!("../../tests/fixtures/spec-rules.yaml");
    let vars = |name: &str| match name {
        "SLACK_WEBHOOK_URL" => Some("https://hooks.slack.com/x".to_owned()),
        other => Some(format!("value-of-{other}")),
    };
    let config = load_str(text, Path::new("spec.yaml"), &vars).unwrap();
    assert_eq!(config.rules.len(), 3);
    assert_eq!(config.rules[2].notify, vec!["ops-slack"], "defaults.notify applies");
    let ChannelKind::Email(email) = &config.channels["finance-email"].kind else {
        panic!("finance-email is an email channel");
    };
    assert_eq!(email.tls, TlsMode::StartTls);
    assert_eq!(email.port, 587);
    assert_eq!(email.to[0].email.to_string(), "finance-ops@example.com");
    assert_eq!(
        config.security.bearer_token.unwrap().expose(),
        "value-of-RAILZ_BEARER_TOKEN"
    );
}

#[test]
fn an_unknown_key_names_file_line_key_and_what_is_allowed() {
    let found = errors("server:\n  listen: 127.0.0.1:1\n  lisen: x\n");
    assert_eq!(
        found,
        ["rules.yaml:3: server.lisen: unknown key `lisen` (allowed: listen, path, max_body, public_url)"]
    );
}

#[test]
fn an_error_inside_a_rule_names_the_rule() {
    let text = format!("{CHANNELS}rules:\n  - name: big-failures\n    when:\n      failed: {{ abov: 3 }}\n");
    let found = errors(&text);
    assert!(
        found[0].starts_with("rules.yaml:8: rule \"big-failures\": rules[0].when.failed.abov: unknown key `abov`"),
        "{found:?}"
    );
}

#[test]
fn every_error_of_a_file_is_reported_at_once() {
    let text = "server:\n  listen: nowhere\n  max_body: lots\ndefaults:\n  repeat_interval: soon\n";
    assert_eq!(errors(text).len(), 3);
}

#[test]
fn a_channel_that_no_channel_defines_is_an_error() {
    let text = format!("{CHANNELS}rules:\n  - name: r\n    when: {{ event: data }}\n    notify: [ops, pager]\n");
    let found = errors(&text);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].contains("rules[0].notify[1]: no channel is named `pager` (allowed: ops)"),
        "{found:?}"
    );
}

#[test]
fn bad_durations_thresholds_and_choices_are_errors() {
    let text = format!(
        "{CHANNELS}rules:\n  - name: r\n    repeat_interval: 2 weeks\n    severity: urgent\n    when:\n      environment: staging\n      empty: {{ above: -1 }}\n      success: {{ below: 0 }}\n      failed: {{ at_least: 1.5, report_frequency: weekly }}\n"
    );
    let found = errors(&text).join("\n");
    for expected in [
        "rules[0].repeat_interval: `2 weeks` is not valid (allowed: a whole number with a unit",
        "rules[0].severity: `urgent` is not allowed (allowed: critical, warning, info)",
        "rules[0].when.environment: `staging` is not allowed (allowed: production, sandbox)",
        "rules[0].when.empty.above: expected a whole number from 0",
        "rules[0].when.success.below: `below: 0` can never hold",
        "rules[0].when.failed.at_least: expected a whole number from 0",
        "rules[0].when.failed.report_frequency: `weekly` is not allowed (allowed: month, quarter, year)",
    ] {
        assert!(found.contains(expected), "missing {expected:?} in\n{found}");
    }
}

#[test]
fn a_count_condition_needs_a_threshold() {
    let found = errors("rules:\n  - name: r\n    notify: []\n    when:\n      failed: { data_types: [bills] }\n");
    assert!(
        found[0].contains("when.failed: needs a threshold (allowed: above, at_least, below)"),
        "{found:?}"
    );
}

#[test]
fn a_rule_needs_a_name_and_a_when_and_a_unique_name() {
    let text = "rules:\n  - notify: []\n    when: { event: data }\n  - name: a\n    notify: []\n  - name: a\n    notify: []\n    when: { event: data }\n";
    let found = errors(text).join("\n");
    assert!(found.contains("rules[0].name: `name` is required"), "{found}");
    assert!(
        found.contains("rule \"a\": rules[1].when: `when` is required"),
        "{found}"
    );
    assert!(
        found.contains("rules[2].name: another rule is already named `a`"),
        "{found}"
    );
}

#[test]
fn an_unset_variable_is_an_error_that_names_it() {
    let found = errors("security:\n  signing_secret: ${NOT_SET}\n");
    assert_eq!(
        found,
        ["rules.yaml:2: security.signing_secret: environment variable `NOT_SET` is not set"]
    );
}

#[test]
fn variables_are_replaced_anywhere_in_a_string() {
    let config = load("storage:\n  path: /var/${SECRET}/db\n").unwrap();
    assert_eq!(config.storage.path, Path::new("/var/s3cret/db"));
}

#[test]
fn a_secret_can_come_from_a_file_without_its_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, "from-file\n").unwrap();
    let text = format!("security:\n  bearer_token_file: {}\n", path.display());
    let config = load(&text).unwrap();
    assert_eq!(config.security.bearer_token.unwrap().expose(), "from-file");
}

#[test]
fn a_secret_given_twice_or_from_a_missing_file_is_an_error() {
    let found = errors("security:\n  bearer_token: a\n  bearer_token_file: /nonexistent/token\n");
    assert!(
        found[0].contains("give either `bearer_token` or `bearer_token_file`, not both"),
        "{found:?}"
    );
    let found = errors("security:\n  bearer_token_file: /nonexistent/token\n");
    assert!(found[0].contains("cannot read `/nonexistent/token`"), "{found:?}");
}

#[test]
fn signing_secrets_may_be_a_list_for_rotation() {
    let config = load("security:\n  signing_secret: [old, \"${SECRET}\"]\n").unwrap();
    let secrets: Vec<&str> = config.security.signing_secrets.iter().map(|s| s.expose()).collect();
    assert_eq!(secrets, ["old", "s3cret"]);
}

#[test]
fn errors_never_print_a_secret_value() {
    let found = errors("channels:\n  ops:\n    slack:\n      webhook_url: hunter2-not-a-url\n").join("\n");
    assert!(found.contains("webhook_url: is not an http(s) URL"), "{found}");
    assert!(!found.contains("hunter2"), "{found}");
}

#[test]
fn email_channels_check_addresses_tls_and_credentials() {
    let text = "channels:\n  mail:\n    email:\n      tls: ssl\n      from: not an address\n      to: [ok@example.com, 'also bad']\n      username: u\n";
    let found = errors(text).join("\n");
    for expected in [
        "channels.mail.email.host: `host` is required",
        "channels.mail.email.tls: `ssl` is not allowed (allowed: starttls, tls, none)",
        "channels.mail.email.from: `not an address` is not valid",
        "channels.mail.email.to[1]: `also bad` is not valid",
        "channels.mail.email.username: `username` needs `password` or `password_file`",
    ] {
        assert!(found.contains(expected), "missing {expected:?} in\n{found}");
    }
}

#[test]
fn a_channel_is_exactly_one_kind() {
    let found = errors("channels:\n  both:\n    slack: { webhook_url: 'https://x.example' }\n    email: { host: h }\n");
    assert!(
        found
            .iter()
            .any(|e| e
                .contains("a channel is exactly one kind: slack, email, pagerduty, teams, webhook or alertmanager")),
        "{found:?}"
    );
}

#[test]
fn the_port_defaults_from_the_tls_mode() {
    let text = "channels:\n  m:\n    email: { host: h, tls: tls, from: a@b.c, to: d@e.f }\n  n:\n    email: { host: h, tls: none, from: a@b.c, to: d@e.f }\n";
    let config = load(text).unwrap();
    let port = |name: &str| match &config.channels[name].kind {
        ChannelKind::Email(e) => e.port,
        _ => 0,
    };
    assert_eq!((port("m"), port("n")), (465, 25));
}

#[test]
fn invalid_yaml_reports_its_line() {
    let found = errors("server:\n  listen: [unclosed\n");
    assert!(found[0].starts_with("rules.yaml:"), "{found:?}");
    assert!(found[0].contains("not valid YAML"), "{found:?}");
}

#[test]
fn a_path_must_be_a_url_path() {
    let found = errors("server:\n  path: webhooks\n");
    assert!(
        found[0].contains("server.path: `webhooks` is not a URL path"),
        "{found:?}"
    );
}

#[test]
fn a_variable_may_have_a_default() {
    let config = load("storage:\n  path: ${STATE_DIRECTORY:-/var/lib/syncwatch}/db\n").unwrap();
    assert_eq!(config.storage.path, Path::new("/var/lib/syncwatch/db"));
    let config = load("storage:\n  path: ${SECRET:-/unused}/db\n").unwrap();
    assert_eq!(config.storage.path, Path::new("s3cret/db"));
}

#[test]
fn a_literal_dollar_brace_is_written_doubled() {
    let config = load("storage:\n  path: /tmp/$${HOME}\n").unwrap();
    assert_eq!(config.storage.path, Path::new("/tmp/${HOME}"));
}

#[test]
fn a_secret_file_can_live_in_the_systemd_credentials_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("smtp-password"), "from-credentials").unwrap();
    let credentials = dir.path().display().to_string();
    let env = |name: &str| (name == "CREDENTIALS_DIRECTORY").then(|| credentials.clone());
    let text = "channels:\n  mail:\n    email:\n      host: smtp.example.com\n      username: u\n      password_file: ${CREDENTIALS_DIRECTORY}/smtp-password\n      from: a@example.com\n      to: b@example.com\n";
    let config = load_str(text, Path::new("rules.yaml"), &env).unwrap();
    let ChannelKind::Email(email) = &config.channels["mail"].kind else {
        panic!("an email channel");
    };
    assert_eq!(
        email.credentials.as_ref().unwrap().password.expose(),
        "from-credentials"
    );
}

#[test]
fn a_ca_file_must_exist_and_hold_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let text =
        |path: &str| format!("channels:\n  m:\n    email: {{ host: h, ca_file: {path}, from: a@b.c, to: d@e.f }}\n");
    let missing = errors(&text("/nonexistent/ca.pem")).join("\n");
    assert!(
        missing.contains("channels.m.email.ca_file: cannot read `/nonexistent/ca.pem`"),
        "{missing}"
    );
    let found = errors(&text(junk.to_str().unwrap())).join("\n");
    assert!(found.contains("holds no PEM certificate"), "{found}");
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/ca.pem");
    let config = load(&text(ca)).unwrap();
    let ChannelKind::Email(email) = &config.channels["m"].kind else {
        panic!("an email channel");
    };
    assert!(email.ca_pem.is_some());
}

#[test]
fn an_empty_value_is_an_error_with_its_line_not_a_missing_key() {
    let text = "security:\n  signing_secret:\nrules:\n  - name: r\n    notify: []\n    when: { failed: }\n  - name: s\n    notify: []\n    when: { event: data, environment: }\n";
    let found = errors(text);
    assert!(
        found.contains(
            &"rules.yaml:2: security.signing_secret: `signing_secret` has no value: give it one, or remove the key"
                .to_owned()
        ),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|e| e.starts_with("rules.yaml:6: rule \"r\": rules[0].when.failed: `failed` has no value")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|e| e.starts_with("rules.yaml:9: rule \"s\": rules[1].when.environment: `environment` has no value")),
        "{found:?}"
    );
}

#[test]
fn an_empty_list_of_signing_secrets_or_empty_not_is_an_error() {
    let found = errors("security:\n  signing_secret: []\n");
    assert_eq!(
        found,
        ["rules.yaml:2: security.signing_secret: lists no secret: give at least one, or remove the key"]
    );
    let found = errors("rules:\n  - name: r\n    notify: []\n    when: { event: data, not: }\n");
    assert!(found[0].contains("`not` has no value"), "{found:?}");
    let found = errors("rules:\n  - name: r\n    notify: []\n    when: { event: data, not: {} }\n");
    assert!(found[0].contains("needs at least one condition"), "{found:?}");
}

#[test]
fn an_empty_section_is_allowed() {
    let config = load("server:\nsecurity:\nrules:\n").unwrap();
    assert!(config.security.signing_secrets.is_empty());
}

#[test]
fn a_rule_named_by_a_number_clashes_with_the_same_name_as_text() {
    let found = errors(
        "rules:\n  - name: 2024\n    notify: []\n    when: { event: data }\n  - name: \"2024\"\n    notify: []\n    when: { event: data }\n",
    );
    assert!(
        found.iter().any(|e| e.contains("another rule is already named `2024`")),
        "{found:?}"
    );
}

#[test]
fn a_byte_order_mark_at_the_start_is_ignored() {
    let config = load("\u{feff}storage:\n  path: /tmp/x.db\n").unwrap();
    assert_eq!(config.storage.path, Path::new("/tmp/x.db"));
}

#[test]
fn a_port_may_come_from_a_variable_with_a_default() {
    let text =
        "channels:\n  m:\n    email: { host: h, port: \"${SMTP_PORT:-2525}\", tls: none, from: a@b.c, to: d@e.f }\n";
    let config = load(text).unwrap();
    let ChannelKind::Email(email) = &config.channels["m"].kind else {
        panic!("an email channel")
    };
    assert_eq!(email.port, 2525);
    let found = errors(
        "channels:\n  m:\n    email: { host: h, port: \"${SMTP_PORT:-x}\", tls: none, from: a@b.c, to: d@e.f }\n",
    );
    assert!(
        found[0].contains("expected a whole number from 0 to 65535, found `x`"),
        "{found:?}"
    );
}

#[test]
fn no_sync_for_makes_an_absence_rule_that_combines_only_with_connection_matchers() {
    let config = load("rules:\n  - name: quiet\n    notify: []\n    when: { environment: production, service: xero, no_sync_for: 26h }\n").unwrap();
    assert_eq!(config.rules[0].absence, Some(Duration::from_secs(26 * 3600)));
    let found = errors(
        "rules:\n  - name: quiet\n    notify: []\n    when: { no_sync_for: 26h, failed: { above: 0 }, event: data }\n",
    );
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[1].contains("rules[0].when.failed: `no_sync_for` is checked against each connection's last event, so it combines only with environment, service, business, connection: remove `failed`"), "{found:?}");
    let nested = errors("rules:\n  - name: quiet\n    notify: []\n    when: { any: [ { no_sync_for: 1h } ] }\n");
    assert!(
        nested[0].contains("`no_sync_for` belongs at the top of `when`"),
        "{nested:?}"
    );
    let zero = errors("rules:\n  - name: quiet\n    notify: []\n    when: { no_sync_for: 0s }\n");
    assert!(zero[0].contains("would fire at once"), "{zero:?}");
}

#[test]
fn after_and_resolve_after_count_from_one() {
    let config = load("defaults:\n  after: 2\n  send_resolved: false\nrules:\n  - name: r\n    notify: []\n    resolve_after: 3\n    when: { event: data }\n").unwrap();
    let rule = &config.rules[0];
    assert_eq!((rule.after, rule.resolve_after, rule.send_resolved), (2, 3, false));
    let found = errors("rules:\n  - name: r\n    notify: []\n    after: 0\n    when: { event: data }\n");
    assert!(
        found[0].contains("`after: 0` would never hold: count from 1"),
        "{found:?}"
    );
    let found = errors("rules:\n  - name: r\n    notify: []\n    send_resolved: maybe\n    when: { event: data }\n");
    assert!(
        found[0].contains("`maybe` is not allowed (allowed: true, false)"),
        "{found:?}"
    );
}

#[test]
fn maintenance_windows_are_checked_with_their_lines() {
    let config = load("maintenance:\n  - name: xero-weekend\n    when: { service: xero }\n    weekdays: [saturday, sunday]\n    times: [\"02:00-06:00\", \"23:00-01:00\"]\n    timezone: America/Toronto\n  - name: nightly\n    times: \"03:00-03:30\"\n").unwrap();
    assert_eq!(config.maintenance.len(), 2);
    assert_eq!(config.maintenance[1].timezone_name, "UTC");
    let found = errors(
        "maintenance:\n  - name: w\n    weekdays: [caturday]\n    times: [\"25:00-26:00\"]\n    timezone: Mars/Olympus\n  - times: [\"01:00-02:00\"]\n",
    );
    let joined = found.join("\n");
    assert!(
        joined.contains("rules.yaml:3: maintenance[0].weekdays[0]: `caturday` is not a weekday"),
        "{joined}"
    );
    assert!(
        joined.contains("rules.yaml:4: maintenance[0].times[0]: `25:00-26:00` is not a time span"),
        "{joined}"
    );
    assert!(
        joined.contains("rules.yaml:5: maintenance[0].timezone: `Mars/Olympus` is not an IANA time zone"),
        "{joined}"
    );
    assert!(joined.contains("maintenance[1].name: `name` is required"), "{joined}");
}

#[test]
fn a_digest_is_checked_and_may_be_off() {
    let config = load(&format!(
        "{CHANNELS}    digest: {{ after: 3, window: 5m, max_items: 50 }}\n"
    ))
    .unwrap();
    let digest = config.channels["ops"].digest.unwrap();
    assert_eq!(
        (digest.after, digest.window, digest.max_items),
        (3, Duration::from_secs(300), 50)
    );
    assert!(
        load(&format!("{CHANNELS}    digest: off\n")).unwrap().channels["ops"]
            .digest
            .is_none()
    );
    assert_eq!(
        load(CHANNELS).unwrap().channels["ops"].digest,
        Some(crate::config::Digest::default())
    );
    let found = errors(&format!("{CHANNELS}    digest: {{ after: 0, window: 0s }}\n"));
    assert!(
        found.iter().any(|e| e.contains("digest.after: counts from 1")),
        "{found:?}"
    );
}

#[test]
fn storage_postgres_replaces_the_path_and_its_errors_hide_the_url() {
    let config = load("storage:\n  postgres: postgres://sw:pw@db.example.com/syncwatch\n  claim_lease: 30s\n").unwrap();
    let url = config.storage.postgres.as_ref().map(|url| url.expose().to_owned());
    assert_eq!(url.as_deref(), Some("postgres://sw:pw@db.example.com/syncwatch"));
    assert_eq!(config.storage.claim_lease, Duration::from_secs(30));
    assert_eq!(load("").unwrap().storage.claim_lease, Duration::from_secs(60));
    assert!(load("").unwrap().storage.postgres.is_none());

    let both = errors("storage:\n  path: /tmp/x.db\n  postgres: postgres://db/x\n").join("\n");
    assert!(
        both.contains("give either `path` (SQLite) or `postgres`, not both"),
        "{both}"
    );
    let wrong = errors("storage:\n  postgres: mysql://root:hunter2@db/x\n").join("\n");
    assert!(wrong.contains("must be a URL starting with postgres://"), "{wrong}");
    assert!(!wrong.contains("hunter2"), "{wrong}");
}

#[test]
fn storage_postgres_file_is_read_even_by_commands_that_skip_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("url");
    std::fs::write(&file, "postgres://sw:pw@db/syncwatch\n").unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, format!("storage:\n  postgres_file: {}\n", file.display())).unwrap();
    let config = crate::config::load_file_read_only(&rules).unwrap();
    let url = config.storage.postgres.as_ref().map(|url| url.expose().to_owned());
    assert_eq!(url.as_deref(), Some("postgres://sw:pw@db/syncwatch"));
}

#[test]
fn an_unquoted_star_is_explained_as_an_alias_with_the_value_quoted() {
    let found = errors("rules:\n  - name: a\n    when:\n      service: *books\n");
    assert_eq!(
        found,
        [
            "rules.yaml:4: not valid YAML: unknown anchor: YAML reads a value starting with `*` as an alias: quote it, e.g. `'*books'`"
        ]
    );
    let found = errors("rules:\n  - name: a\n    when: { service: [quick*, *Statements] }\n");
    assert!(found[0].starts_with("rules.yaml:3: "), "{found:?}");
    assert!(found[0].ends_with("quote it, e.g. `'*Statements'`"), "{found:?}");
    // A lone `*` is an alias without a name.
    let found = errors("rules:\n  - name: a\n    when:\n      service: *\n");
    assert!(found[0].starts_with("rules.yaml:4: not valid YAML: "), "{found:?}");
    assert!(found[0].ends_with("quote it, e.g. `'*'`"), "{found:?}");
}

#[test]
fn a_substitution_inside_a_flow_list_or_mapping_is_told_to_be_quoted() {
    let hint = "an unquoted `${...}` inside `[...]` or `{...}` is read as YAML syntax: quote the string, e.g. `[\"${A}\", \"${B}\"]`";
    let found = errors("security:\n  signing_secret: [${A}, ${B}]\n");
    assert_eq!(
        found,
        [format!(
            "rules.yaml:2: not valid YAML: did not find expected ',' or ']': {hint}"
        )]
    );
    // On the line of the `${`, when the list spans lines.
    let found = errors("defaults:\n  notify: [\n    ops,\n    ${CHAN},\n  ]\n");
    assert!(found[0].starts_with("rules.yaml:4: "), "{found:?}");
    assert!(found[0].ends_with(hint), "{found:?}");
    let found = errors("channels:\n  ops:\n    slack: { webhook_url: ${SLACK_URL} }\n");
    assert!(found[0].ends_with(hint), "{found:?}");
    // Quoted, it loads.
    assert!(load("channels:\n  ops:\n    slack: { webhook_url: \"${SLACK_URL}\" }\n").is_ok());
}

#[test]
fn a_tab_in_the_indentation_is_named_with_its_line() {
    for (text, line) in [
        ("server:\n\tlisten: 127.0.0.1:9650\n", 2),
        ("server:\n  listen: 127.0.0.1:9650\n\tpath: /x\n", 3),
        ("rules:\n  - name: a\n    when:\n    \tservice: x\n", 4),
    ] {
        let found = errors(text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(&format!("rules.yaml:{line}: not valid YAML: ")),
            "{found:?}"
        );
        assert!(
            found[0].ends_with(&format!(
                ": line {line} is indented with a tab: YAML indents with spaces only"
            )),
            "{found:?}"
        );
    }
}

#[test]
fn a_syntax_error_without_a_known_cause_gets_no_hint() {
    let found = errors("server:\n  listen: [unclosed\n");
    assert_eq!(
        found,
        ["rules.yaml:3: not valid YAML: did not find expected ',' or ']'"]
    );
    // A tab after the value is only separation, not indentation.
    assert!(load("server:\n  listen: 127.0.0.1:9650 \t# here\n").is_ok());
}

#[test]
fn relative_paths_are_relative_to_the_rules_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hook"), "https://hooks.slack.com/services/T0/B0/x\n").unwrap();
    std::fs::write(dir.path().join("slack.j2"), "{{ rule }} fired").unwrap();
    let rules = dir.path().join("rules.yaml");
    let text = "channels:\n  ops:\n    slack: { webhook_url_file: hook, template: slack.j2 }\n  mail:\n    email: { host: smtp.example.com, from: a@example.com, to: b@example.com, ca_file: certs/ca.pem }\nrules: []\n";
    std::fs::write(&rules, text).unwrap();
    // Not from the working directory: from the folder of rules.yaml.
    let errors = load_file(&rules).unwrap_err().to_string();
    let ca = dir.path().join("certs/ca.pem");
    assert!(errors.contains(&format!("cannot read `{}`", ca.display())), "{errors}");
    assert!(!errors.contains("hook") && !errors.contains("slack.j2"), "{errors}");
    std::fs::write(&rules, text.replace(", ca_file: certs/ca.pem", "")).unwrap();
    let config = load_file(&rules).unwrap();
    assert!(config.channels.contains_key("ops"));
}

#[test]
fn a_rule_and_an_outage_read_how_they_notify_the_same_way() {
    let outage = |runbook: &str| {
        format!(
            "{CHANNELS}rules: []\noutages:\n  - name: provider-outage\n    failing: {{ at_least: 3, share: 20% }}\n    window: 15m\n    notify: [ops]\n    runbook: {runbook}\n"
        )
    };
    let config = load(&outage("https://wiki.example.com/outages")).unwrap();
    let rule = &config.outages[0].rule;
    assert_eq!(rule.runbook.as_deref(), Some("https://wiki.example.com/outages"));
    assert_eq!(
        rule.severity,
        crate::rules::Severity::Critical,
        "an outage is critical unless it says"
    );
    let errors = errors(&outage("wiki/outages"));
    assert!(
        errors
            .iter()
            .any(|e| e.contains("outages[0].runbook: is not an http(s) URL")),
        "{errors:?}"
    );
}

/// serde_yaml names the start of the mapping; the operator needs the line
/// of the second key.
#[test]
fn a_duplicate_key_is_reported_at_its_second_line() {
    let top = "channels:\n  ops:\n    slack: { webhook_url: 'https://hooks.slack.com/services/T0/B0/x' }\n# the rules\nrules: []\n\nrules: []\n";
    let found = errors(top);
    assert_eq!(
        found,
        ["rules.yaml:7: not valid YAML: duplicate entry with key \"rules\""]
    );
    let nested = "channels:\n  ops:\n    slack: { webhook_url: 'https://hooks.slack.com/services/T0/B0/x' }\nrules:\n  - name: a\n    when: { failed: { above: 0 } }\n    notify: [ops]\n    notify: [ops]\n";
    let found = errors(nested);
    assert_eq!(
        found,
        ["rules.yaml:8: not valid YAML: rules[0]: duplicate entry with key \"notify\""]
    );
}
