//! mypy, the optional second type checker: its argument list (pointed at the monorepo's
//! interpreter) and the parser of `--output json` (mypy >= 1.11: one JSON object per line).

use std::path::Path;

use serde::Deserialize;

use super::{Finding, Generated, PathNormalizer, Severity, ToolFailure, crashed};
use crate::process::Finished;

/// Where mypy reads its settings at the project root (`[mypy]` in `mypy.ini`, `.mypy.ini` and
/// `setup.cfg`; `[tool.mypy]` in `pyproject.toml`), in the order mypy looks.
pub const CONFIG_FILES: &[&str] = &["mypy.ini", ".mypy.ini", "pyproject.toml", "setup.cfg"];

/// Its incremental cache, which a run by hand leaves in the tree (ours writes none).
pub const GENERATED: &[Generated] = &[Generated::Name(".mypy_cache")];

/// `--python-executable` makes mypy find the monorepo's installed packages, as pyright's
/// `--pythonpath` does. `--follow-imports=silent` analyses what the paths import but reports
/// only the paths themselves, so a dependency's own errors stay in its own verdict (as
/// pyright's). mypy's incremental cache trusts file metadata and would land in the user's tree;
/// `/dev/null` turns its writing off (our cache, keyed by content, does the caching).
pub fn args(python: &Path, paths: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--output",
        "json",
        "--follow-imports=silent",
        "--no-color-output",
        "--no-error-summary",
        "--cache-dir=/dev/null",
        "--python-executable",
    ]
    .map(str::to_owned)
    .to_vec();
    args.push(python.display().to_string());
    args.extend(paths.iter().cloned());
    args
}

#[derive(Deserialize)]
struct RawDiagnostic {
    file: String,
    /// 1-based.
    line: i64,
    /// 0-based; -1 when mypy has no column.
    column: i64,
    message: String,
    hint: Option<String>,
    code: Option<String>,
    severity: String,
}

/// Parses mypy's JSON lines. Lines are 1-based and columns 0-based there; both are 1-based in
/// findings. A hint (which stub package to install, say) is kept on the message.
pub fn parse(stdout: &[u8], paths: &PathNormalizer) -> Result<Vec<Finding>, String> {
    let text = std::str::from_utf8(stdout).map_err(|e| format!("output is not UTF-8: {e}"))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let d: RawDiagnostic = serde_json::from_str(line)
                .map_err(|e| format!("invalid JSON line from mypy: {e}: {line}"))?;
            let severity = match d.severity.as_str() {
                "error" => Severity::Error,
                "note" => Severity::Info,
                other => return Err(format!("unknown severity `{other}`")),
            };
            let mut message = d.message;
            if let Some(hint) = d.hint.filter(|h| !h.trim().is_empty()) {
                // Hints span lines; one line reads better in a list.
                let hint: Vec<&str> = hint.lines().map(str::trim).collect();
                message = format!("{message} ({})", hint.join(" "));
            }
            Ok(Finding {
                file: paths.normalize(&d.file),
                line: u32::try_from(d.line).ok().filter(|l| *l > 0),
                column: u32::try_from(d.column).ok().map(|c| c + 1),
                code: d.code.unwrap_or_else(|| "mypy".to_owned()),
                message,
                severity,
                fixable: false,
            })
        })
        .collect()
}

/// Exit 0: no errors; 1: errors. Exit 2 is a blocking error: the user's syntax errors when mypy
/// reports them as JSON findings coded `syntax` (they are findings like any other), else a
/// failure (a path that does not exist, a bad config, a crash) printed as text.
pub fn interpret(done: &Finished, paths: &PathNormalizer) -> Result<Vec<Finding>, ToolFailure> {
    let has_errors = |findings: &[Finding]| findings.iter().any(|f| f.severity == Severity::Error);
    match done.code {
        Some(0) | Some(1) => super::checked_diagnostics("mypy", done, parse(&done.stdout, paths)),
        Some(2) => match parse(&done.stdout, paths) {
            Ok(findings)
                if has_errors(&findings)
                    && findings
                        .iter()
                        .filter(|f| f.severity == Severity::Error)
                        .all(|f| f.code == "syntax") =>
            {
                Ok(findings)
            }
            _ => Err(crashed("mypy", done)),
        },
        _ => Err(crashed("mypy", done)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::{finished, normalizer};

    #[test]
    fn parses_captured_output_with_one_based_positions() {
        let bytes = include_bytes!("../../test_data/mypy.jsonl");
        let findings = interpret(&finished(1, bytes, b""), &normalizer()).unwrap();
        assert_eq!(findings.len(), 10);
        assert!(findings.iter().all(|f| f.severity == Severity::Error));
        // `return ...` indented by eight: the expression starts at 0-based column 15.
        let first = &findings[0];
        assert_eq!(
            first.location(),
            "src/components/narrative_arc_orchestrator/arcs.py:81:16"
        );
        insta::assert_yaml_snapshot!(findings);
    }

    #[test]
    fn hints_stay_on_the_message_and_notes_are_info() {
        let bytes = include_bytes!("../../test_data/mypy_hints_and_notes.jsonl");
        let findings = parse(bytes, &normalizer()).unwrap();
        assert!(findings[0].message.contains("types-PyYAML"), "{findings:?}");
        assert!(!findings[0].message.contains('\n'));
        assert_eq!(findings[2].severity, Severity::Info);
        assert_eq!(findings[2].column, Some(13));
        insta::assert_yaml_snapshot!(findings);
    }

    #[test]
    fn syntax_errors_are_findings_but_other_blocking_errors_are_failures() {
        let bytes = include_bytes!("../../test_data/mypy_syntax_error.jsonl");
        let findings = interpret(&finished(2, bytes, b""), &normalizer()).unwrap();
        assert!(findings.iter().all(|f| f.code == "syntax"));
        // Captured: `mypy src/nonexist` exits 2 with text on stderr and nothing on stdout.
        let missing = finished(
            2,
            b"",
            b"src/nonexist: error: Cannot read file: No such file or directory\n",
        );
        let failure = interpret(&missing, &normalizer()).unwrap_err();
        assert!(
            failure.to_string().contains("Cannot read file"),
            "{failure}"
        );
    }

    #[test]
    fn an_exit_code_that_contradicts_the_output_is_bad_output() {
        let clean_but_failed = finished(1, b"", b"");
        assert!(matches!(
            interpret(&clean_but_failed, &normalizer()),
            Err(ToolFailure::BadOutput { .. })
        ));
        let bytes = include_bytes!("../../test_data/mypy.jsonl");
        assert!(interpret(&finished(0, bytes, b""), &normalizer()).is_err());
        assert!(interpret(&finished(1, b"Segmentation fault", b""), &normalizer()).is_err());
    }

    #[test]
    fn argv_points_at_the_interpreter_and_keeps_paths_last() {
        let args = args(Path::new("/env/bin/python"), &["src/a".to_owned()]);
        let at = args
            .iter()
            .position(|a| a == "--python-executable")
            .unwrap();
        assert_eq!(args[at + 1], "/env/bin/python");
        assert!(args.contains(&"--follow-imports=silent".to_owned()));
        assert_eq!(args.last().unwrap(), "src/a");
    }
}
