//! `cargo xtask init [--root DIR] [--force]`: scans an existing monorepo and writes a starting
//! `xtask.toml` into it; never over an existing one without `--force`, and never one that
//! `config::load` would refuse. It also writes the thin `xtask` crate, its workspace and the
//! cargo alias when they are missing (never over a file that exists), so `cargo xtask` works
//! in the repository from then on.

use anyhow::{Context, Result};

use crate::cli::InitArgs;
use crate::config::{self, CONFIG_FILE_NAME};
use crate::errors::{exit, usage};
use crate::fsutil;
use crate::init;
use crate::init::scaffold;
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
    let scaffolded = write_thin_crate(&root, args)?;

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
    if !scaffolded.is_empty() {
        ui::status(
            "Wrote",
            format!(
                "{} (`cargo xtask` builds and runs it from now on; commit them)",
                scaffolded.join(", ")
            ),
        );
    }
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

/// Writes each file of the thin crate, its workspace and the alias that is missing under
/// `root`; never replaces one. Warns when an existing root `Cargo.toml` or cargo config does
/// not reach the crate. Returns the paths written.
fn write_thin_crate(root: &std::path::Path, args: &InitArgs) -> Result<Vec<&'static str>> {
    let dependency = match &args.xtask_path {
        Some(path) => {
            let path = std::path::absolute(path)
                .with_context(|| format!("failed to resolve {}", path.display()))?;
            if !path.join("Cargo.toml").is_file() {
                return Err(usage(format!(
                    "{} has no Cargo.toml: pass the `xtask/promote` folder of a checkout of xtask promote to --xtask-path",
                    path.display()
                )));
            }
            scaffold::Dependency::Path(path)
        }
        None => scaffold::Dependency::default_git(),
    };
    let mut written = Vec::new();
    for file in scaffold::files(&dependency) {
        let path = root.join(file.path);
        if path.exists() {
            existing_file_reaches_the_crate(&path, file.path)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("failed to create {}", parent.display()))?;
        }
        fsutil::write_atomic(&path, file.text.as_bytes())?;
        written.push(file.path);
    }
    Ok(written)
}

/// Warns when a root `Cargo.toml` or `.cargo/config.toml` of the user's, left as it is, does not
/// make `cargo xtask` reach the thin crate, naming the line to add.
fn existing_file_reaches_the_crate(path: &std::path::Path, name: &str) -> Result<()> {
    let check: fn(&str) -> bool = match name {
        "Cargo.toml" => scaffold::workspace_has_xtask,
        ".cargo/config.toml" => scaffold::has_xtask_alias,
        _ => return Ok(()),
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    if !check(&text) {
        let fix = match name {
            "Cargo.toml" => "add \"xtask\" to its [workspace] members",
            _ => scaffold::ALIAS_LINE,
        };
        ui::warn(format!(
            "{name} is yours and left as it is, so `cargo xtask` may not find the xtask crate: {}",
            if name == "Cargo.toml" {
                fix.to_owned()
            } else {
                format!("add `{fix}` under [alias]")
            }
        ));
    }
    Ok(())
}

/// What xtask writes and git should not track: the tool venv and cache, the reports, cargo's
/// build folder, and the metadata setuptools writes beside the project's sources when `setup`
/// installs the project in editable mode.
const IGNORED: &[&str] = &[".xtask/", "reports/", "target/", "*.egg-info/"];

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
        assert_eq!(
            missing_ignores(""),
            vec![".xtask/", "reports/", "target/", "*.egg-info/"]
        );
        assert_eq!(
            missing_ignores("/target\n.xtask/\n*.egg-info\n"),
            vec!["reports/"]
        );
        assert_eq!(
            missing_ignores("# reports/\nreports-old/\n"),
            vec![".xtask/", "reports/", "target/", "*.egg-info/"]
        );
    }
}
