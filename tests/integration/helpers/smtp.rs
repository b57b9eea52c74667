//! A real SMTP server (mailin-embedded) on a free loopback port, keeping
//! every message it accepts; it can be told to answer the next messages
//! with a temporary (451) or permanent (554) failure.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::response::{INTERNAL_ERROR, OK, TRANSACTION_FAILED};
use mailin_embedded::{Handler, Response, Server, SslConfig};

/// One accepted email: envelope and raw message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
}

impl Mail {
    /// The message with folded headers and quoted-printable soft line
    /// breaks undone, for assertions on the text a reader sees.
    pub fn text(&self) -> String {
        self.data.replace("\r\n ", " ").replace("=\r\n", "").replace("=3D", "=")
    }
}

#[derive(Default)]
struct Shared {
    accepted: Vec<Mail>,
    /// Codes to answer the next messages with, instead of 250.
    failures: VecDeque<u16>,
    attempts: usize,
}

#[derive(Clone)]
struct Collector {
    shared: Arc<Mutex<Shared>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collector {
    // Failures are given at MAIL FROM: a reply to the end of DATA would be
    // more usual, but the server library then stays in its data state.
    fn mail(&mut self, _ip: IpAddr, _domain: &str, _from: &str) -> Response {
        let mut shared = self.shared.lock().unwrap();
        shared.attempts += 1;
        match shared.failures.pop_front() {
            Some(451) => INTERNAL_ERROR,
            Some(_) => TRANSACTION_FAILED,
            None => OK,
        }
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mut shared = self.shared.lock().unwrap();
        let data = String::from_utf8_lossy(&self.data).into_owned();
        shared.accepted.push(Mail {
            to: self.to.clone(),
            data,
        });
        OK
    }

    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        OK
    }
}

pub struct SmtpServer {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        SmtpServer::start_with(SslConfig::None)
    }

    /// A server that offers STARTTLS with a certificate for `localhost`
    /// signed by the test CA in tests/fixtures/tls/ca.pem.
    pub fn start_tls() -> SmtpServer {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
        SmtpServer::start_with(SslConfig::SelfSigned {
            cert_path: format!("{dir}/smtp.pem"),
            key_path: format!("{dir}/smtp.key"),
        })
    }

    fn start_with(ssl: SslConfig) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let handler = Collector {
            shared: shared.clone(),
            to: Vec::new(),
            data: Vec::new(),
        };
        let mut server = Server::new(handler);
        server
            .with_name("smtp.test")
            .with_ssl(ssl)
            .unwrap()
            .with_tcp_listener(listener);
        // The server blocks its thread forever; the test process ends it.
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpServer { addr, shared }
    }

    /// Answer the next messages with these codes (451 or 554).
    pub fn fail_next(&self, codes: &[u16]) {
        self.shared.lock().unwrap().failures.extend(codes);
    }

    pub fn accepted(&self) -> Vec<Mail> {
        self.shared.lock().unwrap().accepted.clone()
    }

    pub fn attempts(&self) -> usize {
        self.shared.lock().unwrap().attempts
    }
}

/// Polls `check` until it holds or `timeout` passes; returns whether it held.
pub async fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}
