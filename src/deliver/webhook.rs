//! Any HTTP service: POST the JSON document, signed per the Standard
//! Webhooks specification. `webhook-id` is the delivery's id, the same on
//! every retry, so the receiver can drop a duplicate; the signature covers
//! `id.timestamp.body` and is made afresh at each attempt (the timestamp
//! is the attempt's, which receivers hold against a short tolerance).

use std::time::SystemTime;

use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::header::CONTENT_TYPE;
use sha2::Sha256;

use crate::config::{SecretKey, WebhookChannel};

use super::http::{classify, client, describe_error};
use super::sender::Outcome;

pub struct WebhookSender {
    client: reqwest::Client,
    url: String,
    secret: Option<SecretKey>,
    headers: Vec<(String, String)>,
}

impl WebhookSender {
    pub fn new(channel: &WebhookChannel) -> Result<WebhookSender, String> {
        Ok(WebhookSender {
            client: client()?,
            url: channel.url.clone(),
            secret: channel.secret.clone(),
            headers: channel.headers.clone(),
        })
    }

    pub async fn send(&self, document: &serde_json::Value, delivery: u64) -> Outcome {
        let body = serde_json::to_string(document).unwrap_or_default();
        let id = message_id(delivery);
        let timestamp = unix_seconds(SystemTime::now()).to_string();
        let mut request = (self.client.post(&self.url))
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", &timestamp);
        if let Some(secret) = &self.secret {
            request = request.header("webhook-signature", signature(secret, &id, &timestamp, &body));
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        match request.body(body).send().await {
            Ok(response) => classify(response).await,
            Err(err) => Outcome::Transient {
                reason: describe_error(err),
                retry_after: None,
            },
        }
    }
}

/// `msg_42`: the queued delivery's id, which every retry keeps.
pub fn message_id(delivery: u64) -> String {
    format!("msg_{delivery}")
}

/// `v1,<base64 of HMAC-SHA256(key, "id.timestamp.body")>`.
pub fn signature(secret: &SecretKey, id: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret.0).expect("HMAC takes a key of any length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let signed = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("v1,{signed}")
}

fn unix_seconds(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference libraries.
    #[test]
    fn the_signature_is_the_standard_webhooks_one() {
        let key = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        let body = r#"{"test": 2432232314}"#;
        let signed = signature(&SecretKey(key), "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body);
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
