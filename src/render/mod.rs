//! What a match becomes on each channel: the facts a human needs to act,
//! laid out for Slack (Block Kit), email (subject, text, HTML), PagerDuty
//! (an Events API v2 event), Teams (an Adaptive Card), a webhook (a
//! versioned JSON document) and Alertmanager (labelled alerts).

mod alertmanager;
mod channel;
mod digest;
mod email;
mod escape;
mod facts;
mod group;
mod link;
mod message;
mod notice;
mod pagerduty;
mod slack;
mod slack_thread;
mod teams;
mod template;
mod template_samples;
#[cfg(test)]
mod test_support;
mod undelivered;
mod webhook;

pub use alertmanager::{AmAlert, render_alertmanager, render_resent};
pub use channel::{TemplateUse, digest_for, message_for, preview_for};
pub use digest::{Item, render_digest_email, render_digest_slack};
pub use email::{EmailMessage, render_email};
pub use escape::{html_escape, one_line, slack_escape};
pub use facts::{Alert, Facts, ProblemGroup, Thread, counts_of};
pub use group::{MAX_SECTIONS, Section, group_message, groups};
pub use link::status_link;
pub use message::Message;
pub use notice::{Notice, rounded};
pub use pagerduty::{dedup_key, render_pagerduty};
pub use slack::{render_slack, slack_thread_of};
pub use slack_thread::{Anchor, Ending, Episode, SlackThread, resolved_parent};
pub use teams::{render_teams, teams_escape};
pub use template::{Context as TemplateContext, Medium, Template, VARIABLES, failures as template_failures};
pub use undelivered::{Undelivered, undelivered_for};
pub use webhook::{VERSION as WEBHOOK_VERSION, render_webhook};
