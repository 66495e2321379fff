//! `cargo xtask promote COMPONENT... [--phase] [--target] [--fix] ...`: plan, refuse unsafe
//! edits, bootstrap missing tools, run, decide, write reports, print, pick the exit code.

use anyhow::Result;
use chrono::Utc;

use crate::assess;
use crate::cli::{GlobalArgs, PromoteArgs};
use crate::config::{Config, SourceKind};
use crate::errors::usage;
use crate::fsutil;
use crate::git;
use crate::maturity;
use crate::plan::{self, ComponentPlan};
use crate::readme;
use crate::render;
use crate::report;
use crate::ui;
use crate::vocab::{GateKind, Phase};

mod deploy;
mod drill;
pub mod finish;

pub fn run(global: &GlobalArgs, args: &PromoteArgs) -> Result<u8> {
    if args.drill {
        refuse_drill_flags(args)?;
        return drill::run(global, args);
    }
    if args.phase.contains(Phase::Deploy) {
        return deploy::run(global, args);
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
    let integration_code =
        finish::add_integration_runs(&config, &toolchain, integration, &mut evidence);
    let reports = assess::reports(&config, &evidence)?;
    for report in &reports {
        report::write(&config.component_reports_dir(&report.component), report)?;
    }
    finish::print(&reports, args.format)?;
    if args.record {
        finish::record(&config, &reports, &keys, Utc::now())?;
    }
    finish::emit_ci(&config, &reports, args.format)?;
    Ok(finish::exit_code(&reports).max(integration_code))
}

/// `--drill` exercises the rollback of what runs in the component's current environment: it
/// runs with phase 5 alone, and with no flag that fixes, records, tests or picks a target.
fn refuse_drill_flags(args: &PromoteArgs) -> Result<()> {
    if !args.phase.contains(Phase::Deploy) {
        return Err(usage(
            "--drill rolls a deployed service back and forward again: pass --phase 5 --drill",
        ));
    }
    let refused = [
        (args.fix, "--fix (fix and commit first, then drill)"),
        (
            args.record,
            "--record (a drill promotes nothing; record with --phase all --record)",
        ),
        (
            args.integration,
            "--integration (run the integration tests with --phase 4 --integration)",
        ),
        (
            args.target.is_some(),
            "--target (a drill runs on the environment of the stage the component is in)",
        ),
    ];
    match refused.iter().find(|(given, _)| *given) {
        Some((_, flag)) => Err(usage(format!(
            "--drill does not take {flag}: run `cargo xtask promote COMPONENT --phase 5 --drill`"
        ))),
        None => Ok(()),
    }
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
            &config.policy.readme_sections_for(plan.to),
        );
        if !check.needs_scaffold() {
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
        let text = readme::scaffolded(existing.as_deref(), &check, &scaffold);
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
