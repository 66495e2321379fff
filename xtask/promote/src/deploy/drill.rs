//! A rollback drill, after its intent was recorded: roll the service back to the previous
//! proven state and prove it, then roll it forward to the state it started from and prove that,
//! both through `restore` (the machinery of a failed deploy's rollback, used on purpose). The
//! roll forward always runs, whatever happened before it and even after Ctrl-C, so a drill ends
//! on the image it started from, proven, like a failed deploy ends on its last proven state.

use chrono::Utc;
use serde_json::Value;

use super::docker::Mode;
use super::model::{
    Attempt, Drill, DrillKind, DrillOutcome, DrillStep, HealthSource, ProvenState, short_id,
};
use super::restore;
use super::service::Service;
use crate::process;

/// What to drill; `attempt` is the intent already recorded (its `restore_to` is `from`).
pub struct Request<'a> {
    pub live: Service<'a>,
    pub attempt: &'a Attempt,
    pub compose: String,
    pub health: HealthSource,
    /// The environment's resolved compose model now (for a state without a recorded one).
    pub model: &'a Value,
    /// The proven state running now: where the drill starts and ends.
    pub from: ProvenState,
    /// The previous proven state: where it rolls back to.
    pub to: ProvenState,
}

/// Runs the drill. Never fails: every outcome, and why, is in the `Drill`.
pub fn drill(request: &Request<'_>) -> Drill {
    let live = &request.live;
    // Ctrl-C before the roll back started: nothing to undo, the forward restore proves it.
    let back = (!process::interrupted()).then(|| {
        step(&request.to, || {
            restore::restore_in(live, &request.to, request.model, Mode::Normal)
        })
    });
    let forward = step(&request.from, || {
        restore::restore(live, Some(&request.from), request.model)
    });
    let interrupted = process::interrupted();
    let failure = failure(
        &request.to,
        &request.from,
        back.as_ref(),
        &forward,
        interrupted,
    );
    let outcome = match (&failure, forward.proof.proven) {
        (_, false) => DrillOutcome::RestoreFailed,
        (Some(_), true) => DrillOutcome::Failed,
        (None, true) => DrillOutcome::Passed,
    };
    Drill {
        kind: DrillKind::Drill,
        attempt: request.attempt.attempt.clone(),
        component: request.attempt.component.clone(),
        environment: request.attempt.environment,
        service: request.attempt.service.clone(),
        project_name: request.attempt.project_name.clone(),
        compose_file: request.attempt.compose_file.clone(),
        compose: request.compose.clone(),
        outcome,
        interrupted,
        started_at: request.attempt.started_at,
        finished_at: Utc::now(),
        health: request.health,
        from: request.from.clone(),
        to: request.to.clone(),
        back,
        forward,
        failure,
        running_image_id: live.running_image(),
    }
}

/// One direction, timed.
fn step(state: &ProvenState, restore: impl FnOnce() -> super::model::Rollback) -> DrillStep {
    let started_at = Utc::now();
    let proof = restore();
    DrillStep {
        image_id: state.image_id.clone(),
        replicas: state.replicas,
        started_at,
        finished_at: Utc::now(),
        proof,
    }
}

/// Pure: why the drill did not pass, from its two directions; `None` when it passed.
pub fn failure(
    to: &ProvenState,
    from: &ProvenState,
    back: Option<&DrillStep>,
    forward: &DrillStep,
    interrupted: bool,
) -> Option<String> {
    let mut reasons = Vec::new();
    if interrupted {
        reasons.push("interrupted by Ctrl-C".to_owned());
    }
    match back {
        Some(step) if !step.proof.proven => reasons.push(format!(
            "the roll back to the previous proven image {} was not proven: {}",
            short_id(&to.image_id),
            step.proof.message
        )),
        Some(_) => {}
        None if !interrupted => reasons.push("the roll back did not run".to_owned()),
        None => {}
    }
    if !forward.proof.proven {
        reasons.push(format!(
            "the roll forward to the starting image {} was not proven: {}",
            short_id(&from.image_id),
            forward.proof.message
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::model::Rollback;

    fn state(digit: char) -> ProvenState {
        ProvenState {
            image_id: format!("sha256:{}", digit.to_string().repeat(64)),
            replicas: 1,
            config_digest: None,
            proven_at: None,
        }
    }

    fn step(digit: char, proven: bool, message: &str) -> DrillStep {
        DrillStep {
            image_id: state(digit).image_id,
            replicas: 1,
            started_at: Utc::now(),
            finished_at: Utc::now(),
            proof: Rollback {
                proven,
                message: message.into(),
                time_to_healthy_ms: None,
                settle: None,
                running: None,
            },
        }
    }

    #[test]
    fn a_drill_passes_only_when_both_directions_were_proven_and_nothing_stopped_it() {
        let (to, from) = (state('a'), state('b'));
        let back = step('a', true, "ok");
        let forward = step('b', true, "ok");
        assert_eq!(failure(&to, &from, Some(&back), &forward, false), None);

        let unhealthy = step('a', false, "web on 1 × sha256:aaaa is not healthy: exited");
        let reason = failure(&to, &from, Some(&unhealthy), &forward, false).unwrap();
        assert_eq!(
            reason,
            "the roll back to the previous proven image sha256:aaaaaaaaaaaa was not proven: web on 1 × sha256:aaaa is not healthy: exited"
        );
        let lost = step('b', false, "image gone");
        let reason = failure(&to, &from, Some(&back), &lost, false).unwrap();
        assert!(reason.starts_with("the roll forward to the starting image sha256:bbbbbbbbbbbb"));
        // Ctrl-C fails it even when what ran was proven, and before the roll back started.
        let reason = failure(&to, &from, Some(&back), &forward, true).unwrap();
        assert_eq!(reason, "interrupted by Ctrl-C");
        assert_eq!(
            failure(&to, &from, None, &forward, true).as_deref(),
            Some("interrupted by Ctrl-C")
        );
        assert_eq!(
            failure(&to, &from, None, &forward, false).as_deref(),
            Some("the roll back did not run")
        );
    }
}
