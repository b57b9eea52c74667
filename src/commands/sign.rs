//! `syncwatch sign`: the Railz-Signature header for a payload file, as
//! Railz would compute it now, to replay a payload with curl:
//! `curl -H "$(syncwatch sign --config rules.yaml payload.json)" --data-binary @payload.json ...`.

use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use crate::config::Config;
use crate::verify;

use super::{EXIT_FAILED, EXIT_OK};

/// The header Railz signs with, and `replay` sends.
const HEADER: &str = "Railz-Signature";

pub fn sign(config: &Config, payload: &Path, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<u8> {
    let Some(secret) = config.security.signing_secrets.first() else {
        writeln!(
            err,
            "{}: security.signing_secret is not set: nothing to sign with",
            config.source.display()
        )?;
        return Ok(EXIT_FAILED);
    };
    match std::fs::read(payload) {
        Ok(body) => {
            // The whole header line, as `curl -H` takes it.
            let value = verify::sign(secret.expose(), &body, SystemTime::now());
            writeln!(out, "{HEADER}: {value}")?;
            Ok(EXIT_OK)
        }
        Err(error) => {
            writeln!(err, "cannot read {}: {error}", payload.display())?;
            Ok(EXIT_FAILED)
        }
    }
}
