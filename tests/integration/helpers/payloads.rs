//! Webhook bodies the store suites share.

/// A rule on the bills data type failing.
pub const BILLS: &str = "  - name: bills-failing\n    when: { failed: { above: 0, data_types: [bills] } }\n";

/// A sync of `connection` whose bills request ended `status`.
pub fn sync(connection: &str, request_id: &str, status: &str) -> String {
    format!(
        r#"{{"data":{{"event":"data","connectionId":"{connection}","businessName":"Acme","serviceName":"xero","sandbox":false,"requests":[{{"request":"bills","status":"{status}"}}]}},"requestId":"{request_id}"}}"#
    )
}
