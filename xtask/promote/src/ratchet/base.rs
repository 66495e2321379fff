//! The base side of the ratchet (and of `verify --rerun`): a commit checked out into a
//! temporary git worktree under the run's scratch folder, checked by this same program in a
//! process of its own against the same result cache and tool venv, so a base whose results are
//! cached answers from the cache and only what changed runs. The worktree is removed when the
//! guard drops: at the end, on an error, and after Ctrl-C (which stops the child first).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use super::figures::{self, ReportView};
use crate::config::Config;
use crate::errors;
use crate::git;
use crate::process::{self, ToolCommand};
use crate::vocab::Stage;

/// A detached worktree of one commit, removed on drop.
#[derive(Debug)]
pub struct Worktree {
    top: PathBuf,
    path: PathBuf,
}

impl Worktree {
    /// Checks `commit` out under the run's scratch folder (`.xtask/tmp/<pid>/`).
    pub fn create(top: &Path, commit: &str, label: &str) -> Result<Worktree> {
        let scratch = crate::scratch::run_dir()
            .context("the state folder's scratch space cannot be created")?;
        let short: String = commit.chars().take(12).collect();
        let path = scratch.join(format!("{label}-{short}"));
        git::worktree_add(top, &path, commit)?;
        Ok(Worktree {
            top: top.to_path_buf(),
            path,
        })
    }

    /// The checkout's top folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where `path` (under the main checkout's top) is in this worktree.
    pub fn map(&self, path: &Path) -> Option<PathBuf> {
        path.strip_prefix(&self.top)
            .ok()
            .map(|rest| self.path.join(rest))
    }
}

impl Drop for Worktree {
    fn drop(&mut self) {
        if git::worktree_remove(&self.top, &self.path).is_err() {
            // git refused (a half-made worktree): the folder goes, and the next
            // `worktree_add` prunes git's note of it.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// One base report with the project root its findings are relative to.
pub struct BaseReport {
    pub report: ReportView,
    pub project_root: PathBuf,
}

/// Runs `promote COMPONENT --phase all --target STAGE --format json` in `worktree` for each
/// (component, stage), grouped by stage, with this run's cache and tool venv. Components the
/// worktree's registry does not list are left out (they are new on the head).
pub fn run_checks(
    config: &Config,
    toolchain_venv: &Path,
    worktree: &Worktree,
    components: &[(String, Stage)],
) -> Result<Vec<BaseReport>> {
    let config_path = worktree.map(&config.path).ok_or_else(|| {
        errors::usage(format!(
            "{} is outside the git checkout, so another commit of it cannot be checked",
            config.path.display()
        ))
    })?;
    if !config_path.is_file() {
        // The base predates xtask: everything on the head is new.
        return Ok(Vec::new());
    }
    let base_config = crate::config::load(&config_path).with_context(|| {
        format!(
            "the registry of the base commit ({})",
            config_path.display()
        )
    })?;
    let mut reports = Vec::new();
    for stage in [Stage::Development, Stage::Staging, Stage::Production] {
        let names: Vec<&str> = components
            .iter()
            .filter(|(name, s)| *s == stage && base_config.component(name).is_some())
            .map(|(name, _)| name.as_str())
            .collect();
        if names.is_empty() {
            continue;
        }
        let output = run_promote(
            config,
            toolchain_venv,
            worktree,
            &config_path,
            &names,
            stage,
        )?;
        for report in figures::parse_reports(&output)? {
            reports.push(BaseReport {
                report,
                project_root: base_config.project.root.clone(),
            });
        }
    }
    Ok(reports)
}

fn run_promote(
    config: &Config,
    toolchain_venv: &Path,
    worktree: &Worktree,
    config_path: &Path,
    names: &[&str],
    stage: Stage,
) -> Result<Vec<u8>> {
    let program = std::env::current_exe().context("cannot find this program's own binary")?;
    let mut command = ToolCommand::new(program, worktree.path(), deadline(config))
        .arg("--config")
        .arg(config_path)
        .args(["--color", "never", "promote"])
        .args(names.iter().copied())
        .args(["--phase", "all", "--target", stage.id(), "--format", "json"])
        .env("XTASK_CACHE_DIR", config.cache_dir())
        .env("XTASK_VENV", toolchain_venv)
        .env("XTASK_NO_BOOTSTRAP", "1")
        .env("XTASK_PASS_PYTHONPATH", "1")
        // The child's output is ours to read: no workflow commands, summary or outputs.
        .env("GITHUB_ACTIONS", "false")
        .env("GITHUB_STEP_SUMMARY", "")
        .env("GITHUB_OUTPUT", "");
    if let Some(pythonpath) = python_path(config, worktree) {
        command = command.env("PYTHONPATH", pythonpath);
    }
    let finished = match process::run(&command) {
        Ok(finished) => finished,
        Err(process::RunError::Interrupted) => {
            return Err(errors::interrupted("the base run was interrupted"));
        }
        Err(error) => return Err(errors::infra(format!("the base run failed: {error}"))),
    };
    match finished.code {
        Some(0 | 1) => Ok(finished.stdout),
        Some(2) => Err(errors::usage(format!(
            "the base commit's checks refused to run:\n{}",
            finished.tail(10)
        ))),
        _ => Err(errors::infra(format!(
            "the base commit's checks could not run ({}):\n{}",
            finished.describe_exit(),
            finished.tail(10)
        ))),
    }
}

/// The child's `PYTHONPATH`: ours with every entry inside the checkout moved to the worktree,
/// after the worktree's `src/` folder of the project. An editable install of the project
/// points at the main checkout, so without this the base's tests would import the head's code.
fn python_path(config: &Config, worktree: &Worktree) -> Option<OsString> {
    let mut entries: Vec<PathBuf> = Vec::new();
    if let Some(root) = worktree.map(&config.project.root) {
        let src = root.join("src");
        if src.is_dir() {
            entries.push(src);
        }
    }
    if let Some(ours) = crate::edge_env::get().var("PYTHONPATH") {
        for entry in std::env::split_paths(ours) {
            let entry = worktree.map(&entry).unwrap_or(entry);
            if !entries.contains(&entry) {
                entries.push(entry);
            }
        }
    }
    if entries.is_empty() {
        return None;
    }
    std::env::join_paths(entries).ok()
}

/// Long enough for every tool to reach its own deadline twice over; each tool is still
/// bounded by its own deadline inside the child.
fn deadline(config: &Config) -> Duration {
    let tools: Duration = crate::tools::table::TOOLS
        .iter()
        .map(|spec| config.timeouts.of(spec.tool))
        .sum();
    tools * 2 + Duration::from_secs(600)
}
