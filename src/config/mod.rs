//! rules.yaml: read, interpolated, validated once into typed settings, so
//! the rest of the program cannot hold an invalid rule or channel.

mod absence;
mod channels;
mod digest;
mod error;
mod heartbeat;
mod inhibit;
mod load;
mod maintenance;
mod model;
mod outages;
mod reader;
mod receivers;
mod rules;
mod secret;
mod slack;
mod spans;
mod units;

pub use error::{ConfigError, ConfigErrors};
pub use heartbeat::Heartbeat;
pub use load::{load_file, load_file_for_replay, load_file_read_only, load_str};
pub use model::{
    AlertmanagerChannel, Channel, ChannelKind, Config, Defaults, Delivery, Digest, EmailChannel, PagerdutyChannel,
    SecretKey, Security, Server, SlackApp, SlackChannel, SlackTarget, SmtpCredentials, Storage, TeamsChannel, TlsMode,
    WebhookChannel,
};
pub use receivers::PAGERDUTY_URL;
pub use secret::Secret;
pub use slack::SLACK_API_URL;
pub use units::{DURATION_FORMS, format_duration, parse_duration, parse_size};
