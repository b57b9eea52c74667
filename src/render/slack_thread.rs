//! Where a Slack message stands in its alert's story, for a channel that
//! posts as an app (`bot_token`): a FIRING opens a thread, STILL FAILING
//! follows in it, RESOLVED ends it (the parent updated in place, and a
//! reply). Rendered at ingest beside the payload; the parent's `ts` is only
//! known once the FIRING is delivered, so the sender is handed it, from the
//! store, at send time.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::escape::truncate;
use super::facts::Facts;
use super::notice::Notice;

/// Slack's limits on a header and a section's text.
const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;

/// One alert episode: its key (`rule/connection[/data type]`) and when it
/// started firing, in milliseconds since the epoch. A new firing after a
/// RESOLVED is a new episode, so it starts a new message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Episode {
    pub key: String,
    pub since: u64,
}

/// What the Web API is asked to do with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum SlackThread {
    /// A FIRING: a new top-level message, the parent of its episode's thread.
    Opens { episode: Episode },
    /// A STILL FAILING: a reply in the thread, not broadcast to the channel.
    Follows { episode: Episode },
    /// A RESOLVED or CLOSED: the parent gets `header` and `line` (the facts
    /// it showed stay), and the message is a reply in the thread.
    Ends {
        episode: Episode,
        header: String,
        line: String,
    },
    /// A digest: one top-level message, the parent of the episodes it tells
    /// that have no message of their own on the channel. The episodes it
    /// ends (`ends`, a RESOLVED or CLOSED among what it carries) get their
    /// own message, if they have one, rewritten as a RESOLVED would.
    Digest {
        episodes: Vec<Episode>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ends: Vec<Ending>,
    },
    /// Several rules' messages of one event in one message: told as a
    /// digest is (the parent of the episodes it tells that have no message
    /// of its own, never rewritten, ending those it ends), except that when
    /// every episode it tells already hangs on one message (an earlier
    /// group's), it is a reply in that thread.
    Group {
        episodes: Vec<Episode>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ends: Vec<Ending>,
    },
}

/// What a RESOLVED or CLOSED writes on its episode's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ending {
    pub episode: Episode,
    pub header: String,
    pub line: String,
}

impl SlackThread {
    /// The thread role of a message about one alert; `None` for a message
    /// that is about no episode (a test).
    pub fn of(facts: &Facts, header: &str, line: Option<String>) -> Option<SlackThread> {
        let thread = facts.thread.as_ref()?;
        let since = thread.since.duration_since(std::time::UNIX_EPOCH).ok()?;
        let episode = Episode {
            key: thread.key.clone(),
            since: since.as_millis() as u64,
        };
        Some(match facts.notice {
            Notice::Firing => SlackThread::Opens { episode },
            Notice::StillFailing { .. } => SlackThread::Follows { episode },
            Notice::Resolved { .. } => SlackThread::Ends {
                episode,
                header: truncate(header, HEADER_MAX),
                line: line.unwrap_or_default(),
            },
        })
    }

    /// The place of a digest carrying messages of these places: the thread
    /// of their episodes, and the end of those it ends.
    pub fn digest_of(carried: impl IntoIterator<Item = SlackThread>) -> SlackThread {
        let (episodes, ends) = told(carried);
        SlackThread::Digest { episodes, ends }
    }

    /// The place of a group carrying messages of these places (see
    /// [`SlackThread::Group`]).
    pub fn group_of(carried: impl IntoIterator<Item = SlackThread>) -> SlackThread {
        let (episodes, ends) = told(carried);
        SlackThread::Group { episodes, ends }
    }

    /// The episode whose thread this message belongs in, if it is a reply.
    pub fn parent(&self) -> Option<&Episode> {
        match self {
            SlackThread::Follows { episode } | SlackThread::Ends { episode, .. } => Some(episode),
            SlackThread::Opens { .. } | SlackThread::Digest { .. } | SlackThread::Group { .. } => None,
        }
    }
}

/// The episodes messages of these places tell, each once, and the ends
/// they tell.
fn told(carried: impl IntoIterator<Item = SlackThread>) -> (Vec<Episode>, Vec<Ending>) {
    let mut episodes: Vec<Episode> = Vec::new();
    let mut ends = Vec::new();
    for place in carried {
        let (episode, ending) = match place {
            SlackThread::Opens { episode } | SlackThread::Follows { episode } => (episode, None),
            SlackThread::Ends { episode, header, line } => (episode.clone(), Some(Ending { episode, header, line })),
            SlackThread::Digest { .. } | SlackThread::Group { .. } => continue,
        };
        if !episodes.contains(&episode) {
            episodes.push(episode);
        }
        ends.extend(ending);
    }
    (episodes, ends)
}

/// A posted message that a thread hangs on, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub episode: Episode,
    /// The Slack channel's id, as Slack answered it (`chat.update` needs
    /// the id, not a `#name`).
    pub channel: String,
    pub ts: String,
    /// A digest's message: replies go in its thread, but it is never
    /// updated (it tells other alerts too).
    pub digest: bool,
    /// The payload as posted, so that RESOLVED keeps its facts.
    pub original: Value,
}

/// The parent message as RESOLVED leaves it: `header` in place of its
/// header, `line` (how long it fired, the clean requestId) at the top of
/// its first section, every other block as it was; within Slack's limits
/// because no block is added. A parent without blocks (a template's text)
/// takes `resolved`, the RESOLVED message itself.
pub fn resolved_parent(original: &Value, header: &str, line: &str, resolved: &Value) -> Value {
    let Some(blocks) = original["blocks"].as_array().filter(|b| !b.is_empty()) else {
        return resolved.clone();
    };
    let mut blocks = blocks.clone();
    let mut fallback = header.to_owned();
    if blocks[0]["type"] == "header" {
        blocks[0]["text"]["text"] = Value::String(truncate(header, HEADER_MAX));
    }
    if let Some(section) = blocks
        .iter_mut()
        .find(|b| b["type"] == "section" && b["text"]["text"].is_string())
    {
        let text = section["text"]["text"].as_str().unwrap_or_default();
        section["text"]["text"] = Value::String(truncate(&format!("*{line}*\n{text}"), SECTION_MAX));
        fallback.push_str(&format!(" · {line}"));
    }
    json!({ "text": truncate(&fallback, 4000), "blocks": blocks })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resolved_parent_keeps_its_facts_and_its_block_count() {
        let original = json!({"text": "CRITICAL r", "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "CRITICAL r"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "*PRODUCTION* · 2 failed for Acme"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "requestId f-1"}]}
        ]});
        let updated = resolved_parent(
            &original,
            "✅ RESOLVED r",
            "Resolved: for 5m; clean sync requestId c-1",
            &json!({}),
        );
        let blocks = updated["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0]["text"]["text"], "✅ RESOLVED r");
        let section = blocks[1]["text"]["text"].as_str().unwrap();
        assert!(section.starts_with("*Resolved: for 5m; clean sync requestId c-1*\n*PRODUCTION* · 2 failed for Acme"));
        assert_eq!(blocks[2], original["blocks"][2]);
    }

    /// Every block of `message` within Slack's limits.
    fn within_limits(message: &Value) {
        let blocks = message["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50);
        for block in blocks {
            let max = if block["type"] == "header" {
                HEADER_MAX
            } else {
                SECTION_MAX
            };
            let text = block["text"]["text"].as_str().unwrap_or_default();
            assert!(
                text.chars().count() <= max,
                "{} in {}",
                text.chars().count(),
                block["type"]
            );
        }
    }

    #[test]
    fn each_notice_has_its_place_and_the_resolved_parent_of_a_storm_stays_within_limits() {
        use crate::render::test_support::{facts, hostile_payload, rule};
        use crate::render::{Thread, render_slack, slack_thread_of};
        use std::time::{Duration, UNIX_EPOCH};

        let mut rule = rule("{ failed: { above: 0 } }");
        rule.name = "r".repeat(200);
        let mut firing = facts(&rule, &hostile_payload(5000));
        let since = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        firing.thread = Some(Thread {
            key: "r/CON-1".into(),
            since,
        });
        let episode = Episode {
            key: "r/CON-1".into(),
            since: 1_700_000_000_123,
        };
        assert_eq!(
            slack_thread_of(&firing),
            Some(SlackThread::Opens {
                episode: episode.clone()
            })
        );
        let mut still = firing.clone();
        still.notice = Notice::StillFailing { since, failing: 2 };
        assert_eq!(slack_thread_of(&still).unwrap().parent(), Some(&episode));
        let mut resolved = firing.clone();
        resolved.notice = Notice::Resolved {
            since,
            lasted: Duration::from_secs(600),
            failing: 2,
            clean_request: Some("<!channel> clean".into()),
            reason: None,
        };
        let Some(SlackThread::Ends { header, line, .. }) = slack_thread_of(&resolved) else {
            panic!("RESOLVED ends the thread")
        };
        assert!(header.starts_with("✅ RESOLVED rrr") && header.chars().count() <= HEADER_MAX);
        assert!(
            line.contains("&lt;!channel&gt; clean"),
            "payload values are escaped: {line}"
        );
        let original = render_slack(&firing);
        within_limits(&original);
        let updated = resolved_parent(&original, &header, &line, &render_slack(&resolved));
        within_limits(&updated);
        assert_eq!(
            updated["blocks"].as_array().unwrap().len(),
            original["blocks"].as_array().unwrap().len()
        );
    }

    #[test]
    fn a_digest_is_the_thread_of_each_episode_once_and_ends_those_it_resolves() {
        let episode = |key: &str| Episode {
            key: key.into(),
            since: 1,
        };
        let carried = [
            SlackThread::Opens { episode: episode("a") },
            SlackThread::Follows { episode: episode("a") },
            SlackThread::Ends {
                episode: episode("b"),
                header: "✅ RESOLVED r".into(),
                line: "Resolved".into(),
            },
        ];
        let SlackThread::Digest { episodes, ends } = SlackThread::digest_of(carried) else {
            panic!()
        };
        assert_eq!(episodes, [episode("a"), episode("b")]);
        assert_eq!(ends.len(), 1);
        assert_eq!(
            (ends[0].episode.key.as_str(), ends[0].header.as_str()),
            ("b", "✅ RESOLVED r")
        );
    }

    #[test]
    fn a_parent_of_plain_text_becomes_the_resolved_message() {
        let resolved = json!({"text": "all clear"});
        assert_eq!(resolved_parent(&json!({"text": "x"}), "h", "l", &resolved), resolved);
    }
}
