//! Finding the tools and the monorepo's interpreter, and knowing their versions, without
//! spawning anything on the warm path.
//!
//! Tools come from the tool venv (`.xtask/venv`, or `XTASK_VENV`) first, then from PATH. Their
//! versions come from the venv's `*.dist-info` folders through a record that `setup` writes and
//! that is re-derived when the venv's folders change; a tool found only on PATH is asked its
//! version once, and the answer is kept until that binary changes.

pub mod interpreter;
pub mod inventory;
pub mod python_identity;
pub mod setup;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::config::{Config, ToolPins};
use crate::fsutil;
use crate::process::{self, ToolCommand};
use crate::tools::Tool;
use crate::tools::table::{Launch, TOOLS};

/// Whether `distribution` belongs to a tool started as `python -m <tool>` in the monorepo's
/// environment (pytest and its companion pytest-cov).
fn runs_in_project_env(distribution: &str) -> bool {
    TOOLS.iter().any(|spec| {
        spec.launch == Launch::PythonModule && spec.distributions().any(|d| d == distribution)
    })
}

const RECORD_FILE: &str = "xtask-toolchain.json";
const PATH_TOOLS_FILE: &str = "path-tools.json";

#[derive(Debug, Clone)]
pub struct ResolvedTool {
    pub tool: Tool,
    /// The executable to spawn; for pytest, the project's interpreter (`python -m pytest`).
    pub program: PathBuf,
    pub version: String,
}

#[derive(Debug, Clone)]
pub struct Toolchain {
    pub venv: PathBuf,
    venv_packages: BTreeMap<String, String>,
    /// The monorepo's interpreter (absolute).
    pub python: PathBuf,
    project_packages: BTreeMap<String, String>,
    /// A digest of everything about the interpreter that can change test and type results.
    pub python_identity: String,
    pins: ToolPins,
    state_dir: PathBuf,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Record {
    fingerprint: String,
    packages: BTreeMap<String, String>,
}

/// The tool venv: `XTASK_VENV` overrides the default so tests and CI can point elsewhere.
pub fn venv_dir(config: &Config) -> PathBuf {
    match &crate::edge_env::get().xtask.venv {
        Some(dir) => dir.clone(),
        None => config.tool_venv(),
    }
}

impl Toolchain {
    /// Reads what is installed; spawns nothing.
    pub fn load(config: &Config) -> Result<Toolchain> {
        let venv = venv_dir(config);
        let venv_packages = read_record(&venv);
        let python = config
            .project
            .python
            .clone()
            .unwrap_or_else(|| venv.join("bin").join("python"));
        let project_packages = if python.starts_with(&venv) {
            venv_packages.clone()
        } else {
            python
                .parent()
                .and_then(Path::parent)
                .map(|env| inventory::installed(&inventory::site_packages(env)))
                .unwrap_or_default()
        };
        let python_identity =
            python_identity::identity(&python, &config.project.root, &config.state_dir());
        Ok(Toolchain {
            venv,
            venv_packages,
            python,
            project_packages,
            python_identity,
            pins: config.tools.clone(),
            state_dir: config.state_dir(),
        })
    }

    fn pinned(&self, distribution: &str) -> &str {
        self.pins.version(distribution).unwrap_or("")
    }

    /// Whether the monorepo has an environment of its own (`project.python`), rather than
    /// running its tests in the tool venv.
    pub fn has_project_env(&self) -> bool {
        !self.python.starts_with(&self.venv)
    }

    /// Whether `distribution` comes from the project's environment rather than the tool
    /// venv: pytest and pytest-cov always do when the project has one (its plugins and
    /// conftest imports live there), any other tool when the project has it at the pinned
    /// version.
    pub fn served_by_project_env(&self, distribution: &str) -> bool {
        self.has_project_env()
            && (runs_in_project_env(distribution)
                || self.project_version(distribution) == Some(self.pinned(distribution)))
    }

    pub fn project_version(&self, distribution: &str) -> Option<&str> {
        self.project_packages.get(distribution).map(String::as_str)
    }

    /// Pinned tools the venv lacks or has at another version, as `name==version` specs;
    /// what the project's environment provides is not the tool venv's to install.
    pub fn missing_tools(&self) -> Vec<String> {
        self.pins
            .packages()
            .into_iter()
            .filter(|(name, version)| {
                !self.served_by_project_env(name)
                    && self.venv_packages.get(*name).map(String::as_str) != Some(version)
            })
            .map(|(name, version)| format!("{name}=={version}"))
            .collect()
    }

    pub fn venv_version(&self, distribution: &str) -> Option<&str> {
        self.venv_packages.get(distribution).map(String::as_str)
    }

    pub fn venv_bin(&self) -> PathBuf {
        self.venv.join("bin")
    }

    /// PATH for tool processes: the venv's bin first, so a tool's own helpers (pyright's node
    /// wrapper, pytest plugins' scripts) come from the same place as the tool.
    pub fn tool_path_env(&self) -> OsString {
        let mut parts = vec![self.venv_bin()];
        if let Some(path) = &crate::edge_env::get().path {
            parts.extend(std::env::split_paths(path));
        }
        std::env::join_paths(parts).unwrap_or_default()
    }

    /// Finds `tool`, or says what to do about it.
    pub fn resolve(&self, tool: Tool, timeout: Duration) -> Result<ResolvedTool, String> {
        if tool.spec().launch == Launch::PythonModule {
            return self.resolve_module(tool);
        }
        let name = tool.name();
        // The project's environment when it has the pinned version, so one copy of a tool
        // serves both the developers and xtask.
        if self.served_by_project_env(name)
            && let Some(bin) = self.python.parent()
            && let Some(program) = process::executable_in(bin, name)
        {
            return Ok(ResolvedTool {
                tool,
                program,
                version: self.pinned(name).to_owned(),
            });
        }
        if let Some(program) = process::executable_in(&self.venv_bin(), name)
            && let Some(version) = self.venv_packages.get(name)
        {
            return Ok(ResolvedTool {
                tool,
                program,
                version: version.clone(),
            });
        }
        if let Ok(program) = which::which(name) {
            let version = self
                .path_tool_version(&program, timeout)
                .unwrap_or_else(|| "unknown".to_owned());
            return Ok(ResolvedTool {
                tool,
                program,
                version,
            });
        }
        Err(format!(
            "{name} was not found in {} or on PATH: run `cargo xtask setup` to install {name}=={}",
            self.venv.display(),
            self.pinned(name)
        ))
    }

    /// A tool started as `python -m <tool>` (pytest) runs in the monorepo's environment, so it
    /// has to be installed there, with its companions (pytest-cov), whatever the tool venv
    /// holds.
    fn resolve_module(&self, tool: Tool) -> Result<ResolvedTool, String> {
        if !self.python.exists() {
            return Err(if self.python.starts_with(&self.venv) {
                format!(
                    "the interpreter {} does not exist: run `cargo xtask setup`",
                    self.python.display()
                )
            } else {
                format!(
                    "the project's interpreter {} does not exist: create its environment (for a uv project, `uv sync`) or set project.python in xtask.toml",
                    self.python.display()
                )
            });
        }
        let spec = tool.spec();
        let version = self.project_packages.get(spec.name);
        let companions = spec
            .companions
            .iter()
            .all(|c| self.project_packages.contains_key(*c));
        match version {
            Some(version) if companions => Ok(ResolvedTool {
                tool,
                program: self.python.clone(),
                version: version.clone(),
            }),
            _ => {
                let names: Vec<&str> = spec.distributions().collect();
                let specs: Vec<String> = names
                    .iter()
                    .map(|name| format!("{name}=={}", self.pinned(name)))
                    .collect();
                Err(format!(
                    "{} are not all installed for {}: {}add {} to the project's test dependencies",
                    names.join(" and "),
                    self.python.display(),
                    if self.has_project_env() {
                        "they run in the project's own environment, so "
                    } else {
                        "run `cargo xtask setup`, or "
                    },
                    specs.join(" and ")
                ))
            }
        }
    }

    /// The version a PATH tool reports, remembered per binary (path, size, mtime) so the
    /// warm path does not pay a process start for it.
    fn path_tool_version(&self, program: &Path, timeout: Duration) -> Option<String> {
        let stamp = file_stamp(program)?;
        let key = format!("{}|{stamp}", program.display());
        let file = self.state_dir.join(PATH_TOOLS_FILE);
        let mut known: BTreeMap<String, String> = std::fs::read(&file)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        if let Some(version) = known.get(&key) {
            return Some(version.clone());
        }
        let cwd = std::env::temp_dir();
        let done = process::run(
            &ToolCommand::new(program, cwd, timeout.min(Duration::from_secs(60))).arg("--version"),
        )
        .ok()?;
        let text = String::from_utf8_lossy(&done.stdout);
        let version = first_version(&text)?;
        known.insert(key, version.clone());
        if let Ok(bytes) = serde_json::to_vec_pretty(&known) {
            // Best effort: a read-only state folder only costs a process start next time.
            let _ = fsutil::write_atomic_regenerable(&file, &bytes);
        }
        Some(version)
    }
}

/// The first `N.N[.N…]` in a `--version` banner.
fn first_version(text: &str) -> Option<String> {
    let re = regex::Regex::new(r"\d+\.\d+(?:\.\d+)*").ok()?;
    re.find(text).map(|m| m.as_str().to_owned())
}

fn file_stamp(path: &Path) -> Option<String> {
    let metadata = std::fs::metadata(path).ok()?;
    let mtime = metadata
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some(format!("{}:{mtime}", metadata.len()))
}

/// A cheap fingerprint of a venv's installed set: installing or removing a distribution adds or
/// removes a folder in site-packages, which changes that folder's mtime.
fn venv_fingerprint(venv: &Path) -> String {
    let mut parts = Vec::new();
    for path in inventory::site_packages(venv)
        .into_iter()
        .chain([venv.join("pyvenv.cfg")])
    {
        parts.push(format!(
            "{}={}",
            path.display(),
            file_stamp(&path).unwrap_or_default()
        ));
    }
    parts.join(";")
}

/// The venv's packages from the record when its fingerprint still matches, else re-derived
/// from the dist-info folders (and the record refreshed).
fn read_record(venv: &Path) -> BTreeMap<String, String> {
    let fingerprint = venv_fingerprint(venv);
    let file = venv.join(RECORD_FILE);
    if let Some(record) = std::fs::read(&file)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Record>(&bytes).ok())
        && record.fingerprint == fingerprint
    {
        return record.packages;
    }
    let packages = inventory::installed(&inventory::site_packages(venv));
    if !packages.is_empty() {
        let _ = write_record(venv, &packages);
    }
    packages
}

/// Writes the record `Toolchain::load` trusts while the venv is unchanged.
pub fn write_record(venv: &Path, packages: &BTreeMap<String, String>) -> Result<()> {
    let record = Record {
        fingerprint: venv_fingerprint(venv),
        packages: packages.clone(),
    };
    let bytes =
        serde_json::to_vec_pretty(&record).context("failed to serialise the toolchain record")?;
    fsutil::write_atomic_regenerable(&venv.join(RECORD_FILE), &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_banners() {
        assert_eq!(first_version("ruff 0.17.5\n").as_deref(), Some("0.17.5"));
        assert_eq!(first_version("pyright 1.1.414").as_deref(), Some("1.1.414"));
        assert_eq!(
            first_version("__main__.py 1.9.4\n  python version = 3.11.7").as_deref(),
            Some("1.9.4")
        );
        assert_eq!(first_version("garbage"), None);
    }

    #[test]
    fn the_record_is_rederived_when_the_venv_changes() {
        let venv = tempfile::tempdir().unwrap();
        let site = venv.path().join("lib/python3.11/site-packages");
        std::fs::create_dir_all(site.join("ruff-0.17.5.dist-info")).unwrap();
        let first = read_record(venv.path());
        assert_eq!(first.get("ruff").map(String::as_str), Some("0.17.5"));
        assert!(venv.path().join(RECORD_FILE).is_file());
        // An upgrade replaces the dist-info folder; mtime granularity may hide a change made in
        // the same instant, so move the folder's mtime explicitly as time would.
        std::fs::remove_dir(site.join("ruff-0.17.5.dist-info")).unwrap();
        std::fs::create_dir_all(site.join("ruff-0.18.0.dist-info")).unwrap();
        let later = std::time::SystemTime::now() + Duration::from_secs(5);
        std::fs::File::open(&site)
            .unwrap()
            .set_modified(later)
            .unwrap();
        let second = read_record(venv.path());
        assert_eq!(second.get("ruff").map(String::as_str), Some("0.18.0"));
    }
}
