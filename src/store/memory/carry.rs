//! Digests and groups in the memory store: queued notifications leave the
//! queue, carried by the one message that says them.

use std::time::SystemTime;

use crate::alerts::AlertKey;
use crate::config::ChannelKind;
use crate::render::{Item, MAX_SECTIONS, Section, digest_for, group_message};
use crate::store::sqlite::{Built, unknown_item};

use super::super::model::Delivery;
use super::{MemoryStore, Queued, Unqueued, first_free};

impl MemoryStore {
    /// Replaces `channel`'s unclaimed notifications with one digest.
    pub fn build_digest(&self, channel: &str, kind: &ChannelKind, max_items: usize, now: SystemTime) -> Option<Built> {
        let mut inner = self.lock();
        let members: Vec<u64> = inner
            .queue
            .iter()
            .filter(|(_, q)| q.delivery.channel == channel && !q.claimed && !q.delivery.digest)
            .map(|(id, _)| *id)
            .collect();
        let first = members.first()?;
        let rule = inner.queue[first].delivery.rule.clone();
        // Each member leaves the queue, carried by the digest; its message
        // shows one line per alert, in its latest state.
        let mut threads = Vec::new();
        let items: Vec<(Option<AlertKey>, Item)> = members
            .iter()
            .filter_map(|id| {
                let queued = inner.queue.remove(id)?;
                threads.extend(queued.delivery.message.slack_thread().cloned());
                Some((queued.alert.map(|(key, _)| key), queued.item?))
            })
            .collect();
        let message = digest_for(kind, &Item::latest_per_alert(items), max_items, now).told_in_digest(threads);
        let unqueued = Unqueued {
            channel: channel.to_owned(),
            rule,
            request_id: None,
            message,
            digest: true,
        };
        let id = inner.queue_alone(unqueued, now);
        Some(Built {
            id,
            carried: members.len(),
        })
    }

    /// Gathers with the claimed `delivery` the others of its event, on its
    /// channel and about its connection, that may go now into one group
    /// (see the SQLite store's), claimed in its place. The group takes the
    /// place of its first notification in the queue, so each alert's later
    /// messages still wait behind it.
    pub fn group(&self, delivery: &Delivery, now: SystemTime) -> Option<Delivery> {
        let mut inner = self.lock();
        let claimed = inner.queue.get(&delivery.id)?;
        let (event, connection) = (claimed.event, claimed.alert.as_ref()?.0.connection.clone());
        let members: Vec<u64> = first_free(&inner.queue, &delivery.channel)
            .filter(|q| q.event == event && q.due <= now && (!q.claimed || q.delivery.id == delivery.id))
            .filter(|q| q.alert.as_ref().is_some_and(|(key, _)| key.connection == connection))
            .map(|q| q.delivery.id)
            .take(MAX_SECTIONS)
            .collect();
        if event == 0 || !members.contains(&delivery.id) {
            return None;
        }
        let sections: Vec<Section> = (members.iter().map(|id| &inner.queue[id]))
            .map(|q| Section {
                item: q.item.clone().unwrap_or_else(unknown_item),
                message: q.delivery.message.clone(),
            })
            .collect();
        let message = group_message(&sections)?;
        let carried: Vec<Queued> = members.iter().filter_map(|id| inner.queue.remove(id)).collect();
        let group = Delivery {
            id: members[0],
            rule: format!("group of {}", members.len()),
            message,
            attempts: 0,
            digest: true,
            ..delivery.clone()
        };
        let queued = Queued {
            delivery: group.clone(),
            item: None,
            due: now,
            claimed: true,
            alert: None,
            event: 0,
            carried,
        };
        inner.queue.insert(group.id, queued);
        Some(group)
    }
}
