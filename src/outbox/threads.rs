//! A Slack app's threads, in the lane: a reply is rendered at ingest, but
//! the message its thread hangs on is only known once its FIRING was
//! delivered (maybe after the reply was queued, maybe by another
//! instance), so it is read from the store at send time. What threads hang
//! on afterwards is settled with the delivery; Slack's errors are counted.

use crate::deliver::{Outcome, Sender, Sent, SlackAppSender};
use crate::metrics::Metrics;
use crate::render::{Anchor, Ending, Episode, SlackThread};
use crate::store::{Delivery, Message, Store, StoreError};

/// One attempt at `delivery` through `sender`, on `channel`.
pub async fn send(store: &Store, metrics: &Metrics, channel: &str, sender: &Sender, delivery: &Delivery) -> Sent {
    let (Sender::SlackApp(app), Message::Slack { payload, thread }) = (sender, &delivery.message) else {
        let outcome = sender.send(&delivery.message, delivery.id).await;
        return Sent {
            outcome,
            anchors: Vec::new(),
            errors: Vec::new(),
        };
    };
    let parent = match thread {
        Some(SlackThread::Group { episodes, .. }) => shared_parent(store, channel, episodes).await,
        Some(place) => match place.parent() {
            Some(episode) => store.slack_parent(channel, episode).await,
            None => Ok(None),
        },
        None => Ok(None),
    };
    let parent = match parent {
        Ok(parent) => parent,
        // Not known is not absent: posting top-level now would split
        // the alert's story for a passing storage hiccup.
        Err(err) => return unknown_parent(err.to_string()),
    };
    let sent = app.send(payload, thread.as_ref(), parent.as_ref()).await;
    for error in &sent.errors {
        metrics.slack_error(channel, error);
    }
    let ends = match thread {
        Some(SlackThread::Digest { ends, .. } | SlackThread::Group { ends, .. }) => ends.as_slice(),
        _ => &[],
    };
    if matches!(sent.outcome, Outcome::Delivered { .. }) && !ends.is_empty() {
        rewrite_ended(store, metrics, (channel, app), ends).await;
    }
    sent
}

/// The one message every episode a group tells hangs on (an earlier
/// group told them all), if there is one: the group is a reply in its
/// thread. `None` when an episode has no message, or they hang on several.
async fn shared_parent(store: &Store, channel: &str, episodes: &[Episode]) -> Result<Option<Anchor>, StoreError> {
    let mut shared: Option<Anchor> = None;
    for episode in episodes {
        let Some(parent) = store.slack_parent(channel, episode).await? else {
            return Ok(None);
        };
        match &shared {
            Some(first) if (&first.channel, &first.ts) != (&parent.channel, &parent.ts) => return Ok(None),
            Some(_) => {}
            None => shared = Some(parent),
        }
    }
    Ok(shared)
}

/// At most this many messages of alerts a digest (or a group) ended are rewritten to
/// RESOLVED after it: a burst that Slack's `chat.update` limit (about 50 a
/// minute) takes. Beyond it, and when a rewrite fails, the digest alone
/// tells the end: it was delivered, and is not sent again for this.
const DIGEST_REWRITES: usize = 20;

/// Rewrites to RESOLVED the own messages of the episodes a digest or a
/// group ended.
async fn rewrite_ended(store: &Store, metrics: &Metrics, (channel, app): (&str, &SlackAppSender), ends: &[Ending]) {
    let mut rewritten = 0;
    for ending in ends {
        if rewritten == DIGEST_REWRITES {
            break;
        }
        let Ok(Some(parent)) = store.slack_parent(channel, &ending.episode).await else {
            continue;
        };
        if parent.digest {
            continue;
        }
        rewritten += 1;
        if let Err(error) = app.rewrite_ended(&parent, ending).await {
            tracing::warn!(channel, error = %error, "a digest told an alert's end; its own Slack message could not be rewritten");
            metrics.slack_error(channel, &error);
        }
    }
}

fn unknown_parent(reason: String) -> Sent {
    Sent {
        outcome: Outcome::Transient {
            reason: format!("cannot read the alert's Slack thread: {reason}"),
            retry_after: None,
        },
        anchors: Vec::new(),
        errors: Vec::new(),
    }
}
