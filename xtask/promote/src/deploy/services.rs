//! The services integration tests need: brought up in a compose project of their own (so the
//! deployed environment is never touched), waited on until healthy, and always torn down, with
//! proof that no container, network or volume of the project is left.

use std::time::Instant;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::argv::{self, Project};
use super::docker::{Docker, Mode};
use super::health::{self, WaitEnd};
use super::rollout::LOG_LINES;
use super::service::Service;

/// How bringing the services up went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bringup {
    /// Every service is healthy; each service's container addresses.
    Healthy(Vec<(String, Vec<String>)>),
    /// A service failed (or compose did); its logs.
    Failed {
        reason: String,
        logs: Vec<String>,
    },
    Interrupted,
}

/// Starts `services` (with what they depend on) and waits for every one to be healthy.
pub fn bring_up(
    docker: &Docker,
    project: &Project,
    services: &[String],
    deadline: Instant,
) -> Result<Bringup> {
    match docker.compose(project, argv::up_services(services), Mode::Normal) {
        Err(error) if super::interrupted::is(&error) => return Ok(Bringup::Interrupted),
        Err(error) => return Err(error),
        Ok(done) if done.code != Some(0) => {
            return Ok(Bringup::Failed {
                reason: format!(
                    "`{}` failed with {}:\n{}",
                    docker.compose_display(project, argv::up_services(services)),
                    done.describe_exit(),
                    done.tail(15)
                ),
                logs: Vec::new(),
            });
        }
        Ok(_) => {}
    }
    let mut addresses = Vec::new();
    for service in services {
        let live = Service {
            docker,
            project,
            name: service,
            probe: None,
            health_timeout: deadline.saturating_duration_since(Instant::now()),
            settle: std::time::Duration::ZERO,
            state_dir: std::path::Path::new(""),
        };
        let expected = live.containers(Mode::Normal)?.len().max(1) as u32;
        let waited = match health::wait(&live, expected, deadline, Mode::Normal) {
            Err(error) if super::interrupted::is(&error) => return Ok(Bringup::Interrupted),
            other => other?,
        };
        match waited.end {
            WaitEnd::Healthy => addresses.push((
                service.clone(),
                waited
                    .states
                    .iter()
                    .flat_map(|s| s.ip_addresses.clone())
                    .collect(),
            )),
            WaitEnd::Failed(reason) | WaitEnd::TimedOut(reason) => {
                return Ok(Bringup::Failed {
                    reason: format!("integration service `{service}`: {reason}"),
                    logs: docker.logs(project, service, LOG_LINES),
                });
            }
        }
    }
    Ok(Bringup::Healthy(addresses))
}

/// What the teardown left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Teardown {
    /// No container, network or volume of the project is left.
    pub removed: bool,
    pub message: String,
}

/// `down -v --remove-orphans`, then proof from the engine that nothing of the project is left.
/// Runs even after Ctrl-C.
pub fn tear_down(docker: &Docker, project: &Project) -> Teardown {
    let down = docker.compose_ok(project, argv::down(), Mode::Cleanup);
    let mut problems = Vec::new();
    if let Err(error) = down {
        problems.push(format!("{error:#}"));
    }
    match docker.containers(&project.name, None, Mode::Cleanup) {
        Ok(left) if !left.is_empty() => problems.push(format!(
            "containers left: {}",
            left.iter()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Err(error) => problems.push(format!("{error:#}")),
        Ok(_) => {}
    }
    match docker.networks(&project.name, Mode::Cleanup) {
        Ok(left) if !left.is_empty() => problems.push(format!("{} networks left", left.len())),
        Err(error) => problems.push(format!("{error:#}")),
        Ok(_) => {}
    }
    match docker.volumes(&project.name, Mode::Cleanup) {
        Ok(left) if !left.is_empty() => problems.push(format!("volumes left: {}", left.join(", "))),
        Err(error) => problems.push(format!("{error:#}")),
        Ok(_) => {}
    }
    if problems.is_empty() {
        return Teardown {
            removed: true,
            message: format!(
                "removed every container, network and volume of {}",
                project.name
            ),
        };
    }
    Teardown {
        removed: false,
        message: format!(
            "the teardown of {} is incomplete ({}): remove what is left with `{}` (and `docker volume rm` for volumes compose does not own)",
            project.name,
            problems.join("; "),
            docker.compose_display(project, argv::down())
        ),
    }
}

/// Tears the project down when dropped, unless disarmed: a panic or an early return between
/// `up` and the regular teardown must not leave the services running.
pub struct TeardownGuard<'a> {
    pub docker: &'a Docker,
    pub project: &'a Project,
    pub armed: bool,
}

impl Drop for TeardownGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = tear_down(self.docker, self.project);
        }
    }
}

/// `XTASK_SERVICE_<NAME>_HOST` for a service: upper case, anything but letters and digits `_`.
pub fn host_variable(service: &str) -> String {
    let name: String = service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("XTASK_SERVICE_{name}_HOST")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_variables_are_shell_safe_names() {
        assert_eq!(host_variable("web"), "XTASK_SERVICE_WEB_HOST");
        assert_eq!(
            host_variable("redis.cache-2"),
            "XTASK_SERVICE_REDIS_CACHE_2_HOST"
        );
    }
}
