//! `dry_run`: the new kinds log what they would send and send nothing,
//! Alertmanager's re-posts included.

use std::time::Duration;

use super::stand_in::{Reply, StandIn};
use super::{BILLS, failed};
use crate::helpers::spawn_app;

#[tokio::test]
async fn a_dry_run_sends_nothing_to_any_receiver() {
    let (hook, am) = (
        StandIn::start(Reply::new(200, "")).await,
        StandIn::start(Reply::new(200, "")).await,
    );
    let rules = format!(
        "delivery:\n  dry_run: true\ndefaults:\n  notify: [hooks, am]\nchannels:\n  hooks:\n    webhook: {{ url: '{}' }}\n  am:\n    alertmanager: {{ url: '{}', resend: 1s }}\n{BILLS}",
        hook.url("/hook"),
        am.url("")
    );
    let app = spawn_app(&rules).await;
    app.post_ok(failed("f-1")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let metrics = app.metrics().await;
    for channel in ["hooks", "am"] {
        // Logged, not sent: counted as dry_run, never as delivered.
        let logged = format!(r#"syncwatch_notifications_total{{channel="{channel}",outcome="dry_run"}} 1"#);
        assert!(metrics.contains(&logged), "{logged} in\n{metrics}");
    }
    assert!(
        hook.received().is_empty() && am.received().is_empty(),
        "nothing leaves a dry run"
    );
}
