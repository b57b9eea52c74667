//! `syncwatch test --cases`: rule tests over time, as `promtool test
//! rules` does for Prometheus. Each case runs on its own scratch store
//! with a simulated clock; at each step with `expect`, the notifications
//! delivered since the last such step must be exactly the expected ones.

mod compare;
mod file;
mod simulate;

pub use simulate::Simulation;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use crate::config::Config;

use super::{EXIT_FAILED, EXIT_OK, counted};
use compare::{Difference, compare};
use file::{Case, Cases, read_cases};

/// Exit 0 when every case holds; 1 with what differed (or why the cases
/// could not run) otherwise.
pub fn test_cases(config: &Config, path: &Path, out: &mut dyn Write) -> std::io::Result<u8> {
    let Cases { start, cases } = match read_cases(path, config) {
        Ok(cases) => cases,
        Err(errors) => {
            for error in errors {
                writeln!(out, "{error}")?;
            }
            return Ok(EXIT_FAILED);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let config = Arc::new(config.clone());
    let mut failed = 0;
    for (index, case) in cases.iter().enumerate() {
        let outcome = runtime.block_on(run_case(config.clone(), start, index, case));
        if !report(case, &outcome, out)? {
            failed += 1;
        }
    }
    let passed = cases.len() - failed;
    writeln!(
        out,
        "\n{}: {passed} passed, {failed} failed",
        counted(cases.len(), "case")
    )?;
    Ok(if failed == 0 { EXIT_OK } else { EXIT_FAILED })
}

/// How a case ended: the steps whose notifications differed, or the
/// error that stopped it.
struct Outcome {
    differences: Vec<(usize, Difference)>,
    error: Option<String>,
}

async fn run_case(config: Arc<Config>, start: SystemTime, index: usize, case: &Case) -> Outcome {
    let mut outcome = Outcome {
        differences: Vec::new(),
        error: None,
    };
    if let Err(error) = play(config, start, index, case, &mut outcome).await {
        outcome.error = Some(error);
    }
    outcome
}

async fn play(
    config: Arc<Config>,
    start: SystemTime,
    index: usize,
    case: &Case,
    outcome: &mut Outcome,
) -> Result<(), String> {
    let mut simulation = Simulation::new(config, start)?;
    for (number, step) in case.steps.iter().enumerate() {
        simulation.advance_to(start + step.at).await?;
        for (post, body) in step.posts.iter().enumerate() {
            // Railz gives every webhook its own requestId; a case reuses
            // one payload file, which would otherwise be a redelivery.
            let request_id = format!("case-{}-step-{}-{}", index + 1, number + 1, post + 1);
            let body = as_sent(body, &request_id, start + step.at);
            simulation.post(body).await.map(drop).map_err(|err| {
                format!(
                    "step {} (at {}): the payload was refused: {err}",
                    number + 1,
                    step.at_text
                )
            })?;
        }
        if let Some(expected) = &step.expect {
            let told = simulation.take_told()?;
            if let Some(difference) = compare(expected, &told) {
                outcome.differences.push((number, difference));
            }
        }
    }
    Ok(())
}

/// The body as Railz would send it at `at`: its own `requestId`, and a
/// `connectionStatus`'s `effectiveOn` at the step's time (a case reuses
/// payload files, whose timestamps would otherwise make a later status
/// look older than an earlier sync). A body that is not a JSON object
/// goes as it is, to be refused as the daemon would.
pub fn as_sent(body: &[u8], request_id: &str, at: SystemTime) -> Vec<u8> {
    let Ok(serde_json::Value::Object(mut object)) = serde_json::from_slice::<serde_json::Value>(body) else {
        return body.to_vec();
    };
    object.insert("requestId".into(), request_id.into());
    if let Some(data) = object.get_mut("data").and_then(|d| d.as_object_mut())
        && data.contains_key("effectiveOn")
    {
        let when = humantime::format_rfc3339_millis(at).to_string();
        data.insert("effectiveOn".into(), when.into());
    }
    serde_json::to_vec(&object).unwrap_or_else(|_| body.to_vec())
}

/// Prints the case's result; true when it passed.
fn report(case: &Case, outcome: &Outcome, out: &mut dyn Write) -> std::io::Result<bool> {
    if let Some(error) = &outcome.error {
        writeln!(out, "FAIL  {}\n  {error}", case.name)?;
        return Ok(false);
    }
    if outcome.differences.is_empty() {
        writeln!(out, "ok    {} ({})", case.name, counted(case.steps.len(), "step"))?;
        return Ok(true);
    }
    writeln!(out, "FAIL  {}", case.name)?;
    for (number, difference) in &outcome.differences {
        let step = &case.steps[*number];
        writeln!(out, "  step {} (at {}):", number + 1, step.at_text)?;
        write!(out, "{difference}")?;
    }
    Ok(false)
}
