//! Which Python builds the tool venv: one that satisfies the project's `requires-python`.
//! `XTASK_PYTHON` when set (refused if it does not satisfy), else the first that does among
//! `python3` and `python3.N` on PATH, pyenv's versions and uv's managed Pythons. The specifier
//! check is pure; asking a candidate its version starts it (setup only, never the warm path).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::errors::infra;
use crate::process::{self, ToolCommand};

/// `requires-python` of the pyproject.toml in `root`, when it states one.
pub fn requires_python(root: &Path) -> Result<Option<String>> {
    let path = root.join("pyproject.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("failed to read {}", path.display())),
    };
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("failed to parse {}", path.display()))?;
    Ok(table
        .get("project")
        .and_then(|p| p.get("requires-python"))
        .and_then(|v| v.as_str())
        .map(str::to_owned))
}

/// `3.12.1` -> `[3, 12, 1]`; anything after the release numbers (`rc1`, `+local`) is ignored.
pub fn parse_version(text: &str) -> Option<Vec<u64>> {
    let release: Vec<u64> = text
        .trim()
        .split('.')
        .map_while(|part| {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect();
    (!release.is_empty()).then_some(release)
}

fn compare(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    let len = a.len().max(b.len());
    let pad = |v: &[u64]| -> Vec<u64> {
        let mut v = v.to_vec();
        v.resize(len, 0);
        v
    };
    pad(a).cmp(&pad(b))
}

/// Whether `version` satisfies a PEP 440 specifier set such as `>=3.12`, `>=3.11,<3.14`,
/// `~=3.12`, `==3.12.*` or `!=3.13.0`, on release numbers (what `requires-python` uses).
/// A clause we cannot read is `None`: the caller says so rather than guessing.
pub fn satisfies(spec: &str, version: &[u64]) -> Option<bool> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    for clause in spec.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let op_len = clause
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(clause.len());
        let (op, rest) = clause.split_at(op_len);
        let (rest, wildcard) = match rest.trim().strip_suffix(".*") {
            Some(prefix) => (prefix, true),
            None => (rest.trim(), false),
        };
        let wanted = parse_version(rest)?;
        let prefix_equal = || version.starts_with(&wanted);
        let ok = match (op.trim(), wildcard) {
            ("==", true) => prefix_equal(),
            ("!=", true) => !prefix_equal(),
            ("==" | "===", false) => compare(version, &wanted) == Equal,
            ("!=", false) => compare(version, &wanted) != Equal,
            (">=", false) => compare(version, &wanted) != Less,
            (">", false) => compare(version, &wanted) == Greater,
            ("<=", false) => compare(version, &wanted) != Greater,
            ("<", false) => compare(version, &wanted) == Less,
            ("~=", false) if wanted.len() >= 2 => {
                let prefix: &[u64] = wanted.split_last().map_or(&[], |(_, prefix)| prefix);
                compare(version, &wanted) != Less && version.starts_with(prefix)
            }
            _ => return None,
        };
        if !ok {
            return Some(false);
        }
    }
    Some(true)
}

/// The interpreters worth asking, most preferred first, without duplicates.
fn candidates() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let mut push = |path: PathBuf| {
        if !found.contains(&path) {
            found.push(path);
        }
    };
    if let Ok(path) = which::which("python3") {
        push(path);
    }
    for minor in (8..=30).rev() {
        if let Ok(path) = which::which(format!("python3.{minor}")) {
            push(path);
        }
    }
    let env = crate::edge_env::get();
    let pyenv_root = env
        .pyenv_root
        .clone()
        .or_else(|| env.home.as_ref().map(|h| h.join(".pyenv")));
    if let Some(versions) = pyenv_root.map(|r| r.join("versions"))
        && let Ok(entries) = std::fs::read_dir(&versions)
    {
        let mut pythons: Vec<(Vec<u64>, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let version = parse_version(e.file_name().to_str()?)?;
                let python = e.path().join("bin").join("python3");
                python.is_file().then_some((version, python))
            })
            .collect();
        pythons.sort_by(|a, b| compare(&b.0, &a.0));
        for (_, python) in pythons {
            push(python);
        }
    }
    found
}

/// The interpreter's version, by asking it (a pyenv shim of an inactive version fails here
/// and is passed over).
fn version_of(python: &Path, cwd: &Path) -> Option<Vec<u64>> {
    let command = ToolCommand::new(python, cwd, Duration::from_secs(30)).args([
        "-c",
        "import sys; print('.'.join(map(str, sys.version_info[:3])))",
    ]);
    let done = process::run(&command).ok()?;
    if done.code != Some(0) {
        return None;
    }
    parse_version(&String::from_utf8_lossy(&done.stdout))
}

/// uv's own answer for the specifier, when uv is installed (it knows its managed Pythons).
fn uv_find(spec: &str, cwd: &Path) -> Option<PathBuf> {
    let uv = which::which("uv").ok()?;
    let command =
        ToolCommand::new(&uv, cwd, Duration::from_secs(30)).args(["python", "find", spec]);
    let done = process::run(&command).ok()?;
    if done.code != Some(0) {
        return None;
    }
    let path = PathBuf::from(String::from_utf8_lossy(&done.stdout).trim());
    path.is_file().then_some(path)
}

/// The interpreter to build the tool venv with, for a project that needs `spec` (`None`: any
/// Python 3). `cwd` is where candidates are started.
pub fn select(spec: Option<&str>, cwd: &Path) -> Result<PathBuf> {
    let wanted = spec.unwrap_or(">=3");
    if let Some(python) = crate::edge_env::get().xtask.python.clone() {
        return match version_of(&python, cwd) {
            Some(version) if satisfies(wanted, &version) != Some(false) => Ok(python),
            Some(version) => Err(infra(format!(
                "XTASK_PYTHON={} is Python {}, but the project needs requires-python {wanted}: point XTASK_PYTHON at one that satisfies it, or unset it",
                python.display(),
                dotted(&version)
            ))),
            None => Err(infra(format!(
                "XTASK_PYTHON={} does not run: point it at a Python interpreter, or unset it",
                python.display()
            ))),
        };
    }
    if satisfies(wanted, &[3, 0, 0]).is_none() {
        return Err(infra(format!(
            "requires-python `{wanted}` in pyproject.toml is not a specifier xtask reads: set XTASK_PYTHON to the interpreter to use"
        )));
    }
    let mut tried = Vec::new();
    for python in candidates() {
        match version_of(&python, cwd) {
            Some(version) if satisfies(wanted, &version) == Some(true) => return Ok(python),
            Some(version) => tried.push(format!("{} ({})", python.display(), dotted(&version))),
            None => tried.push(format!("{} (does not run)", python.display())),
        }
    }
    if let Some(python) = uv_find(wanted, cwd) {
        return Ok(python);
    }
    Err(infra(format!(
        "no Python satisfying requires-python {wanted} was found{}: install one (`uv python install`, pyenv or the system's packages) or set XTASK_PYTHON to it",
        if tried.is_empty() {
            String::new()
        } else {
            format!("; tried {}", tried.join(", "))
        }
    )))
}

/// The Python version a venv was made with, from its `pyvenv.cfg`; reads one file.
pub fn venv_version(venv: &Path) -> Option<Vec<u64>> {
    let text = std::fs::read_to_string(venv.join("pyvenv.cfg")).ok()?;
    text.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        matches!(key.trim(), "version" | "version_info")
            .then(|| parse_version(value))
            .flatten()
    })
}

pub fn dotted(version: &[u64]) -> String {
    version
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specifiers_are_checked_on_release_numbers() {
        let v = |s: &str| parse_version(s).unwrap();
        assert_eq!(satisfies(">=3.12", &v("3.11.7")), Some(false));
        assert_eq!(satisfies(">=3.12", &v("3.12.1")), Some(true));
        assert_eq!(satisfies(">=3.12", &v("3.13.0")), Some(true));
        assert_eq!(satisfies(">=3.11,<3.13", &v("3.13.0")), Some(false));
        assert_eq!(satisfies(">=3.11, <3.13", &v("3.12.9")), Some(true));
        assert_eq!(satisfies("~=3.12", &v("3.13.0")), Some(true));
        assert_eq!(satisfies("~=3.12.0", &v("3.13.0")), Some(false));
        assert_eq!(satisfies("==3.12.*", &v("3.12.4")), Some(true));
        assert_eq!(satisfies("==3.12.*", &v("3.13.0")), Some(false));
        assert_eq!(satisfies("!=3.12.0", &v("3.12")), Some(false));
        assert_eq!(satisfies(">3.12", &v("3.12.0")), Some(false));
        assert_eq!(satisfies("<=3.12", &v("3.12.0")), Some(true));
        assert_eq!(satisfies("^3.12", &v("3.12.0")), None);
        assert_eq!(parse_version("3.13.0rc1").unwrap(), vec![3, 13, 0]);
    }

    #[test]
    fn a_venvs_version_comes_from_pyvenv_cfg() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pyvenv.cfg"),
            "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.7\n",
        )
        .unwrap();
        assert_eq!(venv_version(dir.path()), Some(vec![3, 11, 7]));
        std::fs::write(
            dir.path().join("pyvenv.cfg"),
            "version_info = 3.12.1.final.0\n",
        )
        .unwrap();
        assert_eq!(venv_version(dir.path()), Some(vec![3, 12, 1]));
        assert_eq!(venv_version(&dir.path().join("none")), None);
    }
}
