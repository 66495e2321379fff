//! `promote --record`: the record of one promotion, prepared before MATURITY.md is written
//! (so its history row can link it) and written after, signed when
//! `XTASK_RECORD_SIGNING_KEY` holds a key.

use std::path::PathBuf;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::{SIGNING_KEY_ENV, Statement};
use crate::config::Config;
use crate::engine::RunContext;
use crate::git;
use crate::plan::ComponentPlan;
use crate::remote_cache::signing::SecretKey;
use crate::report::PromotionReport;
use crate::ui;

/// (component, step id, declared cache key in hex) of every planned step.
pub type StepKeys = Vec<(String, String, String)>;

/// The declared keys of the plans' steps, computed while the run's context is alive.
pub fn step_keys(ctx: &RunContext<'_>, plans: &[ComponentPlan]) -> StepKeys {
    let mut keys = Vec::new();
    for plan in plans {
        let Some(component) = ctx.config.component(&plan.component) else {
            continue;
        };
        for kind in &plan.steps {
            if let Some(key) = crate::engine::declared_key(ctx, component, *kind) {
                keys.push((
                    plan.component.clone(),
                    kind.id().to_owned(),
                    key.to_string(),
                ));
            }
        }
    }
    keys
}

/// A record ready to write.
pub struct Pending {
    pub path: PathBuf,
    /// The path relative to MATURITY.md's folder, for the history row's link.
    pub link: String,
    pub statement: Statement,
}

/// Builds the record of `report` at `now`: the inputs as they are, the commit and tree of HEAD.
pub fn prepare(
    config: &Config,
    report: &PromotionReport,
    keys: &StepKeys,
    now: DateTime<Utc>,
) -> Result<Pending> {
    let component = config.require_component(&report.component)?;
    let top = git::toplevel(&config.workspace_root)?;
    let commit = git::head_commit(&top)?;
    let tree = git::tree_of(&top, &commit)?;
    let paths = super::inputs::paths(config, &top, component);
    let dirty = git::dirty_files(&top, &paths)?;
    if !dirty.is_empty() {
        ui::warn(format!(
            "{} of {} are not committed ({}): its record will verify only once they are committed as measured",
            crate::plural::count(dirty.len(), "input"),
            component.name,
            dirty.join(", ")
        ));
    }
    let files = super::inputs::digest_files(&top, &paths);
    let component_keys: Vec<(String, String)> = keys
        .iter()
        .filter(|(name, _, _)| *name == component.name)
        .map(|(_, step, key)| (step.clone(), key.clone()))
        .collect();
    let statement = super::statement(
        report,
        &crate::maturity::record::timestamp(now),
        &commit,
        &tree,
        files,
        &component_keys,
    )?;
    let folder = super::folder(config, component);
    let name = super::file_name(
        &folder,
        report.to_stage,
        &now.format("%Y-%m-%d").to_string(),
    );
    Ok(Pending {
        path: folder.join(&name),
        link: format!("{}/{name}", super::FOLDER),
        statement,
    })
}

/// Writes the record, signed when the signing key is set; returns whether it was signed.
pub fn write(pending: &Pending) -> Result<bool> {
    let key = match crate::edge_env::get().var(SIGNING_KEY_ENV) {
        Some(text) => Some(SecretKey::parse(text).map_err(|e| {
            crate::errors::usage(format!("{SIGNING_KEY_ENV} is not a secret key: {e}"))
        })?),
        None => None,
    };
    let bytes = super::encode(&pending.statement, key.as_ref())?;
    if let Some(folder) = pending.path.parent() {
        std::fs::create_dir_all(folder)
            .map_err(|e| anyhow::anyhow!("failed to create {}: {e}", folder.display()))?;
    }
    crate::fsutil::write_atomic(&pending.path, &bytes)?;
    Ok(key.is_some())
}
