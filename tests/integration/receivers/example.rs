//! The receivers `rules.example.yaml` shows commented out are valid once
//! uncommented, as an operator would.

use std::path::Path;

use syncwatch::config::{ChannelKind, load_str};

use crate::helpers::repo_file;

/// The example with the `public_url` line and the receiver channels
/// uncommented (`  # ` kept as two spaces of indentation).
fn uncommented() -> String {
    let example = std::fs::read_to_string(repo_file("rules.example.yaml")).unwrap();
    let mut out = Vec::new();
    let mut receivers = false;
    for line in example.lines() {
        if receivers && !line.starts_with("  #") {
            receivers = false;
        }
        if receivers || line.starts_with("  # public_url:") {
            out.push(line.replacen("  # ", "  ", 1));
        } else {
            out.push(line.to_owned());
        }
        receivers |= line.contains("# More receivers");
    }
    out.join("\n")
}

#[test]
fn the_example_receivers_are_valid_uncommented() {
    let text = uncommented();
    let env = |name: &str| match name {
        "HOOK_SECRET" => Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()),
        "TEAMS_WORKFLOW_URL" => Some("https://prod.westeurope.logic.azure.com/workflows/1".to_owned()),
        "SLACK_WEBHOOK_URL" => Some("https://hooks.slack.com/services/T/B/X".to_owned()),
        _ => Some("x".to_owned()),
    };
    let config = load_str(&text, Path::new("rules.yaml"), &env).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let kinds: Vec<&str> = config.channels.values().map(|c| c.kind.name()).collect();
    for kind in ["pagerduty", "teams", "webhook", "alertmanager"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}\n{text}");
    }
    assert_eq!(
        config.server.public_url.as_deref(),
        Some("https://syncwatch.example.com")
    );
    assert!(matches!(config.channels["am"].kind, ChannelKind::Alertmanager(_)));
}
