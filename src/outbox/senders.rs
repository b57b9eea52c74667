//! A lane's senders: the channel's sender as configured now (replaced in
//! place by a reload), the one of the old kind after a change of kind, the
//! digest settings, and the pace shared by every channel on one Slack URL.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use tokio::time::Instant;

use crate::config::{ChannelKind, Digest};
use crate::deliver::Sender;
use crate::store::Message;

/// A channel's senders, replaceable while its lane runs (reload).
pub type SenderSlot = Arc<RwLock<Senders>>;

/// The channel's sender as configured now and, when a reload changed the
/// channel's kind (Slack to email, say), the one of the old kind: messages
/// queued before the reload were rendered for it and still go through it.
pub struct Senders {
    pub current: Arc<Sender>,
    pub previous: Option<Arc<Sender>>,
    /// The channel's digest settings; `None`: `digest: off`.
    pub digest: Option<Digest>,
    /// The channel as configured: what its digests are rendered for.
    pub kind: Option<ChannelKind>,
    /// Shared by every channel posting to the same Slack webhook URL.
    pub pace: Pace,
    /// The channel's `fallback`, told when a message fails for good.
    pub fallback: Option<FallbackTo>,
    /// The outages' names: their messages stand alone, never in a digest
    /// nor counted toward one (one message already speaks for many).
    pub standalone: Arc<HashSet<String>>,
}

/// A channel's fallback: its name, how its messages are worded, and how
/// to wake its lane.
#[derive(Clone)]
pub struct FallbackTo {
    pub channel: String,
    pub kind: ChannelKind,
    pub wake: Arc<tokio::sync::Notify>,
}

/// No send before this instant: pacing, or a 429's Retry-After. Shared by
/// the lanes of one Slack webhook URL; a lane holds it from its wait to
/// the end of its send, so lanes on one URL take turns.
pub type Pace = Arc<tokio::sync::Mutex<Instant>>;

impl Senders {
    pub fn new(sender: Sender, digest: Option<Digest>, pace: Pace) -> Senders {
        Senders {
            current: Arc::new(sender),
            previous: None,
            digest,
            pace,
            kind: None,
            fallback: None,
            standalone: Arc::default(),
        }
    }

    /// The channel's configuration, for rendering its digests.
    pub fn with_kind(mut self, kind: Option<ChannelKind>) -> Senders {
        self.kind = kind;
        self
    }

    /// Puts `sender` in place; the one it replaces stays for the messages
    /// of its kind when the kind changed.
    pub fn replace(&mut self, sender: Sender, digest: Option<Digest>, pace: Pace) {
        let old = std::mem::replace(&mut self.current, Arc::new(sender));
        if !self.current.same_kind(&old) {
            self.previous = Some(old);
        }
        self.digest = digest;
        self.pace = pace;
    }

    pub fn for_message(&self, message: &Message) -> Arc<Sender> {
        match &self.previous {
            Some(previous) if !self.current.takes(message) && previous.takes(message) => previous.clone(),
            _ => self.current.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::load_str;
    use crate::deliver::senders;
    use crate::render::EmailMessage;

    /// The sender of channel `ops` defined as `kind`.
    fn sender(kind: &str) -> Sender {
        let text = format!("channels:\n  ops:\n    {kind}\n");
        let config = load_str(&text, Path::new("t.yaml"), &|_| None).unwrap();
        senders(&config, false).unwrap().remove("ops").unwrap()
    }

    #[tokio::test]
    async fn after_a_change_of_kind_queued_messages_keep_a_sender_of_their_kind() {
        let pace: Pace = Arc::new(tokio::sync::Mutex::new(Instant::now()));
        let mut senders = Senders::new(
            sender("slack: { webhook_url: 'http://127.0.0.1:9/hook' }"),
            None,
            pace.clone(),
        );
        senders.replace(
            sender("email: { host: 127.0.0.1, tls: none, from: a@b.c, to: d@e.f }"),
            None,
            pace,
        );
        let queued = Message::Slack {
            payload: serde_json::json!({"text": "x"}),
            thread: None,
        };
        assert!(matches!(*senders.for_message(&queued), Sender::Slack(_)));
        let email = Message::Email(EmailMessage {
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
            message_id: None,
            in_reply_to: None,
        });
        assert!(matches!(*senders.for_message(&email), Sender::Email(_)));
    }
}
