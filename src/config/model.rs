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
    /// Where people reach the status page (`https://syncwatch.example.com`,
    /// no trailing `/`): every message links to `<public_url>/ui?q=<connection>`.
    pub public_url: Option<String>,
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
    /// Told when one of this channel's messages fails for good or expires.
    pub fallback: Option<String>,
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
    Pagerduty(PagerdutyChannel),
    Teams(TeamsChannel),
    Webhook(WebhookChannel),
    Alertmanager(AlertmanagerChannel),
}

impl ChannelKind {
    /// As `rules.yaml` spells the kind.
    pub fn name(&self) -> &'static str {
        match self {
            ChannelKind::Slack(_) => "slack",
            ChannelKind::Email(_) => "email",
            ChannelKind::Pagerduty(_) => "pagerduty",
            ChannelKind::Teams(_) => "teams",
            ChannelKind::Webhook(_) => "webhook",
            ChannelKind::Alertmanager(_) => "alertmanager",
        }
    }

    /// Whether the receiver keeps an alert open until told it is over (a
    /// PagerDuty incident, an Alertmanager alert): its RESOLVED goes out
    /// even where a rule says `send_resolved: false`.
    pub fn must_hear_resolved(&self) -> bool {
        matches!(self, ChannelKind::Pagerduty(_) | ChannelKind::Alertmanager(_))
    }

    /// Whether the receiver groups alerts itself, so syncwatch's digests
    /// would only hide what it groups.
    pub fn groups_itself(&self) -> bool {
        self.must_hear_resolved()
    }
}

/// PagerDuty Events API v2.
#[derive(Debug, Clone)]
pub struct PagerdutyChannel {
    /// The integration's routing key: anyone holding it can open incidents.
    pub routing_key: Secret,
    pub url: String,
}

/// A Microsoft Teams Workflows webhook.
#[derive(Debug, Clone)]
pub struct TeamsChannel {
    /// The URL carries its own signature: it is the credential.
    pub webhook_url: Secret,
}

/// Any HTTP service, sent a signed JSON document.
#[derive(Debug, Clone)]
pub struct WebhookChannel {
    pub url: String,
    /// Standard Webhooks secret (`whsec_<base64>`), already decoded.
    pub secret: Option<SecretKey>,
    /// Extra headers, in the order given.
    pub headers: Vec<(String, String)>,
}

/// The key bytes of a `whsec_` secret; printed as `***` like any secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub Vec<u8>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// An Alertmanager (v2 API).
#[derive(Debug, Clone)]
pub struct AlertmanagerChannel {
    /// Its base URL; alerts go to `<url>/api/v2/alerts`.
    pub url: String,
    /// How often a firing alert is posted again, so that Alertmanager's
    /// `resolve_timeout` never ends it.
    pub resend: Duration,
}

#[derive(Debug, Clone)]
pub struct SlackChannel {
    /// Where its messages go: an incoming webhook, or the Web API as an app.
    pub target: SlackTarget,
    /// Spacing between two posts; Slack documents about one per second.
    pub min_interval: Option<Duration>,
    /// The operator's own wording for the message text.
    pub template: Option<Template>,
}

/// The two ways into Slack: an incoming webhook posts new messages only;
/// an app's bot token also threads replies and updates messages.
#[derive(Debug, Clone)]
pub enum SlackTarget {
    /// The URL is the credential: anyone holding it can post.
    Webhook(Secret),
    App(SlackApp),
}

/// A Slack app's bot token (scope `chat:write`) and the channel it posts to.
#[derive(Debug, Clone)]
pub struct SlackApp {
    pub bot_token: Secret,
    /// The channel's id (`C0123456789`) or `#name`.
    pub channel: String,
    /// The Web API's base, ending in `/`: `https://slack.com/api/` unless a
    /// proxy (or a test) stands in.
    pub api_url: String,
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
