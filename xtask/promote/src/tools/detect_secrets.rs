//! detect-secrets (optional, off until `[tools]` pins it): the argument list and the parser of
//! `detect-secrets scan`, whose JSON lists, per file, each line that holds a likely secret (an
//! AWS key, a private key, a password assigned in code, ...) by its type and a hash, never the
//! secret itself. A secret is always blocking: every finding is an error for the security gate.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Finding, PathNormalizer, Severity, ToolFailure, crashed, tail_of};
use crate::process::Finished;

/// `--all-files`: every file under the component's folder, not only those git tracks, so a
/// secret is found before it is committed, and in a checkout that is not a git work tree.
pub fn args(paths: &[String]) -> Vec<String> {
    let mut args: Vec<String> = ["scan", "--all-files"].map(str::to_owned).to_vec();
    args.extend(paths.iter().cloned());
    args
}

#[derive(Deserialize)]
struct RawReport {
    /// File name (relative to the working folder) -> the secrets found in it.
    results: BTreeMap<String, Vec<RawSecret>>,
}

#[derive(Deserialize)]
struct RawSecret {
    #[serde(rename = "type")]
    kind: String,
    filename: String,
    line_number: u32,
}

/// The findings of a scan's JSON, in file and line order.
pub fn parse(stdout: &[u8], paths: &PathNormalizer) -> Result<Vec<Finding>, ToolFailure> {
    let report: RawReport = serde_json::from_slice(stdout).map_err(|e| ToolFailure::BadOutput {
        tool: "detect-secrets",
        reason: format!("invalid JSON from detect-secrets: {e}"),
        tail: String::new(),
    })?;
    let mut findings: Vec<Finding> = report
        .results
        .into_values()
        .flatten()
        .map(|secret| Finding {
            file: paths.normalize(&secret.filename),
            line: Some(secret.line_number),
            column: None,
            message: format!(
                "{} (a likely secret; if it is not one, end the line with `# pragma: allowlist secret`)",
                secret.kind
            ),
            code: secret.kind,
            severity: Severity::Error,
            fixable: false,
        })
        .collect();
    findings.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok(findings)
}

/// `scan` exits 0 whether or not it found secrets (the findings are the verdict); anything else
/// is a failure.
pub fn interpret(done: &Finished, paths: &PathNormalizer) -> Result<Vec<Finding>, ToolFailure> {
    match done.code {
        Some(0) => parse(&done.stdout, paths).map_err(|failure| match failure {
            ToolFailure::BadOutput { tool, reason, .. } => ToolFailure::BadOutput {
                tool,
                reason,
                tail: tail_of(&done.stderr),
            },
            other => other,
        }),
        _ => Err(crashed("detect-secrets", done)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::{finished, normalizer};

    #[test]
    fn parses_captured_output() {
        let bytes = include_bytes!("../../test_data/detect_secrets.json");
        let findings = parse(bytes, &normalizer()).unwrap();
        assert_eq!(findings.len(), 2);
        insta::assert_yaml_snapshot!(findings);
    }

    #[test]
    fn a_clean_scan_has_no_findings() {
        let bytes = include_bytes!("../../test_data/detect_secrets_clean.json");
        assert_eq!(
            interpret(&finished(0, bytes, b""), &normalizer()),
            Ok(vec![])
        );
    }

    #[test]
    fn output_that_is_not_a_scan_or_a_failed_run_is_never_a_pass() {
        let not_json = interpret(
            &finished(0, b"usage: detect-secrets", b"oops"),
            &normalizer(),
        );
        assert!(
            matches!(not_json, Err(ToolFailure::BadOutput { ref tail, .. }) if tail.contains("oops"))
        );
        let no_results = interpret(&finished(0, br#"{"version": "1.5.0"}"#, b""), &normalizer());
        assert!(matches!(no_results, Err(ToolFailure::BadOutput { .. })));
        let crashed = interpret(&finished(1, b"", b"Traceback"), &normalizer());
        assert!(matches!(crashed, Err(ToolFailure::Crashed { .. })));
    }

    #[test]
    fn arguments_scan_every_file_of_the_paths() {
        assert_eq!(
            args(&["src/components/llm".to_owned()]),
            ["scan", "--all-files", "src/components/llm"]
        );
    }
}
