//! A local HTTP server that answers as a receiving service documents:
//! PagerDuty's 202 and 400 with `errors`, Teams' 202 and 429 with
//! Retry-After, a webhook receiver's 503. It records every request with
//! its headers and body.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use warp::Filter;
use warp::http::{HeaderMap, Response, StatusCode};

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

/// One request as the service received it.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub headers: HashMap<String, String>,
    /// The body as sent: a signature is checked over these bytes.
    pub raw: String,
    pub body: serde_json::Value,
    /// The status it was answered.
    pub status: u16,
    pub at: std::time::Instant,
}

struct Script {
    replies: VecDeque<Reply>,
    otherwise: Reply,
    received: Vec<Request>,
}

#[derive(Clone)]
pub struct StandIn {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl StandIn {
    /// A service that answers `otherwise` to every request not scripted.
    pub async fn start(otherwise: Reply) -> StandIn {
        let script = Arc::new(Mutex::new(Script {
            replies: VecDeque::new(),
            otherwise,
            received: Vec::new(),
        }));
        let shared = script.clone();
        let route = warp::post()
            .and(warp::path::full())
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .map(move |path: warp::path::FullPath, headers: HeaderMap, body: Bytes| {
                answer(&shared, path.as_str(), &headers, &body)
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(route).incoming(listener).run());
        StandIn { addr, script }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next answers, in order, before `otherwise` again.
    pub fn script(&self, replies: &[Reply]) {
        self.script.lock().unwrap().replies.extend(replies.iter().cloned());
    }

    pub fn received(&self) -> Vec<Request> {
        self.script.lock().unwrap().received.clone()
    }

    /// The requests answered 2xx.
    pub fn accepted(&self) -> Vec<Request> {
        let received = self.received().into_iter();
        received.filter(|r| (200..300).contains(&r.status)).collect()
    }
}

fn answer(script: &Mutex<Script>, path: &str, headers: &HeaderMap, body: &[u8]) -> Response<String> {
    let mut script = script.lock().unwrap();
    let reply = script.replies.pop_front().unwrap_or_else(|| script.otherwise.clone());
    let headers = headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or("").to_owned()))
        .collect();
    let raw = String::from_utf8_lossy(body).into_owned();
    script.received.push(Request {
        path: path.to_owned(),
        headers,
        body: serde_json::from_str(&raw).unwrap_or(serde_json::Value::Null),
        raw,
        status: reply.status,
        at: std::time::Instant::now(),
    });
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (name, value) in &reply.headers {
        response = response.header(*name, value);
    }
    response
        .header("content-type", "application/json")
        .body(reply.body)
        .unwrap()
}
