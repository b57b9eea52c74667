//! syncwatch: rules-based alerting on Railz data-sync webhooks.
//!
//! A webhook crosses the modules in this order:
//!
//! - [`ingress`] accepts the HTTP request (connection limits, body limit,
//!   routes) and runs the ingest step; it answers once the store has
//!   committed, never waiting on Slack or SMTP.
//! - [`verify`] checks the `Railz-Signature` and bearer token on the raw
//!   bytes, before anything is parsed.
//! - [`event`] parses the body tolerantly and normalises it into an
//!   [`event::Event`]: per data type, the count per status and the periods.
//! - [`rules`] evaluates the rules against the event, purely: the matches
//!   come out with the tallies that made each fire.
//! - [`alerts`] keys each match (rule + connection [+ data type]).
//! - [`store`] commits the event, the alert states it moved and one queued
//!   delivery per channel and effect in one transaction (SQLite; PostgreSQL,
//!   shared by several instances; or memory for benchmarks). Inside that
//!   transaction, [`lifecycle`] turns the
//!   event into observations of alert keys (a match; a clean sync that
//!   carries what the rule looks at; a connection back), moves each key
//!   through pending → firing → resolved, and asks for FIRING, STILL
//!   FAILING and RESOLVED messages. Before it, in the same transaction,
//!   [`outage`] records the connection's latest outcome per service,
//!   counts the service and moves its outage (one message for many
//!   failing connections); while an outage fires, the lifecycle holds the
//!   alerts of its service, and [`quiet`] mutes what silences, windows and
//!   inhibit rules cover.
//! - [`render`] turns an effect into what each channel is sent: a Slack
//!   Block Kit payload, an email (subject, text and HTML parts), a
//!   PagerDuty event, a Teams Adaptive Card, a signed webhook's JSON
//!   document or Alertmanager alerts, each linked to the status page when
//!   `server.public_url` is set.
//! - [`outbox`] runs one lane per channel: claim, send, back off, settle.
//!   On a channel a human reads (Slack, email, Teams), the notifications
//!   one event queued for one connection go out as one message, a section
//!   per rule; a full digest window gathers the rest into a digest.
//!   For a Slack channel posting as an app, the lane reads from the store
//!   the message its alert's thread hangs on before sending, and keeps the
//!   one a FIRING posted when it settles. Beside the lanes, firing alerts
//!   are posted to Alertmanager again every `resend`, so it never times
//!   them out.
//! - [`deliver`] sends through Slack (a webhook, or the Web API as an app:
//!   threads and updates), PagerDuty, Teams, a webhook or Alertmanager
//!   (reqwest) or SMTP (lettre) and says whether a failure is transient or
//!   permanent.
//!
//! Around them: [`config`] loads and validates `rules.yaml`; [`metrics`]
//! feeds `/metrics`; [`logging`] keeps log lines whole and levelled
//! for journald; [`systemd`] speaks sd_notify; [`commands`] holds the
//! CLI's subcommands.

pub mod absence;
pub mod alerts;
pub mod commands;
pub mod config;
pub mod deliver;
pub mod event;
pub mod ingress;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod outage;
pub mod outbox;
pub mod quiet;
pub mod render;
pub mod rules;
pub mod status;
pub mod store;
pub mod systemd;
pub mod verify;
