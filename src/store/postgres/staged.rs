//! Alert states read ahead, moved in memory, written back: the lifecycle
//! runs synchronously, so the PostgreSQL store reads every alert of the
//! connection (under the connection's lock) before it runs, and writes
//! back only the keys it changed.

use std::collections::HashMap;
use std::convert::Infallible;

use crate::alerts::AlertKey;
use crate::lifecycle::{AlertState, AlertStates, Phase};

#[derive(Debug, Default, Clone)]
pub struct Staged {
    states: HashMap<AlertKey, AlertState>,
    /// Keys put, in the order first put.
    changed: Vec<AlertKey>,
    /// The outage firing for each group, by name (see
    /// [`AlertStates::outage_of`]), as the transaction knows them.
    outages: HashMap<String, String>,
}

impl Staged {
    pub fn new(rows: impl IntoIterator<Item = (AlertKey, AlertState)>) -> Staged {
        Staged {
            states: rows.into_iter().collect(),
            changed: Vec::new(),
            outages: HashMap::new(),
        }
    }

    /// Adds rows read later (of connections locked later), unchanged.
    pub fn extend(&mut self, rows: impl IntoIterator<Item = (AlertKey, AlertState)>) {
        for (key, state) in rows {
            self.states.entry(key).or_insert(state);
        }
    }

    /// Every state read or put.
    pub fn into_rows(self) -> impl Iterator<Item = (AlertKey, AlertState)> {
        self.states.into_iter()
    }

    /// Sets the outages firing, per group: what holds alerts.
    pub fn set_outages(&mut self, outages: HashMap<String, String>) {
        self.outages = outages;
    }

    /// The keys whose states pass `keep`.
    pub fn keys_where(&self, keep: impl Fn(&AlertKey, &AlertState) -> bool) -> Vec<AlertKey> {
        (self.states.iter())
            .filter(|(key, state)| keep(key, state))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// The keys put since reading, each once, with its last state.
    pub fn changed(&self) -> Vec<(AlertKey, AlertState)> {
        self.changed
            .iter()
            .filter_map(|key| self.states.get(key).map(|state| (key.clone(), state.clone())))
            .collect()
    }
}

impl AlertStates for Staged {
    type Error = Infallible;

    fn outage_of(&mut self, service: &str) -> Result<Option<String>, Infallible> {
        Ok(self.outages.get(service).cloned())
    }

    fn get(&mut self, key: &AlertKey) -> Result<Option<AlertState>, Infallible> {
        Ok(self.states.get(key).cloned())
    }

    /// Oldest first, as the SQLite store lists them.
    fn active(&mut self, connection: &str) -> Result<Vec<(AlertKey, AlertState)>, Infallible> {
        let mut active: Vec<(AlertKey, AlertState)> = self
            .states
            .iter()
            .filter(|(key, state)| key.connection == connection && state.phase != Phase::Resolved)
            .map(|(key, state)| (key.clone(), state.clone()))
            .collect();
        active.sort_by(|(a, sa), (b, sb)| (sa.since, &a.rule, &a.data_type).cmp(&(sb.since, &b.rule, &b.data_type)));
        Ok(active)
    }

    fn put(&mut self, key: &AlertKey, state: &AlertState) -> Result<(), Infallible> {
        if !self.changed.contains(key) {
            self.changed.push(key.clone());
        }
        self.states.insert(key.clone(), state.clone());
        Ok(())
    }
}
