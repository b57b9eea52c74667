//! The page's static assets, embedded in the binary: no CDN, no build step.

/// One embedded file and its content type.
pub struct Asset {
    pub body: &'static str,
    pub content_type: &'static str,
}

/// The asset served at `/ui/<name>` (`""` is the page itself).
pub fn asset(name: &str) -> Option<Asset> {
    let (body, content_type) = match name {
        "" => (include_str!("assets/index.html"), "text/html; charset=utf-8"),
        "app.js" => (include_str!("assets/app.js"), "text/javascript; charset=utf-8"),
        "app.css" => (include_str!("assets/app.css"), "text/css; charset=utf-8"),
        _ => return None,
    };
    Some(Asset { body, content_type })
}
