//! Alertmanager ends an alert that is not posted again within its
//! `resolve_timeout`, as if it had resolved. So while an alert fires,
//! each `alertmanager` channel it was told on is sent it again every
//! `resend`: built from storage (so a restart resumes it), and by one
//! instance when several share PostgreSQL (the store hands out the turn).
//! A re-post is a keep-alive, not a notification: it does not go through
//! the queue, and one that fails is simply made again at the next turn.

use std::collections::HashMap;
use std::time::SystemTime;

use serde_json::Value;

use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::config::{AlertmanagerChannel, ChannelKind, Config};
use crate::deliver::{AlertmanagerSender, Outcome};
use crate::lifecycle::AlertState;
use crate::render::{AmAlert, render_resent, status_link};
use crate::rules::Environment;
use crate::store::{Store, StoreError};

/// Alerts per POST: Alertmanager takes an array of any length, but a
/// storm of firing alerts should not be one huge request.
const CHUNK: usize = 500;

/// What one channel's turn did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resent {
    /// Another instance has the turn, or it is not due yet.
    NotMyTurn,
    /// This many alerts were posted again, and how the last POST went.
    Posted { alerts: usize, outcome: Outcome },
    /// Nothing is firing there.
    Nothing,
}

/// Every `alertmanager` channel of `config`, with its settings.
pub fn alertmanager_channels(config: &Config) -> Vec<(&str, &AlertmanagerChannel)> {
    (config.channels.iter())
        .filter_map(|(name, channel)| match &channel.kind {
            ChannelKind::Alertmanager(am) => Some((name.as_str(), am)),
            _ => None,
        })
        .collect()
}

/// One turn of `channel` at `now`: its firing alerts posted again, when
/// the turn is this instance's and due.
pub async fn resend(
    store: &Store,
    config: &Config,
    (channel, am): (&str, &AlertmanagerChannel),
    now: SystemTime,
) -> Result<Resent, StoreError> {
    if !store
        .take_turn(&format!("alertmanager-resend:{channel}"), am.resend, now)
        .await?
    {
        return Ok(Resent::NotMyTurn);
    }
    let firing = store.firing_told(channel).await?;
    if firing.is_empty() {
        return Ok(Resent::Nothing);
    }
    let connections: HashMap<String, KnownConnection> = (store.connections().await?.into_iter())
        .map(|c| (c.id.clone(), c))
        .collect();
    let alerts: Vec<Value> = (firing.iter())
        .filter_map(|(key, state)| resent(config, key, state, connections.get(&key.connection)))
        .collect();
    let sender = match AlertmanagerSender::new(am) {
        Ok(sender) => sender,
        Err(reason) => {
            return Ok(posted(
                alerts.len(),
                Outcome::Transient {
                    reason,
                    retry_after: None,
                },
            ));
        }
    };
    let mut outcome = Outcome::Delivered { detail: String::new() };
    for chunk in alerts.chunks(CHUNK) {
        outcome = sender.send(&Value::Array(chunk.to_vec())).await;
    }
    Ok(posted(alerts.len(), outcome))
}

fn posted(alerts: usize, outcome: Outcome) -> Resent {
    Resent::Posted { alerts, outcome }
}

/// The alert of `key` as its FIRING posted it: the labels come from the
/// rule, the key and the connection, as the FIRING's facts did. `None`
/// for an alert whose rule is gone (its closing resolves it).
fn resent(config: &Config, key: &AlertKey, state: &AlertState, known: Option<&KnownConnection>) -> Option<Value> {
    let rule = config.rules.iter().find(|r| r.name == key.rule)?;
    let alert = AmAlert {
        rule: key.rule.clone(),
        connection: key.connection.clone(),
        data_type: key.data_type.clone(),
        business: Some(
            known
                .and_then(|c| c.business.clone())
                .unwrap_or_else(|| "unknown business".into()),
        ),
        service: known.and_then(|c| c.service.clone()),
        environment: match known.map_or(Environment::Production, |c| c.environment) {
            Environment::Production => "production",
            Environment::Sandbox => "sandbox",
        },
        severity: rule.severity.as_str(),
        since: state.firing_since.unwrap_or(state.since),
    };
    let link = (config.server.public_url.as_deref()).map(|base| status_link(base, Some(&key.connection)));
    Some(render_resent(&alert, rule.description.as_deref(), link.as_deref()))
}
