//! One deploy attempt, after its intent was recorded: `up -d --no-deps --scale` the service,
//! wait until every replica is healthy (the deadline counted from the moment `up` returned),
//! hold the settle window, and on any failure capture the service's logs and restore the last
//! proven state (`restore`), proven the same way. Compose has no rollback outside swarm; this
//! is it.

use std::time::Instant;

use chrono::Utc;
use serde_json::Value;

use super::argv;
use super::docker::Mode;
use super::health::{self, WaitEnd};
use super::model::{Attempt, Deployment, HealthSource, Outcome, Settle};
use super::restore;
use super::service::Service;
use super::settle;
use crate::process;

/// Lines of the service's logs kept in the report of a failed deploy.
pub const LOG_LINES: usize = 50;

/// What to deploy where; `attempt` is the intent already recorded.
pub struct Request<'a> {
    pub live: Service<'a>,
    pub attempt: &'a Attempt,
    pub compose: String,
    pub health: HealthSource,
    /// The environment's resolved compose model now (the configuration being deployed).
    pub model: &'a Value,
    /// Said before anything changed; carried into the record.
    pub notes: Vec<String>,
}

/// Runs the attempt. Errors are reserved for failures before anything changed; once `up` has
/// run, every outcome is a `Deployment`.
pub fn deploy(request: &Request<'_>) -> Deployment {
    let live = &request.live;
    let replicas = request.attempt.replicas;
    let (failure, interrupted, time_to_healthy, settled) = match attempt(live, replicas) {
        Trial::Stayed {
            time_to_healthy,
            settle,
        } => {
            let running = live.running_image();
            return Deployment {
                outcome: Outcome::Deployed,
                image_id: running.clone(),
                running_image_id: running,
                time_to_healthy_ms: Some(time_to_healthy),
                settle: Some(settle),
                ..base(request)
            };
        }
        Trial::Failed {
            reason,
            interrupted,
            time_to_healthy,
            settle,
        } => (reason, interrupted, time_to_healthy, settle),
    };

    // Evidence first: the rollback replaces the failing containers and their logs with them.
    let logs = live.docker.logs(live.project, live.name, LOG_LINES);
    let attempted = live
        .containers(Mode::Cleanup)
        .ok()
        .and_then(|states| states.first().map(|s| s.image_id.clone()));
    let rolled_back = restore::roll_back(live, request.attempt.restore_to.as_ref(), request.model);
    Deployment {
        outcome: rolled_back.outcome,
        // Ctrl-C during the rollback lets it finish and be proven, and still counts.
        interrupted: interrupted || process::interrupted(),
        image_id: attempted,
        running_image_id: rolled_back.running_image_id,
        time_to_healthy_ms: time_to_healthy,
        settle: settled,
        failure: Some(failure),
        logs,
        rollback: Some(rolled_back.rollback),
        ..base(request)
    }
}

/// How `up`, the health wait and the settle window went.
enum Trial {
    Stayed {
        time_to_healthy: u64,
        settle: Settle,
    },
    Failed {
        reason: String,
        interrupted: bool,
        time_to_healthy: Option<u64>,
        settle: Option<Settle>,
    },
}

fn attempt(live: &Service<'_>, replicas: u32) -> Trial {
    let failed = |reason: String| Trial::Failed {
        reason,
        interrupted: false,
        time_to_healthy: None,
        settle: None,
    };
    let interrupted = |during: &str| Trial::Failed {
        reason: format!("interrupted {during}"),
        interrupted: true,
        time_to_healthy: None,
        settle: None,
    };
    let up = argv::up_service(live.name, replicas);
    match live.docker.compose(live.project, up.clone(), Mode::Normal) {
        Err(error) if super::interrupted::is(&error) => return interrupted("during `up`"),
        Err(error) => return failed(format!("{error:#}")),
        Ok(done) if done.code != Some(0) => {
            return failed(format!(
                "`{}` failed with {}:\n{}",
                live.docker.compose_display(live.project, up),
                done.describe_exit(),
                done.tail(15)
            ));
        }
        Ok(_) => {}
    }
    let up_returned = Instant::now();
    let waited = match health::wait(
        live,
        replicas,
        up_returned + live.health_timeout,
        Mode::Normal,
    ) {
        Err(error) if super::interrupted::is(&error) => {
            return interrupted("while waiting for the service to be healthy");
        }
        Err(error) => return failed(format!("{error:#}")),
        Ok(waited) => waited,
    };
    if let WaitEnd::Failed(reason) | WaitEnd::TimedOut(reason) = waited.end {
        return failed(reason);
    }
    let time_to_healthy = up_returned.elapsed().as_millis() as u64;
    match settle::settle(live, &waited.states, replicas, Mode::Normal) {
        Err(error) if super::interrupted::is(&error) => Trial::Failed {
            reason: "interrupted during the settle window".to_owned(),
            interrupted: true,
            time_to_healthy: Some(time_to_healthy),
            settle: None,
        },
        Err(error) => failed(format!("{error:#}")),
        Ok(settle) if settle.held => Trial::Stayed {
            time_to_healthy,
            settle,
        },
        Ok(settle) => Trial::Failed {
            reason: settle::failure(&settle),
            interrupted: false,
            time_to_healthy: Some(time_to_healthy),
            settle: Some(settle),
        },
    }
}

fn base(request: &Request<'_>) -> Deployment {
    Deployment {
        notes: request.notes.clone(),
        ..completion(request.attempt, request.compose.clone(), request.health)
    }
}

/// The finished entry of `attempt`, before its outcome is known: what the intent said, and
/// nothing of how it went.
pub fn completion(attempt: &Attempt, compose: String, health: HealthSource) -> Deployment {
    Deployment {
        attempt: attempt.attempt.clone(),
        component: attempt.component.clone(),
        environment: attempt.environment,
        service: attempt.service.clone(),
        project_name: attempt.project_name.clone(),
        compose_file: attempt.compose_file.clone(),
        compose,
        outcome: Outcome::RollbackFailed,
        interrupted: false,
        recovered: false,
        started_at: attempt.started_at,
        finished_at: Utc::now(),
        health,
        previous_image_id: attempt.previous_image_id.clone(),
        image_id: None,
        running_image_id: None,
        replicas: attempt.replicas,
        config_digest: attempt.config_digest.clone(),
        restore_to: attempt.restore_to.clone(),
        time_to_healthy_ms: None,
        settle: None,
        failure: None,
        notes: Vec::new(),
        logs: Vec::new(),
        rollback: None,
    }
}
