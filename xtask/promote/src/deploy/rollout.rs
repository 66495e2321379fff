//! One deploy: record the image the service runs, `up -d --no-deps` the service, wait for it
//! to be healthy with our own deadline, and on failure capture its logs, roll back to the
//! recorded image and prove it (the running container's image is the recorded one, and it is
//! healthy). Compose has no rollback outside swarm; this is it.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;

use super::argv::{self, Project};
use super::docker::{self, Docker, Mode};
use super::health::{self, WaitEnd};
use super::inspect::{ContainerState, is_image_id};
use super::model::{Deployment, HealthSource, Outcome, Rollback, short_id};
use crate::config::Environment;
use crate::errors::infra;

/// Lines of the service's logs kept in the report of a failed deploy.
pub const LOG_LINES: usize = 50;

/// What to deploy where.
pub struct Request<'a> {
    pub docker: &'a Docker,
    pub project: &'a Project,
    pub environment: &'a Environment,
    /// Relative to the project root, for the record.
    pub compose_file: &'a str,
    pub component: &'a str,
    pub service: &'a str,
    pub probe: Option<&'a [String]>,
    pub health: HealthSource,
}

/// The image the service's running containers run, or `None` when none runs. Containers that
/// disagree mean an earlier deploy was left half done: refuse rather than guess.
pub fn running_image(states: &[ContainerState], service: &str) -> Result<Option<String>> {
    let mut images: Vec<&str> = states
        .iter()
        .filter(|s| s.status == "running")
        .map(|s| s.image_id.as_str())
        .collect();
    images.sort_unstable();
    images.dedup();
    match images.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((*one).to_owned())),
        many => Err(infra(format!(
            "the running containers of `{service}` run different images ({}): finish or undo the earlier deploy by hand first",
            many.iter()
                .map(|i| short_id(i))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Runs the deploy. Errors are reserved for failures before anything changed (the engine
/// could not be read); once `up` has run, every outcome is a `Deployment`.
pub fn deploy(request: &Request<'_>) -> Result<Deployment> {
    let Request {
        docker,
        project,
        environment,
        service,
        ..
    } = *request;
    let before = docker.containers(&project.name, Some(service), Mode::Normal)?;
    let previous = running_image(&before, service)?;
    let started_at = Utc::now();
    let started = Instant::now();
    let deadline = started + environment.health_timeout;

    let (failure, interrupted) = match attempt(request, deadline) {
        Attempt::Healthy(states) => {
            // Healthy is healthy: even containers that disagree about their image (a scaled
            // service caught mid-replace) do not undo it.
            let running = running_image(&states, service)
                .unwrap_or_else(|_| states.first().map(|s| s.image_id.clone()));
            return Ok(Deployment {
                outcome: Outcome::Deployed,
                image_id: running.clone(),
                running_image_id: running,
                time_to_healthy_ms: Some(started.elapsed().as_millis() as u64),
                finished_at: Utc::now(),
                ..base(request, started_at, previous)
            });
        }
        Attempt::Failed {
            reason,
            interrupted,
        } => (reason, interrupted),
    };

    // Evidence first: the rollback replaces the failing container and its logs with it.
    let logs = docker.logs(project, service, LOG_LINES);
    let attempted = docker
        .containers(&project.name, Some(service), Mode::Cleanup)
        .ok()
        .and_then(|states| states.first().map(|s| s.image_id.clone()));
    let (rollback, running_image_id) = roll_back(request, previous.as_deref());
    Ok(Deployment {
        outcome: if rollback.proven {
            Outcome::RolledBack
        } else {
            Outcome::RollbackFailed
        },
        interrupted,
        image_id: attempted,
        running_image_id,
        failure: Some(failure),
        logs,
        rollback: Some(rollback),
        finished_at: Utc::now(),
        ..base(request, started_at, previous)
    })
}

/// How `up` and the health wait went.
enum Attempt {
    Healthy(Vec<ContainerState>),
    Failed { reason: String, interrupted: bool },
}

fn attempt(request: &Request<'_>, deadline: Instant) -> Attempt {
    let Request {
        docker,
        project,
        service,
        ..
    } = *request;
    let failed = |reason: String| Attempt::Failed {
        reason,
        interrupted: false,
    };
    let interrupted = |during: &str| Attempt::Failed {
        reason: format!("interrupted {during}"),
        interrupted: true,
    };
    match docker.compose(project, argv::up_service(service), Mode::Normal) {
        Err(error) if docker::is_interrupted(&error) => return interrupted("during `up`"),
        Err(error) => return failed(format!("{error:#}")),
        Ok(done) if done.code != Some(0) => {
            return failed(format!(
                "`{}` failed with {}:\n{}",
                docker.compose_display(project, argv::up_service(service)),
                done.describe_exit(),
                done.tail(15)
            ));
        }
        Ok(_) => {}
    }
    match health::wait(
        docker,
        project,
        service,
        request.probe,
        deadline,
        Mode::Normal,
    ) {
        Err(error) if docker::is_interrupted(&error) => {
            interrupted("while waiting for the service to be healthy")
        }
        Err(error) => failed(format!("{error:#}")),
        Ok(waited) => match waited.end {
            WaitEnd::Healthy => Attempt::Healthy(waited.states),
            WaitEnd::Failed(reason) | WaitEnd::TimedOut(reason) => failed(reason),
        },
    }
}

fn base(
    request: &Request<'_>,
    started_at: chrono::DateTime<Utc>,
    previous: Option<String>,
) -> Deployment {
    Deployment {
        component: request.component.to_owned(),
        environment: request.environment.stage,
        service: request.service.to_owned(),
        project_name: request.project.name.clone(),
        compose_file: request.compose_file.to_owned(),
        compose: request.docker.cli.describe(),
        outcome: Outcome::RollbackFailed,
        interrupted: false,
        started_at,
        finished_at: started_at,
        health: request.health,
        previous_image_id: previous,
        image_id: None,
        running_image_id: None,
        time_to_healthy_ms: None,
        failure: None,
        logs: Vec::new(),
        rollback: None,
    }
}

/// Puts the recorded image back and proves it; with no recorded image, removes the service
/// again and proves nothing of it is left. Runs to its end even after Ctrl-C.
fn roll_back(request: &Request<'_>, previous: Option<&str>) -> (Rollback, Option<String>) {
    let result = match previous {
        Some(image) => restore(request, image),
        None => remove(request),
    };
    match result {
        Ok(done) => done,
        Err(error) => (
            Rollback {
                proven: false,
                message: format!("{error:#}"),
                time_to_healthy_ms: None,
            },
            None,
        ),
    }
}

fn restore(request: &Request<'_>, image: &str) -> Result<(Rollback, Option<String>)> {
    let Request {
        docker,
        project,
        environment,
        service,
        ..
    } = *request;
    if !is_image_id(image) {
        return Err(infra(format!(
            "refusing to roll back to `{image}`: not an image ID"
        )));
    }
    // An override that pins the service to the recorded image by ID: compose sees a changed
    // image and recreates the container from it, touching nothing else.
    let dir = tempfile::Builder::new()
        .prefix("xtask-rollback-")
        .tempdir()
        .context("failed to create a folder for the rollback override")?;
    let override_file = dir.path().join("rollback.json");
    let text = serde_json::json!({ "services": { service: { "image": image } } }).to_string();
    std::fs::write(&override_file, text)
        .with_context(|| format!("failed to write {}", override_file.display()))?;
    let mut pinned = project.clone();
    pinned.files.push(override_file);
    let started = Instant::now();
    docker.compose_ok(&pinned, argv::up_rollback(service), Mode::Cleanup)?;
    let deadline = started + environment.health_timeout.max(Duration::from_secs(1));
    let waited = health::wait(
        docker,
        project,
        service,
        request.probe,
        deadline,
        Mode::Cleanup,
    )?;
    let running = running_image(&waited.states, service).unwrap_or(None);
    let short = short_id(image);
    let (proven, message) = match (&waited.end, running.as_deref()) {
        (WaitEnd::Healthy, Some(id)) if id == image => {
            (true, format!("{service} runs {short} again and is healthy"))
        }
        (WaitEnd::Healthy, other) => (
            false,
            format!(
                "{service} is healthy but runs {} instead of {short}",
                other.map_or("nothing".to_owned(), short_id)
            ),
        ),
        (WaitEnd::Failed(reason) | WaitEnd::TimedOut(reason), _) => (
            false,
            format!("{service} on {short} is not healthy: {reason}"),
        ),
    };
    Ok((
        Rollback {
            proven,
            message,
            time_to_healthy_ms: proven.then(|| started.elapsed().as_millis() as u64),
        },
        running,
    ))
}

fn remove(request: &Request<'_>) -> Result<(Rollback, Option<String>)> {
    let Request {
        docker,
        project,
        service,
        ..
    } = *request;
    docker.compose_ok(project, argv::remove_service(service), Mode::Cleanup)?;
    let left = docker.containers(&project.name, Some(service), Mode::Cleanup)?;
    let proven = left.is_empty();
    Ok((
        Rollback {
            proven,
            message: if proven {
                format!(
                    "{service} was not running before this deploy, so its new container was removed"
                )
            } else {
                format!(
                    "{} containers of {service} are left after removing it",
                    left.len()
                )
            },
            time_to_healthy_ms: None,
        },
        running_image(&left, service).unwrap_or(None),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::inspect;

    #[test]
    fn the_running_image_is_recorded_and_disagreement_refused() {
        let bytes = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("test_data/docker_inspect_settled.json"),
        )
        .unwrap();
        let states = inspect::parse_containers(&bytes).unwrap();
        let ok: Vec<_> = states
            .iter()
            .filter(|s| s.service.as_deref() == Some("ok"))
            .cloned()
            .collect();
        assert_eq!(
            running_image(&ok, "ok").unwrap(),
            Some(ok[0].image_id.clone())
        );
        // An exited container runs nothing.
        let exits: Vec<_> = states
            .iter()
            .filter(|s| s.service.as_deref() == Some("exits"))
            .cloned()
            .collect();
        assert_eq!(running_image(&exits, "exits").unwrap(), None);
        let running: Vec<_> = states
            .iter()
            .filter(|s| s.status == "running")
            .cloned()
            .collect();
        let error = running_image(&running, "mixed").unwrap_err();
        assert!(error.to_string().contains("different images"), "{error}");
    }
}
