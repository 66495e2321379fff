//! The tools we drive: what each step is, the findings they produce, and the pure parsers that
//! turn a tool's machine-readable output into findings.
//!
//! Parsers never spawn and never read files: they take bytes and return data or a reason the
//! bytes are not what the tool promises. Deciding what an exit code means lives here too, per
//! tool, because only the tool's documentation can say it; so does everything else about a
//! tool the engine needs (its config files, its caches, a test run's report files, read by the
//! thin readers beside the parsers), reached through the rows of `table.rs`.

pub mod bandit;
pub mod detect_secrets;
pub mod mypy;
pub mod pyright;
pub mod pytest;
pub mod result;
pub mod ruff;
pub mod table;
#[cfg(test)]
pub(crate) mod test_support;

/// What a test run measured, named without the tool that measured it.
pub use pytest::{Coverage, TestCounts, TestRun};

/// A folder or file name a tool writes into the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generated {
    Name(&'static str),
    /// Names starting so (`.coverage.<host>.<pid>` of a parallel run).
    Prefix(&'static str),
}

impl Generated {
    pub fn matches(self, name: &str) -> bool {
        match self {
            Generated::Name(generated) => name == generated,
            Generated::Prefix(prefix) => name.starts_with(prefix),
        }
    }
}

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::vocab::SecuritySeverity;

/// One problem a tool reported, with its location relative to the project root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Relative path with `/` separators; empty when the finding is not about a file.
    pub file: String,
    /// 1-based.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    pub code: String,
    pub message: String,
    pub severity: Severity,
    /// Whether the tool can fix it safely on its own (`--fix`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fixable: bool,
}

impl Finding {
    /// `path:line:col`, the form editors and terminals turn into links.
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => format!("{}:{line}:{column}", self.file),
            (Some(line), None) => format!("{}:{line}", self.file),
            _ => self.file.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// A security level of the policy (`security_fail_on`, bandit's own levels) as a finding's
/// severity: high is an error, medium a warning, low a note.
impl From<SecuritySeverity> for Severity {
    fn from(level: SecuritySeverity) -> Severity {
        match level {
            SecuritySeverity::High => Severity::Error,
            SecuritySeverity::Medium => Severity::Warning,
            SecuritySeverity::Low => Severity::Info,
        }
    }
}

/// The code a formatter's check gives a file it would rewrite (ruff's own code); the lint
/// gate counts these as files not formatted, every other finding as a lint finding.
pub const UNFORMATTED: &str = "unformatted";

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// The executables we drive, each installed from PyPI under the same name. What each one is
/// lives in its row of `table::TOOLS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    Ruff,
    Pyright,
    Bandit,
    Pytest,
    Mypy,
    #[serde(rename = "detect-secrets")]
    DetectSecrets,
}

impl Tool {
    pub fn name(self) -> &'static str {
        self.spec().name
    }
}

/// One kind of tool run for one component. What each one is lives in its row of
/// `table::STEPS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// `ruff check --fix`: applies safe fixes (only with `--fix`).
    RuffFix,
    /// `ruff format`: rewrites files (only with `--fix`).
    RuffFormatApply,
    RuffCheck,
    RuffFormat,
    Pyright,
    Mypy,
    Bandit,
    DetectSecrets,
    Pytest,
    /// `pytest -m integration` against live services (only with `--integration`; never cached).
    PytestIntegration,
}

impl StepKind {
    pub fn id(self) -> &'static str {
        self.spec().id
    }

    pub fn tool(self) -> Tool {
        self.spec().tool
    }

    /// Steps that change files: never cached, always run before the checks.
    pub fn modifies_files(self) -> bool {
        self.spec().modifies_files
    }

    /// Steps whose findings depend only on each file itself and its imports, so one run over
    /// many components can be split back per component.
    pub fn batchable(self) -> bool {
        self.spec().batchable
    }

    /// Whether the step reads the sources of the components this one depends on (imports are
    /// resolved and type-checked, or executed).
    pub fn reads_dependencies(self) -> bool {
        self.spec().reads_dependencies
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Why a tool's run cannot be read as a verdict. Each of these makes the step an error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolFailure {
    #[error("{tool} failed with {exit}{}", detail(tail))]
    Crashed {
        tool: &'static str,
        exit: String,
        tail: String,
    },
    #[error(
        "{tool} printed output that is not what it documents: {reason}{}",
        detail(tail)
    )]
    BadOutput {
        tool: &'static str,
        reason: String,
        tail: String,
    },
    #[error("pytest collected no tests from {paths}")]
    NoTests { paths: String },
    /// The run worked but proves nothing (integration tests all skipped or none marked).
    #[error("{reason}")]
    NoEvidence { reason: String },
}

fn detail(tail: &str) -> String {
    if tail.trim().is_empty() {
        String::new()
    } else {
        format!(":\n{tail}")
    }
}

/// Turns the paths tools print (absolute, `./`-prefixed, or relative to the project root) into
/// project-relative paths with `/` separators.
#[derive(Debug, Clone)]
pub struct PathNormalizer {
    /// Absolute spellings of the project root, each ending with `/`.
    roots: Vec<String>,
}

impl PathNormalizer {
    pub fn new(root: &std::path::Path) -> Self {
        let mut roots = vec![format!("{}/", root.display())];
        if let Ok(canonical) = std::fs::canonicalize(root) {
            let canonical = format!("{}/", canonical.display());
            if !roots.contains(&canonical) {
                roots.push(canonical);
            }
        }
        PathNormalizer { roots }
    }

    /// A normalizer for parser tests, with fixed root spellings.
    #[cfg(test)]
    pub fn fixed(roots: &[&str]) -> Self {
        PathNormalizer {
            roots: roots
                .iter()
                .map(|r| format!("{}/", r.trim_end_matches('/')))
                .collect(),
        }
    }

    pub fn normalize(&self, path: &str) -> String {
        let path = path.strip_prefix("file://").unwrap_or(path);
        let relative = self
            .roots
            .iter()
            .find_map(|root| path.strip_prefix(root.as_str()))
            .unwrap_or(path);
        let relative = relative.trim_start_matches("./");
        crate::fsutil::unix(std::path::Path::new(relative))
    }
}

/// A run that ended in a way its tool documents as "something went wrong": the failure names
/// the exit and shows the last lines of stderr, or of stdout when stderr is empty (pyright and
/// mypy print their fatal messages there).
pub(crate) fn crashed(tool: &'static str, done: &crate::process::Finished) -> ToolFailure {
    let mut tail = tail_of(&done.stderr);
    if tail.is_empty() {
        tail = tail_of(&done.stdout);
    }
    ToolFailure::Crashed {
        tool,
        exit: done.describe_exit(),
        tail,
    }
}

/// The diagnostics of a type checker that exits 0 with no error and 1 with errors: parsed,
/// and checked against that exit code (output that contradicts it is not believed).
pub(crate) fn checked_diagnostics(
    tool: &'static str,
    done: &crate::process::Finished,
    parsed: Result<Vec<Finding>, String>,
) -> Result<Vec<Finding>, ToolFailure> {
    let findings = parsed.map_err(|reason| ToolFailure::BadOutput {
        tool,
        reason,
        tail: tail_of(&done.stderr),
    })?;
    let has_errors = findings.iter().any(|f| f.severity == Severity::Error);
    if has_errors != (done.code == Some(1)) {
        return Err(ToolFailure::BadOutput {
            tool,
            reason: format!("{} does not match the diagnostics", done.describe_exit()),
            tail: tail_of(&done.stderr),
        });
    }
    Ok(findings)
}

/// Lossy text of the last lines of a stream, for failure messages.
pub(crate) fn tail_of(bytes: &[u8]) -> String {
    crate::process::tail_lines(&String::from_utf8_lossy(bytes), 15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizer_strips_every_root_spelling() {
        let n = PathNormalizer::fixed(&["/work/tta", "/real/tta"]);
        assert_eq!(n.normalize("/work/tta/src/a.py"), "src/a.py");
        assert_eq!(n.normalize("/real/tta/src/a.py"), "src/a.py");
        assert_eq!(n.normalize("file:///work/tta/src/a.py"), "src/a.py");
        assert_eq!(n.normalize("./src/a.py"), "src/a.py");
        assert_eq!(n.normalize("src/a.py"), "src/a.py");
    }
}
