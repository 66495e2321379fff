//! The users' promotion request form, defined once: the generated issue form, the issue body
//! `cargo xtask issue` writes and the parser `validate-request` uses all read this list, so the
//! three can never disagree about a label, an option or the order of the sections.

use crate::config::Config;
use crate::vocab::GateKind;
use crate::vocab::Stage;

/// The label every promotion request carries; it is what triggers the validation workflow.
pub const LABEL_REQUESTED: &str = "promotion:requested";
/// Set by the validation workflow when every gate passed: a person reviews it next.
pub const LABEL_IN_REVIEW: &str = "promotion:in-review";
/// Set by the validation workflow when a gate failed or the request was rejected.
pub const LABEL_BLOCKED: &str = "promotion:blocked";

/// What GitHub writes into the body for an optional field left empty.
pub const NO_RESPONSE: &str = "_No response_";

/// Which field of the form a section is, so code can ask for "the component" by meaning
/// rather than by label text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldId {
    Component,
    CurrentStage,
    TargetStage,
    FunctionalGroup,
    Justification,
    DevelopmentCriteria,
    StagingCriteria,
    TestResults,
    PerformanceMetrics,
    SecurityReview,
    DocumentationLinks,
    Dependencies,
    KnownBlockers,
    RollbackPlan,
    AdditionalContext,
}

impl FieldId {
    /// Every field, in the order the form shows them and GitHub renders the body.
    pub const ALL: [FieldId; 15] = [
        FieldId::Component,
        FieldId::CurrentStage,
        FieldId::TargetStage,
        FieldId::FunctionalGroup,
        FieldId::Justification,
        FieldId::DevelopmentCriteria,
        FieldId::StagingCriteria,
        FieldId::TestResults,
        FieldId::PerformanceMetrics,
        FieldId::SecurityReview,
        FieldId::DocumentationLinks,
        FieldId::Dependencies,
        FieldId::KnownBlockers,
        FieldId::RollbackPlan,
        FieldId::AdditionalContext,
    ];

    /// The field's `id` in the issue form YAML.
    pub fn id(self) -> &'static str {
        match self {
            FieldId::Component => "component",
            FieldId::CurrentStage => "current-stage",
            FieldId::TargetStage => "target-stage",
            FieldId::FunctionalGroup => "functional-group",
            FieldId::Justification => "justification",
            FieldId::DevelopmentCriteria => "development-criteria",
            FieldId::StagingCriteria => "staging-criteria",
            FieldId::TestResults => "test-results",
            FieldId::PerformanceMetrics => "performance-metrics",
            FieldId::SecurityReview => "security-review",
            FieldId::DocumentationLinks => "documentation-links",
            FieldId::Dependencies => "dependencies",
            FieldId::KnownBlockers => "known-blockers",
            FieldId::RollbackPlan => "rollback-plan",
            FieldId::AdditionalContext => "additional-context",
        }
    }

    /// The label, which GitHub renders as the `### <Label>` heading of the field's section.
    pub fn label(self) -> &'static str {
        match self {
            FieldId::Component => "Component Name",
            FieldId::CurrentStage => "Current Stage",
            FieldId::TargetStage => "Target Stage",
            FieldId::FunctionalGroup => "Functional Group",
            FieldId::Justification => "Promotion Justification",
            FieldId::DevelopmentCriteria => "Development → Staging Criteria",
            FieldId::StagingCriteria => "Staging → Production Criteria",
            FieldId::TestResults => "Test Results",
            FieldId::PerformanceMetrics => "Performance Metrics",
            FieldId::SecurityReview => "Security Review",
            FieldId::DocumentationLinks => "Documentation Links",
            FieldId::Dependencies => "Dependencies",
            FieldId::KnownBlockers => "Known Blockers",
            FieldId::RollbackPlan => "Rollback Plan",
            FieldId::AdditionalContext => "Additional Context",
        }
    }

    pub fn from_label(label: &str) -> Option<FieldId> {
        FieldId::ALL.into_iter().find(|f| f.label() == label)
    }

    /// Fields GitHub refuses to submit empty.
    pub fn required(self) -> bool {
        matches!(
            self,
            FieldId::Component
                | FieldId::CurrentStage
                | FieldId::TargetStage
                | FieldId::FunctionalGroup
                | FieldId::Justification
        )
    }
}

/// One exit criterion of a stage, as the users' maturity workflow words it.
#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    pub label: String,
    /// The gates that together show the criterion met. Empty when no tool can show it (API
    /// stability, a security review, load): those boxes are for a person to tick, never for us.
    /// Uptime, SLAs and monitoring are shown by the Production gates' Prometheus evidence.
    pub evidence: Vec<GateKind>,
}

/// The gates that are evidence of no exit criterion: the stage order and the observation
/// period are rules of the process (a person still ticks the uptime box), and the integration
/// run and the deploy are shown in the request but belong to no criterion's wording.
#[cfg(test)]
pub const NOT_A_CRITERION: &[GateKind] = &[
    GateKind::Stage,
    GateKind::Observation,
    GateKind::Integration,
    GateKind::Deployment,
];

/// The exit criteria of a promotion into `target`: seven for Development -> Staging and eight
/// for Staging -> Production (user-docs: "TTA Component Maturity Workflow"), with the
/// thresholds taken from xtask.toml.
pub fn criteria(config: &Config, target: Stage) -> Vec<Criterion> {
    let c = |label: String, evidence: &[GateKind]| Criterion {
        label,
        evidence: evidence.to_vec(),
    };
    let percent = |stage: Stage| format!("{}", config.thresholds.coverage_for(stage));
    match target {
        Stage::Development | Stage::Staging => vec![
            c(
                "Functionality: Core features complete (80%+ of planned functionality)".into(),
                &[],
            ),
            c(
                format!(
                    "Testing: Unit tests passing (≥{}% coverage for core paths)",
                    percent(Stage::Staging)
                ),
                &[GateKind::Tests, GateKind::Coverage],
            ),
            c(
                "API Stability: API documented, no planned breaking changes".into(),
                &[],
            ),
            c(
                "Code Quality: Passes linting (ruff), type checking (pyright), security scan (bandit)"
                    .into(),
                &[GateKind::Lint, GateKind::Types, GateKind::Security],
            ),
            c(
                "Documentation: Component README with usage examples".into(),
                &[GateKind::Docs],
            ),
            c(
                "Dependencies: All dependencies identified and stable".into(),
                &[GateKind::Dependencies],
            ),
            c(
                "Integration: Successfully integrates with dependent components in dev environment"
                    .into(),
                &[],
            ),
        ],
        Stage::Production => vec![
            c(
                format!(
                    "Testing: Integration tests passing (≥{}% coverage)",
                    percent(Stage::Production)
                ),
                &[GateKind::Tests, GateKind::Coverage],
            ),
            c(
                "Performance: Performance validated (meets defined SLAs)".into(),
                &[GateKind::Latency],
            ),
            // A clean bandit run is not a security review: a person ticks this one.
            c(
                "Security: Security review completed, no critical vulnerabilities".into(),
                &[],
            ),
            c(
                format!(
                    "Reliability: {}-day uptime in staging ≥{}%",
                    config.policy.observation_days, config.observability.uptime_min
                ),
                &[GateKind::Observation, GateKind::Uptime],
            ),
            c(
                "Documentation: Complete user documentation, API reference, troubleshooting guide"
                    .into(),
                &[],
            ),
            c(
                "Monitoring: Health checks, metrics, alerts configured".into(),
                &[GateKind::Monitoring],
            ),
            // Tested: a passing drill inside the window (documented is the person's to say).
            c(
                "Rollback: Rollback procedure documented and tested".into(),
                &[GateKind::Rollback],
            ),
            c(
                "Load Testing: Handles expected production load (if applicable)".into(),
                &[],
            ),
        ],
    }
}

/// The stages a request may start from and go to, in the form's dropdown order.
pub const CURRENT_STAGES: [Stage; 2] = [Stage::Development, Stage::Staging];
pub const TARGET_STAGES: [Stage; 2] = [Stage::Staging, Stage::Production];

/// The title GitHub shows for a request, as the users write it.
pub fn title(display_name: &str, from: Stage, to: Stage) -> String {
    format!("[PROMOTION] {display_name}: {from} → {to}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_ids_are_unique() {
        let mut labels: Vec<_> = FieldId::ALL.iter().map(|f| f.label()).collect();
        labels.sort();
        labels.dedup();
        assert_eq!(labels.len(), FieldId::ALL.len());
        let mut ids: Vec<_> = FieldId::ALL.iter().map(|f| f.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), FieldId::ALL.len());
    }

    #[test]
    fn seven_and_eight_exit_criteria_with_thresholds_from_the_registry() {
        let config = crate::testutil::registry();
        let staging = criteria(&config, Stage::Staging);
        let production = criteria(&config, Stage::Production);
        assert_eq!(staging.len(), 7);
        assert_eq!(production.len(), 8);
        assert!(staging[1].label.contains("≥70%"), "{:?}", staging[1]);
        assert!(production[0].label.contains("≥80%"), "{:?}", production[0]);
        assert!(production[3].label.starts_with("Reliability: 7-day"));
    }
}
