//! `syncwatch replay`: signs payload files as Railz would and posts them to
//! the configured endpoint, to re-drive payloads copied from Railz's
//! dashboard (or try the fixtures).

use std::io::Write;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::config::Config;
use crate::verify;

use super::{EXIT_FAILED, EXIT_OK};

pub async fn replay(config: &Config, payloads: &[PathBuf], out: &mut dyn Write) -> std::io::Result<u8> {
    let host = match config.server.listen.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let url = format!("http://{host}:{}{}", config.server.listen.port(), config.server.path);
    crate::deliver::install_crypto_provider();
    let client = reqwest::Client::new();
    let mut failed = false;
    for path in payloads {
        let body = match std::fs::read(path) {
            Ok(body) => body,
            Err(error) => {
                writeln!(out, "{}: cannot read: {error}", path.display())?;
                failed = true;
                continue;
            }
        };
        let mut request = client.post(&url).header("content-type", "application/json");
        if let Some(secret) = config.security.signing_secrets.first() {
            request = request.header(
                "Railz-Signature",
                verify::sign(secret.expose(), &body, SystemTime::now()),
            );
        }
        if let Some(token) = &config.security.bearer_token {
            request = request.bearer_auth(token.expose());
        }
        match request.body(body).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let answer = response.text().await.unwrap_or_default();
                writeln!(out, "{}: {status} {}", path.display(), answer.trim())?;
                failed |= status != 200;
            }
            Err(error) if error.is_connect() => {
                writeln!(
                    out,
                    "{}: cannot post to {url}: nothing answers there; is `syncwatch serve` running with this rules file?",
                    path.display()
                )?;
                failed = true;
            }
            Err(error) => {
                writeln!(out, "{}: cannot post to {url}: {error}", path.display())?;
                failed = true;
            }
        }
    }
    Ok(if failed { EXIT_FAILED } else { EXIT_OK })
}
