//! `syncwatch silence add|list|expire`: silences made beside the running
//! daemon, which sees them within a second, without a reload.

use std::io::Write;
use std::time::{Duration, SystemTime};

use crate::quiet::{Matchers, Silence, new_id};

use super::history::time;
use super::{Database, EXIT_FAILED, EXIT_OK, Output, json_time, print_json};

/// How long a silence lasts: `--for D` or `--until TIME`.
#[derive(Debug, Clone)]
pub enum Until {
    For(Duration),
    At(SystemTime),
}

/// `--until` as RFC 3339 (`2026-12-01T09:00:00Z`; seconds may be left out).
pub fn parse_until(text: &str) -> Result<SystemTime, String> {
    let timestamp: jiff::Timestamp = text
        .parse()
        .map_err(|err| format!("`{text}` is not an RFC 3339 time (e.g. 2026-12-01T09:00Z): {err}"))?;
    Ok(SystemTime::from(timestamp))
}

/// What `silence add` was asked for.
#[derive(Debug, Clone)]
pub struct Request {
    pub matchers: Matchers,
    /// `--start`: a planned silence; now when absent.
    pub start: Option<SystemTime>,
    pub until: Until,
    pub comment: String,
}

/// Adds the silence `request` asks for. `rules` are the rule names of the
/// rules file, when it was read: a `--rule` that names none of them is
/// warned about (a typo would silence nothing).
pub fn add(
    database: &Database,
    request: Request,
    rules: Option<&[String]>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<u8> {
    let Request {
        matchers,
        start,
        until,
        comment,
    } = request;
    let comment = comment.as_str();
    if matchers.is_empty() {
        writeln!(
            err,
            "a silence needs at least one matcher: --rule, --connection, --business, --service, --environment or --data-type"
        )?;
        return Ok(EXIT_FAILED);
    }
    if comment.trim().is_empty() {
        writeln!(err, "a silence needs a --comment saying why")?;
        return Ok(EXIT_FAILED);
    }
    let now = SystemTime::now();
    let starts_at = start.unwrap_or(now).max(now);
    let ends_at = match until {
        Until::For(duration) => starts_at + duration,
        Until::At(at) => at,
    };
    if ends_at <= starts_at {
        writeln!(err, "the silence would end before it starts: {}", time(ends_at))?;
        return Ok(EXIT_FAILED);
    }
    warn_about_unknown_rule(matchers.rule.as_deref(), rules, err)?;
    let silence = Silence {
        id: new_id(),
        matchers,
        starts_at,
        ends_at,
        comment: comment.to_owned(),
        created_at: now,
        expired_at: None,
    };
    match database.add_silence(&silence) {
        Ok(()) => {
            writeln!(out, "{}", silence.id)?;
            Ok(EXIT_OK)
        }
        Err(error) => {
            writeln!(err, "cannot write the database {database}: {error}")?;
            Ok(EXIT_FAILED)
        }
    }
}

pub fn list(database: &Database, output: Output, out: &mut dyn Write) -> std::io::Result<u8> {
    let now = SystemTime::now();
    let found = database.silences(now);
    let current = match found {
        Ok(current) => current,
        Err(error) => {
            writeln!(out, "cannot read the database {database}: {error}")?;
            return Ok(EXIT_FAILED);
        }
    };
    if output == Output::Json {
        let rows: Vec<serde_json::Value> = (current.iter())
            .map(|s| {
                serde_json::json!({
                    "id": s.id,
                    "state": if s.is_active(now) { "active" } else { "pending" },
                    "matchers": s.matchers,
                    "starts_at": json_time(s.starts_at),
                    "ends_at": json_time(s.ends_at),
                    "comment": s.comment,
                })
            })
            .collect();
        return print_json(out, &serde_json::json!({ "silences": rows }));
    }
    writeln!(out, "SILENCES ({})", current.len())?;
    for silence in current {
        let (state, from) = match silence.is_active(now) {
            true => ("active", String::new()),
            false => ("pending", format!("from {}  ", time(silence.starts_at))),
        };
        writeln!(
            out,
            "{}  {:<7}  {}  {from}until {}  \"{}\"",
            silence.id,
            state,
            silence.matchers.describe(),
            time(silence.ends_at),
            silence.comment
        )?;
    }
    Ok(EXIT_OK)
}

pub fn expire(database: &Database, id: &str, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<u8> {
    let expired = database.expire_silence(id, SystemTime::now());
    match expired {
        Ok(true) => {
            writeln!(out, "expired {id}")?;
            Ok(EXIT_OK)
        }
        Ok(false) => {
            writeln!(err, "no silence `{id}` is in force (see `syncwatch silence list`)")?;
            Ok(EXIT_FAILED)
        }
        Err(error) => {
            writeln!(err, "cannot write the database {database}: {error}")?;
            Ok(EXIT_FAILED)
        }
    }
}

/// `--rule` that matches no rule of the rules file: said, with the rules,
/// but the silence is still added (the rule may come with the next reload).
fn warn_about_unknown_rule(
    pattern: Option<&str>,
    rules: Option<&[String]>,
    err: &mut dyn Write,
) -> std::io::Result<()> {
    let (Some(pattern), Some(rules)) = (pattern, rules) else {
        return Ok(());
    };
    let wanted = crate::rules::Pattern::new(pattern);
    if rules.iter().any(|name| wanted.matches(name)) {
        return Ok(());
    }
    writeln!(
        err,
        "warning: --rule {pattern} matches no rule of the rules file, so the silence mutes nothing until one does; the rules are: {}",
        rules.join(", ")
    )
}
