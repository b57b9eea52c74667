//! `heartbeat:`: a URL syncwatch calls while it is healthy, so that an
//! external monitor (a dead man's switch such as healthchecks.io) notices
//! when it stops: a dead daemon cannot say so itself.

use std::time::Duration;

use super::load::section;
use super::reader::{Fields, Reader};
use super::secret::Secret;
use super::units::{DURATION_FORMS, parse_duration};

#[derive(Debug, Clone)]
pub struct Heartbeat {
    /// Called with GET; the URL is a credential (anyone holding it can
    /// keep the monitor quiet).
    pub url: Secret,
    pub every: Duration,
}

/// The shortest interval: a monitor needs no more, and the URL's owner
/// would rate-limit more.
const MIN_EVERY: Duration = Duration::from_secs(10);

pub fn read_heartbeat(reader: &mut Reader<'_>, top: &Fields<'_>) -> Option<Heartbeat> {
    top.get("heartbeat")?;
    let fields = section(reader, top, "heartbeat", &["url", "url_file", "every"]);
    let every = match fields.get("every") {
        Some((value, at)) => {
            let every = reader.parsed(value, &at, DURATION_FORMS, parse_duration)?;
            if every < MIN_EVERY {
                reader.error(&at, "must be at least 10s", None);
                return None;
            }
            every
        }
        None => Duration::from_secs(60),
    };
    let Some(url) = reader.secret(&fields, "url") else {
        reader.error(&fields.at, "needs `url` (or `url_file`): the address to call", None);
        return None;
    };
    let valid = reqwest::Url::parse(url.expose())
        .ok()
        .is_some_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some());
    if !reader.skip_secrets && !valid {
        // The URL is a credential: say what is wrong, never the URL.
        reader.error(
            &fields.at.key("url"),
            "is not an http(s) URL",
            Some("https://hc-ping.com/<uuid>"),
        );
        return None;
    }
    Some(Heartbeat { url, every })
}
