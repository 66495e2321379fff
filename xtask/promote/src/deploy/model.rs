//! What one deploy did, as the promotion report's `deployment` section and as an entry of
//! `reports/<component>/deployment.json`: the same data, so the two never disagree. Also the
//! vocabulary of the deployment history: a proven state (what a rollback restores), the
//! settle window's samples, and the intent an attempt records before it starts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::vocab::Stage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The new image runs, became healthy and stayed healthy for the settle window.
    Deployed,
    /// The deploy failed; the last proven state runs again and was proven (or, when there was
    /// none, the service was removed again).
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

/// A state of the service that was proven: healthy on every replica for a whole settle
/// window. What a rollback restores, taken from the deployment history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenState {
    pub image_id: String,
    pub replicas: u32,
    /// The digest of the resolved compose model it ran with (`compose config`, stored under
    /// `.xtask/deploy/configs/`); `None` for what ran before any recorded deploy, or a record
    /// written before configurations were kept: the compose file's current one applies then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_digest: Option<String>,
    /// When the deploy that proved it finished; `None` when it is what ran before this deploy
    /// and the history proves nothing (it is then only as good as its proof after a rollback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proven_at: Option<DateTime<Utc>>,
}

/// The settle window: samples taken after the first healthy verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settle {
    pub seconds: u64,
    /// Whether every sample held.
    pub held: bool,
    pub samples: Vec<Sample>,
}

/// One look at every replica during the settle window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// Since the first healthy verdict.
    pub at_ms: u64,
    pub expected: u32,
    pub running: u32,
    /// Replicas whose healthcheck (and probe, when there is one) passed.
    pub healthy: u32,
    /// Restarts or replaced containers since the first healthy verdict.
    pub restarts: u64,
    /// What broke the window at this sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// One attempt's ID, shared by the intent recorded before it started and by this entry.
    pub attempt: String,
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
    /// This entry was written by a later run that found the attempt unfinished (its process
    /// was killed) and restored the last proven state.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recovered: bool,
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
    /// Replicas this deploy asked for.
    #[serde(default = "one")]
    pub replicas: u32,
    /// The digest of the resolved compose model this deploy ran with (see `ProvenState`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_digest: Option<String>,
    /// What a failure would restore, chosen before anything changed; `None`: remove the
    /// service (it did not run before and nothing was ever proven).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_to: Option<ProvenState>,
    /// From the moment `up` returned to the first healthy verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_healthy_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<Settle>,
    /// Why the deploy failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// What was found before anything changed and said then: an unhealthy service, an image
    /// the history never proved, an unfinished earlier attempt restored first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The last lines of the service's logs, captured before the rollback.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,
}

fn one() -> u32 {
    1
}

/// The rollback and its proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollback {
    /// Whether the proof held: the restored image runs on every replica, healthy for the
    /// settle window (or, with nothing to restore, no container of the service is left).
    pub proven: bool,
    /// What the proof found.
    pub message: String,
    /// From the moment the restoring `up` returned to the first healthy verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_healthy_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<Settle>,
    /// What runs after the rollback, as read from the engine: each image with its count and
    /// health, or `nothing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<String>,
}

/// The intent an attempt records before it changes anything: a run that finds it without its
/// completion knows a deploy was killed, and what to restore.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub attempt: String,
    /// Always `started`.
    pub outcome: Started,
    pub component: String,
    pub environment: Stage,
    pub service: String,
    pub project_name: String,
    pub compose_file: String,
    pub started_at: DateTime<Utc>,
    /// The process that started it, as `host pid N`.
    pub by: String,
    pub previous_image_id: Option<String>,
    pub replicas: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_digest: Option<String>,
    pub restore_to: Option<ProvenState>,
}

/// The `outcome` of an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Started {
    Started,
}

/// One entry of the history: an intent, a finished deploy, or a finished rollback drill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Entry {
    Started(Box<Attempt>),
    Finished(Box<Deployment>),
    Drill(Box<Drill>),
}

impl Entry {
    /// The environment, compose project and service it is about.
    pub fn place(&self) -> (Stage, &str, &str) {
        match self {
            Entry::Started(a) => (a.environment, &a.project_name, &a.service),
            Entry::Finished(d) => (d.environment, &d.project_name, &d.service),
            Entry::Drill(d) => (d.environment, &d.project_name, &d.service),
        }
    }

    /// The attempt ID it belongs to (an intent and its completion share one).
    pub fn attempt(&self) -> &str {
        match self {
            Entry::Started(a) => &a.attempt,
            Entry::Finished(d) => &d.attempt,
            Entry::Drill(d) => &d.attempt,
        }
    }
}

/// The `kind` of a drill entry: what tells it from a deploy in the history (entries written
/// before drills existed have no `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DrillKind {
    Drill,
}

/// How a rollback drill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DrillOutcome {
    /// Rolled back to the previous proven image, proven healthy; rolled forward to the image
    /// it started from, proven healthy.
    Passed,
    /// Something failed (the previous image unhealthy, Ctrl-C), but the service runs the image
    /// it started from again, proven.
    Failed,
    /// The roll forward could not be proven: the service may not run its starting image.
    RestoreFailed,
}

/// One direction of a drill: the state restored and its proof, read back from the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillStep {
    pub image_id: String,
    pub replicas: u32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// The proof, as a rollback's (`proven`, `message`, time to healthy, settle window,
    /// what runs after).
    pub proof: Rollback,
}

/// `cargo xtask promote C --phase 5 --drill`: the rollback of a service exercised on purpose,
/// back to the previous proven image and forward again, each direction proven.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drill {
    /// Always `drill`.
    pub kind: DrillKind,
    /// Shared with the intent recorded before the drill changed anything.
    pub attempt: String,
    pub component: String,
    pub environment: Stage,
    pub service: String,
    pub project_name: String,
    pub compose_file: String,
    /// The CLI that ran it.
    pub compose: String,
    pub outcome: DrillOutcome,
    /// Ctrl-C stopped the drill (the starting image was restored).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub health: HealthSource,
    /// The proven state it started from and rolls forward to.
    pub from: ProvenState,
    /// The previous proven state it rolls back to.
    pub to: ProvenState,
    /// The roll back to `to`; `None` when it never started (Ctrl-C before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub back: Option<DrillStep>,
    /// The roll forward to `from`.
    pub forward: DrillStep,
    /// Why the drill did not pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The image running when the drill ended, as read from the engine.
    pub running_image_id: Option<String>,
}

impl Drill {
    pub fn passed(&self) -> bool {
        self.outcome == DrillOutcome::Passed
    }
}

impl Deployment {
    pub fn succeeded(&self) -> bool {
        self.outcome == Outcome::Deployed
    }

    /// The state a successful deploy proved; `None` for any other outcome.
    pub fn proven_state(&self) -> Option<ProvenState> {
        if !self.succeeded() {
            return None;
        }
        Some(ProvenState {
            image_id: self.running_image_id.clone()?,
            replicas: self.replicas,
            config_digest: self.config_digest.clone(),
            proven_at: Some(self.finished_at),
        })
    }
}

/// The short form of an image ID for messages: `sha256:` and 12 hex digits, as `docker images`.
pub fn short_id(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    let end = hex
        .char_indices()
        .nth(12)
        .map_or(hex.len(), |(index, _)| index);
    format!("sha256:{}", &hex[..end])
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
            attempt: format!("20260302T10{minute:02}00Z-100"),
            component: "carbon".into(),
            environment,
            service: "carbon".into(),
            project_name: "tta-staging".into(),
            compose_file: "docker-compose.staging.yml".into(),
            compose: "docker-compose 1.29.2".into(),
            outcome,
            interrupted: false,
            recovered: false,
            started_at: at,
            finished_at: at + chrono::Duration::seconds(4),
            health: HealthSource::Healthcheck,
            previous_image_id: None,
            image_id: Some(format!("sha256:{minute:02x}{}", "c".repeat(62))),
            running_image_id: Some(format!("sha256:{minute:02x}{}", "c".repeat(62))),
            replicas: 1,
            config_digest: None,
            restore_to: None,
            time_to_healthy_ms: Some(3200),
            settle: None,
            failure: None,
            notes: vec![],
            logs: vec![],
            rollback: None,
        }
    }

    /// A drill of carbon in `environment` finishing at 11:`minute` on 2 March 2026, from the
    /// image of `sample(.., 5)` back to that of `sample(.., 1)` and forward again.
    pub fn drill_sample(environment: Stage, outcome: DrillOutcome, minute: u32) -> Drill {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 3, 2, 11, minute, 0)
            .unwrap();
        let state = |minute: u32| ProvenState {
            image_id: format!("sha256:{minute:02x}{}", "c".repeat(62)),
            replicas: 1,
            config_digest: None,
            proven_at: Some(at - chrono::Duration::hours(1)),
        };
        let step = |minute: u32, proven: bool| DrillStep {
            image_id: state(minute).image_id,
            replicas: 1,
            started_at: at - chrono::Duration::seconds(20),
            finished_at: at - chrono::Duration::seconds(10),
            proof: Rollback {
                proven,
                message: "checked".into(),
                time_to_healthy_ms: Some(1200),
                settle: None,
                running: Some("1 × healthy".into()),
            },
        };
        Drill {
            kind: DrillKind::Drill,
            attempt: format!("20260302T11{minute:02}00Z-200"),
            component: "carbon".into(),
            environment,
            service: "carbon".into(),
            project_name: "tta-staging".into(),
            compose_file: "docker-compose.staging.yml".into(),
            compose: "docker-compose 1.29.2".into(),
            outcome,
            interrupted: false,
            started_at: at - chrono::Duration::seconds(30),
            finished_at: at,
            health: HealthSource::Healthcheck,
            from: state(5),
            to: state(1),
            back: Some(step(1, outcome == DrillOutcome::Passed)),
            forward: step(5, true),
            failure: (outcome != DrillOutcome::Passed).then(|| "not proven".into()),
            running_image_id: Some(state(5).image_id),
        }
    }

    #[test]
    fn short_ids_never_split_a_character() {
        assert_eq!(
            short_id(&format!("sha256:{}", "a".repeat(64))),
            "sha256:aaaaaaaaaaaa"
        );
        assert_eq!(short_id("sha256:éééééééééééééé"), "sha256:éééééééééééé");
        assert_eq!(short_id("abc"), "sha256:abc");
    }
}
