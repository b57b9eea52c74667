use std::path::Path;
use std::time::Duration;

use crate::config::{ChannelKind, Config, ConfigErrors, load_str};

fn load(text: &str) -> Result<Config, ConfigErrors> {
    let env = |name: &str| (name == "PD_KEY").then(|| "R0UT1NGKEY".to_owned());
    load_str(text, Path::new("rules.yaml"), &env)
}

fn errors(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn each_new_kind_reads_with_its_defaults() {
    let text = "server:\n  public_url: https://syncwatch.example.com/\nchannels:\n  pd:\n    pagerduty: { routing_key: '${PD_KEY}' }\n  t:\n    teams: { webhook_url: 'https://x.example/workflows/1' }\n  h:\n    webhook:\n      url: https://ops.example.com/hook\n      secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n      headers: { X-Team: finance }\n  am:\n    alertmanager: { url: 'http://am:9093/' }\n";
    let config = load(text).unwrap();
    assert_eq!(
        config.server.public_url.as_deref(),
        Some("https://syncwatch.example.com")
    );
    let ChannelKind::Pagerduty(pd) = &config.channels["pd"].kind else {
        panic!()
    };
    assert_eq!(
        (pd.routing_key.expose(), pd.url.as_str()),
        ("R0UT1NGKEY", super::PAGERDUTY_URL)
    );
    assert!(
        config.channels["pd"].digest.is_none(),
        "PagerDuty groups incidents itself"
    );
    assert!(config.channels["t"].digest.is_some(), "Teams has digests as Slack does");
    let ChannelKind::Webhook(hook) = &config.channels["h"].kind else {
        panic!()
    };
    assert_eq!(hook.secret.as_ref().unwrap().0.len(), 24);
    assert_eq!(hook.headers, [("X-Team".to_owned(), "finance".to_owned())]);
    let ChannelKind::Alertmanager(am) = &config.channels["am"].kind else {
        panic!()
    };
    assert_eq!(
        (am.url.as_str(), am.resend),
        ("http://am:9093", Duration::from_secs(60))
    );
    assert!(config.channels["am"].digest.is_none());
}

#[test]
fn mistakes_are_named_with_their_line() {
    let found = errors(
        "channels:\n  pd:\n    pagerduty: { routing_kye: x }\n  t:\n    teams: { webhook_url: not-a-url }\n  h:\n    webhook: { url: 'ftp://x', secret: 'whsec_%%%' }\n  am:\n    alertmanager: { resend: 1h }\n  d:\n    digest: off\n    pagerduty: { routing_key: k }\n",
    );
    let expected = [
        "rules.yaml:3: channels.pd.pagerduty.routing_kye: unknown key `routing_kye`",
        "rules.yaml:3: channels.pd.pagerduty: `routing_key` is required",
        "rules.yaml:5: channels.t.teams.webhook_url: is not an http(s) URL",
        "rules.yaml:7: channels.h.webhook.url: `ftp://x` is not an http(s) URL",
        "rules.yaml:7: channels.h.webhook.secret: is not a Standard Webhooks secret",
        "rules.yaml:9: channels.am.alertmanager.url: `url` is required",
        "rules.yaml:11: channels.d.digest: digests do not apply to pagerduty",
    ];
    for expected in expected {
        assert!(found.iter().any(|e| e.starts_with(expected)), "{expected}\n{found:#?}");
    }
}

#[test]
fn a_webhook_may_not_set_the_signature_headers() {
    let found =
        errors("channels:\n  h:\n    webhook:\n      url: https://x.example\n      headers: { webhook-id: x }\n");
    assert!(
        found[0].starts_with("rules.yaml:5: channels.h.webhook.headers.webhook-id: is not a header"),
        "{found:?}"
    );
}

#[test]
fn a_routing_key_may_come_from_a_file_beside_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pd.key"), "FROMFILE\n").unwrap();
    let text = "channels:\n  pd:\n    pagerduty: { routing_key_file: pd.key }\n";
    let config = load_str(text, &dir.path().join("rules.yaml"), &|_| None).unwrap();
    let ChannelKind::Pagerduty(pd) = &config.channels["pd"].kind else {
        panic!()
    };
    assert_eq!(pd.routing_key.expose(), "FROMFILE");
}
