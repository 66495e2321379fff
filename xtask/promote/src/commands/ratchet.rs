//! `cargo xtask ratchet --base REF [COMPONENT...]`: for each component the change affects (or
//! each named one), the working tree may not be worse than the merge base with REF: no new
//! finding, coverage within `[ratchet] coverage_slack`, no gate of the component's stage newly
//! failing. Exit 1 when anything got worse, 0 otherwise; 3 when either side could not be
//! measured. In GitHub Actions, what got worse is annotated and summarised.

use std::io::Write as _;

use anyhow::Result;

use crate::affected;
use crate::assess;
use crate::cli::{GlobalArgs, OutputFormat, RatchetArgs};
use crate::config::Config;
use crate::errors::{self, exit};
use crate::git;
use crate::github;
use crate::maturity;
use crate::plan::{self, PhaseSelection};
use crate::ratchet::{self, Comparison, base, figures};
use crate::ui;
use crate::vocab::Stage;

pub fn run(global: &GlobalArgs, args: &RatchetArgs) -> Result<u8> {
    let config = super::load_config(global)?;
    let top = git::toplevel(&config.workspace_root)?;
    let base_commit = git::resolve_commit(&top, &args.base)?.ok_or_else(|| {
        errors::usage(format!(
            "--base `{}` is not a commit in this checkout: fetch it first (in Actions, `fetch-depth: 0` on checkout)",
            args.base.escape_debug()
        ))
    })?;
    let compare_from = git::merge_base(&top, &base_commit, "HEAD")?.unwrap_or(base_commit);
    let names = components(&config, &top, &compare_from, &args.components)?;
    if names.is_empty() {
        ui::status("Ratchet", "no component is affected: nothing can get worse");
        return Ok(exit::OK);
    }
    let mut staged: Vec<(String, Stage)> = Vec::new();
    for name in &names {
        let component = config.require_component(name)?;
        staged.push((name.clone(), maturity::read(&config, component)?.stage));
    }
    let (head, venv) = head_figures(&config, &staged, args.jobs)?;
    ui::status(
        "Base",
        format!(
            "checking {} at {} in a temporary worktree",
            crate::plural::count(staged.len(), "component"),
            short(&compare_from)
        ),
    );
    let worktree = base::Worktree::create(&top, &compare_from, "ratchet-base")?;
    let base_reports = base::run_checks(&config, &venv, &worktree, &staged)?;
    let mut comparisons = Vec::new();
    for (name, stage) in &staged {
        let base = base_reports
            .iter()
            .find(|b| &b.report.component == name)
            .map(|b| {
                let errors = b.report.infrastructure_errors();
                if errors.is_empty() {
                    Ok(figures::of_report(&b.report, &b.project_root))
                } else {
                    Err(errors::infra(format!(
                        "{name} could not be measured on the base commit: {}",
                        errors.join("; ")
                    )))
                }
            })
            .transpose()?;
        let Some(head) = head.iter().find(|(n, _)| n == name).map(|(_, f)| f) else {
            continue;
        };
        comparisons.push(ratchet::compare(
            name,
            *stage,
            base.as_ref(),
            head,
            config.ratchet_coverage_slack,
        ));
    }
    drop(worktree);
    let label = format!("{} ({})", args.base, short(&compare_from));
    match args.format {
        OutputFormat::Text => print!(
            "{}",
            ratchet::render::text(
                &comparisons,
                &label,
                ui::verbosity() >= ui::Verbosity::Verbose
            )
        ),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&comparisons)?),
    }
    emit_ci(&config, &comparisons, &label, args.format)?;
    Ok(if comparisons.iter().any(Comparison::is_worse) {
        exit::GATE_FAILED
    } else {
        exit::OK
    })
}

fn short(commit: &str) -> String {
    commit.chars().take(12).collect()
}

/// The named components, or those the change since `compare_from` affects.
fn components(
    config: &Config,
    top: &std::path::Path,
    compare_from: &str,
    named: &[String],
) -> Result<Vec<String>> {
    if !named.is_empty() {
        let mut names = Vec::new();
        for name in named {
            let component = config.require_component(name)?;
            if !names.contains(&component.name) {
                names.push(component.name.clone());
            }
        }
        return Ok(names);
    }
    let changed = git::changed_files(top, compare_from, None)?;
    let scope = affected::scope(config, top);
    let result = affected::map(config, &scope, &changed);
    for name in &result.components {
        ui::status("Affected", format!("{name}: {}", result.reasons[name]));
    }
    Ok(result.components)
}

/// Runs every check of each component against the gates of the stage it is in, here, and
/// reads the figures; also returns the tool venv for the base run.
fn head_figures(
    config: &Config,
    staged: &[(String, Stage)],
    jobs: Option<usize>,
) -> Result<(Vec<(String, ratchet::Figures)>, std::path::PathBuf)> {
    let all = PhaseSelection::parse("all")?;
    let mut plans = Vec::new();
    for (name, stage) in staged {
        let component = config.require_component(name)?;
        plans.push(plan::plan_component(
            component,
            *stage,
            &all,
            Some(*stage),
            false,
        )?);
    }
    let options = super::CheckOptions {
        jobs,
        refresh: false,
    };
    let (reports, toolchain) =
        super::run_checks(config, &plans, options, |ctx| assess::assess(ctx, &plans))?;
    let mut figures = Vec::new();
    for report in &reports {
        let json = serde_json::to_vec(report)?;
        let view = figures::parse_reports(&json)?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("a report of {} went missing", report.component))?;
        let errors = view.infrastructure_errors();
        if !errors.is_empty() {
            return Err(errors::infra(format!(
                "{} could not be measured: {}",
                report.component,
                errors.join("; ")
            )));
        }
        figures.push((
            report.component.clone(),
            figures::of_report(&view, &config.project.root),
        ));
    }
    Ok((figures, toolchain.venv.clone()))
}

/// Annotations on what got worse and the job summary; nothing outside GitHub Actions.
fn emit_ci(
    config: &Config,
    comparisons: &[Comparison],
    base: &str,
    format: OutputFormat,
) -> Result<()> {
    if !github::in_actions() {
        return Ok(());
    }
    let prefix = github::ci::repo_relative(config, &config.project.root);
    let commands: String = ratchet::render::annotations(comparisons, &prefix)
        .iter()
        .map(|a| format!("{}\n", a.command()))
        .collect();
    // With JSON on stdout, workflow commands go to stderr so stdout stays one document.
    match format {
        OutputFormat::Text => {
            let mut out = std::io::stdout().lock();
            out.write_all(commands.as_bytes())?;
            out.flush()?;
        }
        OutputFormat::Json => {
            let mut out = std::io::stderr().lock();
            out.write_all(commands.as_bytes())?;
            out.flush()?;
        }
    }
    github::ci::append_summary(&ratchet::render::markdown(comparisons, base))
}
