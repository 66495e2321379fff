//! What one deploy did, as the promotion report's `deployment` section and as an entry of
//! `reports/<component>/deployment.json`: the same data, so the two never disagree.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::stage::Stage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The new image runs and is healthy.
    Deployed,
    /// The deploy failed; the recorded image runs again and was proven healthy (or, when there
    /// was none, the service was removed again).
    RolledBack,
    /// The deploy failed and so did the rollback: the service may be down.
    RollbackFailed,
}

/// How health was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthSource {
    /// The image's or the compose file's healthcheck.
    Healthcheck,
    /// The component's `health_probe` (with the healthcheck too, when there is one).
    HealthProbe,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub component: String,
    pub environment: Stage,
    pub service: String,
    pub project_name: String,
    /// Relative to the project root.
    pub compose_file: String,
    /// The CLI that ran it, e.g. `docker-compose 1.29.2`.
    pub compose: String,
    pub outcome: Outcome,
    /// Ctrl-C stopped the deploy (it was rolled back).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    pub started_at: DateTime<Utc>,
    /// For a deploy that succeeded, the deployment date.
    pub finished_at: DateTime<Utc>,
    pub health: HealthSource,
    /// The image the service ran before; `None` when it was not running.
    pub previous_image_id: Option<String>,
    /// The image this deploy started; `None` when `up` failed before creating a container.
    pub image_id: Option<String>,
    /// The image running when the deploy ended; `None` when nothing runs.
    pub running_image_id: Option<String>,
    /// From the start of `up` to healthy, for a deploy that succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_healthy_ms: Option<u64>,
    /// Why the deploy failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The last lines of the service's logs, captured before the rollback.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,
}

/// The rollback and its proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollback {
    /// Whether the proof held: the recorded image runs and is healthy (or, with no recorded
    /// image, no container of the service is left).
    pub proven: bool,
    /// What the proof found.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_healthy_ms: Option<u64>,
}

impl Deployment {
    pub fn succeeded(&self) -> bool {
        self.outcome == Outcome::Deployed
    }
}

/// The short form of an image ID for messages: `sha256:` and 12 hex digits, as `docker images`.
pub fn short_id(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

#[cfg(test)]
pub mod tests {
    use chrono::TimeZone;

    use super::*;

    /// A deploy of carbon at 10:`minute` on 2 March 2026, for tests of what reads deployments.
    pub fn sample(environment: Stage, outcome: Outcome, minute: u32) -> Deployment {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 3, 2, 10, minute, 0)
            .unwrap();
        Deployment {
            component: "carbon".into(),
            environment,
            service: "carbon".into(),
            project_name: "tta-staging".into(),
            compose_file: "docker-compose.staging.yml".into(),
            compose: "docker-compose 1.29.2".into(),
            outcome,
            interrupted: false,
            started_at: at,
            finished_at: at + chrono::Duration::seconds(4),
            health: HealthSource::Healthcheck,
            previous_image_id: None,
            image_id: Some(format!("sha256:{minute:02x}{}", "c".repeat(62))),
            running_image_id: Some(format!("sha256:{minute:02x}{}", "c".repeat(62))),
            time_to_healthy_ms: Some(3200),
            failure: None,
            logs: vec![],
            rollback: None,
        }
    }
}
