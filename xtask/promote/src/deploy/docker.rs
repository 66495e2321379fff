//! Running compose and docker through the process API: the engine reachability check, compose
//! subcommands on a project, and the queries the deploy reads state from. Every failure to run
//! is an infrastructure error; a non-zero exit is returned for the caller to judge.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use super::argv::{self, Project};
use super::cli::{self, ComposeCli};
use super::inspect::{self, ContainerState, ImageInfo};
use crate::errors::infra;
use crate::process::{self, Finished, RunError, ToolCommand};

/// How long a query (ps, inspect, logs, exec of a probe) may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether a command was killed at its deadline.
pub fn is_timed_out(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<RunError>(),
            Some(RunError::TimedOut { .. })
        )
    })
}

/// Whether Ctrl-C may stop a command: clean-up (rollbacks, teardowns) must run to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Cleanup,
}

pub struct Docker {
    pub cli: ComposeCli,
    cwd: PathBuf,
    compose_timeout: Duration,
}

impl Docker {
    /// Detects the compose CLI and checks that an engine answers; exit 3 when it does not.
    pub fn connect(cwd: &Path, compose_timeout: Duration) -> Result<Docker> {
        let cli = cli::detect()?;
        let docker = Docker {
            cli,
            cwd: cwd.to_path_buf(),
            compose_timeout,
        };
        let done = docker.docker(argv::engine_version(), Mode::Normal)?;
        let version = String::from_utf8_lossy(&done.stdout).trim().to_owned();
        if done.code != Some(0) || version.is_empty() {
            return Err(infra(format!(
                "no Docker engine is reachable: {}; start the Docker daemon, or point DOCKER_HOST (or `docker context use`) at a running engine",
                first_line_or(&done.tail(3), "`docker version` reported no server")
            )));
        }
        Ok(docker)
    }

    fn run(
        &self,
        program: &Path,
        args: Vec<String>,
        timeout: Duration,
        mode: Mode,
    ) -> Result<Finished> {
        let command = ToolCommand::new(program, &self.cwd, timeout).args(args);
        let outcome = match mode {
            Mode::Normal => process::run(&command),
            Mode::Cleanup => process::run_cleanup(&command),
        };
        outcome.map_err(|error| match error {
            RunError::Interrupted => super::interrupted::error(),
            RunError::NotFound { .. } => infra(format!(
                "`{}` was not found: install Docker and its compose CLI",
                program.display()
            )),
            // Kept typed, so a caller can tell a deadline from a failure to run.
            timed_out @ RunError::TimedOut { .. } => {
                anyhow::Error::new(timed_out).context(format!("`{}`", command.display()))
            }
            other => infra(format!("`{}`: {other}", command.display())),
        })
    }

    /// A compose subcommand on `project`, with the compose deadline.
    pub fn compose(
        &self,
        project: &Project,
        subcommand: Vec<String>,
        mode: Mode,
    ) -> Result<Finished> {
        let args = argv::compose(&self.cli, project, subcommand);
        self.run(&self.cli.program, args, self.compose_timeout, mode)
    }

    /// As the user would type it, for messages.
    pub fn compose_display(&self, project: &Project, subcommand: Vec<String>) -> String {
        ToolCommand::new(&self.cli.program, &self.cwd, self.compose_timeout)
            .args(argv::compose(&self.cli, project, subcommand))
            .display()
    }

    /// A compose subcommand that must succeed; its failure names the command and its output.
    pub fn compose_ok(
        &self,
        project: &Project,
        subcommand: Vec<String>,
        mode: Mode,
    ) -> Result<Finished> {
        let display = self.compose_display(project, subcommand.clone());
        let done = self.compose(project, subcommand, mode)?;
        if done.code != Some(0) {
            return Err(infra(format!(
                "`{display}` failed with {}:\n{}",
                done.describe_exit(),
                done.tail(15)
            )));
        }
        Ok(done)
    }

    pub fn docker(&self, args: Vec<String>, mode: Mode) -> Result<Finished> {
        self.run(&self.cli.docker, args, QUERY_TIMEOUT, mode)
    }

    fn docker_ok(&self, args: Vec<String>, mode: Mode) -> Result<Finished> {
        let display = format!("docker {}", args.join(" "));
        let done = self.docker(args, mode)?;
        if done.code != Some(0) {
            return Err(infra(format!(
                "`{display}` failed with {}:\n{}",
                done.describe_exit(),
                done.tail(10)
            )));
        }
        Ok(done)
    }

    /// The containers of a project (or of one of its services), stopped ones included.
    pub fn containers(
        &self,
        project: &str,
        service: Option<&str>,
        mode: Mode,
    ) -> Result<Vec<ContainerState>> {
        // A container can vanish between `ps` and `inspect` (compose replacing it): ask again.
        let mut last_error = String::new();
        for _ in 0..3 {
            let listing = match service {
                Some(service) => argv::service_containers(project, service),
                None => argv::project_containers(project),
            };
            let ids = inspect::parse_ids(&self.docker_ok(listing, mode)?.stdout).map_err(infra)?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let done = self.docker(argv::inspect_containers(&ids), mode)?;
            if done.code == Some(0) {
                return inspect::parse_containers(&done.stdout).map_err(infra);
            }
            last_error = done.tail(5);
        }
        Err(infra(format!(
            "`docker inspect` kept failing: {last_error}"
        )))
    }

    /// An image by reference; `None` when the engine does not have it.
    pub fn image(&self, reference: &str, mode: Mode) -> Result<Option<ImageInfo>> {
        let done = self.docker(argv::inspect_image(reference), mode)?;
        if done.code != Some(0) {
            let text = done.tail(3);
            if text.to_ascii_lowercase().contains("no such image") {
                return Ok(None);
            }
            return Err(infra(format!(
                "`docker image inspect {reference}` failed: {text}"
            )));
        }
        inspect::parse_image(&done.stdout).map(Some).map_err(infra)
    }

    /// Runs a component's health probe in a container; the exit code is the verdict. The
    /// error of a probe past `timeout` is a `RunError::TimedOut` in the chain.
    pub fn probe(
        &self,
        container: &str,
        marker: &str,
        probe: &[String],
        timeout: Duration,
        mode: Mode,
    ) -> Result<Finished> {
        self.run(
            &self.cli.docker,
            argv::exec(container, marker, probe),
            timeout.min(QUERY_TIMEOUT),
            mode,
        )
    }

    /// The last `lines` lines of a service's logs; a failure to read them becomes a line that
    /// says so (the logs are evidence, not a reason to skip the rollback).
    pub fn logs(&self, project: &Project, service: &str, lines: usize) -> Vec<String> {
        match self.compose(project, argv::logs(service, lines), Mode::Cleanup) {
            Ok(done) if done.code == Some(0) => {
                let text = String::from_utf8_lossy(&done.stdout);
                // compose v1 opens with `Attaching to ...`, which is about compose, not the service.
                let all: Vec<String> = text
                    .lines()
                    .filter(|l| !l.starts_with("Attaching to "))
                    .map(|l| l.trim_end().to_owned())
                    .collect();
                all[all.len().saturating_sub(lines)..].to_vec()
            }
            Ok(done) => vec![format!("(could not read the logs: {})", done.tail(3))],
            Err(error) => vec![format!("(could not read the logs: {error:#})")],
        }
    }

    pub fn networks(&self, project: &str, mode: Mode) -> Result<Vec<String>> {
        let done = self.docker_ok(argv::project_networks(project), mode)?;
        inspect::parse_ids(&done.stdout).map_err(infra)
    }

    /// The names of a project's volumes.
    pub fn volumes(&self, project: &str, mode: Mode) -> Result<Vec<String>> {
        let done = self.docker_ok(argv::project_volumes(project), mode)?;
        Ok(String::from_utf8_lossy(&done.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// A docker command that must succeed, as its standard output.
    pub fn docker_output(&self, args: Vec<String>, mode: Mode) -> Result<String> {
        let done = self.docker_ok(args, mode)?;
        Ok(String::from_utf8_lossy(&done.stdout).into_owned())
    }
}

fn first_line_or(text: &str, fallback: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or(fallback)
        .to_owned()
}
