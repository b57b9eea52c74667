//! Alert states read ahead, moved in memory, written back: the lifecycle
//! runs synchronously, so the PostgreSQL store reads every alert of the
//! connection (under the connection's lock) before it runs, and writes
//! back only the keys it changed.

use std::collections::HashMap;
use std::convert::Infallible;

use crate::alerts::AlertKey;
use crate::lifecycle::{AlertState, AlertStates, Phase};

#[derive(Debug, Default)]
pub struct Staged {
    states: HashMap<AlertKey, AlertState>,
    /// Keys put, in the order first put.
    changed: Vec<AlertKey>,
}

impl Staged {
    pub fn new(rows: impl IntoIterator<Item = (AlertKey, AlertState)>) -> Staged {
        Staged {
            states: rows.into_iter().collect(),
            changed: Vec::new(),
        }
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
