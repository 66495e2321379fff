//! `promote --integration`: bring up the compose services a component's integration tests need,
//! run its tests marked `integration` (`pytest -m integration`) against them, and always tear
//! the services down, after a failure and after Ctrl-C too. Never cached: the result depends on
//! live services.
//!
//! Tests find a service at `XTASK_SERVICE_<NAME>_HOST` (its container's address on the
//! project's network). Tests that skip themselves when that variable is unset stay out of the
//! ordinary pytest step; in this run a run where every test skipped is an error, never a pass.

use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::argv::Project;
use super::docker::Docker;
use super::lock::Lock;
use super::services::{self, Bringup, Teardown, TeardownGuard};
use crate::config::{Component, Config};
use crate::engine::result::{ErrorKind, StepError, StepStatus};
use crate::errors::exit;
use crate::plan::ComponentPlan;
use crate::process::{self, Finished, RunError, ToolCommand};
use crate::stage::Stage;
use crate::toolchain::Toolchain;
use crate::tools::pytest::{self, TestCounts};
use crate::tools::{Finding, Tool};

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
    pub fn passed(&self) -> bool {
        self.status == StepStatus::Passed
            && self.services_healthy
            && self.teardown.as_ref().is_none_or(|t| t.removed)
    }

    /// The exit code this run calls for on its own: 130 interrupted, 3 for the machine, 1 for a
    /// failure of the component, 0 passed. `max` with the other codes gives the run's.
    pub fn exit_code(&self) -> u8 {
        match &self.error {
            Some(error) if error.kind == ErrorKind::Interrupted => exit::INTERRUPTED,
            Some(error) if error.kind.is_infrastructure() => exit::INFRASTRUCTURE,
            _ if self.teardown.as_ref().is_some_and(|t| !t.removed) => exit::INFRASTRUCTURE,
            _ if self.passed() => exit::OK,
            _ => exit::GATE_FAILED,
        }
    }
}

/// The compose project of a component's integration services: the environment's project name
/// with `-it-<component>`, so they never replace the environment's own containers.
pub fn project_name(environment_project: &str, component: &str) -> String {
    format!("{environment_project}-it-{component}")
}

/// pytest's arguments after the interpreter; `junit_dir` is this run's fresh folder.
pub fn pytest_args(junit_dir: &str, tests: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "-m",
        "integration",
    ]
    .map(str::to_owned)
    .to_vec();
    args.push(format!("--junitxml={junit_dir}/{}", pytest::JUNIT_FILE));
    args.extend(tests.iter().cloned());
    args
}

/// Reads a finished `pytest -m integration` run. Exit 5 (nothing selected), no test at all, or
/// only skipped tests are errors: none of them is evidence that integration works.
pub fn interpret(
    code: Option<i32>,
    junit: Option<&[u8]>,
    tail: &str,
    tests: &[String],
) -> Result<(TestCounts, Vec<Finding>), StepError> {
    let error = |kind, message: String| StepError { kind, message };
    let unmarked = || {
        error(
            ErrorKind::NoTests,
            format!(
                "no test in {} is marked integration: mark them with @pytest.mark.integration",
                tests.join(" ")
            ),
        )
    };
    match code {
        Some(5) => Err(unmarked()),
        Some(0..=2) => {
            let Some(junit) = junit else {
                return Err(error(
                    ErrorKind::Crashed,
                    format!("pytest wrote no junit report:\n{tail}"),
                ));
            };
            let (counts, findings) =
                pytest::parse_junit(junit).map_err(|reason| error(ErrorKind::BadOutput, reason))?;
            if counts.total == 0 {
                return Err(unmarked());
            }
            if code == Some(0) && counts.failed + counts.errors > 0 {
                return Err(error(
                    ErrorKind::BadOutput,
                    "pytest exited 0 with failed tests".to_owned(),
                ));
            }
            if code == Some(2) && counts.errors == 0 {
                return Err(error(
                    ErrorKind::Crashed,
                    format!("pytest failed with exit code 2:\n{tail}"),
                ));
            }
            if counts.passed + counts.failed + counts.errors == 0 {
                return Err(error(
                    ErrorKind::NoTests,
                    format!(
                        "every integration test was skipped ({}): a test that skips without its service is not evidence; check that the services are listed in `services` and the tests read XTASK_SERVICE_<NAME>_HOST",
                        counts.skipped
                    ),
                ));
            }
            Ok((counts, findings))
        }
        _ => Err(error(ErrorKind::Crashed, format!("pytest failed:\n{tail}"))),
    }
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
    let model = super::preflight::validate(&docker, &project)?;
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

fn run_tests(
    config: &Config,
    toolchain: &Toolchain,
    component: &Component,
    variables: &[(String, String)],
    outcome: &mut IntegrationRun,
) {
    outcome.command = std::iter::once("python".to_owned())
        .chain(pytest_args("$XTASK_RUN_DIR", &component.tests))
        .collect();
    if component.tests.is_empty() {
        outcome.error = Some(StepError {
            kind: ErrorKind::NoTests,
            message: format!(
                "{} has no tests: list its test files under `tests` in xtask.toml",
                component.name
            ),
        });
        return;
    }
    let tool = match toolchain.resolve(Tool::Pytest, config.timeouts.pytest) {
        Ok(tool) => tool,
        Err(message) => {
            outcome.error = Some(StepError {
                kind: ErrorKind::NotFound,
                message,
            });
            return;
        }
    };
    let run_dir = match crate::scratch::tempdir(&config.state_dir(), "integration-") {
        Ok(dir) => dir,
        Err(e) => {
            outcome.error = Some(StepError {
                kind: ErrorKind::Crashed,
                message: format!("failed to create a temp folder for pytest: {e}"),
            });
            return;
        }
    };
    let mut command = ToolCommand::new(&tool.program, &config.project.root, config.timeouts.pytest)
        .args(pytest_args(
            &run_dir.path().display().to_string(),
            &component.tests,
        ))
        .env("PATH", toolchain.tool_path_env())
        .env("NO_COLOR", "1")
        .env("PY_COLORS", "0")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("COVERAGE_FILE", run_dir.path().join(".coverage"));
    for (key, value) in variables {
        command = command.env(key, value);
    }
    let done = process::run(&command);
    finish(outcome, done, run_dir.path(), &component.tests);
}

fn finish(
    outcome: &mut IntegrationRun,
    done: Result<Finished, RunError>,
    run_dir: &Path,
    tests: &[String],
) {
    let done = match done {
        Ok(done) => done,
        Err(error) => {
            outcome.error = Some(StepError {
                kind: match error {
                    RunError::NotFound { .. } => ErrorKind::NotFound,
                    RunError::TimedOut { .. } => ErrorKind::TimedOut,
                    RunError::Interrupted => ErrorKind::Interrupted,
                    RunError::Spawn { .. } => ErrorKind::Crashed,
                },
                message: error.to_string(),
            });
            return;
        }
    };
    outcome.duration_ms = done.duration.as_millis() as u64;
    let junit = std::fs::read(run_dir.join(pytest::JUNIT_FILE)).ok();
    match interpret(done.code, junit.as_deref(), &done.tail(15), tests) {
        Ok((counts, findings)) => {
            outcome.status = if counts.failed + counts.errors > 0 {
                StepStatus::Failed
            } else {
                StepStatus::Passed
            };
            outcome.tests = Some(counts);
            outcome.findings = findings;
        }
        Err(error) => outcome.error = Some(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JUNIT_ONE_FAILED: &[u8] = br#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="1" skipped="0" tests="2" time="0.1"><testcase classname="tests.test_carbon_integration" name="test_web_answers" time="0.01" /><testcase classname="tests.test_carbon_integration" name="test_web_says_v2" time="0.01"><failure message="AssertionError: assert 'v1' == 'v2'">fail</failure></testcase></testsuite></testsuites>"#;
    const JUNIT_ALL_SKIPPED: &[u8] = br#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="0" skipped="1" tests="1"><testcase classname="tests.test_x" name="test_a"><skipped message="needs web" /></testcase></testsuite></testsuites>"#;

    fn tests() -> Vec<String> {
        vec!["tests/test_carbon_integration.py".to_owned()]
    }

    #[test]
    fn failures_are_findings_and_counted() {
        let (counts, findings) = interpret(Some(1), Some(JUNIT_ONE_FAILED), "", &tests()).unwrap();
        assert_eq!((counts.passed, counts.failed), (1, 1));
        assert_eq!(findings.len(), 1);
        assert!(findings[0].message.contains("assert 'v1' == 'v2'"));
    }

    #[test]
    fn nothing_marked_nothing_run_or_all_skipped_is_never_a_pass() {
        let nothing = interpret(Some(5), None, "", &tests()).unwrap_err();
        assert_eq!(nothing.kind, ErrorKind::NoTests);
        assert!(nothing.message.contains("@pytest.mark.integration"));
        let skipped = interpret(Some(0), Some(JUNIT_ALL_SKIPPED), "", &tests()).unwrap_err();
        assert!(
            skipped
                .message
                .contains("every integration test was skipped"),
            "{}",
            skipped.message
        );
        let lying = interpret(Some(0), Some(JUNIT_ONE_FAILED), "", &tests()).unwrap_err();
        assert_eq!(lying.kind, ErrorKind::BadOutput);
        let crashed = interpret(Some(4), None, "usage: pytest", &tests()).unwrap_err();
        assert_eq!(crashed.kind, ErrorKind::Crashed);
        let no_report = interpret(Some(0), None, "", &tests()).unwrap_err();
        assert_eq!(no_report.kind, ErrorKind::Crashed);
    }

    #[test]
    fn arguments_select_the_integration_marker() {
        let args = pytest_args("/tmp/run", &tests());
        assert_eq!(
            args.join(" "),
            "-m pytest -p no:cacheprovider -q -m integration --junitxml=/tmp/run/junit.xml tests/test_carbon_integration.py"
        );
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
