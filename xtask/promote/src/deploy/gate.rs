//! Pure: a finished deploy and an integration run as the typed facts `gates::decide` reads.
//! This is the one place deploy data is converted for the gates; the gates decide, and the
//! report is built afterwards from the evidence.

use std::time::Duration;

use super::integration::IntegrationRun;
use super::model::{Deployment, Outcome, short_id};
use crate::engine::result::StepStatus;
use crate::gates::{DeployResult, DeploymentFact, IntegrationFact};

/// What a person can do when the rollback failed, as commands to paste. `image` is the image
/// reference the compose file gives the service.
pub fn recovery_hint(compose: &str, service: &str, previous: Option<&str>, image: &str) -> String {
    match previous {
        Some(previous) => format!(
            "restore the previous image by hand: `docker tag {previous} {image}` then `{compose} up -d --no-deps {service}`; check it with `{compose} ps {service}` and `{compose} logs {service}`"
        ),
        None => format!(
            "the service did not run before this deploy: remove what is left with `{compose} rm -s -f {service}`"
        ),
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
            previous_image: image(&deployment.previous_image_id),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::Stage;

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
        deployment.previous_image_id = None;
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
    fn recovery_hints_are_commands() {
        let hint = recovery_hint(
            "docker-compose -f /r/c.yml -p tta",
            "web",
            Some("sha256:ab"),
            "tta/web:staging",
        );
        assert_eq!(
            hint,
            "restore the previous image by hand: `docker tag sha256:ab tta/web:staging` then `docker-compose -f /r/c.yml -p tta up -d --no-deps web`; check it with `docker-compose -f /r/c.yml -p tta ps web` and `docker-compose -f /r/c.yml -p tta logs web`"
        );
        assert!(recovery_hint("dc", "web", None, "x").contains("`dc rm -s -f web`"));
    }
}
