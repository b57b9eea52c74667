//! SMTP through lettre: a pooled async transport per channel, STARTTLS,
//! implicit TLS or plain, and the server's answer classified by its code
//! (4xx and connection trouble transient, 5xx permanent). What the client
//! itself refuses (the server lacks STARTTLS, offers no AUTH the channel
//! can use) is the channel's configuration: permanent, with what to change.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::{Error as SmtpError, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{EmailChannel, TlsMode};
use crate::render::EmailMessage;

use super::sender::Outcome;

const TIMEOUT: Duration = Duration::from_secs(30);

pub struct EmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    /// To word what to change when the server and the channel disagree.
    tls: TlsMode,
    port: u16,
}

impl EmailSender {
    pub fn new(channel: &EmailChannel) -> Result<EmailSender, String> {
        let tls = match channel.tls {
            TlsMode::None => Tls::None,
            TlsMode::StartTls => Tls::Required(tls_parameters(channel)?),
            TlsMode::Tls => Tls::Wrapper(tls_parameters(channel)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&channel.host)
            .port(channel.port)
            .tls(tls)
            .timeout(Some(TIMEOUT))
            .pool_config(PoolConfig::new().max_size(4));
        if let Some(login) = &channel.credentials {
            let credentials = Credentials::new(login.username.clone(), login.password.expose().to_owned());
            builder = builder.credentials(credentials);
        }
        Ok(EmailSender {
            transport: builder.build(),
            from: channel.from.clone(),
            to: channel.to.clone(),
            tls: channel.tls,
            port: channel.port,
        })
    }

    pub async fn send(&self, message: &EmailMessage) -> Outcome {
        let email = match self.build(message) {
            Ok(email) => email,
            Err(reason) => return Outcome::Permanent { reason },
        };
        match self.transport.send(email).await {
            Ok(response) => Outcome::Delivered {
                detail: format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                ),
            },
            Err(err) => classify(&err, self.tls, self.port),
        }
    }

    fn build(&self, message: &EmailMessage) -> Result<Message, String> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(message.subject.clone())
            .message_id(message.message_id.clone());
        if let Some(firing) = &message.in_reply_to {
            builder = builder.in_reply_to(firing.clone()).references(firing.clone());
        }
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let body = MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(message.text.clone()),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(message.html.clone()),
            );
        builder
            .multipart(body)
            .map_err(|err| format!("cannot build the email: {err}"))
    }
}

/// The system's roots (through rustls-platform-verifier), plus `ca_file`.
fn tls_parameters(channel: &EmailChannel) -> Result<TlsParameters, String> {
    let host = &channel.host;
    let mut builder = TlsParameters::builder(host.clone());
    if let Some(pem) = &channel.ca_pem {
        let ca = Certificate::from_pem(pem).map_err(|err| format!("ca_file: {err}"))?;
        builder = builder.add_root_certificate(ca);
    }
    builder.build().map_err(|err| format!("TLS setup for {host}: {err}"))
}

fn classify(err: &SmtpError, tls: TlsMode, port: u16) -> Outcome {
    if err.is_client() {
        // lettre refused before sending: the same server and the same
        // channel settings give the same refusal, so retrying for a day
        // would only hide it.
        return Outcome::Permanent {
            reason: client_refusal(err, tls, port),
        };
    }
    let reason = describe(err);
    if err.is_permanent() {
        Outcome::Permanent { reason }
    } else {
        // 4xx, timeouts, refused connections, TLS trouble: the server or the
        // network may come back.
        Outcome::Transient {
            reason,
            retry_after: None,
        }
    }
}

/// lettre's words for a refusal of its own (without its "internal client
/// error" prefix, which suggests a bug), and what to change in the channel.
fn client_refusal(err: &SmtpError, tls: TlsMode, port: u16) -> String {
    let said = match std::error::Error::source(err) {
        Some(source) => one_line(&source.to_string()),
        None => describe(err),
    };
    let fix = if said.starts_with("STARTTLS is not supported") {
        Some(format!(
            "port {port} offers no STARTTLS: use `tls: none` on a trusted network, or `tls: tls` if the server takes TLS from the first byte (usually port 465)"
        ))
    } else if said.starts_with("No compatible authentication mechanism") {
        Some(match tls {
            TlsMode::None => "the server offers no AUTH before encryption (most offer it only after STARTTLS): use `tls: starttls` (or `tls: tls` on port 465), or drop username/password if it needs no login".to_owned(),
            TlsMode::StartTls | TlsMode::Tls => "the server offers neither AUTH PLAIN nor AUTH LOGIN: drop username/password if it needs no login, or enable one of them on the server".to_owned(),
        })
    } else {
        None
    };
    match fix {
        Some(fix) => format!("{said}: {fix}"),
        None => format!("{said} (refused by syncwatch's SMTP client: fix the channel or the server)"),
    }
}

/// lettre's error and its causes, each text once: lettre's own message
/// already ends with its source's, and a cause may repeat its own source.
fn describe(err: &SmtpError) -> String {
    let mut detail = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !detail.contains(&text) {
            detail.push_str(": ");
            detail.push_str(&text);
        }
        source = cause.source();
    }
    one_line(&detail)
}

fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}
