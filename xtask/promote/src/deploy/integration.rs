//! `promote --integration`: bring up the compose services a component's integration tests need,
//! run its tests marked `integration` against them as the engine's `pytest-integration` step
//! (`pytest -m integration`), and always tear the services down, after a failure and after
//! Ctrl-C too. Never cached: the result depends on live services.
//!
//! Tests find a service at `XTASK_SERVICE_<NAME>_HOST` (its container's address on the
//! project's network). Tests that skip themselves when that variable is unset stay out of the
//! ordinary pytest step; in this run a run where every test skipped is an error, never a pass.

use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::argv::Project;
use super::docker::Docker;
use super::lock::Lock;
use super::services::{self, Bringup, Teardown, TeardownGuard};
use crate::config::{Component, Config};
use crate::engine::{self, RunContext};
use crate::plan::ComponentPlan;
use crate::process;
use crate::toolchain::Toolchain;
use crate::tools::pytest::TestCounts;
use crate::tools::result::{ErrorKind, StepError, StepOutcome, StepResult, StepStatus};
use crate::tools::{Finding, StepKind};
use crate::vocab::Stage;

/// The integration part of a promotion report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationRun {
    /// The environment whose compose file defines the services; `None` without services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Stage>,
    /// The compose project the services ran in, of their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_name: Option<String>,
    pub services: Vec<String>,
    /// Whether every service came up healthy (true when there are none).
    pub services_healthy: bool,
    /// The command, as a user would run it from the project root.
    pub command: Vec<String>,
    pub status: StepStatus,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests: Option<TestCounts>,
    pub findings: Vec<Finding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<StepError>,
    /// The logs of a service that did not come up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown: Option<Teardown>,
}

impl IntegrationRun {
    /// The conversion point from the engine's step result to the integration part of the
    /// report: the command, verdict, counts, findings and error of the `pytest-integration`
    /// step.
    fn absorb(&mut self, result: StepResult) {
        self.status = result.status();
        self.tests = result.tests();
        self.command = result.command;
        self.duration_ms = result.duration_ms;
        (self.findings, self.error) = match result.outcome {
            StepOutcome::Verdict { findings, .. } | StepOutcome::TestRun { findings, .. } => {
                (findings, None)
            }
            StepOutcome::Error(error) => (Vec::new(), Some(error)),
        };
    }
}

/// The compose project of a component's integration services: the environment's project name
/// with `-it-<component>`, so they never replace the environment's own containers.
pub fn project_name(environment_project: &str, component: &str) -> String {
    format!("{environment_project}-it-{component}")
}

/// An integration run checked and ready: the services' project validated and locked. Built
/// before the validation steps run, so a bad compose file is refused before any work is done.
pub struct Prepared {
    pub component: String,
    services: Option<ServicesPlan>,
}

struct ServicesPlan {
    docker: Rc<Docker>,
    project: Project,
    stage: Stage,
    services: Vec<String>,
    health_timeout: Duration,
    _lock: Lock,
}

/// Checks what an integration run of `component` for a promotion to `stage` needs: its
/// environment, a compose that accepts the file, the services defined and each with a
/// healthcheck; and takes the lock of its project. `docker` is connected on first need and
/// shared, so the compose CLI is detected once per run.
pub fn prepare(
    config: &Config,
    component: &Component,
    stage: Stage,
    docker: &mut Option<Rc<Docker>>,
) -> Result<Prepared> {
    let services = config.service_settings(&component.name).services;
    if services.is_empty() {
        return Ok(Prepared {
            component: component.name.clone(),
            services: None,
        });
    }
    let environment = config.require_environment(stage)?;
    let compose_file = super::preflight::compose_file(config, environment)?;
    let docker = match docker {
        Some(docker) => docker.clone(),
        None => {
            let connected = Rc::new(Docker::connect(
                &config.project.root,
                config.timeouts.compose,
            )?);
            *docker = Some(connected.clone());
            connected
        }
    };
    let project = Project {
        files: vec![compose_file],
        name: project_name(&environment.project_name, &component.name),
    };
    let lock = super::lock::try_acquire(
        &config.locks_dir(),
        &format!("integration-{}", project.name),
        &super::lock::holder_text(&component.name, chrono::Utc::now()),
        &format!("an integration run of {}", project.name),
    )?;
    let (model, _) = super::preflight::validate(&docker, &project)?;
    super::preflight::require_services(&model, &project, &services)?;
    for service in &services {
        super::preflight::health_source(
            &docker,
            &model,
            &project,
            service,
            &component.name,
            false,
        )?;
    }
    Ok(Prepared {
        component: component.name.clone(),
        services: Some(ServicesPlan {
            docker,
            project,
            stage,
            services,
            health_timeout: environment.health_timeout,
            _lock: lock,
        }),
    })
}

/// Services up, tests, services down (always, also after a failure or Ctrl-C).
pub fn run(config: &Config, toolchain: &Toolchain, prepared: Prepared) -> IntegrationRun {
    let mut outcome = IntegrationRun {
        environment: None,
        project_name: None,
        services: Vec::new(),
        services_healthy: true,
        command: Vec::new(),
        status: StepStatus::Error,
        duration_ms: 0,
        tests: None,
        findings: Vec::new(),
        error: None,
        logs: Vec::new(),
        teardown: None,
    };
    let Some(component) = config.component(&prepared.component) else {
        outcome.error = Some(StepError {
            kind: ErrorKind::Crashed,
            message: format!("unknown component {}", prepared.component),
        });
        return outcome;
    };
    let Some(plan) = prepared.services else {
        run_tests(config, toolchain, component, &[], &mut outcome);
        return outcome;
    };
    outcome.environment = Some(plan.stage);
    outcome.project_name = Some(plan.project.name.clone());
    outcome.services = plan.services.clone();
    if process::interrupted() {
        // Ctrl-C during the validation steps: start nothing.
        outcome.services_healthy = false;
        outcome.error = Some(interrupted());
        return outcome;
    }
    let docker = &*plan.docker;
    let mut guard = TeardownGuard {
        docker,
        project: &plan.project,
        armed: true,
    };
    let deadline = Instant::now() + plan.health_timeout;
    match services::bring_up(docker, &plan.project, &plan.services, deadline) {
        Ok(Bringup::Healthy(addresses)) => {
            let mut variables: Vec<(String, String)> = addresses
                .into_iter()
                .filter_map(|(service, ips)| {
                    ips.into_iter()
                        .next()
                        .map(|ip| (services::host_variable(&service), ip))
                })
                .collect();
            variables.push((
                "XTASK_COMPOSE_PROJECT".to_owned(),
                plan.project.name.clone(),
            ));
            run_tests(config, toolchain, component, &variables, &mut outcome);
        }
        Ok(Bringup::Failed { reason, logs }) => {
            outcome.services_healthy = false;
            outcome.status = StepStatus::Failed;
            outcome.logs = logs;
            outcome.findings.push(Finding {
                file: String::new(),
                line: None,
                column: None,
                code: "services-unhealthy".to_owned(),
                message: reason,
                severity: crate::tools::Severity::Error,
                fixable: false,
            });
        }
        Ok(Bringup::Interrupted) => {
            outcome.services_healthy = false;
            outcome.error = Some(interrupted());
        }
        Err(error) => {
            outcome.services_healthy = false;
            outcome.error = Some(StepError {
                kind: ErrorKind::Crashed,
                message: format!("{error:#}"),
            });
        }
    }
    guard.armed = false;
    outcome.teardown = Some(services::tear_down(docker, &plan.project));
    outcome
}

/// `prepare` for every plan, sharing one connection to the engine.
pub fn prepare_plans(config: &Config, plans: &[ComponentPlan]) -> Result<Vec<Prepared>> {
    let mut docker = None;
    plans
        .iter()
        .map(|plan| {
            let component = config.require_component(&plan.component)?;
            prepare(config, component, plan.to, &mut docker)
        })
        .collect()
}

fn interrupted() -> StepError {
    StepError {
        kind: ErrorKind::Interrupted,
        message: "interrupted".to_owned(),
    }
}

/// The tests themselves are an engine step (`pytest-integration`): the same run folder,
/// hermetic environment, error mapping with its hints, events and never-cached rule as every
/// other step; the services' addresses reach it through the context. Its result becomes this
/// run's part of the report here.
fn run_tests(
    config: &Config,
    toolchain: &Toolchain,
    component: &Component,
    variables: &[(String, String)],
    outcome: &mut IntegrationRun,
) {
    let listener = crate::progress::listener();
    let ctx = RunContext::new(config, toolchain, None, listener.as_ref(), 1, true)
        .with_step_env(variables.to_vec());
    let id = (component.name.clone(), StepKind::PytestIntegration);
    let result = engine::run_steps(&ctx, std::slice::from_ref(&id)).remove(&id);
    match result {
        Some(result) => outcome.absorb(result),
        None => {
            outcome.error = Some(StepError {
                kind: ErrorKind::Crashed,
                message: format!("the integration step of {} gave no result", component.name),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::exit;

    #[test]
    fn the_services_project_is_the_environments_with_the_component() {
        assert_eq!(
            project_name("tta-staging", "carbon"),
            "tta-staging-it-carbon"
        );
    }

    #[test]
    fn exit_codes_rank_interrupts_then_the_machine_then_failures() {
        let mut run = IntegrationRun {
            environment: None,
            project_name: None,
            services: vec![],
            services_healthy: true,
            command: vec![],
            status: StepStatus::Passed,
            duration_ms: 0,
            tests: None,
            findings: vec![],
            error: None,
            logs: vec![],
            teardown: None,
        };
        assert_eq!(run.exit_code(), exit::OK);
        run.teardown = Some(Teardown {
            removed: false,
            message: "left".into(),
        });
        assert_eq!(run.exit_code(), exit::INFRASTRUCTURE);
        run.teardown = None;
        run.status = StepStatus::Failed;
        assert_eq!(run.exit_code(), exit::GATE_FAILED);
        run.error = Some(interrupted());
        assert_eq!(run.exit_code(), exit::INTERRUPTED);
    }
}
