//! ruff: argument lists for `check`, `format --check` and their fixing forms, and the parser
//! of `--output-format json` (the same shape for both subcommands).

use serde::Deserialize;

use super::{Finding, Generated, PathNormalizer, Severity, ToolFailure, crashed, tail_of};
use crate::process::Finished;

/// Where ruff reads its settings at the project root (`[tool.ruff]` in `pyproject.toml`).
pub const CONFIG_FILES: &[&str] = &["pyproject.toml", "ruff.toml", ".ruff.toml"];

/// Its cache, which a run by hand leaves in the tree (ours point it at the state folder).
pub const GENERATED: &[Generated] = &[Generated::Name(".ruff_cache")];

/// `ruff check` that never edits: `--no-fix` beats a `fix = true` in the project's config, and
/// `--force-exclude` keeps the project's `exclude` even though we pass paths explicitly.
/// Every form passes `--no-cache`: ruff's own `.ruff_cache` trusts a file whose size and mtime
/// are unchanged, so a same-size edit with its mtime put back would get the old verdict even
/// from `xtask promote --no-cache`. Our cache, keyed by content, does the caching.
pub fn check_args(paths: &[String]) -> Vec<String> {
    let mut args = vec![
        "check",
        "--no-cache",
        "--no-fix",
        "--force-exclude",
        "--output-format",
        "json",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    args.extend(paths.iter().cloned());
    args
}

pub fn format_check_args(paths: &[String]) -> Vec<String> {
    let mut args = vec![
        "format",
        "--no-cache",
        "--check",
        "--force-exclude",
        "--output-format",
        "json",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    args.extend(paths.iter().cloned());
    args
}

/// Safe fixes only, whatever the project's `unsafe-fixes` setting says: `--fix` must never
/// change what the code means.
pub fn fix_args(paths: &[String]) -> Vec<String> {
    let mut args = vec![
        "check",
        "--no-cache",
        "--fix",
        "--no-unsafe-fixes",
        "--force-exclude",
        "--output-format",
        "json",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    args.extend(paths.iter().cloned());
    args
}

pub fn format_apply_args(paths: &[String]) -> Vec<String> {
    let mut args = vec!["format", "--no-cache", "--force-exclude"]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    args.extend(paths.iter().cloned());
    args
}

/// `ruff check --fix` over one file's text on stdin: the fixed text comes back on stdout and
/// nothing is written. The file is named by its absolute path, as ruff then finds the same
/// configuration, excludes and per-file ignores as for the file itself (a relative name
/// misses `format.exclude` in ruff 0.17).
pub fn fix_stdin_args(path: &str) -> Vec<String> {
    let mut args = fix_args(&[]);
    args.extend([
        "--stdin-filename".to_owned(),
        path.to_owned(),
        "-".to_owned(),
    ]);
    args
}

/// `ruff format` over one file's text on stdin, as `fix_stdin_args`.
pub fn format_stdin_args(path: &str) -> Vec<String> {
    let mut args = format_apply_args(&[]);
    args.extend([
        "--stdin-filename".to_owned(),
        path.to_owned(),
        "-".to_owned(),
    ]);
    args
}

/// Reads `check --fix` over stdin: the fixed text is stdout; the diagnostics left unfixed are
/// a JSON array on stderr (after any warnings of ruff's own), which must parse; exit 0 means
/// none are left and 1 some. Anything else, or a diagnostic that is not about the code (an
/// `E902` I/O error), fails the step: it never passes unread.
pub fn read_fixed(done: &Finished) -> Result<Vec<u8>, ToolFailure> {
    if !matches!(done.code, Some(0) | Some(1)) {
        return Err(crashed("ruff", done));
    }
    let json_from = done
        .stderr
        .windows(2)
        .position(|w| w == b"\n[")
        .map_or(0, |i| i + 1);
    let json = done.stderr.get(json_from..).unwrap_or_default();
    let normalizer = PathNormalizer::new(std::path::Path::new("/"));
    let left = parse(json, &normalizer).map_err(|reason| ToolFailure::BadOutput {
        tool: "ruff",
        reason,
        tail: tail_of(&done.stderr),
    })?;
    if let Some(io) = left.iter().find(|f| f.code == "E902") {
        return Err(ToolFailure::BadOutput {
            tool: "ruff",
            reason: format!("it could not read the file: {}", io.message),
            tail: String::new(),
        });
    }
    if (done.code == Some(1)) == left.is_empty() {
        return Err(ToolFailure::BadOutput {
            tool: "ruff",
            reason: format!("{} does not match the diagnostics", done.describe_exit()),
            tail: tail_of(&done.stderr),
        });
    }
    Ok(done.stdout.clone())
}

/// Reads `format` over stdin: exit 0 with the formatted text on stdout; anything else fails.
pub fn read_formatted(done: &Finished) -> Result<Vec<u8>, ToolFailure> {
    match done.code {
        Some(0) => Ok(done.stdout.clone()),
        _ => Err(crashed("ruff", done)),
    }
}

#[derive(Deserialize)]
struct RawDiagnostic {
    code: Option<String>,
    message: String,
    filename: String,
    location: Option<RawLocation>,
    fix: Option<RawFix>,
}

#[derive(Deserialize)]
struct RawLocation {
    row: u32,
    column: u32,
}

#[derive(Deserialize)]
struct RawFix {
    applicability: String,
}

/// Parses ruff's JSON array of diagnostics.
pub fn parse(stdout: &[u8], paths: &PathNormalizer) -> Result<Vec<Finding>, String> {
    let raw: Vec<RawDiagnostic> =
        serde_json::from_slice(stdout).map_err(|e| format!("invalid JSON from ruff: {e}"))?;
    Ok(raw
        .into_iter()
        .map(|d| Finding {
            file: paths.normalize(&d.filename),
            line: d.location.as_ref().map(|l| l.row),
            column: d.location.as_ref().map(|l| l.column),
            code: d.code.unwrap_or_else(|| "ruff".to_owned()),
            message: d.message,
            severity: Severity::Error,
            fixable: d.fix.is_some_and(|f| f.applicability == "safe"),
        })
        .collect())
}

/// Reads a `check` or `format --check` run: exit 0 is clean, 1 has findings. Exit 2 is an
/// error, except for `format`, which uses it for files it cannot parse: those are the user's
/// syntax errors, findings like any other, as long as ruff says nothing else went wrong.
pub fn interpret(done: &Finished, paths: &PathNormalizer) -> Result<Vec<Finding>, ToolFailure> {
    let bad_output = |reason: String| ToolFailure::BadOutput {
        tool: "ruff",
        reason,
        tail: tail_of(&done.stderr),
    };
    match done.code {
        Some(0) | Some(1) => {
            let findings = parse(&done.stdout, paths).map_err(bad_output)?;
            if done.code == Some(0) && !findings.is_empty() {
                return Err(bad_output("exit code 0 with findings".to_owned()));
            }
            if done.code == Some(1) && findings.is_empty() {
                return Err(bad_output("exit code 1 without findings".to_owned()));
            }
            Ok(findings)
        }
        Some(2) => match parse(&done.stdout, paths) {
            Ok(findings)
                if !findings.is_empty()
                    && findings
                        .iter()
                        .all(|f| f.code == "invalid-syntax" || f.code == "unformatted") =>
            {
                Ok(findings)
            }
            _ => Err(crashed("ruff", done)),
        },
        _ => Err(crashed("ruff", done)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::normalizer;

    fn finished(code: i32, stdout: &[u8]) -> Finished {
        crate::tools::test_support::finished(code, stdout, b"ruff failed\n  Cause: boom")
    }

    #[test]
    fn parses_captured_check_output() {
        let bytes = include_bytes!("../../test_data/ruff_check.json");
        let findings = parse(bytes, &normalizer()).unwrap();
        insta::assert_yaml_snapshot!(findings);
    }

    #[test]
    fn parses_captured_format_check_output() {
        let bytes = include_bytes!("../../test_data/ruff_format_check.json");
        let findings = parse(bytes, &normalizer()).unwrap();
        assert!(!findings.is_empty());
        assert!(findings.iter().all(|f| f.code == "unformatted"));
        insta::assert_yaml_snapshot!(findings);
    }

    #[test]
    fn exit_codes_are_checked_against_the_output() {
        let clean = finished(0, b"[]");
        assert_eq!(interpret(&clean, &normalizer()).unwrap(), vec![]);
        let lying = finished(1, b"[]");
        assert!(matches!(
            interpret(&lying, &normalizer()),
            Err(ToolFailure::BadOutput { .. })
        ));
        let garbage = finished(1, b"Segmentation fault");
        assert!(matches!(
            interpret(&garbage, &normalizer()),
            Err(ToolFailure::BadOutput { .. })
        ));
        let error = finished(2, b"");
        assert!(matches!(
            interpret(&error, &normalizer()),
            Err(ToolFailure::Crashed { .. })
        ));
    }

    #[test]
    fn format_syntax_errors_are_findings_but_io_errors_are_not() {
        let syntax = br#"[{"code":"invalid-syntax","message":"unexpected EOF","filename":"/work/main/examples/tta/a.py","location":{"row":2,"column":1},"fix":null}]"#;
        let findings = interpret(&finished(2, syntax), &normalizer()).unwrap();
        assert_eq!(findings[0].file, "a.py");
        let io = br#"[{"code":"io","message":"No such file","filename":"/x","location":null,"fix":null}]"#;
        assert!(interpret(&finished(2, io), &normalizer()).is_err());
    }

    #[test]
    fn a_fix_over_stdin_is_read_from_both_streams_and_checked() {
        let done = |code, stdout: &[u8], stderr: &[u8]| {
            crate::tools::test_support::finished(code, stdout, stderr)
        };
        let clean = done(0, b"x = 1\n", b"[]");
        assert_eq!(read_fixed(&clean).unwrap(), b"x = 1\n");
        let left = br#"warning: a deprecated setting
[{"code":"F821","message":"Undefined name","filename":"/p/a.py","location":{"row":1,"column":1},"fix":null}]"#;
        assert_eq!(read_fixed(&done(1, b"y\n", left)).unwrap(), b"y\n");
        // Exit codes that contradict the diagnostics, garbage, an I/O error and a crash are
        // failures, never a pass.
        assert!(read_fixed(&done(0, b"y\n", left)).is_err());
        assert!(read_fixed(&done(1, b"y\n", b"[]")).is_err());
        assert!(read_fixed(&done(0, b"y\n", b"Segmentation fault")).is_err());
        let io = br#"[{"code":"E902","message":"Permission denied","filename":"/p/a.py","location":null,"fix":null}]"#;
        assert!(read_fixed(&done(1, b"", io)).is_err());
        assert!(read_fixed(&done(2, b"", b"error: bad config")).is_err());
        assert_eq!(
            read_formatted(&done(0, b"x = 1\n", b"")).unwrap(),
            b"x = 1\n"
        );
        assert!(read_formatted(&done(2, b"", b"error: Failed to parse")).is_err());
    }

    #[test]
    fn stdin_forms_name_the_file_and_read_stdin() {
        let fix = fix_stdin_args("/p/src/a.py");
        assert!(fix.ends_with(&["--stdin-filename".into(), "/p/src/a.py".into(), "-".into()]));
        assert!(fix.contains(&"--no-unsafe-fixes".to_owned()));
        assert_eq!(format_stdin_args("/p/a.py")[0], "format");
    }

    #[test]
    fn check_never_fixes_and_fix_is_safe_only() {
        let paths = vec!["src/a".to_owned()];
        assert!(check_args(&paths).contains(&"--no-fix".to_owned()));
        assert!(fix_args(&paths).contains(&"--no-unsafe-fixes".to_owned()));
        assert_eq!(check_args(&paths).last().unwrap(), "src/a");
    }
}
