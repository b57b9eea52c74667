//! SMTP through lettre: a pooled async transport per channel, STARTTLS,
//! implicit TLS or plain, and the server's answer classified by its code
//! (4xx and connection trouble transient, 5xx permanent).

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
            Err(err) => classify(&err),
        }
    }

    fn build(&self, message: &EmailMessage) -> Result<Message, String> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(message.subject.clone());
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

fn classify(err: &SmtpError) -> Outcome {
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

fn describe(err: &SmtpError) -> String {
    let mut detail = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    detail.replace(['\r', '\n'], " ")
}
