//! The security gate with detect-secrets turned on: real detect-secrets 1.5.0, installed by
//! `xtask setup` because the sandbox's xtask.toml pins it, on a temp copy of the example with a
//! committed fake AWS key. Off by default: without the pin there is no step and no mention.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::support::{Sandbox, assert_valid_json, workspace};

/// The pin the test turns detect-secrets on with (the version this xtask is tested with).
const DETECT_SECRETS: &str = "detect-secrets = \"1.5.0\"";

/// A module holding AWS's documented example key: bandit finds nothing in it (no password
/// name, no call), detect-secrets does.
const LEAKY: &str = "\"\"\"Settings.\"\"\"\n\nREGION = \"eu-west-1\"\nAWS_ACCESS_KEY_ID = \"AKIAIOSFODNN7EXAMPLE\"\n";

/// A sandbox whose registry pins detect-secrets and whose tools come from a venv of their own
/// (`.xtask/secrets-venv`, set up once per test run by `xtask setup` itself), so the shared
/// venv the other tests use never changes under them.
fn secrets_sandbox() -> Sandbox {
    let mut sandbox = Sandbox::new();
    let text = sandbox
        .config_text()
        .replace("[tools]\n", &format!("[tools]\n{DETECT_SECRETS}\n"))
        .replace("install = true", "install = false");
    sandbox.set_config(&text);
    sandbox.env("XTASK_VENV", secrets_venv(&sandbox).to_str().unwrap());
    sandbox
}

fn secrets_venv(sandbox: &Sandbox) -> PathBuf {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY
        .get_or_init(|| {
            let venv = workspace().join(".xtask").join("secrets-venv");
            let mut command = sandbox.command();
            command
                .env("XTASK_VENV", &venv)
                .env_remove("XTASK_NO_BOOTSTRAP")
                .arg("setup");
            let output = command.output().expect("xtask setup runs");
            assert!(
                output.status.success(),
                "`xtask setup` with detect-secrets pinned failed (needs PyPI once):\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            venv
        })
        .clone()
}

fn step<'a>(report: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
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
    assert!(step(&report, "bandit").is_some(), "{report:#}");
    assert!(step(&report, "detect-secrets").is_none(), "{report:#}");
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
    let check = sandbox.xtask(&["setup", "--check"]);
    assert_eq!(check.code, 0, "{}", check.all());
    assert!(
        check
            .stdout
            .lines()
            .any(|l| l.starts_with("ok") && l.contains("detect-secrets") && l.contains("1.5.0")),
        "{}",
        check.all()
    );

    // The clean tree: no secret in llm, the security gate passes with both tools.
    sandbox.xtask(&["promote", "llm", "--phase", "4"]);
    let report = sandbox.report("llm");
    let scan = step(&report, "detect-secrets")
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
        step(&report, "bandit").unwrap()["status"],
        "passed",
        "{report:#}"
    );
    let scan = step(&report, "detect-secrets").unwrap();
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
