//! `cargo xtask promote COMPONENT... [--phase] [--target] [--fix] ...`: plan, refuse unsafe
//! edits, bootstrap missing tools, run, decide, write reports, print, pick the exit code.

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::assess;
use crate::cli::{GlobalArgs, OutputFormat, PromoteArgs};
use crate::config::{Config, SourceKind};
use crate::errors::{exit, usage};
use crate::fsutil;
use crate::git;
use crate::github;
use crate::maturity;
use crate::plan::{self, ComponentPlan, GateKind, Phase};
use crate::readme;
use crate::render;
use crate::report::{self, PromotionReport};
use crate::ui;

pub fn run(global: &GlobalArgs, args: &PromoteArgs) -> Result<u8> {
    if args.phase.contains(Phase::Deploy) {
        return super::promote_deploy::run(global, args);
    }
    let config = super::load_config(global)?;
    if args.integration && !args.phase.contains(Phase::Validate) {
        return Err(usage(
            "--integration runs with validation: pass --phase 4, --phase all or --phase 5",
        ));
    }
    if args.record && !args.phase.decides_promotion() {
        return Err(usage(
            "--record needs the validation phase, which decides promotability: pass --phase all (or 4; or 5 to deploy, then record)",
        ));
    }
    let mut plans = Vec::new();
    let mut seen = Vec::new();
    for name in &args.components {
        let component = config.require_component(name)?;
        if seen.contains(&component.name) {
            continue;
        }
        seen.push(component.name.clone());
        let state = maturity::read(&config, component)?;
        if let Some(warning) = &state.warning {
            ui::warn(warning);
        }
        let plan =
            plan::plan_component(component, state.stage, &args.phase, args.target, args.fix)?;
        plans.push(if args.integration {
            plan.with_integration()
        } else {
            plan
        });
    }

    if args.fix {
        let scope: Vec<String> = plans.iter().flat_map(|p| fix_scope(&config, p)).collect();
        crate::write_guard::refuse_links(&config.project.root, &scope)?;
    }
    if args.fix && !args.allow_dirty {
        refuse_dirty(&config, &plans)?;
    }
    if args.fix {
        scaffold_readmes(&config, &plans)?;
    }

    // Integration services are checked (and their projects locked) before any work starts.
    let integration = if args.integration {
        crate::deploy::integration::prepare_plans(&config, &plans)?
    } else {
        Vec::new()
    };
    for plan in &plans {
        report::clear(&config.component_reports_dir(&plan.component))?;
    }
    let options = super::CheckOptions {
        jobs: args.jobs,
        refresh: args.no_cache,
    };
    let ((mut evidence, keys), toolchain) = super::run_checks(&config, &plans, options, |ctx| {
        let evidence = assess::gather(ctx, &plans)?;
        // A promotion record names each step's cache key, known only while the run lives.
        let keys = if args.record {
            crate::records::write::step_keys(ctx, &plans)
        } else {
            Vec::new()
        };
        Ok((evidence, keys))
    })?;
    let integration_code = add_integration_runs(&config, &toolchain, integration, &mut evidence);
    let reports = assess::reports(&config, &evidence)?;
    for report in &reports {
        report::write(&config.component_reports_dir(&report.component), report)?;
    }
    print(&reports, args.format)?;
    if args.record {
        record(&config, &reports, &keys, Utc::now())?;
    }
    emit_ci(&config, &reports, args.format)?;
    Ok(exit_code(&reports).max(integration_code))
}

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
        evidence.facts.integration = Some(crate::deploy::gate::integration_fact(&run));
        evidence.integration = Some(run);
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

/// Files `--fix` may edit: the component's code and its README.
fn fix_scope(config: &Config, plan: &ComponentPlan) -> Vec<String> {
    let component = config
        .component(&plan.component)
        .expect("planned components exist");
    vec![component.source.clone(), component.readme.clone()]
}

/// Like `cargo fix`: refuse to edit files with changes git does not have, so our edits can
/// always be reviewed and undone on their own.
fn refuse_dirty(config: &Config, plans: &[ComponentPlan]) -> Result<()> {
    let scope: Vec<String> = plans.iter().flat_map(|p| fix_scope(config, p)).collect();
    let dirty = git::dirty_files(&config.project.root, &scope)?;
    if dirty.is_empty() {
        return Ok(());
    }
    let listed = dirty
        .iter()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n");
    Err(usage(format!(
        "--fix would edit files that have uncommitted changes:\n{listed}\ncommit or stash them first, or pass --allow-dirty to edit them anyway"
    )))
}

/// Phase 3 with `--fix`: writes a README scaffold where there is none, or appends the missing
/// sections to an existing one, keeping every byte the user wrote.
fn scaffold_readmes(config: &Config, plans: &[ComponentPlan]) -> Result<()> {
    for plan in plans.iter().filter(|p| p.gates.contains(&GateKind::Docs)) {
        let component = config.require_component(&plan.component)?;
        let path = config.project_path(&component.readme);
        let existing = crate::input_file::read_text(
            &path,
            &format!("the README of {}", component.name),
            crate::input_file::DOCUMENT_MAX,
        )?;
        let check = readme::check(
            &component.readme,
            existing.as_deref(),
            &config.policy.readme_sections,
        );
        // Placeholders left in a README are the author's to replace: the scaffold only adds
        // what is missing.
        if check.exists && check.missing_sections.is_empty() {
            continue;
        }
        let entry = config.project_path(&readme::entry_file(component));
        // Facts for the scaffold only: a module that cannot be read gives none.
        let entry_text = crate::input_file::read_text(
            &entry,
            &format!("the entry module of {}", component.name),
            crate::input_file::DOCUMENT_MAX,
        )
        .ok()
        .flatten()
        .unwrap_or_default();
        let facts = readme::code_facts(component, &entry_text);
        let scaffold = render::component_readme(component, &facts)?;
        let text = match existing {
            None => scaffold,
            Some(mut text) => {
                // Append only the sections it lacks, taken from the scaffold, in its order.
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                for section in &check.missing_sections {
                    if let Some(body) = section_of(&scaffold, section) {
                        text.push('\n');
                        text.push_str(&body);
                    }
                }
                text
            }
        };
        fsutil::write_atomic(&path, text.as_bytes())?;
        ui::status(
            "Scaffolded",
            format!(
                "{} ({})",
                component.readme,
                if component.source_kind == SourceKind::Module {
                    "module component"
                } else {
                    "package"
                }
            ),
        );
    }
    Ok(())
}

/// The `## section` of a Markdown text, heading included, up to the next `## `.
fn section_of(text: &str, section: &str) -> Option<String> {
    let heading = format!("## {section}");
    let start = text.find(&format!("\n{heading}\n"))? + 1;
    let rest = &text[start + heading.len()..];
    let end = rest
        .find("\n## ")
        .map_or(text.len(), |i| start + heading.len() + i + 1);
    Some(text[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_cut_at_the_next_heading() {
        let text = "# T\n\n## Overview\n\nA\n\n## Usage\n\nB\n\n## API\n\nC\n";
        assert_eq!(section_of(text, "Usage").unwrap(), "## Usage\n\nB\n\n");
        assert_eq!(section_of(text, "API").unwrap(), "## API\n\nC\n");
        assert!(section_of(text, "Testing").is_none());
    }
}
