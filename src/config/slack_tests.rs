use std::path::Path;

use crate::config::{ChannelKind, Config, ConfigErrors, SlackTarget, load_str};

fn load(text: &str) -> Result<Config, ConfigErrors> {
    let env = |name: &str| (name == "SLACK_BOT_TOKEN").then(|| "xoxb-1-2-abc".to_owned());
    load_str(text, Path::new("rules.yaml"), &env)
}

fn errors(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn an_app_reads_its_token_channel_and_the_default_api() {
    let config =
        load("channels:\n  ops:\n    slack: { bot_token: '${SLACK_BOT_TOKEN}', channel: C0123456789 }\n").unwrap();
    let ChannelKind::Slack(slack) = &config.channels["ops"].kind else {
        panic!()
    };
    let SlackTarget::App(app) = &slack.target else { panic!() };
    assert_eq!(app.bot_token.expose(), "xoxb-1-2-abc");
    assert_eq!(
        (app.channel.as_str(), app.api_url.as_str()),
        ("C0123456789", super::SLACK_API_URL)
    );
    assert!(
        config.channels["ops"].digest.is_some(),
        "an app has digests as a webhook does"
    );
    let config =
        load("channels:\n  ops:\n    slack: { bot_token: t, channel: '#ops', api_url: 'http://127.0.0.1:9/api' }\n")
            .unwrap();
    let ChannelKind::Slack(slack) = &config.channels["ops"].kind else {
        panic!()
    };
    let SlackTarget::App(app) = &slack.target else { panic!() };
    assert_eq!(app.api_url, "http://127.0.0.1:9/api/", "methods join onto the base");
}

#[test]
fn check_says_which_keys_go_together_with_their_lines() {
    let found = errors(
        "channels:\n  both:\n    slack:\n      webhook_url: https://hooks.example/x\n      bot_token: t\n      channel: C1\n  no_channel:\n    slack:\n      bot_token: t\n  no_token:\n    slack:\n      channel: C1\n  bad:\n    slack: { bot_token: t, channel: 'ops room' }\n  none:\n    slack: { min_interval: 1s }\n",
    );
    let expected = [
        "rules.yaml:5: channels.both.slack.bot_token: `bot_token` belongs to an app and `webhook_url` to an incoming webhook: give one",
        "rules.yaml:9: channels.no_channel.slack.bot_token: `bot_token` needs `channel`",
        "rules.yaml:12: channels.no_token.slack.channel: `channel` goes with `bot_token`",
        "rules.yaml:14: channels.bad.slack.channel: `ops room` is not a Slack channel",
        "rules.yaml:16: channels.none.slack: `webhook_url` or `bot_token` is required",
    ];
    for expected in expected {
        assert!(found.iter().any(|e| e.starts_with(expected)), "{expected}\n{found:#?}");
    }
}
