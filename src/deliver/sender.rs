//! A channel's sender, the outcome of one attempt, and building the
//! senders of a configuration.

use std::collections::HashMap;
use std::time::Duration;

use crate::config::{ChannelKind, Config, SlackTarget};
use crate::store::Message;

use super::alertmanager::AlertmanagerSender;
use super::email::EmailSender;
use super::pagerduty::{self, PagerdutySender};
use super::slack::SlackSender;
use super::slack_app::SlackAppSender;
use super::teams::TeamsSender;
use super::webhook::WebhookSender;

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted by Slack or the SMTP server; `detail` is its answer.
    Delivered { detail: String },
    /// May work later: timeouts, 5xx, Slack 429, SMTP 4xx.
    Transient {
        reason: String,
        /// The wait the receiver asked for (Slack's Retry-After).
        retry_after: Option<Duration>,
    },
    /// Will not work without a human: a revoked webhook, a rejected address.
    Permanent { reason: String },
    /// Not sent on purpose (`delivery.dry_run`): nobody was told.
    NotSent { reason: String },
}

/// A channel's sender, ready to use.
pub enum Sender {
    Slack(SlackSender),
    /// A Slack app: threads and updates (the outbox hands it the thread's
    /// parent, see `outbox::threads`).
    SlackApp(SlackAppSender),
    Email(EmailSender),
    Pagerduty(PagerdutySender),
    Teams(TeamsSender),
    Webhook(WebhookSender),
    Alertmanager(AlertmanagerSender),
    /// `serve --dry-run`: logs what would be sent, sends nothing.
    DryRun {
        channel: String,
    },
}

impl Sender {
    /// One attempt at delivery `id` (a webhook's `webhook-id`, the same
    /// on every retry).
    pub async fn send(&self, message: &Message, id: u64) -> Outcome {
        match (self, message) {
            (Sender::Slack(slack), Message::Slack { payload, .. }) => slack.send(payload).await,
            // Without its thread's parent: a top-level message.
            (Sender::SlackApp(app), Message::Slack { payload, .. }) => app.send(payload, None, None).await.outcome,
            (Sender::Email(email), Message::Email(message)) => email.send(message).await,
            (Sender::Pagerduty(pagerduty), Message::Pagerduty { event }) => pagerduty.send(event).await,
            (Sender::Teams(teams), Message::Teams { payload }) => teams.send(payload).await,
            (Sender::Webhook(webhook), Message::Webhook { document }) => webhook.send(document, id).await,
            (Sender::Alertmanager(am), Message::Alertmanager { alerts }) => am.send(alerts).await,
            (Sender::DryRun { channel }, message) => dry_run(channel, message),
            _ => Outcome::Permanent {
                reason: "the message was rendered for another kind of channel".into(),
            },
        }
    }

    /// Whether `message` was rendered for this kind of channel.
    pub fn takes(&self, message: &Message) -> bool {
        matches!(
            (self, message),
            (Sender::Slack(_) | Sender::SlackApp(_), Message::Slack { .. })
                | (Sender::Email(_), Message::Email(_))
                | (Sender::Pagerduty(_), Message::Pagerduty { .. })
                | (Sender::Teams(_), Message::Teams { .. })
                | (Sender::Webhook(_), Message::Webhook { .. })
                | (Sender::Alertmanager(_), Message::Alertmanager { .. })
                | (Sender::DryRun { .. }, _)
        )
    }

    /// What paces this sender: Slack's limit is per webhook URL (per
    /// channel for an app) and
    /// PagerDuty's per routing key, so two channels on one share it;
    /// anything else is paced on its own.
    pub fn pace_key(&self, channel: &str) -> String {
        match self {
            Sender::Slack(slack) => format!("slack:{}", slack.url()),
            Sender::SlackApp(app) => app.pace_key(),
            Sender::Teams(teams) => format!("teams:{}", teams.url()),
            Sender::Pagerduty(pagerduty) => format!("pagerduty:{}", pagerduty.routing_key()),
            _ => format!("channel:{channel}"),
        }
    }

    pub fn same_kind(&self, other: &Sender) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }

    /// The shortest spacing between two messages: Slack documents about
    /// one message per second per webhook (Teams' flows are paced alike);
    /// PagerDuty 120 events a minute per routing key; SMTP servers, a
    /// webhook receiver and Alertmanager need none.
    pub fn min_interval(&self, slack_interval: Duration) -> Duration {
        match self {
            Sender::Slack(slack) => slack.min_interval.unwrap_or(slack_interval),
            Sender::SlackApp(app) => app.min_interval.unwrap_or(slack_interval),
            Sender::Teams(_) => slack_interval,
            Sender::Pagerduty(_) => pagerduty::MIN_INTERVAL,
            Sender::Email(_) | Sender::Webhook(_) | Sender::Alertmanager(_) | Sender::DryRun { .. } => Duration::ZERO,
        }
    }

    /// The sender of `kind`, ready to use.
    pub fn of(kind: &ChannelKind) -> Result<Sender, String> {
        Ok(match kind {
            ChannelKind::Slack(slack) => match &slack.target {
                SlackTarget::Webhook(url) => Sender::Slack(SlackSender::new(url, slack.min_interval)?),
                SlackTarget::App(app) => Sender::SlackApp(SlackAppSender::new(app, slack.min_interval)?),
            },
            ChannelKind::Email(email) => Sender::Email(EmailSender::new(email)?),
            ChannelKind::Pagerduty(pagerduty) => Sender::Pagerduty(PagerdutySender::new(pagerduty)?),
            ChannelKind::Teams(teams) => Sender::Teams(TeamsSender::new(teams)?),
            ChannelKind::Webhook(webhook) => Sender::Webhook(WebhookSender::new(webhook)?),
            ChannelKind::Alertmanager(am) => Sender::Alertmanager(AlertmanagerSender::new(am)?),
        })
    }
}

fn dry_run(channel: &str, message: &Message) -> Outcome {
    let (kind, text) = match message {
        Message::Email(email) => ("email", format!("Subject: {}\n{}", email.subject, email.text)),
        Message::Slack { payload, .. } => ("slack", payload.to_string()),
        Message::Pagerduty { event } => ("pagerduty", event.to_string()),
        Message::Teams { payload } => ("teams", payload.to_string()),
        Message::Webhook { document } => ("webhook", document.to_string()),
        Message::Alertmanager { alerts } => ("alertmanager", alerts.to_string()),
    };
    tracing::info!(channel, kind, message = %text, "dry run: would send");
    Outcome::NotSent {
        reason: "dry run, not sent".into(),
    }
}

/// Builds the sender of every configured channel; with `dry_run`, senders
/// that only log.
pub fn senders(config: &Config, dry_run: bool) -> Result<HashMap<String, Sender>, String> {
    install_crypto_provider();
    let mut senders = HashMap::new();
    for (name, channel) in &config.channels {
        let sender = match &channel.kind {
            _ if dry_run || config.delivery.dry_run => Sender::DryRun { channel: name.clone() },
            kind => Sender::of(kind).map_err(|e| format!("{name}: {e}"))?,
        };
        senders.insert(name.clone(), sender);
    }
    Ok(senders)
}

/// rustls needs one process-wide crypto provider; syncwatch uses ring,
/// which builds with a C compiler only.
pub fn install_crypto_provider() {
    // Err means one is installed already, which is just as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::load_str;

    #[test]
    fn channels_on_one_routing_key_share_pagerdutys_pace() {
        let text = "channels:\n  a:\n    pagerduty: { routing_key: K1 }\n  b:\n    pagerduty: { routing_key: K1 }\n  c:\n    pagerduty: { routing_key: K2 }\n  t:\n    teams: { webhook_url: 'https://x.example/w' }\n";
        let config = load_str(text, Path::new("rules.yaml"), &|_| None).unwrap();
        let senders = senders(&config, false).unwrap();
        assert_eq!(senders["a"].pace_key("a"), senders["b"].pace_key("b"));
        assert_ne!(senders["a"].pace_key("a"), senders["c"].pace_key("c"));
        let slack = Duration::from_secs(1);
        assert_eq!(senders["a"].min_interval(slack), Duration::from_millis(500));
        assert_eq!(
            senders["t"].min_interval(slack),
            slack,
            "Teams flows are paced as Slack webhooks"
        );
    }

    #[test]
    fn channels_posting_as_an_app_to_one_slack_channel_share_its_pace() {
        let app = |channel: &str| format!("slack: {{ bot_token: t, channel: '{channel}' }}");
        let text = format!(
            "channels:\n  a:\n    {}\n  b:\n    {}\n  c:\n    {}\n",
            app("C01"),
            app("C01"),
            app("C02")
        );
        let config = load_str(&text, Path::new("rules.yaml"), &|_| None).unwrap();
        let senders = senders(&config, false).unwrap();
        assert_eq!(senders["a"].pace_key("a"), senders["b"].pace_key("b"));
        assert_ne!(senders["a"].pace_key("a"), senders["c"].pace_key("c"));
        let second = Duration::from_secs(1);
        assert_eq!(senders["a"].min_interval(second), second, "about one message a second");
    }
}
