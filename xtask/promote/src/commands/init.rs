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
    let ignored = ignore_outputs(&root)?;

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
    if !ignored.is_empty() {
        ui::status("Appended", format!("{} to .gitignore", ignored.join(", ")));
    }
    for skipped in &repo.skipped {
        ui::status("Skipped", format!("{}: {}", skipped.path, skipped.reason));
    }
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

/// What xtask writes and git should not track: the tool venv and cache, the reports, cargo's
/// build folder.
const IGNORED: &[&str] = &[".xtask/", "reports/", "target/"];

/// Appends to the repo's `.gitignore` the entries of `IGNORED` it lacks (in any of git's
/// spellings: `x`, `/x`, `x/`, `/x/`); never rewrites a line. Returns what it appended.
fn ignore_outputs(root: &std::path::Path) -> Result<Vec<&'static str>> {
    let path = root.join(".gitignore");
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("failed to read {}", path.display())),
    };
    let missing = missing_ignores(&existing);
    if missing.is_empty() {
        return Ok(missing);
    }
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# cargo xtask: tool venv and cache, reports, build output\n");
    for entry in &missing {
        text.push_str(entry);
        text.push('\n');
    }
    fsutil::write_atomic(&path, text.as_bytes())?;
    Ok(missing)
}

/// The entries of `IGNORED` that no line of `gitignore` already states. Pure.
fn missing_ignores(gitignore: &str) -> Vec<&'static str> {
    IGNORED
        .iter()
        .copied()
        .filter(|entry| {
            let bare = entry.trim_end_matches('/');
            !gitignore.lines().any(|line| {
                let line = line.trim();
                line.trim_start_matches('/').trim_end_matches('/') == bare
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::missing_ignores;

    #[test]
    fn only_entries_the_gitignore_lacks_are_appended() {
        assert_eq!(missing_ignores(""), vec![".xtask/", "reports/", "target/"]);
        assert_eq!(missing_ignores("/target\n.xtask/\n"), vec!["reports/"]);
        assert_eq!(
            missing_ignores("# reports/\nreports-old/\n"),
            vec![".xtask/", "reports/", "target/"]
        );
    }
}
