//! The types gate with mypy turned on: real mypy, installed by `xtask setup` because the
//! sandbox's xtask.toml pins it, on a temp copy of the example. Off by default: without the pin
//! setup does not list it and phase 2 runs pyright alone.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::support::{Sandbox, workspace};

/// The pin the test turns mypy on with (the version this xtask is tested with).
const MYPY: &str = "mypy = \"2.4.1\"";

/// A sandbox whose registry pins mypy and whose tools come from a venv of their own: `setup`
/// with that registry installs mypy there, so the shared venv the other tests use (and their
/// interpreter identity) never changes under them. The project is not installed into it; the
/// sandbox's sources reach the tools through PYTHONPATH.
fn mypy_sandbox() -> Sandbox {
    let mut sandbox = Sandbox::new();
    let text = sandbox
        .config_text()
        .replace("[tools]\n", &format!("[tools]\n{MYPY}\n"))
        .replace("install = true", "install = false");
    sandbox.set_config(&text);
    sandbox.env("XTASK_VENV", mypy_venv(&sandbox).to_str().unwrap());
    sandbox
}

/// `.xtask/mypy-venv`, set up once per test run by `xtask setup` itself.
fn mypy_venv(sandbox: &Sandbox) -> PathBuf {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY
        .get_or_init(|| {
            let venv = workspace().join(".xtask").join("mypy-venv");
            let mut command = sandbox.command();
            command
                .env("XTASK_VENV", &venv)
                .env_remove("XTASK_NO_BOOTSTRAP")
                .arg("setup");
            let output = command.output().expect("xtask setup runs");
            assert!(
                output.status.success(),
                "`xtask setup` with mypy pinned failed (needs PyPI once):\n{}",
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
fn mypy_is_off_until_pinned() {
    let sandbox = Sandbox::new();
    let check = sandbox.xtask(&["setup", "--check"]);
    assert!(!check.stdout.contains("mypy"), "{}", check.all());
    let run = sandbox.xtask(&["promote", "llm", "--phase", "2"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let report = sandbox.report("llm");
    assert!(step(&report, "pyright").is_some(), "{report:#}");
    assert!(step(&report, "mypy").is_none(), "{report:#}");
}

#[test]
fn pinned_mypy_is_installed_and_feeds_the_types_gate() {
    let sandbox = mypy_sandbox();
    let check = sandbox.xtask(&["setup", "--check"]);
    assert_eq!(check.code, 0, "{}", check.all());
    assert!(
        check
            .stdout
            .lines()
            .any(|l| l.starts_with("ok") && l.contains("mypy") && l.contains("2.4.1")),
        "{}",
        check.all()
    );

    // The clean tree: llm passes mypy and pyright.
    let clean = sandbox.xtask(&["promote", "llm", "--phase", "2"]);
    assert_eq!(clean.code, 0, "{}", clean.all());
    let report = sandbox.report("llm");
    let mypy = step(&report, "mypy").unwrap_or_else(|| panic!("no mypy step in {report:#}"));
    assert_eq!(mypy["status"], "passed", "{report:#}");
    assert_eq!(mypy["version"], "2.4.1");
    assert_eq!(report["quality_gates"]["types"]["passed"], true);

    // An error mypy reports and pyright (standard mode) does not: the gate fails on mypy's word.
    sandbox.write(
        "src/components/llm/scratch.py",
        "def collect() -> None:\n    items = []\n    print(items)\n",
    );
    let broken = sandbox.xtask(&["promote", "llm", "--phase", "2"]);
    assert_eq!(broken.code, 1, "{}", broken.all());
    let report = sandbox.report("llm");
    assert_eq!(step(&report, "pyright").unwrap()["status"], "passed");
    let mypy = step(&report, "mypy").unwrap();
    assert_eq!(mypy["status"], "failed", "{report:#}");
    let finding = &mypy["findings"][0];
    assert_eq!(finding["file"], "src/components/llm/scratch.py");
    assert_eq!(finding["code"], "var-annotated");
    assert_eq!(finding["line"], 2);
    assert_eq!(report["quality_gates"]["types"]["passed"], false);
    let blockers = report["blockers"].to_string();
    assert!(blockers.contains("1 mypy error"), "{blockers}");
    assert!(broken.stdout.contains("var-annotated"), "{}", broken.all());
}
