//! The security gate with detect-secrets turned on: real detect-secrets 1.5.0, installed by
//! `xtask setup` because the sandbox's xtask.toml pins it, on a temp copy of the example with a
//! committed fake AWS key. Off by default: without the pin there is no step and no mention.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::support::{Sandbox, assert_valid_json, pinned_sandbox, report_step};

/// The pin the test turns detect-secrets on with (the version this xtask is tested with).
const DETECT_SECRETS: &str = "detect-secrets = \"1.5.0\"";

/// A module holding AWS's documented example key: bandit finds nothing in it (no password
/// name, no call), detect-secrets does.
const LEAKY: &str = "\"\"\"Settings.\"\"\"\n\nREGION = \"eu-west-1\"\nAWS_ACCESS_KEY_ID = \"AKIAIOSFODNN7EXAMPLE\"\n";

fn secrets_sandbox() -> Sandbox {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    pinned_sandbox(DETECT_SECRETS, "secrets-venv", &READY)
}

#[test]
fn unpinned_detect_secrets_runs_no_step_and_is_never_mentioned() {
    let sandbox = Sandbox::new();
    sandbox.write("src/components/llm/settings.py", LEAKY);
    sandbox.commit_all("a leaked key");
    let check = sandbox.xtask(&["setup", "--check"]);
    assert!(!check.all().contains("detect-secrets"), "{}", check.all());
    let run = sandbox.xtask(&["promote", "llm", "--phase", "4"]);
    let report = sandbox.report("llm");
    assert!(report_step(&report, "bandit").is_some(), "{report:#}");
    assert!(
        report_step(&report, "detect-secrets").is_none(),
        "{report:#}"
    );
    // Bandit alone does not see the key: the gate passes on its word.
    assert_eq!(
        report["quality_gates"]["security"]["passed"], true,
        "{report:#}"
    );
    assert!(!report.to_string().contains("detect-secrets"), "{report:#}");
    assert!(!run.all().contains("detect-secrets"), "{}", run.all());
}

#[test]
fn pinned_detect_secrets_fails_the_security_gate_naming_the_file_and_line() {
    let sandbox = secrets_sandbox();
    crate::support::assert_setup_has(&sandbox, "detect-secrets", "1.5.0");

    // The clean tree: no secret in llm, the security gate passes with both tools.
    sandbox.xtask(&["promote", "llm", "--phase", "4"]);
    let report = sandbox.report("llm");
    let scan = report_step(&report, "detect-secrets")
        .unwrap_or_else(|| panic!("no detect-secrets step in {report:#}"));
    assert_eq!(scan["status"], "passed", "{report:#}");
    assert_eq!(scan["version"], "1.5.0");
    assert_eq!(
        report["quality_gates"]["security"]["passed"], true,
        "{report:#}"
    );

    // A committed fake AWS key: detect-secrets names its file and line, the gate fails.
    sandbox.write("src/components/llm/settings.py", LEAKY);
    sandbox.commit_all("a leaked key");
    let leaked = sandbox.xtask(&["promote", "llm", "--phase", "4"]);
    assert_eq!(leaked.code, 1, "{}", leaked.all());
    let report = sandbox.report("llm");
    assert_eq!(
        report_step(&report, "bandit").unwrap()["status"],
        "passed",
        "{report:#}"
    );
    let scan = report_step(&report, "detect-secrets").unwrap();
    assert_eq!(scan["status"], "failed", "{report:#}");
    let finding = &scan["findings"][0];
    assert_eq!(finding["file"], "src/components/llm/settings.py");
    assert_eq!(finding["line"], 4);
    assert_eq!(finding["code"], "AWS Access Key");
    assert_eq!(report["quality_gates"]["security"]["passed"], false);
    let blockers = report["blockers"].to_string();
    assert!(
        blockers.contains("1 detect-secrets finding")
            && blockers.contains("src/components/llm/settings.py:4"),
        "{blockers}"
    );
    assert!(leaked.stdout.contains("settings.py:4"), "{}", leaked.all());
    assert_valid_json(
        "promotion-report.schema.json",
        &sandbox.report_path("llm", "promotion.json"),
    );
}
