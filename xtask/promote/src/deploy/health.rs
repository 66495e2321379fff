//! Waiting for a service to be healthy with our own deadline (compose's `--wait` has none by
//! default), counted from the moment `up` returned. The verdict on a set of container states
//! is pure; the loop around it polls the engine until the verdict is final or the deadline
//! passes. Healthy means every one of the expected replicas: fewer (or more) is still waiting.
//!
//! A container that exits, dies or restarts fails the wait at once: waiting out the deadline
//! would only delay the rollback. Healthy once is not deployed: `settle` takes over from here.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::docker::Mode;
use super::inspect::ContainerState;
use super::probe::{self, PROBE_TIMEOUT};
use super::service::Service;
use crate::process;

/// How often the engine is asked for the containers' state.
const POLL: Duration = Duration::from_millis(500);

/// One container, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerHealth {
    Healthy,
    /// Not there yet; the text says what it is waiting for.
    Starting(String),
    /// Final: waiting longer cannot help.
    Failed(String),
    /// Running, and only the component's own probe can tell.
    NeedsProbe,
}

/// All containers of a service, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
    Waiting(String),
    Failed(String),
    /// Run the probe in these containers; healthy when it passes in every one.
    Probe(Vec<String>),
}

pub fn classify(state: &ContainerState, has_probe: bool) -> ContainerHealth {
    let name = &state.name;
    match state.status.as_str() {
        "exited" | "dead" => {
            let mut reason = format!("container {name} exited with code {}", state.exit_code);
            if state.oom_killed {
                reason.push_str(" (killed for using too much memory)");
            }
            if !state.error.is_empty() {
                reason.push_str(&format!(": {}", state.error));
            }
            return ContainerHealth::Failed(reason);
        }
        "paused" | "removing" => {
            return ContainerHealth::Failed(format!("container {name} is {}", state.status));
        }
        _ => {}
    }
    if state.restarting || state.restart_count > 0 {
        return ContainerHealth::Failed(format!(
            "container {name} restarted {} times: it keeps exiting (code {})",
            state.restart_count.max(1),
            state.exit_code
        ));
    }
    if state.status == "created" {
        return ContainerHealth::Starting(format!("container {name} is created but not started"));
    }
    if state.status != "running" {
        return ContainerHealth::Starting(format!("container {name} is {}", state.status));
    }
    match &state.health {
        Some(health) if health.status == "unhealthy" => {
            let mut reason = format!(
                "the healthcheck of container {name} failed {} times in a row",
                health.failing_streak.max(1)
            );
            match health.last_output.as_deref() {
                Some(output) if !output.is_empty() => {
                    reason.push_str(&format!(
                        "; it last printed: {}",
                        output.lines().last().unwrap_or(output)
                    ));
                }
                _ => {}
            }
            ContainerHealth::Failed(reason)
        }
        Some(health) if health.status == "healthy" => {
            if has_probe {
                ContainerHealth::NeedsProbe
            } else {
                ContainerHealth::Healthy
            }
        }
        Some(health) => ContainerHealth::Starting(format!(
            "the healthcheck of container {name} has not passed yet ({})",
            health.status
        )),
        None if has_probe => ContainerHealth::NeedsProbe,
        None => ContainerHealth::Failed(format!(
            "container {name} has no healthcheck and the component has no health_probe: nothing can prove it healthy"
        )),
    }
}

/// Judges the containers of a service that should have `expected` replicas.
pub fn judge(states: &[ContainerState], has_probe: bool, expected: u32) -> Verdict {
    if states.is_empty() {
        return Verdict::Failed("the service has no container".to_owned());
    }
    let judged: Vec<(&ContainerState, ContainerHealth)> =
        states.iter().map(|s| (s, classify(s, has_probe))).collect();
    if let Some((_, ContainerHealth::Failed(reason))) = judged
        .iter()
        .find(|(_, h)| matches!(h, ContainerHealth::Failed(_)))
    {
        return Verdict::Failed(reason.clone());
    }
    if let Some((_, ContainerHealth::Starting(reason))) = judged
        .iter()
        .find(|(_, h)| matches!(h, ContainerHealth::Starting(_)))
    {
        return Verdict::Waiting(reason.clone());
    }
    if states.len() != expected as usize {
        return Verdict::Waiting(format!(
            "{} replicas where {expected} are expected",
            states.len()
        ));
    }
    let to_probe: Vec<String> = judged
        .iter()
        .filter(|(_, h)| *h == ContainerHealth::NeedsProbe)
        .map(|(s, _)| s.id.clone())
        .collect();
    if to_probe.is_empty() {
        Verdict::Healthy
    } else {
        Verdict::Probe(to_probe)
    }
}

/// How a wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitEnd {
    Healthy,
    Failed(String),
    TimedOut(String),
}

#[derive(Debug, Clone)]
pub struct Waited {
    pub end: WaitEnd,
    /// The containers as last seen.
    pub states: Vec<ContainerState>,
}

/// Polls the service's containers until all `expected` replicas are healthy, one fails, or
/// `deadline` passes. In `Mode::Normal`, Ctrl-C ends the wait with `Interrupted`; clean-up
/// waits run on.
pub fn wait(live: &Service<'_>, expected: u32, deadline: Instant, mode: Mode) -> Result<Waited> {
    let started = Instant::now();
    let mut waiting_for = "the service to start".to_owned();
    loop {
        if mode == Mode::Normal && process::interrupted() {
            return Err(super::interrupted::error());
        }
        let states = live.containers(mode)?;
        let end = match judge(&states, live.probe.is_some(), expected) {
            Verdict::Healthy => Some(WaitEnd::Healthy),
            Verdict::Failed(reason) => Some(WaitEnd::Failed(reason)),
            Verdict::Waiting(reason) => {
                waiting_for = reason;
                None
            }
            Verdict::Probe(ids) => {
                let remaining = deadline.saturating_duration_since(Instant::now());
                match run_probes(live, &ids, remaining, mode)? {
                    None => Some(WaitEnd::Healthy),
                    Some(reason) => {
                        waiting_for = reason;
                        None
                    }
                }
            }
        };
        if let Some(end) = end {
            return Ok(Waited { end, states });
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Waited {
                end: WaitEnd::TimedOut(format!(
                    "not healthy within {}s: still waiting for {waiting_for}",
                    (deadline - started).as_secs()
                )),
                states,
            });
        }
        std::thread::sleep(POLL.min(deadline - now));
    }
}

/// Runs the probe in each container: `None` when it passed in every one, else why not.
pub fn run_probes(
    live: &Service<'_>,
    containers: &[String],
    remaining: Duration,
    mode: Mode,
) -> Result<Option<String>> {
    let Some(command) = live.probe else {
        return Ok(None);
    };
    for id in containers {
        let timeout = PROBE_TIMEOUT.min(remaining).max(Duration::from_secs(1));
        if let Some(reason) = probe::run(live.docker, id, command, timeout, mode)? {
            return Ok(Some(reason));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::inspect::{self, Health};

    fn captured(file: &str) -> Vec<ContainerState> {
        let bytes = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("test_data")
                .join(file),
        )
        .unwrap();
        inspect::parse_containers(&bytes).unwrap()
    }

    fn service(states: &[ContainerState], name: &str) -> Vec<ContainerState> {
        states
            .iter()
            .filter(|s| s.service.as_deref() == Some(name))
            .cloned()
            .collect()
    }

    #[test]
    fn captured_states_judged_just_after_up() {
        let states = captured("docker_inspect_starting.json");
        assert!(matches!(
            judge(&service(&states, "ok"), false, 1),
            Verdict::Waiting(_)
        ));
        assert!(matches!(
            judge(&service(&states, "unhealthy"), false, 1),
            Verdict::Waiting(_)
        ));
        // An exit is final at once, as is a restart loop.
        let Verdict::Failed(reason) = judge(&service(&states, "exits"), false, 1) else {
            panic!("an exited container must fail the wait");
        };
        assert!(reason.contains("exited with code 3"), "{reason}");
        let Verdict::Failed(reason) = judge(&service(&states, "restarting"), false, 1) else {
            panic!("a restarting container must fail the wait");
        };
        assert!(reason.contains("restarted"), "{reason}");
    }

    #[test]
    fn captured_states_judged_once_settled() {
        let states = captured("docker_inspect_settled.json");
        assert_eq!(judge(&service(&states, "ok"), false, 1), Verdict::Healthy);
        let Verdict::Failed(reason) = judge(&service(&states, "unhealthy"), false, 1) else {
            panic!("an unhealthy container must fail the wait");
        };
        assert!(reason.contains("healthcheck of container"), "{reason}");
        // No healthcheck: refused without a probe, probed with one.
        let nohealth = service(&states, "nohealth");
        assert!(
            matches!(judge(&nohealth, false, 1), Verdict::Failed(r) if r.contains("no healthcheck"))
        );
        assert_eq!(
            judge(&nohealth, true, 1),
            Verdict::Probe(vec![nohealth[0].id.clone()])
        );
        // A probe is run on top of a passing healthcheck, never instead of a failing one.
        assert!(matches!(
            judge(&service(&states, "ok"), true, 1),
            Verdict::Probe(_)
        ));
        assert!(matches!(
            judge(&service(&states, "unhealthy"), true, 1),
            Verdict::Failed(_)
        ));
    }

    #[test]
    fn every_expected_replica_must_be_there() {
        let states = captured("docker_inspect_settled.json");
        let ok = service(&states, "ok");
        assert!(
            matches!(judge(&ok, false, 2), Verdict::Waiting(r) if r.contains("1 replicas where 2"))
        );
        let mut two = ok.clone();
        two.push(ok[0].clone());
        assert_eq!(judge(&two, false, 2), Verdict::Healthy);
        assert!(matches!(judge(&two, false, 1), Verdict::Waiting(_)));
    }

    #[test]
    fn no_container_is_a_failure_and_one_bad_container_fails_all() {
        assert!(matches!(judge(&[], false, 1), Verdict::Failed(_)));
        let states = captured("docker_inspect_settled.json");
        let mut both = service(&states, "ok");
        both.extend(service(&states, "exits"));
        assert!(matches!(judge(&both, false, 2), Verdict::Failed(_)));
    }

    #[test]
    fn the_last_healthcheck_output_explains_a_failure() {
        let mut state = captured("docker_inspect_settled.json")
            .into_iter()
            .find(|s| s.service.as_deref() == Some("ok"))
            .unwrap();
        state.health = Some(Health {
            status: "unhealthy".into(),
            failing_streak: 3,
            last_output: Some("wget: server returned error: HTTP/1.1 404 Not Found".into()),
        });
        let ContainerHealth::Failed(reason) = classify(&state, false) else {
            panic!("unhealthy is final");
        };
        assert!(reason.contains("failed 3 times"), "{reason}");
        assert!(reason.ends_with("HTTP/1.1 404 Not Found"), "{reason}");
    }
}
