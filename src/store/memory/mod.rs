//! The in-memory store: everything is lost on restart. Kept as the baseline
//! the durable store is measured against, and for tests. [`carry`] gathers
//! queued notifications into digests and groups.

mod carry;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::lifecycle::{AlertState, AlertStates, Effect, Phase, apply, not_told};
use crate::render::{Anchor, Episode, Item};

use super::model::{Delivery, Fallback, Ingest, IngestOutcome, Settle};

#[derive(Default)]
pub struct MemoryStore {
    /// One lock for all state: an ingest must see and change dedup keys,
    /// alerts and the queue together, as the durable store's transaction does.
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    seen: HashSet<String>,
    /// Alert states by connection, so a sync finds its connection's
    /// alerts without a scan.
    alerts: HashMap<String, HashMap<AlertKey, AlertState>>,
    /// Known connections by id. (Absence checks need the durable store.)
    connections: HashMap<String, KnownConnection>,
    /// Pending deliveries by id (ids grow, so this is also arrival order).
    queue: BTreeMap<u64, Queued>,
    next_id: u64,
    /// The Slack messages alert threads hang on, by channel and alert.
    threads: HashMap<(String, String), Anchor>,
    /// Events ingested: what the notifications an event queued share.
    events: u64,
}

struct Queued {
    delivery: Delivery,
    /// What a digest shows of it.
    item: Option<Item>,
    due: SystemTime,
    /// Handed to a worker and not settled yet.
    claimed: bool,
    /// The alert it speaks of, and what it says (none for a digest).
    alert: Option<(AlertKey, Effect)>,
    /// The event that queued it (0: none, a digest's or a notice's).
    event: u64,
    /// A group's notifications, out of the queue while it carries them.
    carried: Vec<Queued>,
}

/// A message about no one alert (a digest, a fallback's notice), before
/// it has an id.
struct Unqueued {
    channel: String,
    rule: String,
    request_id: Option<String>,
    message: crate::store::Message,
    digest: bool,
}

impl Inner {
    /// Queues `message`, due now; returns its id.
    fn queue_alone(&mut self, message: Unqueued, now: SystemTime) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let delivery = Delivery {
            id,
            channel: message.channel,
            rule: message.rule,
            request_id: message.request_id,
            message: message.message,
            created_at: now,
            attempts: 0,
            digest: message.digest,
        };
        let queued = Queued {
            delivery,
            item: None,
            due: now,
            claimed: false,
            alert: None,
            event: 0,
            carried: Vec::new(),
        };
        self.queue.insert(id, queued);
        id
    }
}

/// The alert states of the store, as the lifecycle reads and writes them.
struct MemoryStates<'a>(&'a mut HashMap<String, HashMap<AlertKey, AlertState>>);

impl AlertStates for MemoryStates<'_> {
    type Error = std::convert::Infallible;

    fn get(&mut self, key: &AlertKey) -> Result<Option<AlertState>, Self::Error> {
        Ok(self.0.get(&key.connection).and_then(|alerts| alerts.get(key)).cloned())
    }

    fn active(&mut self, connection: &str) -> Result<Vec<(AlertKey, AlertState)>, Self::Error> {
        let alerts = self.0.get(connection).into_iter().flatten();
        Ok(alerts
            .filter(|(_, state)| state.phase != Phase::Resolved)
            .map(|(key, state)| (key.clone(), state.clone()))
            .collect())
    }

    fn put(&mut self, key: &AlertKey, state: &AlertState) -> Result<(), Self::Error> {
        let alerts = self.0.entry(key.connection.clone()).or_default();
        alerts.insert(key.clone(), state.clone());
        Ok(())
    }
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every
        // change is a single insert or remove), so poisoning is ignored.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn ingest(&self, ingest: Ingest) -> IngestOutcome {
        let mut inner = self.lock();
        if !inner.seen.insert(ingest.dedup_key.clone()) {
            return IngestOutcome::Duplicate;
        }
        let resolved = (ingest.alerts.event.connection_id.as_ref())
            .and_then(|id| ingest.alerts.as_known(inner.connections.get(id)));
        let alerts = resolved.as_ref().unwrap_or(&ingest.alerts);
        let Ok(applied) = apply(&mut MemoryStates(&mut inner.alerts), alerts);
        let known = ingest.alerts.event.connection_id.as_deref().and_then(|id| {
            let before = inner.connections.get(id);
            let after = KnownConnection::observe(before, &alerts.event, alerts.environment, ingest.received_at())?;
            inner.connections.insert(id.to_owned(), after.clone());
            Some(after)
        });
        let mut channels = Vec::new();
        inner.events += 1;
        let event = inner.events;
        for notification in &applied.notifications {
            for new in &notification.deliveries {
                inner.next_id += 1;
                let id = inner.next_id;
                if !channels.contains(&new.channel) {
                    channels.push(new.channel.clone());
                }
                let delivery = Delivery {
                    id,
                    channel: new.channel.clone(),
                    rule: notification.key.rule.clone(),
                    request_id: ingest.request_id().map(str::to_owned),
                    message: new.message.clone(),
                    created_at: ingest.received_at(),
                    attempts: 0,
                    digest: false,
                };
                let queued = Queued {
                    delivery,
                    item: new.item.clone(),
                    due: ingest.received_at(),
                    claimed: false,
                    alert: Some((notification.key.clone(), notification.effect)),
                    event,
                    carried: Vec::new(),
                };
                inner.queue.insert(id, queued);
            }
        }
        IngestOutcome::Accepted {
            notified: applied.notified().cloned().collect(),
            transitions: applied.described(),
            suppressed: applied.quiet,
            channels,
            known: known.map(Box::new),
        }
    }

    pub fn connections(&self) -> Vec<KnownConnection> {
        self.lock().connections.values().cloned().collect()
    }

    pub fn claim_next(&self, channel: &str, now: SystemTime) -> Option<Delivery> {
        let mut inner = self.lock();
        let id = first_free(&inner.queue, channel)
            .filter(|q| !q.claimed && q.due <= now)
            .min_by_key(|q| (q.due, q.delivery.id))?
            .delivery
            .id;
        let next = inner.queue.get_mut(&id)?;
        next.claimed = true;
        Some(next.delivery.clone())
    }

    pub fn next_due(&self, channel: &str) -> Option<SystemTime> {
        let inner = self.lock();
        first_free(&inner.queue, channel)
            .filter(|q| !q.claimed)
            .map(|q| q.due)
            .min()
    }

    pub fn firing_by_rule(&self) -> Vec<(String, u64)> {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let inner = self.lock();
        let alerts = inner.alerts.values().flat_map(|alerts| alerts.iter());
        for (key, _) in alerts.filter(|(_, state)| state.phase == Phase::Firing) {
            *counts.entry(key.rule.clone()).or_default() += 1;
        }
        counts.into_iter().collect()
    }

    pub fn pending_count(&self) -> u64 {
        self.lock().queue.len() as u64
    }

    /// Drops the pending deliveries of channels not in `known`, counted
    /// by channel.
    pub fn abandon(&self, known: &[String]) -> Vec<(String, u64)> {
        let mut inner = self.lock();
        let mut dropped: BTreeMap<String, u64> = BTreeMap::new();
        inner.queue.retain(|_, queued| {
            let keep = known.contains(&queued.delivery.channel);
            if !keep {
                *dropped.entry(queued.delivery.channel.clone()).or_default() += 1;
            }
            keep
        });
        dropped.into_iter().collect()
    }

    pub fn release(&self, id: u64) {
        if let Some(queued) = self.lock().queue.get_mut(&id) {
            queued.claimed = false;
        }
    }

    pub fn settle_with_fallback(&self, id: u64, settle: Settle, fallback: Fallback, now: SystemTime) {
        // A fallback's own notice (about no alert, in no digest) does not
        // fall back again.
        let failed = (self.lock().queue.get(&id))
            .filter(|q| q.alert.is_some() || q.delivery.digest)
            .map(|q| q.delivery.clone());
        self.settle(id, settle);
        let Some(failed) = failed else {
            return;
        };
        let unqueued = Unqueued {
            channel: fallback.channel,
            rule: failed.rule,
            request_id: failed.request_id,
            message: fallback.message,
            digest: false,
        };
        self.lock().queue_alone(unqueued, now);
    }

    /// Keeps the Slack messages `channel`'s threads now hang on (a
    /// digest's only for an episode without a message of its own).
    pub fn keep_threads(&self, channel: &str, anchors: Vec<Anchor>) {
        let mut inner = self.lock();
        for anchor in anchors {
            let key = (channel.to_owned(), anchor.episode.key.clone());
            let kept = inner.threads.get(&key);
            if !anchor.digest || kept.is_none_or(|kept| kept.episode.since != anchor.episode.since) {
                inner.threads.insert(key, anchor);
            }
        }
    }

    pub fn slack_parent(&self, channel: &str, episode: &Episode) -> Option<Anchor> {
        let inner = self.lock();
        let kept = inner.threads.get(&(channel.to_owned(), episode.key.clone()))?;
        (kept.episode == *episode).then(|| kept.clone())
    }

    pub fn settle(&self, id: u64, settle: Settle) {
        let mut inner = self.lock();
        match settle {
            Settle::Retry { at, .. } => {
                if let Some(queued) = inner.queue.get_mut(&id) {
                    queued.claimed = false;
                    queued.due = at;
                    queued.delivery.attempts += 1;
                }
            }
            Settle::Delivered { .. } => {
                inner.queue.remove(&id);
            }
            Settle::Failed { .. } | Settle::Expired { .. } | Settle::NotSent { .. } => {
                let Some(failed) = inner.queue.remove(&id) else {
                    return;
                };
                untell(&mut inner, &failed);
                // A group's notifications end as it ends.
                for member in &failed.carried {
                    untell(&mut inner, member);
                }
            }
        }
    }
}

/// `channel`'s queued messages that are first of their alert on it: one
/// alert's messages go out in order, so a RESOLVED never overtakes its
/// FIRING.
fn first_free<'q>(queue: &'q BTreeMap<u64, Queued>, channel: &str) -> impl Iterator<Item = &'q Queued> {
    let mut ahead: HashSet<&AlertKey> = HashSet::new();
    queue.values().filter(move |q| {
        if q.delivery.channel != channel {
            return false;
        }
        // A group holds back the later messages of each alert it carries.
        ahead.extend(q.carried.iter().filter_map(|c| c.alert.as_ref().map(|(key, _)| key)));
        match &q.alert {
            Some((key, _)) => ahead.insert(key),
            None => true,
        }
    })
}

/// A FIRING or STILL FAILING that failed for good: the RESOLVED queued
/// behind it is dropped or, when none is, the channel is no longer counted
/// as told. (The durable stores also check that no earlier message of the
/// episode reached the channel; this baseline keeps no settled messages.)
fn untell(inner: &mut Inner, failed: &Queued) {
    let Some((key, _)) = failed.alert.as_ref().filter(|(_, effect)| effect.says_firing()) else {
        return;
    };
    let channel = &failed.delivery.channel;
    let later =
        |(_, q): &(&u64, &Queued)| &q.delivery.channel == channel && q.alert.as_ref().is_some_and(|(k, _)| k == key);
    let mut after = inner.queue.range(failed.delivery.id..).filter(later);
    // A FIRING or STILL FAILING of the episode queued after this one is
    // still on its way: it decides, when it ends, whether the channel heard.
    let next = after.next().map(|(id, q)| (*id, q.alert.as_ref().map(|(_, e)| *e)));
    let ends = match next {
        Some((_, Some(effect))) if effect.says_firing() => return,
        Some((id, Some(Effect::Resolved))) => Some(id),
        _ => None,
    };
    if let Some(resolved) = ends {
        inner.queue.remove(&resolved);
        return;
    }
    if let Some(state) = inner
        .alerts
        .get_mut(&key.connection)
        .and_then(|alerts| alerts.get_mut(key))
        && let Some(next) = not_told(state, channel, failed.delivery.created_at)
    {
        *state = next;
    }
}
