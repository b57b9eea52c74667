//! What a match becomes on each channel: the facts a human needs to act,
//! laid out for Slack (Block Kit) and for email (subject, text, HTML).

mod digest;
mod email;
mod escape;
mod facts;
mod notice;
mod slack;
#[cfg(test)]
mod test_support;

pub use digest::{Item, render_digest_email, render_digest_slack};
pub use email::{EmailMessage, render_email};
pub use escape::{html_escape, one_line, slack_escape};
pub use facts::{Alert, Facts, counts_of};
pub use notice::Notice;
pub use slack::render_slack;
