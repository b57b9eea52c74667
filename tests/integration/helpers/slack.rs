//! A local HTTP server that answers like a Slack incoming webhook: 200 `ok`
//! by default, or a scripted series of answers (400 `invalid_payload`, 404
//! `no_service`, 410 `channel_is_archived`, 429 with Retry-After, 5xx).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use warp::Filter;
use warp::http::{Response, StatusCode};

#[derive(Debug, Clone)]
pub struct SlackReply {
    pub status: u16,
    pub body: &'static str,
    pub retry_after: Option<u64>,
    /// How long to wait before answering: a slow Slack.
    pub delay: std::time::Duration,
}

impl SlackReply {
    pub fn ok() -> SlackReply {
        SlackReply::status(200, "ok")
    }

    pub fn status(status: u16, body: &'static str) -> SlackReply {
        SlackReply {
            status,
            body,
            retry_after: None,
            delay: std::time::Duration::ZERO,
        }
    }

    pub fn rate_limited(seconds: u64) -> SlackReply {
        SlackReply {
            status: 429,
            body: "rate_limited",
            retry_after: Some(seconds),
            delay: std::time::Duration::ZERO,
        }
    }

    /// 200 `ok`, after `delay`.
    pub fn slow(delay: std::time::Duration) -> SlackReply {
        SlackReply {
            delay,
            ..SlackReply::ok()
        }
    }
}

/// One POST as Slack received it, with when it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: serde_json::Value,
    pub at: Instant,
    /// The answer it was given.
    pub status: u16,
}

#[derive(Default)]
struct Script {
    replies: VecDeque<SlackReply>,
    /// The answer once `replies` is used up; 200 `ok` when unset.
    otherwise: Option<SlackReply>,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct SlackStandIn {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl SlackStandIn {
    pub async fn start() -> SlackStandIn {
        let script = Arc::new(Mutex::new(Script::default()));
        let shared = script.clone();
        let route = warp::post().and(warp::body::bytes()).then(move |body: Bytes| {
            let (response, delay) = answer(&shared, &body);
            async move {
                tokio::time::sleep(delay).await;
                response
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(route).incoming(listener).run());
        SlackStandIn { addr, script }
    }

    pub fn url(&self) -> String {
        format!("http://{}/services/T000/B000/XXXX", self.addr)
    }

    /// The next answers, in order; after them, 200 `ok`.
    pub fn script(&self, replies: &[SlackReply]) {
        self.script.lock().unwrap().replies.extend(replies.iter().cloned());
    }

    /// The answer to every POST from now on, after any scripted ones: a
    /// Slack outage, and its end.
    pub fn answer_all(&self, reply: SlackReply) {
        self.script.lock().unwrap().otherwise = Some(reply);
    }

    /// Every POST so far, whatever it was answered.
    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }

    /// The messages answered 200, as a user would see them in Slack.
    /// The `text` of each delivered message.
    pub fn texts(&self) -> Vec<String> {
        self.delivered()
            .iter()
            .map(|m| m["text"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// The header line of each delivered message ("✅ RESOLVED rule", ...).
    pub fn headers(&self) -> Vec<String> {
        self.delivered()
            .iter()
            .map(|m| m["blocks"][0]["text"]["text"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    pub fn delivered(&self) -> Vec<serde_json::Value> {
        self.received()
            .into_iter()
            .filter(|r| r.status == 200)
            .map(|r| r.body)
            .collect()
    }
}

fn answer(script: &Mutex<Script>, body: &[u8]) -> (Response<String>, std::time::Duration) {
    let mut script = script.lock().unwrap();
    let otherwise = script.otherwise.clone().unwrap_or_else(SlackReply::ok);
    let reply = script.replies.pop_front().unwrap_or(otherwise);
    let body_json = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    script.received.push(Received {
        body: body_json,
        at: Instant::now(),
        status: reply.status,
    });
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    if let Some(seconds) = reply.retry_after {
        response = response.header("Retry-After", seconds.to_string());
    }
    (response.body(reply.body.to_owned()).unwrap(), reply.delay)
}
