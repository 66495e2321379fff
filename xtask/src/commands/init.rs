//! `cargo xtask init [--root DIR] [--force]`: scans an existing monorepo and writes a starting
//! `xtask.toml` into it; never over an existing one without `--force`, and never one that
//! `config::load` would refuse.

use anyhow::{Context, Result};

use crate::cli::InitArgs;
use crate::config::{self, CONFIG_FILE_NAME};
use crate::errors::{exit, usage};
use crate::fsutil;
use crate::init;
use crate::ui;

pub fn run(args: &InitArgs) -> Result<u8> {
    let root = match &args.root {
        Some(root) => root.clone(),
        None => std::env::current_dir().context("failed to read the current folder")?,
    };
    if !root.is_dir() {
        return Err(usage(format!(
            "{} is not a folder: pass the monorepo's root to --root",
            root.display()
        )));
    }
    let root = std::path::absolute(&root)
        .with_context(|| format!("failed to resolve {}", root.display()))?;
    let target = root.join(CONFIG_FILE_NAME);
    if target.exists() && !args.force {
        return Err(usage(format!(
            "{} already exists: pass --force to replace it with a fresh one",
            target.display()
        )));
    }
    let adoption = init::adopt(&root)?;
    // A registry we would refuse to load is a bug here, not the user's problem to debug.
    config::parse(&adoption.text, &target)
        .context("init produced a registry that does not load; this is a bug in xtask")?;
    fsutil::write_atomic(&target, adoption.text.as_bytes())?;

    let repo = &adoption.repo;
    let edges: usize = adoption.dependencies.iter().map(|(_, d)| d.len()).sum();
    ui::status(
        "Wrote",
        format!(
            "{}: {} components from {} ({} with tests, {} with a MATURITY.md stage), {edges} dependencies from imports",
            target.display(),
            repo.components.len(),
            repo.components_dir,
            repo.components
                .iter()
                .filter(|c| !c.tests.is_empty())
                .count(),
            repo.components.iter().filter(|c| c.stage.is_some()).count(),
        ),
    );
    let ungrouped: Vec<&str> = repo
        .components
        .iter()
        .filter(|c| c.group.is_none())
        .map(|c| c.name.as_str())
        .collect();
    if !ungrouped.is_empty() {
        ui::warn(format!(
            "no file names the functional group of {}: they are \"{}\" until you pick one in {CONFIG_FILE_NAME}",
            ungrouped.join(", "),
            init::registry::UNGROUPED
        ));
    }
    for edge in &adoption.dropped {
        ui::warn(format!(
            "the imports form a cycle ({}): left out {} -> {}; decide which way the dependency really goes",
            edge.cycle.join(" -> "),
            edge.from,
            edge.to
        ));
    }
    Ok(exit::OK)
}
