//! A Slack channel posting as an app: one message per alert episode. A
//! FIRING (or a digest) is a new top-level message; STILL FAILING is a
//! reply in its thread; RESOLVED updates the parent in place and replies.
//! The parent comes in from the caller (the store keeps it); what a thread
//! now hangs on goes back out. When the parent is gone, a new top-level
//! message tells it instead: a reply must never be lost to a thread.

use std::time::Duration;

use serde_json::{Value, json};

use crate::config::SlackApp;
use crate::render::{Anchor, Ending, Episode, SlackThread, resolved_parent};

use super::http::client;
use super::sender::Outcome;
use super::slack_api::{Answer, WebApi};

/// Errors that say the message to update or reply to is no longer there.
const GONE: &[&str] = &[
    "message_not_found",
    "cant_update_message",
    "thread_not_found",
    "edit_window_closed",
];

/// How one message went: the outcome, the messages its episodes' threads
/// now hang on, and Slack's error names met on the way (for `/metrics`).
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub outcome: Outcome,
    pub anchors: Vec<Anchor>,
    pub errors: Vec<String>,
}

pub struct SlackAppSender {
    api: WebApi,
    /// The channel as configured (an id or `#name`).
    channel: String,
    /// The API's base: with the channel, what its pace is shared by.
    api_url: String,
    pub min_interval: Option<Duration>,
}

impl SlackAppSender {
    pub fn new(app: &SlackApp, min_interval: Option<Duration>) -> Result<SlackAppSender, String> {
        Ok(SlackAppSender {
            api: WebApi::new(client()?, app.bot_token.clone(), app.api_url.clone()),
            channel: app.channel.clone(),
            api_url: app.api_url.clone(),
            min_interval,
        })
    }

    /// Slack's limit is per channel: every syncwatch channel posting to
    /// this one shares it.
    pub fn pace_key(&self) -> String {
        format!("slack-app:{}{}", self.api_url, self.channel)
    }

    /// `auth.test`: whether the token works, and as which app.
    pub async fn auth_test(&self) -> Answer {
        self.api.call("auth.test", &json!({})).await
    }

    /// Sends `payload` at its place in its thread; `parent` is the message
    /// its episode's thread hangs on, when there is one.
    pub async fn send(&self, payload: &Value, thread: Option<&SlackThread>, parent: Option<&Anchor>) -> Sent {
        match (thread, parent) {
            (Some(SlackThread::Opens { episode }), _) => self.open(payload, std::slice::from_ref(episode), false).await,
            (Some(SlackThread::Digest { episodes, .. }), _) => self.open(payload, episodes, true).await,
            // A group goes in the thread every episode it tells hangs on
            // (an earlier group's), when there is one; else it opens one.
            (Some(SlackThread::Group { episodes, .. }), Some(parent)) => {
                self.reply(payload, (episodes, true), parent).await
            }
            (Some(SlackThread::Group { episodes, .. }), None) => self.open(payload, episodes, true).await,
            (Some(SlackThread::Follows { episode }), Some(parent)) => self.reply(payload, alone(episode), parent).await,
            (Some(SlackThread::Ends { episode, header, line }), Some(parent)) if !parent.digest => {
                self.end(payload, episode, parent, (header, line)).await
            }
            (Some(SlackThread::Ends { episode, .. }), Some(parent)) => {
                self.reply(payload, alone(episode), parent).await
            }
            // No parent: its FIRING never reached this channel (it failed,
            // expired, or went out before the channel was an app). This
            // message takes its place, and the thread goes on under it.
            (Some(SlackThread::Follows { episode }), None) => {
                self.open(payload, std::slice::from_ref(episode), false).await
            }
            _ => self.open(payload, &[], false).await,
        }
    }

    /// A new top-level message, the parent of `episodes`.
    async fn open(&self, payload: &Value, episodes: &[Episode], digest: bool) -> Sent {
        let answer = self.post(payload, None, &self.channel).await;
        let Answer::Ok(posted) = &answer else {
            return failure(answer, Vec::new());
        };
        let (channel, ts) = where_posted(posted);
        // An answer without a `ts` (a proxy's) leaves nothing to reply to.
        let episodes = if ts.is_empty() { &[] } else { episodes };
        let anchors = (episodes.iter())
            .map(|episode| Anchor {
                episode: episode.clone(),
                channel: channel.clone(),
                ts: ts.clone(),
                digest,
                original: payload.clone(),
            })
            .collect();
        delivered(format!("posted {ts} in {channel}"), anchors, Vec::new())
    }

    /// A reply in `parent`'s thread; a new top-level message (the new
    /// parent of `episodes`, a digest's when `digest`) when the parent is
    /// gone.
    async fn reply(&self, payload: &Value, (episodes, digest): (&[Episode], bool), parent: &Anchor) -> Sent {
        let answer = self.post(payload, Some(&parent.ts), &parent.channel).await;
        match answer {
            Answer::Ok(_) => delivered(format!("replied in thread {}", parent.ts), Vec::new(), Vec::new()),
            Answer::Failed { ref error, .. } if GONE.contains(&error.as_str()) => {
                let mut sent = self.open(payload, episodes, digest).await;
                sent.errors.insert(0, error.clone());
                sent
            }
            failed => failure(failed, Vec::new()),
        }
    }

    /// RESOLVED: the parent updated in place, then a reply in its thread.
    /// A parent that is gone gets a new top-level message instead; one
    /// Slack would not update still gets the reply.
    async fn end(&self, payload: &Value, episode: &Episode, parent: &Anchor, (header, line): (&str, &str)) -> Sent {
        let mut errors = Vec::new();
        match self.rewrite(parent, header, line, payload).await {
            Answer::Ok(_) => {}
            Answer::Failed { error, .. } if GONE.contains(&error.as_str()) => {
                let mut sent = self.open(payload, &[], false).await;
                sent.errors.insert(0, error);
                return sent;
            }
            Answer::Failed {
                outcome: outcome @ Outcome::Transient { .. },
                error,
            } => return failure(Answer::Failed { error, outcome }, Vec::new()),
            Answer::Failed { error, outcome } => {
                tracing::warn!(error = %error, reason = ?outcome, "Slack would not update the alert's message; replying in its thread");
                errors.push(error);
            }
        }
        let mut sent = self.reply(payload, alone(episode), parent).await;
        errors.append(&mut sent.errors);
        sent.errors = errors;
        if let Outcome::Delivered { detail } = &mut sent.outcome {
            *detail = format!("updated {} and {detail}", parent.ts);
        }
        sent
    }

    /// Rewrites the message of an episode a digest ended, as its RESOLVED
    /// would have (no reply: the digest told it). Slack's error, if any.
    pub async fn rewrite_ended(&self, parent: &Anchor, ending: &Ending) -> Result<(), String> {
        let text = json!({ "text": format!("{} · {}", ending.header, ending.line) });
        match self.rewrite(parent, &ending.header, &ending.line, &text).await {
            Answer::Ok(_) => Ok(()),
            Answer::Failed { error, .. } => Err(error),
        }
    }

    /// `chat.update` of `parent` with `header` and `line` (see
    /// [`resolved_parent`]); `resolved` for a parent of text only.
    async fn rewrite(&self, parent: &Anchor, header: &str, line: &str, resolved: &Value) -> Answer {
        let updated = resolved_parent(&parent.original, header, line, resolved);
        let mut body = json!({ "channel": parent.channel, "ts": parent.ts, "text": updated["text"] });
        // A message of text only (a template's) has no blocks to replace.
        if let Some(blocks) = updated.get("blocks") {
            body["blocks"] = blocks.clone();
        }
        self.api.call("chat.update", &body).await
    }

    /// `chat.postMessage`, in a thread when `thread_ts` is given (never
    /// broadcast to the channel: the parent says where the alert stands).
    async fn post(&self, payload: &Value, thread_ts: Option<&str>, channel: &str) -> Answer {
        let mut body = json!({
            "channel": channel,
            "text": payload["text"],
            "unfurl_links": false,
            "unfurl_media": false,
        });
        if let Some(blocks) = payload.get("blocks") {
            body["blocks"] = blocks.clone();
        }
        if let Some(ts) = thread_ts {
            body["thread_ts"] = Value::String(ts.to_owned());
        }
        self.api.call("chat.postMessage", &body).await
    }
}

/// The episode of a message about one alert, as `reply` takes it.
fn alone(episode: &Episode) -> (&[Episode], bool) {
    (std::slice::from_ref(episode), false)
}

/// The channel id and `ts` Slack gave a posted message.
fn where_posted(answer: &Value) -> (String, String) {
    let field = |name: &str| answer[name].as_str().unwrap_or_default().to_owned();
    (field("channel"), field("ts"))
}

fn delivered(detail: String, anchors: Vec<Anchor>, errors: Vec<String>) -> Sent {
    Sent {
        outcome: Outcome::Delivered { detail },
        anchors,
        errors,
    }
}

fn failure(answer: Answer, anchors: Vec<Anchor>) -> Sent {
    let errors = answer.error().map(str::to_owned).into_iter().collect();
    let outcome = match answer {
        Answer::Failed { outcome, .. } => outcome,
        Answer::Ok(_) => Outcome::Delivered { detail: "ok".into() },
    };
    Sent {
        outcome,
        anchors,
        errors,
    }
}
