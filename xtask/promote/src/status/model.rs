//! The component-status report: every component's stage, evidence and readiness, what to do
//! next, the rollout waves and the change since last week. Its JSON form is the contract in
//! `schemas/status-report.schema.json`; the Markdown and HTML renderers read the same model.

use serde::{Deserialize, Serialize};

use crate::gates::Blocker;
use crate::vocab::Stage;

pub const STATUS_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    pub schema_version: u32,
    /// RFC 3339, UTC.
    pub generated_at: String,
    pub thresholds: StageValues,
    pub observation_days: u32,
    /// The functional groups, in report order.
    pub groups: Vec<String>,
    pub summary: Summary,
    /// In registry order.
    pub components: Vec<ComponentStatus>,
    pub recommendations: Vec<Recommendation>,
    /// The promotion plan: waves toward Staging, then toward Production.
    pub rollout: Vec<RolloutPlan>,
    pub history: HistoryInfo,
}

/// One number per stage: coverage thresholds, or component counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StageValues {
    pub development: f64,
    pub staging: f64,
    pub production: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub components: usize,
    pub development: usize,
    pub staging: usize,
    pub production: usize,
    /// Mean coverage over the components whose coverage was measured.
    pub average_coverage: Option<f64>,
    pub coverage_measured: usize,
    /// Development components promotable to Staging now.
    pub ready_for_staging: usize,
    /// Staging components promotable to Production now.
    pub ready_for_production: usize,
    /// Production components that no longer pass their own stage's gates.
    pub at_risk: usize,
    /// Components whose checks could not run (a tool missing, crashed, timed out).
    pub errors: usize,
}

/// What a component is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    /// Against the next stage's gates.
    Promotion,
    /// A Production component, against Production's own gates.
    Maintenance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Readiness {
    /// Every gate for the next stage passed.
    Ready,
    /// Only the observation period is left.
    Observing,
    /// Only dependencies (and perhaps the observation period) hold it back.
    WaitingOnDependencies,
    /// Some of its own gates fail.
    Blocked,
    /// In Production and passing Production's gates.
    Maintained,
    /// In Production but failing Production's gates: fix, or demote.
    AtRisk,
    /// A check could not give a verdict.
    Error,
}

impl Readiness {
    pub fn title(self) -> &'static str {
        match self {
            Readiness::Ready => "ready",
            Readiness::Observing => "observing",
            Readiness::WaitingOnDependencies => "waiting on dependencies",
            Readiness::Blocked => "blocked",
            Readiness::Maintained => "maintained",
            Readiness::AtRisk => "at risk",
            Readiness::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentStatus {
    pub name: String,
    pub display_name: String,
    pub group: String,
    pub stage: Stage,
    pub check: Check,
    /// The stage checked against: the next one, or its own for a Production component.
    pub target: Stage,
    pub coverage: Option<f64>,
    pub coverage_threshold: f64,
    /// ruff findings plus files to format; `None` when ruff gave no verdict.
    pub lint: Option<u64>,
    /// pyright errors.
    pub types: Option<u64>,
    /// bandit findings at or above the configured severity.
    pub security: Option<u64>,
    /// Failed plus errored tests; `None` when pytest gave no verdict (no tests, say).
    pub failed_tests: Option<u64>,
    pub readme: ReadmeStatus,
    pub dependencies: Vec<DependencyStatus>,
    pub blockers: Vec<Blocker>,
    pub readiness: Readiness,
    /// For a Staging component: where its observation period stands.
    pub observation: Option<ObservationStatus>,
    /// When it entered its current stage (RFC 3339), from MATURITY.md or the status history.
    pub in_stage_since: Option<String>,
    pub days_in_stage: Option<f64>,
    /// The change since the baseline run of the status history, when there is one.
    pub change: Option<Change>,
    /// When the component would be ready for its target at the pace of its status history
    /// (absent for a Production component, which has no next stage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<super::predict::Predicted>,
    /// Its newest promotion record: whether it verifies and what changed since; absent when
    /// the component has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<super::records::RecordStatus>,
    pub steps: usize,
    pub cached_steps: usize,
    /// Uptime over the observation window in percent, from the component's uptime gate;
    /// `None` when its assessment has no uptime gate or Prometheus measured nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime: Option<f64>,
    /// The newest rollback drill, from the component's rollback gate; `None` when its
    /// assessment has no rollback gate (it is not headed for, or in, Production).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_drill: Option<DrillBadge>,
}

/// The last rollback drill of a component, as the status report's badge shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillBadge {
    pub result: DrillResult,
    /// When it finished (RFC 3339); `None` without a drill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DrillResult {
    Passed,
    Failed,
    None,
}

impl DrillBadge {
    /// `passed on 2026-03-02`, `failed on 2026-03-02`, `none`.
    pub fn text(&self) -> String {
        let on = |word: &str| match &self.at {
            Some(at) => format!("{word} on {}", at.get(..10).unwrap_or(at)),
            None => word.to_owned(),
        };
        match self.result {
            DrillResult::Passed => on("passed"),
            DrillResult::Failed => on("failed"),
            DrillResult::None => "none".to_owned(),
        }
    }
}

/// `99.71 %`, or `–` when nothing was measured; truncated like the gate's figure.
pub fn uptime_text(uptime: Option<f64>) -> String {
    uptime.map_or("–".to_owned(), |u| {
        format!("{} %", crate::evidence::outcome::percent(u))
    })
}

/// The badge's text, or `–` when the component has no rollback gate.
pub fn drill_text(badge: Option<&DrillBadge>) -> String {
    badge.map_or("–".to_owned(), DrillBadge::text)
}

/// The README check, as the docs gate decided it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadmeStatus {
    pub passed: bool,
    /// Required sections present, when the README exists.
    pub sections: Option<u64>,
    pub required: u64,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DependencyStatus {
    pub name: String,
    pub stage: Stage,
    /// At the component's target stage or above.
    pub satisfied: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservationStatus {
    /// When it entered Staging (RFC 3339), or `None` when no date is recorded.
    pub since: Option<String>,
    pub days_observed: f64,
    pub days_remaining: f64,
    /// The earliest time a Production promotion is allowed (RFC 3339).
    pub earliest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// When the baseline run was (RFC 3339).
    pub since: String,
    /// The stage at the baseline, when it differs from today's.
    pub previous_stage: Option<Stage>,
    pub coverage: Option<f64>,
    pub lint: Option<i64>,
    pub types: Option<i64>,
    pub security: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Promote,
    Wait,
    PromoteDependencies,
    Fix,
    FixOrDemote,
    Repair,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub component: String,
    pub action: Action,
    pub target: Stage,
    pub reason: String,
    /// The command that does it, when there is one.
    pub command: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutPlan {
    pub target: Stage,
    pub waves: Vec<Wave>,
    /// Components that can never join a wave (their dependencies form a cycle).
    pub unschedulable: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wave {
    pub number: usize,
    pub components: Vec<WaveMember>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaveMember {
    pub name: String,
    /// Promotable to the plan's target right now.
    pub ready: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryInfo {
    /// The history file, relative to the folder holding xtask.toml.
    pub file: String,
    /// Runs recorded before this one.
    pub previous_runs: usize,
    /// The run compared against (RFC 3339), when there is one.
    pub baseline: Option<String>,
}
