//! `--fix` before the checks run: refuse edits through links and, unless `--allow-dirty`, to
//! files with uncommitted changes; then scaffold the READMEs phase 3 asks for.

use anyhow::Result;

use super::request::Fix;
use crate::config::{Config, SourceKind};
use crate::errors::usage;
use crate::fsutil;
use crate::git;
use crate::plan::ComponentPlan;
use crate::readme;
use crate::render;
use crate::ui;
use crate::vocab::GateKind;

/// Everything `--fix` checks and writes before the engine runs; nothing when it is off.
pub(super) fn prepare(config: &Config, plans: &[ComponentPlan], fix: Fix) -> Result<()> {
    if !fix.on() {
        return Ok(());
    }
    let scope: Vec<String> = plans.iter().flat_map(|p| fix_scope(config, p)).collect();
    crate::write_guard::refuse_links(&config.project.root, &scope)?;
    if fix == Fix::Committed {
        refuse_dirty(config, plans)?;
    }
    scaffold_readmes(config, plans)
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
