//! Pure: a finished deploy and an integration run as the typed facts `gates::decide` reads.
//! This is the one place deploy data is converted for the gates; the gates decide, and the
//! report is built afterwards from the evidence.

use std::time::Duration;

use super::history::{self, History};
use super::integration::IntegrationRun;
use super::model::{Deployment, Outcome, ProvenState, short_id};
use crate::errors::exit;
use crate::gates::{DeployResult, DeploymentFact, DrillFact, DrillRun, IntegrationFact};
use crate::tools::result::{ErrorKind, StepStatus};
use crate::vocab::Stage;

/// What a person can do when the rollback failed, as commands to paste. `compose` runs compose
/// on the environment's file (`docker-compose -f FILE -p PROJECT`); `restore` is the same CLI
/// on the restore file the rollback wrote, which pins the proven image by ID with its recorded
/// configuration, so the commands need no registry and move no tag.
pub fn recovery_hint(
    compose: &str,
    restore: &str,
    service: &str,
    target: Option<&ProvenState>,
) -> String {
    match target {
        Some(state) => format!(
            "restore the last proven state ({} × {}) by hand: `{restore} up -d --no-deps --no-build --force-recreate --scale {service}={} {service}` (the image must still be on this engine: `docker image inspect {}`); check it with `{compose} ps {service}` and `{compose} logs {service}`",
            state.replicas,
            short_id(&state.image_id),
            state.replicas,
            state.image_id
        ),
        None => format!(
            "the service did not run before this deploy: remove what is left with `{compose} rm -s -f {service}`"
        ),
    }
}

/// The newest rollback drill in `environment` as the rollback gate's fact; `history` is the
/// deployment history as read (`None`: never deployed), or why it could not be.
pub fn drill_fact(
    history: Result<Option<&History>, String>,
    environment: Stage,
    window_days: u32,
) -> DrillFact {
    let last = history.map(|found| {
        let (_, drill) = history::latest_drill(found?, environment)?;
        Some(DrillRun {
            finished_at: drill.finished_at.naive_utc(),
            passed: drill.passed(),
            back_image: short_id(&drill.to.image_id),
            forward_image: short_id(&drill.from.image_id),
            failure: drill.failure.clone(),
        })
    });
    DrillFact {
        environment,
        window_days,
        last,
    }
}

/// The deploy as a gate fact; `recovery` is what to paste when the rollback failed.
pub fn deployment_fact(
    deployment: &Deployment,
    health_timeout: Duration,
    recovery: &str,
) -> DeploymentFact {
    let image = |id: &Option<String>| id.as_deref().map_or("no image".to_owned(), short_id);
    let failure = || deployment.failure.clone().unwrap_or_default();
    let proof = || {
        deployment
            .rollback
            .as_ref()
            .map(|r| r.message.clone())
            .unwrap_or_default()
    };
    let result = match deployment.outcome {
        Outcome::Deployed => DeployResult::Deployed {
            image: image(&deployment.running_image_id),
            seconds_to_healthy: deployment.time_to_healthy_ms.unwrap_or(0) as f64 / 1000.0,
        },
        Outcome::RolledBack => DeployResult::RolledBack {
            previous_image: image(&deployment.restore_to.as_ref().map(|s| s.image_id.clone())),
            failure: failure(),
            proof: proof(),
        },
        Outcome::RollbackFailed => DeployResult::RollbackFailed {
            failure: failure(),
            proof: proof(),
        },
    };
    DeploymentFact {
        service: deployment.service.clone(),
        health_timeout_secs: health_timeout.as_secs(),
        result,
        recovery: recovery.to_owned(),
    }
}

/// An integration run as a gate fact.
pub fn integration_fact(run: &IntegrationRun) -> IntegrationFact {
    IntegrationFact {
        services: run.services.clone(),
        services_healthy: run.services_healthy,
        tests_passed: run.status == StepStatus::Passed,
        tests: run.tests,
        error: run.error.clone(),
        command: run.command.clone(),
        first_finding: run.findings.first().map(|f| f.message.clone()),
        teardown: run
            .teardown
            .as_ref()
            .map(|t| (t.removed, t.message.clone())),
    }
}

/// The exit code is read from the fact, so that only the gates' reading of a run decides
/// whether it passed.
impl IntegrationRun {
    /// The exit code this run calls for on its own: 130 interrupted, 3 for the machine, 1 for a
    /// failure of the component, 0 passed. `max` with the other codes gives the run's.
    pub fn exit_code(&self) -> u8 {
        match &self.error {
            Some(error) if error.kind == ErrorKind::Interrupted => exit::INTERRUPTED,
            Some(error) if error.kind.is_infrastructure() => exit::INFRASTRUCTURE,
            _ if self.teardown.as_ref().is_some_and(|t| !t.removed) => exit::INFRASTRUCTURE,
            _ if integration_fact(self).passed() => exit::OK,
            _ => exit::GATE_FAILED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Stage;

    #[test]
    fn a_deploy_becomes_its_fact_with_short_image_ids() {
        let mut deployment =
            crate::deploy::model::tests::sample(Stage::Staging, Outcome::Deployed, 3);
        deployment.time_to_healthy_ms = Some(3250);
        let fact = deployment_fact(&deployment, Duration::from_secs(120), "recover");
        let image = short_id(deployment.running_image_id.as_deref().unwrap());
        assert_eq!(
            fact.result,
            DeployResult::Deployed {
                image,
                seconds_to_healthy: 3.25
            }
        );
        assert_eq!(fact.health_timeout_secs, 120);
        deployment.outcome = Outcome::RolledBack;
        deployment.restore_to = None;
        deployment.failure = Some("container web exited with code 3".into());
        let fact = deployment_fact(&deployment, Duration::from_secs(120), "recover");
        assert_eq!(
            fact.result,
            DeployResult::RolledBack {
                previous_image: "no image".into(),
                failure: "container web exited with code 3".into(),
                proof: String::new(),
            }
        );
        assert_eq!(fact.recovery, "recover");
    }

    #[test]
    fn recovery_hints_are_commands_that_need_no_registry() {
        let state = ProvenState {
            image_id: format!("sha256:{}", "ab".repeat(32)),
            replicas: 2,
            config_digest: None,
            proven_at: None,
        };
        let hint = recovery_hint(
            "docker-compose -f /r/c.yml -p tta",
            "docker-compose -f /r/.xtask/deploy/restore/tta.web.json -p tta",
            "web",
            Some(&state),
        );
        assert!(
            hint.contains("`docker-compose -f /r/.xtask/deploy/restore/tta.web.json -p tta up -d --no-deps --no-build --force-recreate --scale web=2 web`"),
            "{hint}"
        );
        assert!(!hint.contains("docker tag"), "{hint}");
        assert!(hint.contains("2 × sha256:abababababab"), "{hint}");
        assert!(recovery_hint("dc", "dr", "web", None).contains("`dc rm -s -f web`"));
    }
}
