//! What a match becomes on each channel: the facts a human needs to act,
//! laid out for Slack (Block Kit) and for email (subject, text, HTML).

mod channel;
mod digest;
mod email;
mod escape;
mod facts;
mod message;
mod notice;
mod slack;
mod template;
mod template_samples;
#[cfg(test)]
mod test_support;

pub use channel::{TemplateUse, digest_for, message_for, preview_for};
pub use digest::{Item, render_digest_email, render_digest_slack};
pub use email::{EmailMessage, render_email};
pub use escape::{html_escape, one_line, slack_escape};
pub use facts::{Alert, Facts, ProblemGroup, Thread, counts_of};
pub use message::Message;
pub use notice::{Notice, rounded};
pub use slack::render_slack;
pub use template::{Context as TemplateContext, Medium, Template, VARIABLES, failures as template_failures};
