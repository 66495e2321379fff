//! The promotion report: everything one run measured and decided for one component. Its JSON
//! form is the contract in `schemas/promotion-report.schema.json`.

use indexmap::IndexMap;
use serde::Serialize;

use crate::gates::{Blocker, GateResult};
use crate::tools::result::StepResult;
use crate::vocab::GateKind;
use crate::vocab::Stage;

pub const REPORT_SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromotionReport {
    pub schema_version: u32,
    pub component: String,
    pub display_name: String,
    pub group: String,
    pub from_stage: Stage,
    pub to_stage: Stage,
    /// The phases this run covered (1-5).
    pub phases: Vec<u8>,
    /// True only when validation ran (phase 4 or all) and every gate passed.
    pub promotable: bool,
    /// Every gate this run decided passed (for partial runs, e.g. `--phase 2`).
    pub passed: bool,
    pub generated_at: String,
    /// Gate -> result, in the order the gates are listed everywhere (keys are gate ids).
    pub quality_gates: IndexMap<GateKind, GateResult>,
    pub blockers: Vec<Blocker>,
    pub steps: Vec<StepResult>,
    pub summary: RunSummary,
    /// Phase 5: what the deploy did (absent when no deploy ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<crate::deploy::model::Deployment>,
    /// `--integration`: the services brought up and the integration tests run against them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration: Option<crate::deploy::integration::IntegrationRun>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub steps: usize,
    pub cached_steps: usize,
    pub findings: usize,
    /// The component's coverage when pytest ran and measured it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f64>,
}

impl PromotionReport {
    pub fn gate(&self, kind: GateKind) -> Option<&GateResult> {
        self.quality_gates.get(&kind)
    }

    /// Whether any step could not give a verdict because of the machine (exit code 3).
    pub fn infrastructure_error(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.step_error().is_some_and(|e| e.kind.is_infrastructure()))
    }

    pub fn interrupted(&self) -> bool {
        self.steps.iter().any(|s| {
            s.step_error()
                .is_some_and(|e| e.kind == crate::tools::result::ErrorKind::Interrupted)
        })
    }
}
