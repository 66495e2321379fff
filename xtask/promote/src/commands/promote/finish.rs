//! What every promote run does once its reports exist: integration runs added to the
//! evidence, `--record` into MATURITY.md, the reports printed, the CI output, the exit code.
//! Shared by the checks (`check.rs`) and the deploy (`deploy.rs`).

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::assess;
use crate::cli::OutputFormat;
use crate::config::Config;
use crate::errors::exit;
use crate::github;
use crate::maturity;
use crate::report::{self, PromotionReport};
use crate::ui;

/// Runs each prepared integration run and adds it to the evidence of its component (as the
/// typed fact the integration gate reads, and as the report's section); returns the exit code
/// the runs call for (0 when there were none).
pub(super) fn add_integration_runs(
    config: &Config,
    toolchain: &crate::toolchain::Toolchain,
    prepared: Vec<crate::deploy::integration::Prepared>,
    evidence: &mut [assess::Evidence],
) -> u8 {
    let mut code = exit::OK;
    for prepared in prepared {
        let Some(evidence) = evidence
            .iter_mut()
            .find(|e| e.plan.component == prepared.component)
        else {
            continue;
        };
        let run = crate::deploy::integration::run(config, toolchain, prepared);
        code = code.max(run.exit_code());
        evidence.add_integration(run);
    }
    code
}

/// `--record`: writes each promotion the reports prove into its MATURITY.md; a report that is
/// not promotable records nothing. A component deployed with compose (it has a `service`) is
/// recorded only once a deploy to the target environment ended healthy (`--phase 5`), and that
/// deployment is written into the record.
pub(super) fn record(
    config: &Config,
    reports: &[PromotionReport],
    keys: &crate::records::write::StepKeys,
    now: DateTime<Utc>,
) -> Result<()> {
    for report in reports {
        let component = config.require_component(&report.component)?;
        if !report.promotable {
            ui::status(
                "Not recorded",
                format!(
                    "{} is not promotable to {}: {} left unchanged",
                    report.component, report.to_stage, component.maturity
                ),
            );
            continue;
        }
        if report.from_stage == report.to_stage {
            // A redeploy to the stage the component is in: nothing to promote.
            ui::status(
                "Unchanged",
                format!("{} is already in {}", report.component, report.to_stage),
            );
            continue;
        }
        let confirmation = match config.service_settings(&component.name).service {
            None => None,
            Some(service) => {
                match crate::deploy::record::confirmed_success(
                    config,
                    &component.name,
                    report.to_stage,
                )? {
                    Some(deployment) => Some(maturity::record::DeploymentConfirmation {
                        environment: deployment.environment.id().to_owned(),
                        service: deployment.service.clone(),
                        image_id: deployment
                            .running_image_id
                            .clone()
                            .or(deployment.image_id.clone())
                            .unwrap_or_default(),
                        deployed_at: deployment.finished_at,
                    }),
                    None => {
                        ui::status(
                            "Not recorded",
                            format!(
                                "{} deploys as compose service `{service}` and has no successful deploy to {} yet: run `cargo xtask promote {} --phase 5 --record`",
                                report.component, report.to_stage, report.component
                            ),
                        );
                        continue;
                    }
                }
            }
        };
        let pending = crate::records::write::prepare(config, report, keys, now)?;
        if maturity::record::record_promotion(
            config,
            report,
            confirmation.as_ref(),
            now,
            Some(pending.link.clone()),
        )? {
            let signed = crate::records::write::write(&pending)?;
            ui::status(
                "Recorded",
                format!(
                    "{}: {} -> {} in {}, evidence in {} ({})",
                    report.component,
                    report.from_stage,
                    report.to_stage,
                    component.maturity,
                    crate::github::ci::repo_relative(config, &pending.path),
                    if signed { "signed" } else { "unsigned" }
                ),
            );
        } else {
            ui::status(
                "Unchanged",
                format!(
                    "{} already states {} for {}",
                    component.maturity, report.to_stage, report.component
                ),
            );
        }
    }
    Ok(())
}

/// Under GitHub Actions: groups, annotations, step summary and outputs. With JSON on stdout,
/// workflow commands go to stderr so stdout stays one document.
pub(super) fn emit_ci(
    config: &Config,
    reports: &[PromotionReport],
    format: OutputFormat,
) -> Result<()> {
    let stream = match format {
        OutputFormat::Text => github::ci::CommandStream::Stdout,
        OutputFormat::Json => github::ci::CommandStream::Stderr,
    };
    github::ci::emit_reports(config, reports, stream)
}

/// The worst outcome over all reports: interrupted, then infrastructure, then gates.
pub fn exit_code(reports: &[PromotionReport]) -> u8 {
    if reports.iter().any(PromotionReport::interrupted) {
        exit::INTERRUPTED
    } else if reports.iter().any(PromotionReport::infrastructure_error) {
        exit::INFRASTRUCTURE
    } else if reports.iter().all(|r| r.passed) {
        exit::OK
    } else {
        exit::GATE_FAILED
    }
}

pub(super) fn print(reports: &[PromotionReport], format: OutputFormat) -> Result<()> {
    match format {
        OutputFormat::Json => {
            let text = if let [single] = reports {
                report::json::render(single)?
            } else {
                let mut text = serde_json::to_string_pretty(reports)?;
                text.push('\n');
                text
            };
            print!("{text}");
        }
        OutputFormat::Text => {
            let show_all = ui::verbosity() >= ui::Verbosity::Verbose;
            for (index, report) in reports.iter().enumerate() {
                if index > 0 {
                    println!();
                }
                if ui::verbosity() == ui::Verbosity::Quiet {
                    println!(
                        "{}: {}",
                        report.component,
                        if report.promotable {
                            "promotable"
                        } else if report.passed {
                            "passed"
                        } else {
                            "not promotable"
                        }
                    );
                } else {
                    print!("{}", report::text::render(report, show_all));
                }
            }
        }
    }
    Ok(())
}
