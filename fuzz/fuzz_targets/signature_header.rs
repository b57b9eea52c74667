//! Any Railz-Signature header (and body): parsing and verification never
//! panic, and only a correct signature passes.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use syncwatch::config::{Secret, Security};
use syncwatch::verify::{parse_header, sign, verify};

fuzz_target!(|input: (&str, &[u8])| {
    let (header, body) = input;
    let _ = parse_header(header);
    let security = Security {
        signing_secrets: vec![Secret::new("fuzz-secret".into())],
        signature_tolerance: Duration::from_secs(300),
        bearer_token: None,
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000);
    if verify(&security, Some(header), None, body, now).is_ok() {
        // Only possible with the real HMAC: the fuzzer cannot forge one.
        assert_eq!(header.trim(), sign("fuzz-secret", body, now).trim(), "accepted a forged signature: {header}");
    }
});
