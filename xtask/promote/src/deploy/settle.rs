//! Healthy once is not deployed: after the first healthy verdict, the service must stay healthy
//! for a settle window (`settle_seconds`, as Kubernetes' `minReadySeconds` and ECS's steady
//! state). It is sampled about once a second; each sample needs every expected replica
//! running, no unhealthy verdict, no restart (the same containers, `RestartCount` and
//! `StartedAt` unchanged), and the `health_probe` passing in every container. The first sample
//! that fails ends the window; the samples go into the report either way.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::docker::Mode;
use super::health::{ContainerHealth, classify};
use super::inspect::ContainerState;
use super::model::{Sample, Settle};
use super::service::Service;
use crate::process;

/// How long between two samples.
const INTERVAL: Duration = Duration::from_secs(1);

/// Pure: one sample of `states` against the containers seen healthy at the window's start.
/// The probe is not part of it (it runs only when this sample holds).
pub fn judge_sample(
    baseline: &[ContainerState],
    states: &[ContainerState],
    expected: u32,
    has_probe: bool,
    at: Duration,
) -> Sample {
    let running = states.iter().filter(|s| s.status == "running").count();
    let restarts: u64 = states
        .iter()
        .map(|state| match baseline.iter().find(|b| b.id == state.id) {
            None => 1,
            Some(before) if before.started_at != state.started_at => state
                .restart_count
                .saturating_sub(before.restart_count)
                .max(1),
            Some(before) => state.restart_count.saturating_sub(before.restart_count),
        })
        .sum::<u64>()
        + baseline
            .iter()
            .filter(|b| !states.iter().any(|s| s.id == b.id))
            .count() as u64;
    let mut healthy = 0u32;
    let mut problem = None;
    for state in states {
        match classify(state, has_probe) {
            ContainerHealth::Healthy | ContainerHealth::NeedsProbe => healthy += 1,
            ContainerHealth::Failed(reason) => {
                problem.get_or_insert(reason);
            }
            ContainerHealth::Starting(reason) => {
                problem.get_or_insert(format!("{reason} (it was healthy before)"));
            }
        }
    }
    if problem.is_none() && restarts > 0 {
        problem = Some(
            match baseline
                .iter()
                .find(|b| !states.iter().any(|s| s.id == b.id))
            {
                Some(gone) => format!("container {} was replaced or removed", gone.name),
                None => format!("the service's containers restarted {restarts} times"),
            },
        );
    }
    if problem.is_none() && running != expected as usize {
        problem = Some(format!(
            "{running} replicas run where {expected} are expected"
        ));
    }
    Sample {
        at_ms: at.as_millis() as u64,
        expected,
        running: running as u32,
        healthy,
        restarts,
        problem,
    }
}

/// Samples the service for `live.settle` from now, starting from `baseline` (the containers
/// of the healthy verdict). Ctrl-C ends a `Mode::Normal` window with `Interrupted`.
pub fn settle(
    live: &Service<'_>,
    baseline: &[ContainerState],
    expected: u32,
    mode: Mode,
) -> Result<Settle> {
    let window = live.settle;
    let started = Instant::now();
    let interval = INTERVAL.min(window / 2).max(Duration::from_millis(100));
    let has_probe = live.probe.is_some();
    let mut samples = vec![judge_sample(
        baseline,
        baseline,
        expected,
        has_probe,
        Duration::ZERO,
    )];
    loop {
        let elapsed = started.elapsed();
        if elapsed >= window {
            return Ok(Settle {
                seconds: window.as_secs(),
                held: true,
                samples,
            });
        }
        std::thread::sleep(interval.min(window - elapsed));
        if mode == Mode::Normal && process::interrupted() {
            return Err(super::interrupted::error());
        }
        let states = live.containers(mode)?;
        let mut sample = judge_sample(baseline, &states, expected, has_probe, started.elapsed());
        if sample.problem.is_none() && has_probe {
            let ids: Vec<String> = states.iter().map(|s| s.id.clone()).collect();
            let remaining = window.saturating_sub(started.elapsed()) + INTERVAL;
            if let Some(reason) = super::health::run_probes(live, &ids, remaining, mode)? {
                sample.healthy = 0;
                sample.problem = Some(format!("waiting for {reason}"));
            }
        }
        let broke = sample.problem.is_some();
        samples.push(sample);
        if broke {
            return Ok(Settle {
                seconds: window.as_secs(),
                held: false,
                samples,
            });
        }
    }
}

/// Why a window that did not hold failed, for the report's failure line.
pub fn failure(settle: &Settle) -> String {
    let broken = settle.samples.iter().find(|s| s.problem.is_some());
    match broken {
        Some(sample) => format!(
            "healthy, then not within the {}s settle window: at +{:.1}s {}",
            settle.seconds,
            sample.at_ms as f64 / 1000.0,
            sample.problem.as_deref().unwrap_or_default()
        ),
        None => format!(
            "healthy, then not within the {}s settle window",
            settle.seconds
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::inspect::{self, Health};

    fn ok() -> ContainerState {
        let bytes = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("test_data/docker_inspect_settled.json"),
        )
        .unwrap();
        inspect::parse_containers(&bytes)
            .unwrap()
            .into_iter()
            .find(|s| s.service.as_deref() == Some("ok"))
            .unwrap()
    }

    fn two() -> Vec<ContainerState> {
        let mut second = ok();
        second.id = "second".into();
        second.name = "web_2".into();
        vec![ok(), second]
    }

    fn at(states: &[ContainerState]) -> Sample {
        judge_sample(&two(), states, 2, false, Duration::from_millis(1500))
    }

    #[test]
    fn an_unchanged_healthy_service_holds() {
        let sample = at(&two());
        assert_eq!(
            sample,
            Sample {
                at_ms: 1500,
                expected: 2,
                running: 2,
                healthy: 2,
                restarts: 0,
                problem: None
            }
        );
    }

    #[test]
    fn unhealthy_exited_restarted_replaced_or_missing_replicas_break_the_window() {
        let mut unhealthy = two();
        unhealthy[1].health = Some(Health {
            status: "unhealthy".into(),
            failing_streak: 2,
            last_output: Some("404".into()),
        });
        let mut exited = two();
        exited[0].status = "exited".into();
        exited[0].exit_code = 5;
        let mut restarted = two();
        restarted[1].started_at = "2026-11-21T09:59:00Z".into();
        let mut replaced = two();
        replaced[1].id = "third".into();
        let one = vec![ok()];
        for (states, needle) in [
            (unhealthy, "healthcheck"),
            (exited, "exited with code 5"),
            (restarted, "restarted 1 times"),
            (replaced, "was replaced or removed"),
            (one, "was replaced or removed"),
        ] {
            let sample = at(&states);
            let problem = sample.problem.clone().unwrap_or_default();
            assert!(problem.contains(needle), "{problem} / {sample:?}");
        }
    }

    #[test]
    fn the_failure_names_the_first_broken_sample() {
        let mut broken = at(&two());
        broken.at_ms = 4200;
        broken.problem = Some("container web_1 exited with code 5".into());
        let settle = Settle {
            seconds: 10,
            held: false,
            samples: vec![at(&two()), broken],
        };
        assert_eq!(
            failure(&settle),
            "healthy, then not within the 10s settle window: at +4.2s container web_1 exited with code 5"
        );
    }
}
