//! The validated configuration. Every field already holds a checked value
//! (a socket address, a duration, a mailbox), never raw text to re-check.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use std::sync::Arc;

use lettre::message::Mailbox;

use crate::outage::Outage;
use crate::quiet::{Inhibit, Window};
use crate::render::Template;

use crate::rules::{Environment, Rule};

use super::secret::Secret;

#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from, for messages.
    pub source: PathBuf,
    pub server: Server,
    pub security: Security,
    pub storage: Storage,
    pub defaults: Defaults,
    pub delivery: Delivery,
    pub channels: BTreeMap<String, Channel>,
    pub rules: Vec<Rule>,
    /// Recurring windows during which matching alerts notify nobody.
    pub maintenance: Arc<Vec<Window>>,
    /// While an alert matching one fires, the alerts it names are muted.
    pub inhibit: Arc<Vec<Inhibit>>,
    /// Many connections of one service failing at once: one alert.
    pub outages: Arc<Vec<Outage>>,
    /// A URL called while syncwatch is healthy (a dead man's switch).
    pub heartbeat: Option<super::heartbeat::Heartbeat>,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub listen: SocketAddr,
    /// Starts with `/`.
    pub path: String,
    /// Bodies over this many bytes are refused with 413.
    pub max_body: u64,
}

#[derive(Debug, Clone)]
pub struct Security {
    /// Any one may sign a request; several allow rotating the secret.
    pub signing_secrets: Vec<Secret>,
    pub signature_tolerance: Duration,
    pub bearer_token: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct Storage {
    pub path: PathBuf,
    /// A PostgreSQL URL (`storage.postgres` or `postgres_file`): several
    /// instances share the database, and `path` is not used.
    pub postgres: Option<Secret>,
    /// On PostgreSQL: how long a claimed delivery stays with its instance
    /// before another one may send it (its holder presumed dead).
    pub claim_lease: Duration,
    /// Events and settled deliveries older than this are pruned.
    pub retention: Duration,
    /// Connections without an event for this long are forgotten.
    pub forget_after: Duration,
}

#[derive(Debug, Clone)]
pub struct Defaults {
    pub notify: Vec<String>,
    pub repeat_interval: Duration,
    pub after: u32,
    pub resolve_after: u32,
    pub send_resolved: bool,
    pub missing_sandbox: Environment,
}

/// How long delivery keeps trying (not in the SPEC's example; optional).
#[derive(Debug, Clone)]
pub struct Delivery {
    /// A notification still undelivered after this long is given up.
    pub max_age: Duration,
    /// Log each notification instead of sending it (for trying syncwatch
    /// out); state is kept as usual.
    pub dry_run: bool,
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
    /// `None`: `digest: off`, every notification goes out on its own.
    pub digest: Option<Digest>,
}

/// In any `window`, at most `after` notifications go out one by one; the
/// rest that fall due in it go out as one digest at its end, listing the
/// first `max_items`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    pub after: u32,
    pub window: Duration,
    pub max_items: usize,
}

impl Default for Digest {
    fn default() -> Digest {
        Digest {
            after: 5,
            window: Duration::from_secs(60),
            max_items: 20,
        }
    }
}

#[derive(Debug, Clone)]
pub enum ChannelKind {
    Slack(SlackChannel),
    Email(EmailChannel),
}

#[derive(Debug, Clone)]
pub struct SlackChannel {
    /// The URL is the credential: anyone holding it can post.
    pub webhook_url: Secret,
    /// Spacing between two posts; Slack documents about one per second.
    pub min_interval: Option<Duration>,
    /// The operator's own wording for the message text.
    pub template: Option<Template>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS (required, not opportunistic).
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption: only for a relay on localhost or a test server.
    None,
}

#[derive(Debug, Clone)]
pub struct SmtpCredentials {
    pub username: String,
    pub password: Secret,
}

#[derive(Debug, Clone)]
pub struct EmailChannel {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub credentials: Option<SmtpCredentials>,
    /// Extra trusted roots (PEM), for a relay with a private CA.
    pub ca_pem: Option<Vec<u8>>,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub subject_template: Option<Template>,
    pub body_template: Option<Template>,
}
