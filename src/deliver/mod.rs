//! Sending one rendered message through one channel (Slack as a webhook
//! or an app, SMTP,
//! PagerDuty, Teams, a signed webhook, Alertmanager), and saying how it
//! went: delivered, worth retrying, or never going to work. The outbox
//! decides what to do about it; a channel never retries on its own.

mod alertmanager;
mod email;
mod http;
mod pagerduty;
mod sender;
mod slack;
mod slack_api;
mod slack_app;
mod teams;
mod webhook;

pub use alertmanager::AlertmanagerSender;
pub use email::EmailSender;
pub use sender::{Outcome, Sender, install_crypto_provider, senders};
pub use slack::SlackSender;
pub use slack_api::{Answer as SlackAnswer, hint as slack_hint};
pub use slack_app::{Sent, SlackAppSender};
pub use webhook::{message_id as webhook_id, signature as webhook_signature};
