//! The link from a message to its connection on the status page, when
//! `server.public_url` says where people open it.

/// `<public_url>/ui?q=<connection>`, the connection encoded as a query
/// value: a hostile id must not add a parameter or end the URL.
pub fn status_link(public_url: &str, connection: Option<&str>) -> String {
    let base = format!("{}/ui", public_url.trim_end_matches('/'));
    let Some(connection) = connection else {
        return base;
    };
    match reqwest::Url::parse(&base) {
        Ok(mut url) => {
            url.query_pairs_mut().append_pair("q", connection);
            url.to_string()
        }
        Err(_) => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_is_one_query_value() {
        let link = status_link("https://sw.example.com/", Some("CON 1&x=<y>#z"));
        assert_eq!(link, "https://sw.example.com/ui?q=CON+1%26x%3D%3Cy%3E%23z");
        assert_eq!(status_link("https://sw.example.com", None), "https://sw.example.com/ui");
    }
}
