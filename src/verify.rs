//! Only Railz gets in: the `Railz-Signature` header (HMAC-SHA256 of
//! `<t>.<raw body>` with the signing secret, `t` in unix milliseconds) and
//! the optional bearer token, checked on the raw bytes before parsing, in
//! constant time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::config::Security;

/// Which check refused a request. The messages say what to fix and never
/// reveal a secret or the expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the Railz-Signature header is required")]
    SignatureMissing,
    #[error("the Railz-Signature header is malformed: {0}")]
    SignatureMalformed(&'static str),
    #[error(
        "the Railz-Signature timestamp is {0} away from this server's clock, more than security.signature_tolerance allows"
    )]
    SignatureStale(String),
    #[error("no signature in the Railz-Signature header matches the body and a configured signing secret")]
    SignatureMismatch,
    #[error("an Authorization: Bearer token is required")]
    TokenMissing,
    #[error("the bearer token is not the configured one")]
    TokenMismatch,
}

impl Refusal {
    /// A stable name for the failed check, for the JSON answer and metrics.
    pub fn check(&self) -> &'static str {
        match self {
            Refusal::SignatureMissing => "signature_missing",
            Refusal::SignatureMalformed(_) => "signature_malformed",
            Refusal::SignatureStale(_) => "signature_stale",
            Refusal::SignatureMismatch => "signature_mismatch",
            Refusal::TokenMissing => "token_missing",
            Refusal::TokenMismatch => "token_mismatch",
        }
    }
}

/// The parts of a `Railz-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader<'h> {
    /// As sent: it is signed as text.
    pub timestamp: &'h str,
    pub millis: u64,
    pub signatures: Vec<Vec<u8>>,
}

/// Parses `t=<unix ms>,v=<hex>[,v=<hex>...]`, in any order, ignoring
/// spaces and unknown keys (room for future schemes).
pub fn parse_header(header: &str) -> Result<SignatureHeader<'_>, Refusal> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            return Err(Refusal::SignatureMalformed("expected comma-separated key=value pairs"));
        };
        match key.trim() {
            "t" if timestamp.is_some() => return Err(Refusal::SignatureMalformed("more than one t=")),
            "t" => timestamp = Some(value.trim()),
            "v" => signatures.push(decode_hex(value.trim()).ok_or(Refusal::SignatureMalformed("v= is not hex"))?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(Refusal::SignatureMalformed("no t= timestamp"))?;
    let millis = timestamp
        .parse()
        .map_err(|_| Refusal::SignatureMalformed("t= is not a unix time in milliseconds"))?;
    if signatures.is_empty() {
        return Err(Refusal::SignatureMalformed("no v= signature"));
    }
    Ok(SignatureHeader {
        timestamp,
        millis,
        signatures,
    })
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Checks a request against `security`: the token first (cheap), then the
/// signature. Passes everything when neither is configured.
pub fn verify(
    security: &Security,
    signature: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
    now: SystemTime,
) -> Result<(), Refusal> {
    let header = check_headers(security, signature, authorization, now)?;
    check_body(security, header.as_ref(), body)
}

/// Everything that can be checked before the body is read: the token, and
/// the signature header's presence, form and age. A request refused here
/// costs no memory for its body, whatever it declares.
pub fn check_headers<'h>(
    security: &Security,
    signature: Option<&'h str>,
    authorization: Option<&str>,
    now: SystemTime,
) -> Result<Option<SignatureHeader<'h>>, Refusal> {
    if let Some(token) = &security.bearer_token {
        let given = authorization.and_then(bearer).ok_or(Refusal::TokenMissing)?;
        if !bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
            return Err(Refusal::TokenMismatch);
        }
    }
    if security.signing_secrets.is_empty() {
        return Ok(None);
    }
    let header = parse_header(signature.ok_or(Refusal::SignatureMissing)?)?;
    check_age(header.millis, now, security.signature_tolerance)?;
    Ok(Some(header))
}

/// The credentials of `Authorization: Bearer <token>`; the scheme is
/// case-insensitive (RFC 7235).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The signature over the body, once it is read; `header` is what
/// [`check_headers`] returned.
pub fn check_body(security: &Security, header: Option<&SignatureHeader<'_>>, body: &[u8]) -> Result<(), Refusal> {
    if security.signing_secrets.is_empty() {
        return Ok(());
    }
    let Some(header) = header else {
        return Err(Refusal::SignatureMissing);
    };
    let matches = security.signing_secrets.iter().any(|secret| {
        header
            .signatures
            .iter()
            .any(|candidate| signature_matches(secret.expose().as_bytes(), header.timestamp, body, candidate))
    });
    if matches {
        Ok(())
    } else {
        Err(Refusal::SignatureMismatch)
    }
}

fn check_age(millis: u64, now: SystemTime, tolerance: Duration) -> Result<(), Refusal> {
    let signed = UNIX_EPOCH + Duration::from_millis(millis);
    // Either way: a timestamp from the future is as suspect as an old one.
    let skew = match now.duration_since(signed) {
        Ok(late) => late,
        Err(early) => early.duration(),
    };
    if skew > tolerance {
        let skew = crate::config::format_duration(Duration::from_secs(skew.as_secs()));
        return Err(Refusal::SignatureStale(skew.to_string()));
    }
    Ok(())
}

/// HMAC-SHA256 of `<t>.<body>`, compared in constant time.
fn signature_matches(secret: &[u8], timestamp: &str, body: &[u8], candidate: &[u8]) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(candidate).is_ok()
}

/// A valid header for `body`, as Railz would send it: for tests, benchmarks
/// and replaying payloads by hand.
pub fn sign(secret: &str, body: &[u8], at: SystemTime) -> String {
    let millis = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{millis}.").as_bytes());
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={millis},v={hex}")
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
