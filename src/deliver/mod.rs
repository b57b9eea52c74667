//! Sending one rendered message through one channel, and saying how it
//! went: delivered, worth retrying, or never going to work. The outbox
//! decides what to do about it; a channel never retries on its own.

mod email;
mod sender;
mod slack;

pub use email::EmailSender;
pub use sender::{Outcome, Sender, install_crypto_provider, senders};
pub use slack::SlackSender;
