//! Sending one rendered message through one channel (Slack, SMTP,
//! PagerDuty, Teams, a signed webhook, Alertmanager), and saying how it
//! went: delivered, worth retrying, or never going to work. The outbox
//! decides what to do about it; a channel never retries on its own.

mod alertmanager;
mod email;
mod http;
mod pagerduty;
mod sender;
mod slack;
mod teams;
mod webhook;

pub use alertmanager::AlertmanagerSender;
pub use email::EmailSender;
pub use sender::{Outcome, Sender, install_crypto_provider, senders};
pub use slack::SlackSender;
pub use webhook::{message_id as webhook_id, signature as webhook_signature};
