//! Restoring a proven state and proving it: the rollback of a failed deploy, the recovery of a
//! killed one, and (for `evidence`) a rollback drill's both directions use this one function.
//!
//! The state is restored from its own resolved compose model (kept when it was proven), with
//! the service pinned to its image by ID, never built and never pulled, at its replica count,
//! through `up --force-recreate` of that service alone. The proof is read back from the engine:
//! every expected replica runs that image, becomes healthy within `health_timeout` of `up`
//! returning, and stays healthy for the settle window. With nothing to restore (the service did
//! not run before and was never proven), the service is removed and the proof is that no
//! container of it is left. Everything here runs to its end even after Ctrl-C, except a
//! drill's roll back (`restore_in` with `Mode::Normal`), which Ctrl-C ends so that the roll
//! forward to the starting state comes at once.

use std::time::Instant;

use anyhow::Result;
use serde_json::Value;

use super::argv::{self, Project};
use super::configs;
use super::docker::Mode;
use super::health::{self, WaitEnd};
use super::inspect::is_image_id;
use super::model::{Outcome, ProvenState, Rollback, short_id};
use super::service::{self, Service};
use super::settle;
use crate::errors::infra;

/// Restores `target` (`None`: remove the service) and proves it. `current_model` is the
/// environment's resolved compose model now: the configuration of a state whose own was not
/// recorded. Never fails: what went wrong is in the unproven `Rollback`.
pub fn restore(
    live: &Service<'_>,
    target: Option<&ProvenState>,
    current_model: &Value,
) -> Rollback {
    let result = match target {
        Some(state) => restore_state(live, state, current_model, Mode::Cleanup),
        None => remove(live),
    };
    unproven(live, result)
}

/// `restore` of a state in `mode`: with `Mode::Normal`, Ctrl-C stops it (an unproven
/// `Rollback` saying so) instead of letting it finish.
pub fn restore_in(
    live: &Service<'_>,
    state: &ProvenState,
    current_model: &Value,
    mode: Mode,
) -> Rollback {
    unproven(live, restore_state(live, state, current_model, mode))
}

/// The `Rollback` of a restore, or an unproven one naming the error and what runs.
fn unproven(live: &Service<'_>, result: Result<Rollback>) -> Rollback {
    result.unwrap_or_else(|error| {
        let running = live
            .containers(Mode::Cleanup)
            .map(|states| service::describe_running(&states))
            .unwrap_or_else(|e| format!("unknown ({e:#})"));
        Rollback {
            proven: false,
            message: format!("{error:#}"),
            time_to_healthy_ms: None,
            settle: None,
            running: Some(running),
        }
    })
}

/// A failed attempt's rollback: the restore, what runs after it, and the outcome it gives.
pub struct RolledBack {
    pub rollback: Rollback,
    pub running_image_id: Option<String>,
    pub outcome: Outcome,
}

/// Restores `target` for a failed (or killed) attempt, as `restore`, and reads what runs after.
pub fn roll_back(
    live: &Service<'_>,
    target: Option<&ProvenState>,
    current_model: &Value,
) -> RolledBack {
    let rollback = restore(live, target, current_model);
    RolledBack {
        outcome: if rollback.proven {
            Outcome::RolledBack
        } else {
            Outcome::RollbackFailed
        },
        running_image_id: live.running_image(),
        rollback,
    }
}

/// The restore document of `state` written under the state folder, and what it says about the
/// configuration it restores.
pub fn restore_file(
    live: &Service<'_>,
    state: &ProvenState,
    current_model: &Value,
) -> Result<(Project, String)> {
    let recorded = match &state.config_digest {
        Some(digest) => configs::load(live.state_dir, digest)?,
        None => None,
    };
    let (model, configuration) = match (&recorded, &state.config_digest) {
        (Some(model), _) => (model, "its recorded configuration".to_owned()),
        (None, Some(digest)) => (
            current_model,
            format!(
                "the compose file's current configuration (the recorded one, {}, is missing from {})",
                &digest[..digest.len().min(12)],
                live.state_dir.join("deploy/configs").display()
            ),
        ),
        (None, None) => (
            current_model,
            "the compose file's current configuration (none was recorded for it)".to_owned(),
        ),
    };
    let document = super::configs::restore_document(model, live.name, &state.image_id)
        .map_err(|e| infra(format!("cannot restore {}: {e}", live.name)))?;
    let file = configs::write_restore(live.state_dir, &live.project.name, live.name, &document)?;
    Ok((
        Project {
            files: vec![file],
            name: live.project.name.clone(),
        },
        configuration,
    ))
}

fn restore_state(
    live: &Service<'_>,
    state: &ProvenState,
    current_model: &Value,
    mode: Mode,
) -> Result<Rollback> {
    let (name, image) = (live.name, state.image_id.as_str());
    if !is_image_id(image) {
        return Err(infra(format!(
            "refusing to restore `{image}`: not an image ID"
        )));
    }
    // Compose would try to pull a missing image from a registry: refuse instead.
    if live.docker.image(image, mode)?.is_none() {
        return Err(infra(format!(
            "image {} is no longer on this engine, so {name} cannot be restored to it",
            short_id(image)
        )));
    }
    let (pinned, configuration) = restore_file(live, state, current_model)?;
    live.docker
        .compose_ok(&pinned, argv::up_restore(name, state.replicas), mode)?;
    let up_returned = Instant::now();
    let waited = health::wait(
        live,
        state.replicas,
        up_returned + live.health_timeout,
        mode,
    )?;
    let time_to_healthy = up_returned.elapsed().as_millis() as u64;
    let settled = match waited.end {
        WaitEnd::Healthy => Some(settle::settle(live, &waited.states, state.replicas, mode)?),
        _ => None,
    };
    let after = live.containers(mode)?;
    let running = service::running_image(&after);
    let what = format!(
        "{} × {} with {configuration}",
        state.replicas,
        short_id(image)
    );
    let (proven, message) = match (&waited.end, &settled, &running) {
        (WaitEnd::Healthy, Some(s), Ok(Some(id))) if s.held && id == image => (
            true,
            format!(
                "{name} runs {what} again, healthy for the {}s settle window",
                s.seconds
            ),
        ),
        (WaitEnd::Healthy, Some(s), _) if !s.held => {
            (false, format!("{name} on {what}: {}", settle::failure(s)))
        }
        (WaitEnd::Healthy, _, _) => (false, format!("{name} does not run {what}")),
        (WaitEnd::Failed(reason) | WaitEnd::TimedOut(reason), _, _) => {
            (false, format!("{name} on {what} is not healthy: {reason}"))
        }
    };
    Ok(Rollback {
        proven,
        message,
        time_to_healthy_ms: (waited.end == WaitEnd::Healthy).then_some(time_to_healthy),
        settle: settled,
        running: Some(service::describe_running(&after)),
    })
}

fn remove(live: &Service<'_>) -> Result<Rollback> {
    let name = live.name;
    live.docker
        .compose_ok(live.project, argv::remove_service(name), Mode::Cleanup)?;
    let left = live.containers(Mode::Cleanup)?;
    let proven = left.is_empty();
    Ok(Rollback {
        proven,
        message: if proven {
            format!(
                "{name} did not run before and was never proven, so its new containers were removed"
            )
        } else {
            format!(
                "{} containers of {name} are left after removing it",
                left.len()
            )
        },
        time_to_healthy_ms: None,
        settle: None,
        running: Some(service::describe_running(&left)),
    })
}
