//! A deploy whose process was killed (SIGKILL, a crash, a lost machine) leaves its intent in
//! the history without a completion, and possibly an unproven image running. The next deploy of
//! that service finds the intent before it changes anything, restores the last proven state the
//! intent names (or proves nothing of the service is left, when there was none), records the
//! attempt's completion, and says so.

use serde_json::Value;

use super::model::{Attempt, Deployment, HealthSource};
use super::restore;
use super::service::Service;

/// Restores what `attempt` would have restored, and returns the completion to record for it.
pub fn recover(
    live: &Service<'_>,
    attempt: &Attempt,
    compose: String,
    health: HealthSource,
    current_model: &Value,
) -> Deployment {
    let rolled_back = restore::roll_back(live, attempt.restore_to.as_ref(), current_model);
    Deployment {
        outcome: rolled_back.outcome,
        recovered: true,
        running_image_id: rolled_back.running_image_id,
        failure: Some(format!(
            "this deploy did not finish: its process ({}) was killed; a later run restored the last proven state",
            attempt.by
        )),
        rollback: Some(rolled_back.rollback),
        ..super::rollout::completion(attempt, compose, health)
    }
}
