//! pyright: the argument list (pointed at the monorepo's interpreter) and the parser of
//! `--outputjson`.

use std::path::Path;

use serde::Deserialize;

use super::{Finding, PathNormalizer, Severity, ToolFailure, crashed};
use crate::process::Finished;

/// Where pyright reads its settings at the project root (`[tool.pyright]`).
pub const CONFIG_FILES: &[&str] = &["pyproject.toml", "pyrightconfig.json"];

/// Folders pyright resolves imports and stubs from besides the interpreter: `stubPath`
/// (default `typings`), `extraPaths` and those of `executionEnvironments`, from
/// `pyrightconfig.json` or `[tool.pyright]`; only the existing ones inside the root, sorted.
pub fn import_roots(root: &Path) -> Vec<String> {
    let settings: Option<serde_json::Value> =
        std::fs::read_to_string(root.join("pyrightconfig.json"))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .or_else(|| {
                let text = std::fs::read_to_string(root.join("pyproject.toml")).ok()?;
                let table: toml::Table = toml::from_str(&text).ok()?;
                serde_json::to_value(table.get("tool")?.get("pyright")?).ok()
            });
    let mut folders = vec![
        settings
            .as_ref()
            .and_then(|s| s.get("stubPath"))
            .and_then(|v| v.as_str())
            .unwrap_or("typings")
            .to_owned(),
    ];
    let strings = |value: Option<&serde_json::Value>| -> Vec<String> {
        value
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(settings) = &settings {
        folders.extend(strings(settings.get("extraPaths")));
        if let Some(envs) = settings
            .get("executionEnvironments")
            .and_then(|v| v.as_array())
        {
            for env in envs {
                folders.extend(strings(env.get("extraPaths")));
            }
        }
    }
    let mut folders: Vec<String> = folders
        .iter()
        .filter_map(|f| normalise(f))
        .filter(|f| !f.is_empty() && root.join(f).is_dir())
        .collect();
    folders.sort();
    folders.dedup();
    folders
}

/// `a/b/../c` -> `a/c`; `None` when the path leaves the root or is absolute.
fn normalise(path: &str) -> Option<String> {
    if path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            _ => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// `--pythonpath` makes pyright resolve imports in the monorepo's own environment; without it
/// every first-party import would be "missing" on a machine where that env is not active.
pub fn args(python: &Path, paths: &[String]) -> Vec<String> {
    let mut args = vec![
        "--outputjson".to_owned(),
        "--pythonpath".to_owned(),
        python.display().to_string(),
    ];
    args.extend(paths.iter().cloned());
    args
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawReport {
    general_diagnostics: Vec<RawDiagnostic>,
    summary: RawSummary,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSummary {
    /// Required: a report that cannot say how much it looked at cannot pass.
    files_analyzed: u64,
    error_count: u64,
}

#[derive(Deserialize)]
struct RawDiagnostic {
    #[serde(default)]
    file: String,
    severity: String,
    message: String,
    range: Option<RawRange>,
    rule: Option<String>,
}

#[derive(Deserialize)]
struct RawRange {
    start: RawPosition,
}

#[derive(Deserialize)]
struct RawPosition {
    line: u32,
    character: u32,
}

/// Parses pyright's JSON report. Positions are 0-based there and 1-based in findings.
pub fn parse(stdout: &[u8], paths: &PathNormalizer) -> Result<Vec<Finding>, String> {
    let report: RawReport =
        serde_json::from_slice(stdout).map_err(|e| format!("invalid JSON from pyright: {e}"))?;
    // Pyright exits 0 with no diagnostics when its paths hold no Python file, or its config
    // excludes them all: analysing nothing is not a clean type check.
    if report.summary.files_analyzed == 0 {
        return Err(
            "pyright analysed no files (summary.filesAnalyzed is 0): check the component's source path and the exclude settings of the pyright config".to_owned(),
        );
    }
    let findings: Vec<Finding> = report
        .general_diagnostics
        .into_iter()
        .map(|d| Finding {
            file: paths.normalize(&d.file),
            line: d.range.as_ref().map(|r| r.start.line + 1),
            column: d.range.as_ref().map(|r| r.start.character + 1),
            code: d.rule.unwrap_or_else(|| "pyright".to_owned()),
            // Pyright wraps explanations over indented lines; one line reads better in a list.
            message: d
                .message
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" "),
            severity: match d.severity.as_str() {
                "error" => Severity::Error,
                "warning" => Severity::Warning,
                _ => Severity::Info,
            },
            fixable: false,
        })
        .collect();
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count() as u64;
    if errors != report.summary.error_count {
        return Err(format!(
            "summary says {} errors but {errors} error diagnostics were listed",
            report.summary.error_count
        ));
    }
    Ok(findings)
}

/// Exit 0: no errors; 1: errors; 2 fatal, 3 config error, 4 bad command line: failures.
pub fn interpret(done: &Finished, paths: &PathNormalizer) -> Result<Vec<Finding>, ToolFailure> {
    match done.code {
        Some(0) | Some(1) => {
            super::checked_diagnostics("pyright", done, parse(&done.stdout, paths))
        }
        // Pyright prints its fatal messages on stdout even with --outputjson.
        _ => Err(crashed("pyright", done)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::normalizer;
    use std::time::Duration;

    #[test]
    fn import_roots_are_the_configured_folders_that_exist_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Without a config: the default stub folder, when it exists.
        assert!(import_roots(root).is_empty());
        std::fs::create_dir_all(root.join("typings")).unwrap();
        assert_eq!(import_roots(root), ["typings"]);
        for folder in ["stubs", "lib/extra", "shared"] {
            std::fs::create_dir_all(root.join(folder)).unwrap();
        }
        std::fs::write(
            root.join("pyproject.toml"),
            "[tool.pyright]\nstubPath = \"stubs\"\nextraPaths = [\"lib/./extra\", \"../outside\", \"/abs\", \"missing\"]\n",
        )
        .unwrap();
        assert_eq!(import_roots(root), ["lib/extra", "stubs"]);
        // pyrightconfig.json wins over pyproject.toml, execution environments count too.
        std::fs::write(
            root.join("pyrightconfig.json"),
            r#"{"extraPaths": ["shared"], "executionEnvironments": [{"root": "x", "extraPaths": ["lib/extra/"]}]}"#,
        )
        .unwrap();
        assert_eq!(import_roots(root), ["lib/extra", "shared", "typings"]);
    }

    #[test]
    fn parses_captured_output_with_one_based_positions() {
        let bytes = include_bytes!("../../test_data/pyright.json");
        let findings = parse(bytes, &normalizer()).unwrap();
        assert!(findings.iter().all(|f| f.line.unwrap() >= 1));
        insta::assert_yaml_snapshot!(findings);
    }

    #[test]
    fn a_summary_that_disagrees_with_the_list_is_bad_output() {
        let bytes = br#"{"generalDiagnostics":[],"summary":{"filesAnalyzed":1,"errorCount":2}}"#;
        assert!(parse(bytes, &normalizer()).is_err());
    }

    #[test]
    fn a_run_that_analysed_no_file_is_bad_output_not_a_pass() {
        // Captured from pyright 1.1.414 run on a folder that holds no Python file: exit 0.
        let done = Finished {
            code: Some(0),
            signal: None,
            stdout: include_bytes!("../../test_data/pyright-nothing-analysed.json").to_vec(),
            stderr: Vec::new(),
            duration: Duration::ZERO,
        };
        let failure = interpret(&done, &normalizer()).unwrap_err();
        assert!(
            failure.to_string().contains("analysed no files"),
            "{failure}"
        );
    }

    #[test]
    fn fatal_exit_codes_are_crashes() {
        let done = Finished {
            code: Some(4),
            signal: None,
            stdout: b"File or directory \"/x\" does not exist".to_vec(),
            stderr: Vec::new(),
            duration: Duration::ZERO,
        };
        let failure = interpret(&done, &normalizer()).unwrap_err();
        assert!(failure.to_string().contains("does not exist"), "{failure}");
    }
}
