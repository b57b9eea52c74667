//! syncwatch: rules-based alerting on Railz data-sync webhooks.
//!
//! An event flows through the modules in this order:
//!
//! - [`event`] parses the webhook body tolerantly and normalises it into an
//!   [`event::Event`]: per data type, the count per status and the periods.
//! - [`config`] loads `rules.yaml` once into validated types: server,
//!   security, storage, defaults, channels and [`rules::Rule`]s.
//! - [`rules`] evaluates the rules against the event, purely: the matches
//!   come out with the tallies that made each fire.
//! - [`render`] turns a match into what each channel is sent: a Slack
//!   Block Kit payload or an email (subject, text and HTML parts).
//! - [`commands`] holds the CLI's subcommands (`check`, `test`).

pub mod alerts;
pub mod commands;
pub mod config;
pub mod deliver;
pub mod event;
pub mod ingress;
pub mod metrics;
pub mod outbox;
pub mod render;
pub mod rules;
pub mod store;
pub mod systemd;
pub mod verify;
