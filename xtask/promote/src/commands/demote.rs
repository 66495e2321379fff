//! `cargo xtask demote COMPONENT --to STAGE --reason TEXT`: records a demotion (the users' FAQ
//! allows one when a component no longer meets its stage's criteria) in its MATURITY.md.

use anyhow::Result;
use chrono::Utc;

use crate::cli::{DemoteArgs, GlobalArgs};
use crate::errors::exit;
use crate::maturity::{self, record::StageChange};
use crate::ui;

pub fn run(global: &GlobalArgs, args: &DemoteArgs) -> Result<u8> {
    let config = super::load_config(global)?;
    let component = config.require_component(&args.component)?;
    let state = maturity::read(&config, component)?;
    if let Some(warning) = &state.warning {
        ui::warn(warning);
    }
    // The change is built from the stage the file states under its lock, so a promotion
    // recorded in the meantime is demoted from, never overwritten.
    let (_, change) = maturity::record::write(
        &config.locks_dir(),
        &config.project_path(&component.maturity),
        &component.display_name,
        |current| StageChange::demotion(current, args.to, &args.reason, Utc::now()),
    )?;
    ui::status(
        "Demoted",
        format!(
            "{}: {} -> {} in {}",
            component.name, change.from, change.to, component.maturity
        ),
    );
    // Components that depend on it may now sit above it: say so, so nobody is surprised by
    // their dependency gates next time.
    for dependent in config
        .components
        .iter()
        .filter(|c| c.depends_on.contains(&component.name))
    {
        let stage = maturity::read(&config, dependent)?.stage;
        if stage > change.to {
            ui::warn(format!(
                "{} is in {stage} and depends on {}, now in {}: its next promotion is blocked until {} is back in {stage}",
                dependent.name, component.name, change.to, component.name
            ));
        }
    }
    Ok(exit::OK)
}
