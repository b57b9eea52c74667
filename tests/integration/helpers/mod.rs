//! Shared setup: the binary, the app in-process on port 0, a Slack webhook
//! stand-in, a Slack Web API stand-in and a real SMTP server, each on
//! loopback.

#[macro_use]
mod stores;
mod app;
mod cli;
mod client;
mod daemon;
mod payloads;
mod postgres;
mod slack;
mod slack_api;
mod smtp;

pub use app::{
    Backend, TestApp, database, database_files, fast_settings, spawn_app, spawn_app_in, spawn_app_on, spawn_app_with,
};
pub use cli::*;
pub use client::client;
pub use daemon::{Daemon, free_port};
pub use payloads::{BILLS, sync};
pub use postgres::set_reachable;
pub use slack::{SlackReply, SlackStandIn};
pub use slack_api::{ApiReply, CHANNEL, CHANNEL_NAME, SlackApi, TOKEN, UNINVITED};
pub use smtp::{Mail, SmtpServer, eventually};
