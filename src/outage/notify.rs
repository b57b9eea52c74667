//! What an outage's move queues: one message per channel of the outage,
//! unless a silence or window covers it (matched as any alert: its name as
//! the rule, its service).

use std::time::SystemTime;

use crate::alerts::AlertKey;
use crate::event::Event;
use crate::lifecycle::{NewDelivery, Notification};
use crate::quiet::{Mutes, Subject};
use crate::render::{Item, message_for};
use crate::rules::Environment;

use super::message::facts;
use super::model::{By, Outage};
use super::observe::Told;

/// The outage's alert key: its name, and the group where a connection
/// would be (`provider-outage/quickbooks`).
pub fn key_of(outage: &Outage, group: &str) -> AlertKey {
    AlertKey {
        rule: outage.name().to_owned(),
        connection: group.to_owned(),
        data_type: None,
    }
}

/// The notification of `told`, or what mutes it (`silence ID`).
pub fn notification(
    config: &crate::config::Config,
    outage: &Outage,
    told: &Told,
    mutes: &Mutes,
    now: SystemTime,
) -> Result<Notification, String> {
    let event = Event {
        service: (outage.by == By::Service).then(|| told.group.clone()),
        ..Event::default()
    };
    let data_types: Vec<&str> = match outage.by {
        By::DataType => vec![told.group.as_str()],
        By::Service => Vec::new(),
    };
    let subject = Subject {
        rule: outage.name(),
        connection: None,
        business: None,
        service: event.service.as_deref(),
        environment: outage.environment().unwrap_or(Environment::Production),
        data_types,
        event: &event,
        firing: &[],
    };
    // A RESOLVED goes out whatever mutes it, as any alert's.
    let muted = (told.effect.says_firing())
        .then(|| mutes.muted_by(&subject, now))
        .flatten();
    if let Some(by) = muted {
        return Err(by);
    }
    let facts = facts(outage, told, now);
    let deliveries = (outage.rule.notify.iter())
        .filter_map(|name| {
            let channel = config.channels.get(name)?;
            Some(NewDelivery {
                channel: name.clone(),
                message: message_for(&channel.kind, &facts),
                item: Some(Item::of(&facts)),
            })
        })
        .collect();
    Ok(Notification {
        key: key_of(outage, &told.group),
        effect: told.effect,
        deliveries,
    })
}
