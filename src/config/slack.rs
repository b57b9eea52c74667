//! A `slack` channel: an incoming webhook (`webhook_url`), or an app that
//! posts with a bot token to one channel (`bot_token`, `channel`,
//! `api_url`), so it can thread replies and update messages. One or the
//! other: a key of one mode beside the other is a `check` error on its line.

use serde_yaml::Value;

use super::channels::read_template;
use super::model::{SlackApp, SlackChannel, SlackTarget};
use super::reader::{At, Fields, Reader};
use super::units::{DURATION_FORMS, parse_duration};
use crate::render::Medium;

/// The Web API's base; another one for a proxy, or a test's stand-in.
pub const SLACK_API_URL: &str = "https://slack.com/api/";

const KEYS: &[&str] = &[
    "webhook_url",
    "webhook_url_file",
    "bot_token",
    "bot_token_file",
    "channel",
    "api_url",
    "min_interval",
    "template",
];
/// The keys only an app has.
const APP_KEYS: &[&str] = &["bot_token", "bot_token_file", "channel", "api_url"];
const MODES: &str = "webhook_url (an incoming webhook), or bot_token with channel (an app)";
const CHANNEL_FORMS: &str =
    "the channel's id, e.g. C0123456789 (in Slack: the channel's details, at the bottom), or #name";

pub fn read_slack(reader: &mut Reader<'_>, value: &Value, at: At) -> Option<SlackChannel> {
    let fields = reader.fields(Some(value), at, KEYS);
    let template = read_template(reader, &fields, "template", Medium::Slack);
    let min_interval = match fields.get("min_interval") {
        Some((value, at)) => Some(reader.parsed(value, &at, DURATION_FORMS, parse_duration)?),
        None => None,
    };
    let webhook = fields.has("webhook_url") || fields.has("webhook_url_file");
    let app_key = APP_KEYS.iter().find(|key| fields.has(key));
    let target = match (webhook, app_key) {
        (true, Some(key)) => {
            let message = format!("`{key}` belongs to an app and `webhook_url` to an incoming webhook: give one");
            reader.error(&fields.at.key(key), message, Some(MODES));
            None
        }
        (false, Some(_)) => read_app(reader, &fields).map(SlackTarget::App),
        _ => read_webhook_url(reader, &fields).map(SlackTarget::Webhook),
    };
    Some(SlackChannel {
        target: target?,
        min_interval,
        template: template?,
    })
}

fn read_webhook_url(reader: &mut Reader<'_>, fields: &Fields<'_>) -> Option<crate::config::Secret> {
    let Some(webhook_url) = reader.secret(fields, "webhook_url") else {
        if !fields.has("webhook_url") && !fields.has("webhook_url_file") {
            reader.error(&fields.at, "`webhook_url` or `bot_token` is required", Some(MODES));
        }
        return None;
    };
    // The URL is a credential: the error says what is wrong, never the URL.
    // Read-only commands do not read it at all.
    if !reader.skip_secrets && !is_http_url(webhook_url.expose()) {
        let at = fields.at.key("webhook_url");
        reader.error(
            &at,
            "is not an http(s) URL",
            Some("https://hooks.slack.com/services/..."),
        );
        return None;
    }
    Some(webhook_url)
}

fn read_app(reader: &mut Reader<'_>, fields: &Fields<'_>) -> Option<SlackApp> {
    let has_token = fields.has("bot_token") || fields.has("bot_token_file");
    let bot_token = reader.secret(fields, "bot_token");
    if !has_token {
        let key = APP_KEYS.iter().find(|key| fields.has(key)).unwrap_or(&"channel");
        let message = format!("`{key}` goes with `bot_token` (a Slack app's token, scope chat:write)");
        reader.error(&fields.at.key(key), message, Some("bot_token, bot_token_file"));
    }
    let channel = match fields.get("channel") {
        Some((value, at)) => read_channel(reader, value, &at),
        None => {
            let key = if fields.has("bot_token") {
                "bot_token"
            } else {
                "bot_token_file"
            };
            let message = "`bot_token` needs `channel`: the channel the app posts to";
            reader.error(&fields.at.key(key), message, Some(CHANNEL_FORMS));
            None
        }
    };
    let api_url = match fields.get("api_url") {
        Some((value, at)) => read_api_url(reader, value, &at),
        None => Some(SLACK_API_URL.to_owned()),
    };
    Some(SlackApp {
        bot_token: bot_token?,
        channel: channel?,
        api_url: api_url?,
    })
}

/// A channel id (`C0123456789`, `G...` for an old private one) or `#name`.
fn read_channel(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<String> {
    let text = reader.string(value, at)?;
    let is_id = text.len() >= 2 && text.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    let is_name = text
        .strip_prefix('#')
        .is_some_and(|name| !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c)));
    if !is_id && !is_name {
        reader.error(at, format!("`{text}` is not a Slack channel"), Some(CHANNEL_FORMS));
        return None;
    }
    Some(text)
}

/// The base URL, ending in `/` so that method names join onto it.
fn read_api_url(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<String> {
    let text = reader.string(value, at)?;
    if !is_http_url(&text) {
        reader.error(at, format!("`{text}` is not an http(s) URL"), Some(SLACK_API_URL));
        return None;
    }
    Some(format!("{}/", text.trim_end_matches('/')))
}

fn is_http_url(text: &str) -> bool {
    reqwest::Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "https" | "http") && url.host().is_some())
}

#[cfg(test)]
#[path = "slack_tests.rs"]
mod tests;
