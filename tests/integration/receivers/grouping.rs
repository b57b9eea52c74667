//! Several rules, one message, per kind: a Teams channel gets one card
//! for the rules of one event; PagerDuty, a signed webhook and
//! Alertmanager's kin keep one event or document per alert (each is its
//! own incident there).

use std::time::Duration;

use super::stand_in::{Reply, StandIn};
use super::{clean, failed};
use crate::helpers::{Backend, eventually, fast_settings, spawn_app_on};

const WAIT: Duration = Duration::from_secs(15);
const RULES: [&str; 3] = ["bills-failing", "any-failure", "production-failure"];

fn rules(pagerduty: &StandIn, hook: &StandIn, teams: &StandIn) -> String {
    format!(
        "defaults:\n  notify: [oncall, hooks, finance-teams]\nchannels:\n  oncall:\n    pagerduty:\n      routing_key: R0UT1NGKEY00000000000000000000AB\n      url: {}\n  hooks:\n    webhook:\n      url: {}\n      secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n    digest: off\n  finance-teams:\n    teams:\n      webhook_url: {}\nrules:\n  - name: bills-failing\n    when: {{ failed: {{ above: 0, data_types: [bills] }} }}\n  - name: any-failure\n    when: {{ failed: {{ above: 0 }} }}\n  - name: production-failure\n    when: {{ environment: production, failed: {{ above: 0 }} }}\n",
        pagerduty.url("/v2/enqueue"),
        hook.url("/hooks/syncwatch"),
        teams.url("/workflows/abc")
    )
}

on_both_stores!(machine_read_receivers_get_one_message_per_alert_and_teams_one_card);
async fn machine_read_receivers_get_one_message_per_alert_and_teams_one_card(backend: Backend) {
    let accepted = r#"{"status":"success","message":"Event processed"}"#;
    let pagerduty = StandIn::start(Reply::new(202, accepted)).await;
    let hook = StandIn::start(Reply::new(200, "")).await;
    let teams = StandIn::start(Reply::new(202, "")).await;
    let app = spawn_app_on(&backend, &rules(&pagerduty, &hook, &teams), fast_settings()).await;
    for (step, body) in [(1, failed("f-1")), (2, clean("c-1"))] {
        app.post_ok(body).await;
        let told = || pagerduty.accepted().len() == 3 * step && hook.accepted().len() == 3 * step;
        let counts = || {
            (
                pagerduty.received().len(),
                hook.received().len(),
                teams.received().len(),
            )
        };
        assert!(
            eventually(WAIT, || told() && teams.accepted().len() == step).await,
            "step {step}: {:?} {:?}",
            counts(),
            teams.received().iter().map(|r| r.status).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(pagerduty.accepted().len(), 3 * step, "one PagerDuty event per alert");
        assert_eq!(hook.accepted().len(), 3 * step, "one webhook document per alert");
        assert_eq!(teams.accepted().len(), step, "one Teams card for the event");
        let keys: Vec<String> = (pagerduty.accepted()[3 * (step - 1)..].iter())
            .map(|r| r.body["dedup_key"].as_str().unwrap_or_default().to_owned())
            .collect();
        for rule in RULES {
            assert!(keys.contains(&format!("{rule}/CON-1")), "{keys:?}");
        }
        let card = teams.accepted()[step - 1].body.to_string();
        for rule in RULES {
            assert!(card.contains(rule), "{rule} in {card}");
        }
    }
    let resolved = &teams.accepted()[1].body["attachments"][0]["content"]["body"][0]["text"];
    assert_eq!(resolved, "3 alerts for Acme (xero)");
    let actions: Vec<String> = (pagerduty.accepted()[3..].iter())
        .map(|r| r.body["event_action"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(actions, ["resolve"; 3]);
}
