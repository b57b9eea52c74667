//! A local stand-in of Slack's Web API, as a bot token meets it: it checks
//! the bearer token, knows channels by id (and `#name`) and whether the app
//! was invited, keeps messages by `ts` and threads by `thread_ts`, applies
//! `chat.update`, refuses blocks beyond Slack's limits (`invalid_blocks`),
//! and answers scripted errors: `{"ok": false, "error": ...}` with HTTP
//! 200, `ratelimited` as 429 with Retry-After, 5xx.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::{Value, json};
use warp::Filter;
use warp::http::{HeaderMap, Response};

pub const TOKEN: &str = "xoxb-test-token";
/// The channel the app was invited to, and its name.
pub const CHANNEL: &str = "C0SYNCWATCH";
pub const CHANNEL_NAME: &str = "#ops-alerts";
/// A channel the app was not invited to.
pub const UNINVITED: &str = "C0NOTINVITED";

/// A scripted answer to the next call of a method.
#[derive(Debug, Clone)]
pub enum ApiReply {
    /// HTTP 200 `{"ok": false, "error": name}`.
    Error(&'static str),
    /// 429 `ratelimited` with Retry-After.
    RateLimited(u64),
    /// An HTTP status with a plain body (a 503 from Slack's edge).
    Status(u16),
}

/// One message as the channel shows it.
#[derive(Debug, Clone)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
    pub thread_ts: Option<String>,
    pub text: String,
    pub blocks: Value,
    /// How many times `chat.update` changed it.
    pub updates: u32,
}

impl Posted {
    /// The header block's text ("✅ RESOLVED rule", ...).
    pub fn header(&self) -> String {
        self.blocks[0]["text"]["text"].as_str().unwrap_or_default().to_owned()
    }

    /// Every word it shows.
    pub fn words(&self) -> String {
        format!("{} {}", self.text, self.blocks)
    }
}

/// One call as the API received it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub body: Value,
    /// `ok: true`, or the error it was answered.
    pub answer: Result<(), String>,
}

#[derive(Default)]
struct State {
    messages: Vec<Posted>,
    /// The next answers by method, before any real work.
    script: Vec<(String, VecDeque<ApiReply>)>,
    calls: Vec<Call>,
    next_ts: u64,
    /// Slack's per-channel limit on `chat.postMessage`, when set: a post
    /// sooner than this after the last one is `ratelimited`.
    spacing: Option<std::time::Duration>,
    last_post: Option<std::time::Instant>,
}

#[derive(Clone)]
pub struct SlackApi {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl SlackApi {
    pub async fn start() -> SlackApi {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let route = warp::post()
            .and(warp::path!("api" / String))
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .map(move |method: String, headers: HeaderMap, body: Bytes| answer(&shared, &method, &headers, &body));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(route).incoming(listener).run());
        SlackApi { addr, state }
    }

    /// The base URL for `api_url`.
    pub fn url(&self) -> String {
        format!("http://{}/api/", self.addr)
    }

    /// A `slack:` channel posting as the app to `channel`.
    pub fn channel_yaml(&self, channel: &str) -> String {
        format!(
            "slack: {{ bot_token: {TOKEN}, channel: '{channel}', api_url: '{}', min_interval: 0s }}",
            self.url()
        )
    }

    /// The next answers of `method`, in order; after them, real work.
    pub fn script(&self, method: &str, replies: &[ApiReply]) {
        let mut state = self.state.lock().unwrap();
        state
            .script
            .push((method.to_owned(), replies.iter().cloned().collect()));
    }

    /// Answers `ratelimited` (429, Retry-After 1) to a post that follows
    /// the last one sooner than `spacing`, as Slack's limit of about one
    /// message a second per channel does.
    pub fn limit_posts(&self, spacing: std::time::Duration) {
        self.state.lock().unwrap().spacing = Some(spacing);
    }

    /// Removes a message, as a user deleting it would.
    pub fn delete(&self, ts: &str) {
        self.state.lock().unwrap().messages.retain(|m| m.ts != ts);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The messages of the channel, not in a thread.
    pub fn top_level(&self) -> Vec<Posted> {
        let state = self.state.lock().unwrap();
        state
            .messages
            .iter()
            .filter(|m| m.thread_ts.is_none())
            .cloned()
            .collect()
    }

    /// The replies in the thread of `ts`, oldest first.
    pub fn replies(&self, ts: &str) -> Vec<Posted> {
        let state = self.state.lock().unwrap();
        (state.messages.iter())
            .filter(|m| m.thread_ts.as_deref() == Some(ts))
            .cloned()
            .collect()
    }

    pub fn all(&self) -> Vec<Posted> {
        self.state.lock().unwrap().messages.clone()
    }

    /// Errors answered so far, by name.
    pub fn errors(&self) -> Vec<String> {
        self.calls().into_iter().filter_map(|c| c.answer.err()).collect()
    }
}

fn answer(state: &Mutex<State>, method: &str, headers: &HeaderMap, body: &[u8]) -> Response<String> {
    let mut state = state.lock().unwrap();
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let scripted = (state.script.iter_mut())
        .find(|(m, replies)| m == method && !replies.is_empty())
        .and_then(|(_, replies)| replies.pop_front());
    let now = std::time::Instant::now();
    let too_soon = method == "chat.postMessage"
        && (state.spacing.zip(state.last_post)).is_some_and(|(spacing, last)| now < last + spacing);
    let scripted = match too_soon {
        true => Some(ApiReply::RateLimited(1)),
        false => scripted,
    };
    let (status, answer, retry_after) = match scripted {
        Some(ApiReply::Error(error)) => (200, Err(error.to_owned()), None),
        Some(ApiReply::RateLimited(seconds)) => (429, Err("ratelimited".to_owned()), Some(seconds)),
        Some(ApiReply::Status(status)) => (status, Err(format!("http_{status}")), None),
        None => (200, work(&mut state, method, headers, &body), None),
    };
    if method == "chat.postMessage" && !too_soon {
        state.last_post = Some(now);
    }
    state.calls.push(Call {
        method: method.to_owned(),
        body,
        answer: answer.as_ref().map(|_| ()).map_err(Clone::clone),
    });
    let json = match &answer {
        Ok(value) => value.clone(),
        Err(error) => json!({ "ok": false, "error": error }),
    };
    let mut response = Response::builder().status(status);
    if let Some(seconds) = retry_after {
        response = response.header("Retry-After", seconds.to_string());
    }
    response.body(json.to_string()).unwrap()
}

/// What the API does with a well-authorised call.
fn work(state: &mut State, method: &str, headers: &HeaderMap, body: &Value) -> Result<Value, String> {
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        None => return Err("not_authed".into()),
        Some(value) if value != format!("Bearer {TOKEN}") => return Err("invalid_auth".into()),
        Some(_) => {}
    }
    match method {
        "auth.test" => Ok(json!({"ok": true, "user": "syncwatch", "team": "Test Workspace", "bot_id": "B01"})),
        "chat.postMessage" => post(state, body),
        "chat.update" => update(state, body),
        _ => Err("unknown_method".into()),
    }
}

fn channel_id(given: &str) -> Result<&'static str, String> {
    match given {
        CHANNEL | CHANNEL_NAME => Ok(CHANNEL),
        UNINVITED => Err("not_in_channel".into()),
        _ => Err("channel_not_found".into()),
    }
}

fn post(state: &mut State, body: &Value) -> Result<Value, String> {
    let channel = channel_id(body["channel"].as_str().unwrap_or_default())?;
    within_limits(body)?;
    let thread_ts = body["thread_ts"].as_str().map(str::to_owned);
    if let Some(parent) = &thread_ts {
        let found = state.messages.iter().any(|m| &m.ts == parent && m.thread_ts.is_none());
        if !found {
            return Err("thread_not_found".into());
        }
    }
    if body["reply_broadcast"].as_bool() == Some(true) {
        return Err("test_stand_in_refuses_broadcast".into());
    }
    state.next_ts += 1;
    let ts = format!("1764500000.{:06}", state.next_ts);
    state.messages.push(Posted {
        channel: channel.to_owned(),
        ts: ts.clone(),
        thread_ts,
        text: body["text"].as_str().unwrap_or_default().to_owned(),
        blocks: body["blocks"].clone(),
        updates: 0,
    });
    Ok(json!({ "ok": true, "channel": channel, "ts": ts, "message": body }))
}

fn update(state: &mut State, body: &Value) -> Result<Value, String> {
    let channel = body["channel"].as_str().unwrap_or_default();
    if channel != CHANNEL {
        // chat.update takes the id only.
        return Err("channel_not_found".into());
    }
    within_limits(body)?;
    let ts = body["ts"].as_str().unwrap_or_default();
    let message = (state.messages.iter_mut())
        .find(|m| m.ts == ts)
        .ok_or("message_not_found")?;
    message.text = body["text"].as_str().unwrap_or_default().to_owned();
    message.blocks = body["blocks"].clone();
    message.updates += 1;
    Ok(json!({ "ok": true, "channel": channel, "ts": ts }))
}

/// Slack's documented limits: 40,000 characters of text; 50 blocks; a
/// header of 150 characters; a section's text of 3,000.
fn within_limits(body: &Value) -> Result<(), String> {
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    if chars(&body["text"]) > 40_000 {
        return Err("msg_too_long".into());
    }
    let blocks = body["blocks"].as_array().cloned().unwrap_or_default();
    let too_long = |block: &Value| match block["type"].as_str() {
        Some("header") => chars(&block["text"]["text"]) > 150,
        Some("section") => {
            chars(&block["text"]["text"]) > 3000
                || (block["fields"].as_array().into_iter().flatten()).any(|f| chars(&f["text"]) > 2000)
        }
        _ => false,
    };
    if blocks.len() > 50 || blocks.iter().any(too_long) {
        return Err("invalid_blocks".into());
    }
    Ok(())
}
