//! Outage counters in a map: for the memory store, tests and benchmarks.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::SystemTime;

use super::count::{Counts, Member};
use super::observe::OutageStates;
use super::state::OutageState;

/// Per outage and group: each connection's latest outcome, and the state.
#[derive(Debug, Default, Clone)]
pub struct MemoryOutages {
    members: HashMap<(String, String), HashMap<String, Member>>,
    states: HashMap<(String, String), OutageState>,
}

fn id(outage: &str, group: &str) -> (String, String) {
    (outage.to_owned(), group.to_owned())
}

impl MemoryOutages {
    /// The state of every outage and group, for the page.
    pub fn states(&self) -> impl Iterator<Item = (&(String, String), &OutageState)> {
        self.states.iter()
    }
}

impl OutageStates for MemoryOutages {
    type Error = Infallible;

    fn record(&mut self, outage: &str, group: &str, member: &Member) -> Result<(), Infallible> {
        let members = self.members.entry(id(outage, group)).or_default();
        let failed_at = members.get(&member.connection).and_then(|m| m.failed_at);
        let mut next = member.clone();
        // A clean sync does not undo a failure within the window: the
        // connection "had a failed sync" until the window passes it.
        if next.failed_at.is_none() {
            next.failed_at = failed_at;
            next.failed_types = members
                .get(&member.connection)
                .map(|m| m.failed_types.clone())
                .unwrap_or_default();
        }
        members.insert(member.connection.clone(), next);
        Ok(())
    }

    fn counts(&mut self, outage: &str, group: &str, since: SystemTime) -> Result<Counts, Infallible> {
        let mut counts = Counts::default();
        for member in self
            .members
            .get(&id(outage, group))
            .into_iter()
            .flat_map(|m| m.values())
        {
            if member.synced_at >= since {
                counts.synced += 1;
                counts.failing += u64::from(member.failed_at.is_some_and(|at| at >= since));
            }
        }
        Ok(counts)
    }

    fn failing(&mut self, outage: &str, group: &str, since: SystemTime) -> Result<Vec<Member>, Infallible> {
        let members = self
            .members
            .get(&id(outage, group))
            .into_iter()
            .flat_map(|m| m.values());
        let failing = members.filter(|m| m.synced_at >= since && m.failed_at.is_some_and(|at| at >= since));
        Ok(failing.cloned().collect())
    }

    fn get(&mut self, outage: &str, group: &str) -> Result<Option<OutageState>, Infallible> {
        Ok(self.states.get(&id(outage, group)).cloned())
    }

    fn put(&mut self, outage: &str, group: &str, state: &OutageState) -> Result<(), Infallible> {
        self.states.insert(id(outage, group), state.clone());
        Ok(())
    }
}
