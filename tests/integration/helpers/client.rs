//! The HTTP client tests post webhooks with.

/// A reqwest client; rustls needs its process-wide crypto provider first.
pub fn client() -> reqwest::Client {
    syncwatch::deliver::install_crypto_provider();
    reqwest::Client::new()
}
