//! Outage counters on PostgreSQL, read ahead and counted in memory as the
//! alert states are (see `staged`): the outages run synchronously inside
//! the lifecycle. Under the lock of each (outage, group) a transaction
//! touches, it reads the group's state, the rows of its own connections,
//! and the other connections' rows as one count at the window's start
//! (plus, one by one, the few rows near that edge, so each event of a batch
//! counts its own window exactly); never the events.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::time::SystemTime;

use deadpool_postgres::Client;
use serde_json::{Value, json};
use tokio_postgres::Error;

use crate::outage::{Counts, Member, OutageState, OutageStates};

use super::super::time::{from_millis, millis};
use super::locked::lock_key;

/// An outage's name and group (a service, or a data type).
pub type GroupKey = (String, String);

/// The lock of one outage and group: counting and moving it is one
/// instance's at a time, so two instances never both fire it.
pub fn outage_lock((outage, group): &GroupKey) -> i64 {
    lock_key(&format!("outage:{outage}:{group}"))
}

/// The rows of one group beyond the transaction's own connections, read
/// for windows starting between `from` and `to` (milliseconds): those
/// counted whatever the start in between, and those near the edge.
#[derive(Debug, Clone, Default)]
struct Others {
    synced: u64,
    failing: u64,
    /// `(synced_at, failed_at)` of the rows whose count depends on where
    /// in `from..to` the window starts.
    edge: Vec<(i64, Option<i64>)>,
}

/// The outage rows one transaction reads and moves.
#[derive(Debug, Clone, Default)]
pub struct StagedOutages {
    /// The members' rows of the connections the transaction holds.
    own: HashMap<GroupKey, HashMap<String, Member>>,
    others: HashMap<GroupKey, Others>,
    /// The other connections failing within the window, read only when a
    /// message is to list them (see [`StagedOutages::wants_failing`]).
    failing_others: HashMap<GroupKey, Vec<Member>>,
    /// Every outage's state (a handful of rows): also what holds alerts.
    states: HashMap<GroupKey, OutageState>,
    changed_members: BTreeSet<(GroupKey, String)>,
    changed_states: BTreeSet<GroupKey>,
    wants_failing: BTreeSet<GroupKey>,
}

fn key(outage: &str, group: &str) -> GroupKey {
    (outage.to_owned(), group.to_owned())
}

const STATES: &str =
    "SELECT outage, grp, firing, since, clear_since, last_notified, synced, failing FROM outage_states";
const OWN: &str = "SELECT m.outage, m.grp, m.connection, m.synced_at, m.failed_at, m.failed_types
    FROM outage_members m JOIN unnest($1::text[], $2::text[]) AS k (outage, grp) ON m.outage = k.outage AND m.grp = k.grp
    WHERE m.connection = ANY($3)";
// A row is on the edge when where the window starts (between lo and hi)
// decides whether it counts as synced or as failing.
const OTHERS: &str = "SELECT k.outage, k.grp, count(*) FILTER (WHERE NOT x.edge),
    count(*) FILTER (WHERE NOT x.edge AND x.failed_at >= k.hi),
    COALESCE(array_agg(x.synced_at) FILTER (WHERE x.edge), '{}'::bigint[]),
    COALESCE(array_agg(x.failed_at) FILTER (WHERE x.edge), '{}'::bigint[])
    FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS k (outage, grp, lo, hi)
    LEFT JOIN LATERAL (SELECT m.synced_at, m.failed_at,
        (m.synced_at < k.hi OR COALESCE(m.failed_at >= k.lo AND m.failed_at < k.hi, false)) AS edge
        FROM outage_members m WHERE m.outage = k.outage AND m.grp = k.grp AND m.synced_at >= k.lo
        AND m.connection <> ALL($5)) x ON true
    GROUP BY k.outage, k.grp";
const FAILING: &str = "SELECT connection, synced_at, failed_at, failed_types FROM outage_members
    WHERE outage = $1 AND grp = $2 AND synced_at >= $3 AND failed_at >= $3 AND connection <> ALL($4)";

/// One group to read, with the earliest and latest start of the windows
/// its events count.
pub struct Wanted {
    pub key: GroupKey,
    pub from: SystemTime,
    pub to: SystemTime,
}

impl StagedOutages {
    /// Reads every state, and for `groups` the rows of `connections` (the
    /// transaction's own) and the count of the others.
    pub async fn read(client: &Client, groups: &[Wanted], connections: &[String]) -> Result<StagedOutages, Error> {
        let mut staged = StagedOutages::default();
        for row in client.query(STATES, &[]).await? {
            let state = OutageState {
                firing: row.get(2),
                since: from_millis(row.get(3)),
                clear_since: row.get::<_, Option<i64>>(4).map(from_millis),
                last_notified: row.get::<_, Option<i64>>(5).map(from_millis),
                counts: Counts {
                    synced: row.get::<_, i64>(6).max(0) as u64,
                    failing: row.get::<_, i64>(7).max(0) as u64,
                },
            };
            staged.states.insert((row.get(0), row.get(1)), state);
        }
        if groups.is_empty() {
            return Ok(staged);
        }
        let outages: Vec<&str> = groups.iter().map(|g| g.key.0.as_str()).collect();
        let names: Vec<&str> = groups.iter().map(|g| g.key.1.as_str()).collect();
        let from: Vec<i64> = groups.iter().map(|g| millis(g.from)).collect();
        let to: Vec<i64> = groups.iter().map(|g| millis(g.to)).collect();
        let own = client.prepare_cached(OWN).await?;
        let others = client.prepare_cached(OTHERS).await?;
        let (own, others) = futures_util::future::try_join(
            client.query(&own, &[&outages, &names, &connections]),
            client.query(&others, &[&outages, &names, &from, &to, &connections]),
        )
        .await?;
        for row in own {
            let member = member(&row, 2);
            (staged.own.entry((row.get(0), row.get(1))).or_default()).insert(member.connection.clone(), member);
        }
        for row in others {
            let synced: Vec<i64> = row.get(4);
            let failed: Vec<Option<i64>> = row.get(5);
            let others = Others {
                synced: row.get::<_, i64>(2).max(0) as u64,
                failing: row.get::<_, i64>(3).max(0) as u64,
                edge: synced.into_iter().zip(failed).collect(),
            };
            staged.others.insert((row.get(0), row.get(1)), others);
        }
        Ok(staged)
    }

    /// The groups whose failing connections a message asked for and were
    /// not read yet.
    pub fn wants_failing(&self) -> &BTreeSet<GroupKey> {
        &self.wants_failing
    }

    /// Reads the failing connections of `group` within windows starting at
    /// `from` or later, besides `connections` (the transaction's own).
    pub async fn read_failing(
        &mut self,
        client: &Client,
        group: &GroupKey,
        from: SystemTime,
        connections: &[String],
    ) -> Result<(), Error> {
        let statement = client.prepare_cached(FAILING).await?;
        let rows = client
            .query(&statement, &[&group.0, &group.1, &millis(from), &connections])
            .await?;
        let failing = rows.iter().map(|row| member(row, 0)).collect();
        self.failing_others.insert(group.clone(), failing);
        Ok(())
    }

    /// The outage firing for each group (the first by name): what holds
    /// the new alerts of its connections.
    pub fn firing_by_group(&self) -> HashMap<String, String> {
        let mut by_group: HashMap<String, String> = HashMap::new();
        for ((outage, group), _) in self.states.iter().filter(|(_, s)| s.firing) {
            let first = by_group.entry(group.clone()).or_insert_with(|| outage.clone());
            if outage < first {
                *first = outage.clone();
            }
        }
        by_group
    }

    /// The outages firing, by name and group.
    pub fn firing(&self) -> Vec<GroupKey> {
        let mut firing: Vec<GroupKey> = (self.states.iter())
            .filter(|(_, s)| s.firing)
            .map(|(k, _)| k.clone())
            .collect();
        firing.sort();
        firing
    }

    /// Ends a firing outage with no word of its own (its rules are gone).
    pub fn end(&mut self, outage: &str, group: &str) {
        let key = key(outage, group);
        if let Some(state) = self.states.get_mut(&key) {
            state.firing = false;
            state.clear_since = None;
            self.changed_states.insert(key);
        }
    }

    /// Whether `connection` is a member of `group` (as this transaction
    /// knows its own connections).
    pub fn is_member(&self, (outage, group): (&str, &str), connection: &str) -> bool {
        (self.own.get(&key(outage, group))).is_some_and(|members| members.contains_key(connection))
    }

    /// The members' rows written, as `outage_members` rows.
    pub fn member_rows(&self) -> Value {
        let rows = self.changed_members.iter().filter_map(|(group, connection)| {
            let member = self.own.get(group)?.get(connection)?;
            Some(json!({
                "outage": group.0,
                "grp": group.1,
                "connection": member.connection,
                "synced_at": millis(member.synced_at),
                "failed_at": member.failed_at.map(millis),
                "failed_types": serde_json::to_string(&member.failed_types).unwrap_or_else(|_| "[]".into()),
            }))
        });
        Value::Array(rows.collect())
    }

    /// The states written, as `outage_states` rows.
    pub fn state_rows(&self) -> Value {
        let rows = self.changed_states.iter().filter_map(|group| {
            let state = self.states.get(group)?;
            Some(json!({
                "outage": group.0,
                "grp": group.1,
                "firing": state.firing,
                "since": millis(state.since),
                "clear_since": state.clear_since.map(millis),
                "last_notified": state.last_notified.map(millis),
                "synced": state.counts.synced as i64,
                "failing": state.counts.failing as i64,
            }))
        });
        Value::Array(rows.collect())
    }
}

fn member(row: &tokio_postgres::Row, first: usize) -> Member {
    let types: String = row.get(first + 3);
    Member {
        connection: row.get(first),
        synced_at: from_millis(row.get(first + 1)),
        failed_at: row.get::<_, Option<i64>>(first + 2).map(from_millis),
        failed_types: serde_json::from_str(&types).unwrap_or_default(),
    }
}

fn within(member: &Member, since: SystemTime) -> (bool, bool) {
    let synced = member.synced_at >= since;
    (synced, synced && member.failed_at.is_some_and(|at| at >= since))
}

impl OutageStates for StagedOutages {
    type Error = Infallible;

    fn record(&mut self, outage: &str, group: &str, member: &Member) -> Result<(), Infallible> {
        let key = key(outage, group);
        let members = self.own.entry(key.clone()).or_default();
        let mut next = member.clone();
        // A clean sync keeps the last failure (the connection "had a failed
        // sync" while it is within the window), as on SQLite.
        if next.failed_at.is_none()
            && let Some(before) = members.get(&member.connection)
        {
            next.failed_at = before.failed_at;
            next.failed_types = before.failed_types.clone();
        }
        members.insert(member.connection.clone(), next);
        self.changed_members.insert((key, member.connection.clone()));
        Ok(())
    }

    fn counts(&mut self, outage: &str, group: &str, since: SystemTime) -> Result<Counts, Infallible> {
        let key = key(outage, group);
        let mut counts = Counts::default();
        for member in self.own.get(&key).into_iter().flat_map(|m| m.values()) {
            let (synced, failing) = within(member, since);
            counts.synced += u64::from(synced);
            counts.failing += u64::from(failing);
        }
        if let Some(others) = self.others.get(&key) {
            let since = millis(since);
            counts.synced += others.synced;
            counts.failing += others.failing;
            for (synced_at, failed_at) in &others.edge {
                let synced = *synced_at >= since;
                counts.synced += u64::from(synced);
                counts.failing += u64::from(synced && failed_at.is_some_and(|at| at >= since));
            }
        }
        Ok(counts)
    }

    fn failing(&mut self, outage: &str, group: &str, since: SystemTime) -> Result<Vec<Member>, Infallible> {
        let key = key(outage, group);
        let Some(others) = self.failing_others.get(&key) else {
            self.wants_failing.insert(key);
            return Ok(Vec::new());
        };
        let own = self.own.get(&key).into_iter().flat_map(|m| m.values());
        let mut failing: Vec<Member> = (own.chain(others)).filter(|m| within(m, since).1).cloned().collect();
        failing.sort_by(|a, b| a.connection.cmp(&b.connection));
        Ok(failing)
    }

    fn get(&mut self, outage: &str, group: &str) -> Result<Option<OutageState>, Infallible> {
        Ok(self.states.get(&key(outage, group)).cloned())
    }

    fn put(&mut self, outage: &str, group: &str, state: &OutageState) -> Result<(), Infallible> {
        let key = key(outage, group);
        self.states.insert(key.clone(), state.clone());
        self.changed_states.insert(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::{Others, StagedOutages, key};
    use crate::outage::{Member, OutageStates};

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
    }

    /// Others read for windows starting between 1000 and 1010: two rows
    /// beyond the edge (one failing), and three on it.
    fn staged() -> StagedOutages {
        let mut staged = StagedOutages::default();
        let others = Others {
            synced: 2,
            failing: 1,
            edge: vec![(1005, None), (1003, Some(1003)), (2000, Some(1004))],
        };
        staged.others.insert(key("o", "xero"), others);
        staged
    }

    #[test]
    fn each_window_counts_the_rows_on_its_edge_exactly() {
        let mut staged = staged();
        let counts = |staged: &mut StagedOutages, since| staged.counts("o", "xero", at(since)).unwrap();
        let from = counts(&mut staged, 1000);
        assert_eq!((from.synced, from.failing), (5, 3));
        let middle = counts(&mut staged, 1004);
        assert_eq!((middle.synced, middle.failing), (4, 2));
        let to = counts(&mut staged, 1010);
        assert_eq!((to.synced, to.failing), (3, 1));
    }

    #[test]
    fn a_clean_sync_of_an_own_connection_keeps_its_failure_within_the_window() {
        let mut staged = staged();
        let failed = Member {
            connection: "CON-1".into(),
            synced_at: at(1008),
            failed_at: Some(at(1008)),
            failed_types: vec!["bills".into()],
        };
        staged.record("o", "xero", &failed).unwrap();
        let clean = Member {
            synced_at: at(1009),
            failed_at: None,
            failed_types: Vec::new(),
            ..failed.clone()
        };
        staged.record("o", "xero", &clean).unwrap();
        let counts = staged.counts("o", "xero", at(1008)).unwrap();
        assert_eq!((counts.synced, counts.failing), (4, 2));
        let rows = staged.member_rows();
        assert_eq!(rows.as_array().map(Vec::len), Some(1));
        assert_eq!(rows[0]["failed_at"], 1008);
        assert_eq!(rows[0]["failed_types"], "[\"bills\"]");
    }

    #[test]
    fn failing_connections_are_asked_for_until_read() {
        let mut staged = staged();
        assert!(staged.failing("o", "xero", at(1000)).unwrap().is_empty());
        assert!(staged.wants_failing().contains(&key("o", "xero")));
    }
}
