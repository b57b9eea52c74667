//! `server.public_url`: Slack and email link each alert to its connection
//! on the status page, the connection encoded so it cannot end the link.

use std::time::Duration;

use super::BILLS;
use crate::helpers::{SlackStandIn, SmtpServer, eventually, spawn_app, sync};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn slack_and_email_link_to_the_connection_on_the_status_page() {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    let rules = format!(
        "server:\n  public_url: https://syncwatch.example.com/\ndefaults:\n  notify: [ops, mail]\nchannels:\n  ops:\n    slack: {{ webhook_url: \"{}\" }}\n  mail:\n    email: {{ host: 127.0.0.1, port: {}, tls: none, from: a@example.com, to: b@example.com }}\n{BILLS}",
        slack.url(),
        smtp.addr.port()
    );
    let app = spawn_app(&rules).await;
    app.post_ok(sync("CON-1", "f-1", "failed")).await;
    app.post_ok(sync("CON 2|x>y&z", "f-2", "failed")).await;
    assert!(eventually(WAIT, || slack.delivered().len() == 2 && smtp.accepted().len() == 2).await);
    let messages: Vec<String> = slack.delivered().iter().map(|m| m.to_string()).collect();
    let plain = messages.iter().find(|m| m.contains("f-1")).unwrap();
    assert!(
        plain.contains("<https://syncwatch.example.com/ui?q=CON-1|status page>"),
        "{plain}"
    );
    let hostile = messages.iter().find(|m| m.contains("f-2")).unwrap();
    assert!(
        hostile.contains("<https://syncwatch.example.com/ui?q=CON+2%7Cx%3Ey%26z|status page>"),
        "{hostile}"
    );
    let mails: Vec<String> = smtp.accepted().iter().map(|m| m.text()).collect();
    let mail = mails.iter().find(|m| m.contains("f-1")).unwrap();
    assert!(
        mail.contains("Status page: https://syncwatch.example.com/ui?q=CON-1"),
        "{mail}"
    );
    assert!(
        mail.contains("<a href=3D\"https://syncwatch.example.com/ui?q=3DCON-1\">")
            || mail.contains("<a href=\"https://syncwatch.example.com/ui?q=CON-1\">"),
        "{mail}"
    );
}
