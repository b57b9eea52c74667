//! Alert states in a map, for the lifecycle's own tests.

use std::collections::HashMap;
use std::convert::Infallible;

use crate::alerts::AlertKey;

use super::{AlertState, AlertStates, Phase};

#[derive(Default)]
pub struct States(pub HashMap<AlertKey, AlertState>);

impl AlertStates for States {
    type Error = Infallible;
    fn get(&mut self, key: &AlertKey) -> Result<Option<AlertState>, Infallible> {
        Ok(self.0.get(key).cloned())
    }
    fn active(&mut self, connection: &str) -> Result<Vec<(AlertKey, AlertState)>, Infallible> {
        let active = self
            .0
            .iter()
            .filter(|(k, s)| k.connection == connection && s.phase != Phase::Resolved);
        Ok(active.map(|(k, s)| (k.clone(), s.clone())).collect())
    }
    fn put(&mut self, key: &AlertKey, state: &AlertState) -> Result<(), Infallible> {
        self.0.insert(key.clone(), state.clone());
        Ok(())
    }
}
