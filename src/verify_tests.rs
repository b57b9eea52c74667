use std::time::{Duration, SystemTime};

use super::*;
use crate::config::Secret;

const BODY: &[u8] = br#"{"data":{"event":"data"},"requestId":"r"}"#;

fn security(secrets: &[&str], token: Option<&str>) -> Security {
    Security {
        signing_secrets: secrets.iter().map(|s| Secret::new((*s).to_owned())).collect(),
        signature_tolerance: Duration::from_secs(300),
        bearer_token: token.map(|t| Secret::new(t.to_owned())),
    }
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

fn check(security: &Security, signature: Option<&str>) -> Result<(), Refusal> {
    verify(security, signature, None, BODY, now())
}

#[test]
fn a_request_signed_with_the_secret_passes() {
    let header = sign("whsec", BODY, now());
    assert_eq!(check(&security(&["whsec"], None), Some(&header)), Ok(()));
}

#[test]
fn a_signature_computed_elsewhere_is_accepted() {
    // python3: hmac.new(b"whsec", b"1750000000000." + BODY, hashlib.sha256).hexdigest()
    let header = "t=1750000000000,v=7bcbf0919ae360ec96e8ea776bd62b7bbb0d708d318aca00fe9255c8358fa47a";
    assert_eq!(check(&security(&["whsec"], None), Some(header)), Ok(()));
    assert_eq!(sign("whsec", BODY, now()), header);
}

#[test]
fn without_configuration_everything_passes() {
    assert_eq!(check(&security(&[], None), None), Ok(()));
}

#[test]
fn a_missing_header_is_refused_as_missing() {
    assert_eq!(check(&security(&["whsec"], None), None), Err(Refusal::SignatureMissing));
}

#[test]
fn malformed_headers_say_what_is_wrong() {
    let sec = security(&["whsec"], None);
    let cases = [
        ("garbage", "expected comma-separated key=value pairs"),
        ("v=abcd", "no t= timestamp"),
        ("t=1750000000000", "no v= signature"),
        ("t=soon,v=abcd", "t= is not a unix time in milliseconds"),
        ("t=1750000000000,v=xyz1", "v= is not hex"),
        ("t=1750000000000,v=abc", "v= is not hex"),
        ("t=1,t=2,v=ab", "more than one t="),
    ];
    for (header, why) in cases {
        assert_eq!(
            check(&sec, Some(header)),
            Err(Refusal::SignatureMalformed(why)),
            "{header}"
        );
    }
}

#[test]
fn the_header_is_read_in_any_order_with_several_signatures() {
    let good = sign("whsec", BODY, now());
    let (t, v) = good.split_once(',').unwrap();
    let reordered = format!("{v}, v=00ff, {t}");
    assert_eq!(check(&security(&["whsec"], None), Some(&reordered)), Ok(()));
}

#[test]
fn a_stale_or_future_timestamp_is_refused() {
    let sec = security(&["whsec"], None);
    let old = sign("whsec", BODY, now() - Duration::from_secs(301));
    let future = sign("whsec", BODY, now() + Duration::from_secs(400));
    assert_eq!(check(&sec, Some(&old)), Err(Refusal::SignatureStale("5m1s".into())));
    assert_eq!(check(&sec, Some(&future)), Err(Refusal::SignatureStale("6m40s".into())));
    let edge = sign("whsec", BODY, now() - Duration::from_secs(299));
    assert_eq!(check(&sec, Some(&edge)), Ok(()));
}

#[test]
fn a_wrong_secret_or_an_altered_body_is_a_mismatch() {
    let sec = security(&["whsec"], None);
    let other = sign("other", BODY, now());
    assert_eq!(check(&sec, Some(&other)), Err(Refusal::SignatureMismatch));
    let header = sign("whsec", BODY, now());
    let altered = verify(&sec, Some(&header), None, b"{\"data\":{}}", now());
    assert_eq!(altered, Err(Refusal::SignatureMismatch));
}

#[test]
fn any_of_several_secrets_may_sign_during_rotation() {
    let sec = security(&["old", "new"], None);
    assert_eq!(check(&sec, Some(&sign("old", BODY, now()))), Ok(()));
    assert_eq!(check(&sec, Some(&sign("new", BODY, now()))), Ok(()));
}

#[test]
fn the_bearer_token_is_checked_alone_or_with_the_signature() {
    let sec = security(&[], Some("tok"));
    assert_eq!(verify(&sec, None, Some("Bearer tok"), BODY, now()), Ok(()));
    assert_eq!(verify(&sec, None, None, BODY, now()), Err(Refusal::TokenMissing));
    assert_eq!(
        verify(&sec, None, Some("Basic tok"), BODY, now()),
        Err(Refusal::TokenMissing)
    );
    assert_eq!(
        verify(&sec, None, Some("Bearer tok2"), BODY, now()),
        Err(Refusal::TokenMismatch)
    );
    let both = security(&["whsec"], Some("tok"));
    let header = sign("whsec", BODY, now());
    assert_eq!(verify(&both, Some(&header), Some("Bearer tok"), BODY, now()), Ok(()));
    assert_eq!(
        verify(&both, None, Some("Bearer tok"), BODY, now()),
        Err(Refusal::SignatureMissing)
    );
}

#[test]
fn refusals_never_contain_the_secret() {
    let sec = security(&["hunter2"], Some("s3cr3t"));
    let refusals = [
        verify(&sec, None, Some("Bearer nope"), BODY, now()),
        verify(&sec, Some(&sign("x", BODY, now())), Some("Bearer s3cr3t"), BODY, now()),
    ];
    for refusal in refusals {
        let text = refusal.unwrap_err().to_string();
        assert!(!text.contains("hunter2") && !text.contains("s3cr3t"), "{text}");
    }
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let sec = security(&[], Some("tok"));
    assert_eq!(verify(&sec, None, Some("bearer tok"), BODY, now()), Ok(()));
    assert_eq!(verify(&sec, None, Some("BEARER  tok "), BODY, now()), Ok(()));
}

#[test]
fn a_missing_malformed_or_stale_signature_is_refused_from_the_headers_alone() {
    let sec = security(&["whsec"], None);
    assert_eq!(
        check_headers(&sec, None, None, now()).unwrap_err(),
        Refusal::SignatureMissing
    );
    assert!(matches!(
        check_headers(&sec, Some("v=zz"), None, now()),
        Err(Refusal::SignatureMalformed(_))
    ));
    let stale = sign("whsec", BODY, now() - Duration::from_secs(3600));
    assert!(matches!(
        check_headers(&sec, Some(&stale), None, now()),
        Err(Refusal::SignatureStale(_))
    ));
    let fresh = sign("whsec", BODY, now());
    let header = check_headers(&sec, Some(&fresh), None, now()).unwrap();
    assert_eq!(check_body(&sec, header.as_ref(), BODY), Ok(()));
    assert_eq!(
        check_body(&sec, header.as_ref(), b"{}"),
        Err(Refusal::SignatureMismatch)
    );
}

#[test]
fn without_a_secret_a_signature_sent_anyway_is_ignored() {
    let sec = security(&[], None);
    let header = sign("whatever", BODY, now());
    let parsed = parse_header(&header).unwrap();
    assert_eq!(check_body(&sec, Some(&parsed), BODY), Ok(()));
}
