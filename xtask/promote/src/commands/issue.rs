//! `cargo xtask issue COMPONENT [--target STAGE] [--output PATH]`: measures the component
//! (phase 4, from the result cache where nothing changed) and writes the promotion request's
//! title line and body, ready for `gh issue create` or the issue form.

use anyhow::Result;
use chrono::Local;

use crate::assess;
use crate::cli::{GlobalArgs, IssueArgs};
use crate::errors::{exit, infra, usage};
use crate::fsutil;
use crate::github;
use crate::maturity;
use crate::plan::{self, PhaseSelection};
use crate::request::body;
use crate::ui;

pub fn run(global: &GlobalArgs, args: &IssueArgs) -> Result<u8> {
    let config = super::load_config(global)?;
    let component = config.require_component(&args.component)?;
    let state = maturity::read(&config, component)?;
    if let Some(warning) = &state.warning {
        ui::warn(warning);
    }
    let plan = plan::plan_component(
        component,
        state.stage,
        &PhaseSelection::parse("all")?,
        args.target,
        false,
    )?;
    // Validation refuses any request but the next stage, so writing one would waste a review.
    if state.stage.next() != Some(plan.to) {
        return Err(usage(format!(
            "{} is in {}: a promotion request can only ask for {}",
            component.name,
            state.stage,
            state
                .stage
                .next()
                .map_or("nothing (it is in the last stage)".to_owned(), |s| format!(
                    "--target {}",
                    s.id()
                ))
        )));
    }
    let plans = [plan];
    let (reports, _) = super::run_checks(&config, &plans, super::CheckOptions::default(), |ctx| {
        assess::assess(ctx, &plans)
    })?;
    let report = reports.first().expect("one plan gives one report");
    // A request must rest on evidence; a run the machine broke has none to give.
    if report.interrupted() {
        return Ok(exit::INTERRUPTED);
    }
    if report.infrastructure_error() {
        let failed: Vec<String> = report
            .steps
            .iter()
            .filter_map(|s| s.step_error().map(|e| format!("{}: {}", s.name, e.message)))
            .collect();
        return Err(infra(format!(
            "could not measure {} ({}): fix that and run the command again",
            component.name,
            failed.join("; ")
        )));
    }
    let project_prefix = github::ci::repo_relative(&config, &config.project.root);
    let maturity_exists = config.project.root.join(&component.maturity).is_file();
    let text = body::render(
        &config,
        report,
        &project_prefix,
        Local::now().date_naive(),
        maturity_exists,
    )?;
    match &args.output {
        Some(path) => {
            fsutil::write_atomic(path, text.as_bytes())?;
            ui::status("Wrote", path.display().to_string());
        }
        None => print!("{text}"),
    }
    ui::status(
        "Evidence",
        if report.promotable {
            format!("{} is promotable to {}", component.name, report.to_stage)
        } else {
            format!(
                "{} is not promotable to {} yet: {} blockers listed under Known Blockers",
                component.name,
                report.to_stage,
                report.blockers.len()
            )
        },
    );
    Ok(exit::OK)
}
