//! bandit: the argument list and the parser of `-f json`, where `errors[]` (files bandit could
//! not scan, paths that do not exist) makes the run a failure, never a pass.

use serde::Deserialize;

use super::{Finding, PathNormalizer, Severity, ToolFailure, crashed, tail_of};
use crate::process::Finished;
use crate::vocab::SecuritySeverity;

/// Where bandit reads its settings at the project root: `.bandit` (with `-r`), and
/// `[tool.bandit]` in `pyproject.toml` (`config_file`).
pub const CONFIG_FILES: &[&str] = &["pyproject.toml", ".bandit"];

/// `pyproject.toml` when it has a `[tool.bandit]` table: bandit reads it only when given `-c`.
/// The one file this module reads; once per run.
pub fn config_file(root: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("pyproject.toml")).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    table
        .get("tool")
        .and_then(|t| t.get("bandit"))
        .map(|_| "pyproject.toml".to_owned())
}

/// `-q` keeps the banner off stdout so stdout is exactly the JSON document.
pub fn args(paths: &[String], config: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = ["-r", "-f", "json", "-q"].map(str::to_owned).to_vec();
    if let Some(config) = config {
        args.push("-c".to_owned());
        args.push(config.to_owned());
    }
    args.extend(paths.iter().cloned());
    args
}

#[derive(Deserialize)]
struct RawReport {
    errors: Vec<RawError>,
    results: Vec<RawResult>,
}

#[derive(Deserialize)]
struct RawError {
    filename: String,
    reason: String,
}

#[derive(Deserialize)]
struct RawResult {
    test_id: String,
    issue_severity: String,
    issue_confidence: String,
    filename: String,
    line_number: u32,
    #[serde(default)]
    col_offset: Option<u32>,
    issue_text: String,
}

/// Parses bandit's report; scan errors are returned as a failure.
pub fn parse(stdout: &[u8], paths: &PathNormalizer) -> Result<Vec<Finding>, ToolFailure> {
    let report: RawReport = serde_json::from_slice(stdout).map_err(|e| ToolFailure::BadOutput {
        tool: "bandit",
        reason: format!("invalid JSON from bandit: {e}"),
        tail: String::new(),
    })?;
    if !report.errors.is_empty() {
        let listed = report
            .errors
            .iter()
            .map(|e| format!("{}: {}", paths.normalize(&e.filename), e.reason))
            .collect::<Vec<_>>()
            .join("\n");
        return Err(ToolFailure::Crashed {
            tool: "bandit",
            exit: format!("{} scan errors", report.errors.len()),
            tail: listed,
        });
    }
    report
        .results
        .into_iter()
        .map(|r| {
            let level = SecuritySeverity::parse(&r.issue_severity).ok_or_else(|| {
                ToolFailure::BadOutput {
                    tool: "bandit",
                    reason: format!("unknown severity `{}`", r.issue_severity),
                    tail: String::new(),
                }
            })?;
            Ok(Finding {
                file: paths.normalize(&r.filename),
                line: Some(r.line_number),
                column: r.col_offset.map(|c| c + 1),
                code: r.test_id,
                message: format!(
                    "{} (severity {}, confidence {})",
                    r.issue_text,
                    r.issue_severity.to_ascii_lowercase(),
                    r.issue_confidence.to_ascii_lowercase()
                ),
                severity: Severity::from(level),
                fixable: false,
            })
        })
        .collect()
}

/// Exit 0: nothing found; 1: findings; anything else: failure.
pub fn interpret(done: &Finished, paths: &PathNormalizer) -> Result<Vec<Finding>, ToolFailure> {
    match done.code {
        Some(0) | Some(1) => {
            let findings = parse(&done.stdout, paths).map_err(|failure| match failure {
                ToolFailure::BadOutput { tool, reason, .. } => ToolFailure::BadOutput {
                    tool,
                    reason,
                    tail: tail_of(&done.stderr),
                },
                other => other,
            })?;
            if (done.code == Some(1)) == findings.is_empty() {
                return Err(ToolFailure::BadOutput {
                    tool: "bandit",
                    reason: format!("{} does not match the results", done.describe_exit()),
                    tail: tail_of(&done.stderr),
                });
            }
            Ok(findings)
        }
        _ => Err(crashed("bandit", done)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::normalizer;

    #[test]
    fn parses_captured_output() {
        let bytes = include_bytes!("../../test_data/bandit.json");
        let findings = parse(bytes, &normalizer()).unwrap();
        assert!(!findings.is_empty());
        insta::assert_yaml_snapshot!(findings);
    }

    #[test]
    fn scan_errors_are_a_failure_not_a_pass() {
        let bytes = include_bytes!("../../test_data/bandit_missing_path.json");
        let failure = parse(bytes, &normalizer()).unwrap_err();
        assert!(failure.to_string().contains("No such file"), "{failure}");
    }
}
