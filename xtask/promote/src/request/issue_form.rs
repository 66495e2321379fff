//! `.github/ISSUE_TEMPLATE/component_promotion.yml`: the users' issue form, rendered from
//! `templates/issue-forms/` with the components, groups and thresholds of xtask.toml, so its
//! dropdown can never drift from the registry again. Pure: config in, YAML out.

use anyhow::Result;
use serde::Serialize;

use super::form::{self, CURRENT_STAGES, FieldId, TARGET_STAGES};
use crate::config::Config;
use crate::render;
use crate::vocab::Stage;

pub const TEMPLATE: &str = "issue-forms/component_promotion.yml.j2";

#[derive(Serialize)]
struct FormContext {
    name: &'static str,
    description: &'static str,
    title: String,
    label_requested: &'static str,
    fields: Vec<FormField>,
}

#[derive(Serialize)]
struct FormField {
    kind: &'static str,
    id: &'static str,
    label: &'static str,
    description: String,
    options: Vec<String>,
    placeholder: Option<&'static str>,
    required: bool,
}

fn description(field: FieldId, config: &Config) -> String {
    match field {
        FieldId::Component => "The component's name in xtask.toml.".to_owned(),
        FieldId::CurrentStage => "The stage in the component's MATURITY.md today.".to_owned(),
        FieldId::TargetStage => "The next stage; stages cannot be skipped.".to_owned(),
        FieldId::FunctionalGroup => format!(
            "The component's group in xtask.toml ({} groups).",
            config.groups.len()
        ),
        FieldId::Justification => "Why the component is ready, in a few sentences.".to_owned(),
        FieldId::DevelopmentCriteria => {
            "Exit criteria of Development (for a promotion to Staging).".to_owned()
        }
        FieldId::StagingCriteria => {
            "Exit criteria of Staging (for a promotion to Production).".to_owned()
        }
        FieldId::TestResults => "Test counts, coverage and the quality gates.".to_owned(),
        FieldId::PerformanceMetrics => {
            "Latency, throughput and resource use against the SLAs, if measured.".to_owned()
        }
        FieldId::SecurityReview => "The security scan (bandit) and any manual review.".to_owned(),
        FieldId::DocumentationLinks => "The README, MATURITY.md and other docs.".to_owned(),
        FieldId::Dependencies => "Each dependency and its current stage.".to_owned(),
        FieldId::KnownBlockers => "What still stands in the way, with fixes.".to_owned(),
        FieldId::RollbackPlan => "How to undo the promotion if it goes wrong.".to_owned(),
        FieldId::AdditionalContext => "Anything else reviewers should know.".to_owned(),
    }
}

fn placeholder(field: FieldId) -> Option<&'static str> {
    match field {
        FieldId::Justification => Some("All quality gates pass: ..."),
        FieldId::TestResults => Some("Paste the Test Results section from `cargo xtask issue`."),
        FieldId::RollbackPlan => Some("1. Revert the promotion commit ..."),
        _ => None,
    }
}

fn field(id: FieldId, config: &Config) -> FormField {
    let stages = |stages: &[Stage]| stages.iter().map(|s| s.title().to_owned()).collect();
    let criteria = |target: Stage| {
        form::criteria(config, target)
            .into_iter()
            .map(|c| c.label)
            .collect()
    };
    let (kind, options) = match id {
        FieldId::Component => (
            "dropdown",
            config.components.iter().map(|c| c.name.clone()).collect(),
        ),
        FieldId::CurrentStage => ("dropdown", stages(&CURRENT_STAGES)),
        FieldId::TargetStage => ("dropdown", stages(&TARGET_STAGES)),
        FieldId::FunctionalGroup => ("dropdown", config.groups.clone()),
        FieldId::DevelopmentCriteria => ("checkboxes", criteria(Stage::Staging)),
        FieldId::StagingCriteria => ("checkboxes", criteria(Stage::Production)),
        _ => ("textarea", Vec::new()),
    };
    FormField {
        kind,
        id: id.id(),
        label: id.label(),
        description: description(id, config),
        options,
        placeholder: placeholder(id),
        required: id.required(),
    }
}

/// The issue form's YAML (without the generated-file header, which `generated` adds).
pub fn render(config: &Config) -> Result<String> {
    render::yaml(
        TEMPLATE,
        FormContext {
            name: "🚀 Component Promotion Request",
            description: "Ask to promote a component to its next maturity stage (Development → Staging → Production).",
            // The users' title pattern, for the author to complete; `cargo xtask issue` prints
            // the finished title (`form::title`).
            title: "[PROMOTION] <Display Name>: <Current> → <Target>".to_owned(),
            label_requested: form::LABEL_REQUESTED,
            fields: FieldId::ALL.iter().map(|&id| field(id, config)).collect(),
        },
    )
}
