//! The types gate with mypy turned on: real mypy, installed by `xtask setup` because the
//! sandbox's xtask.toml pins it, on a temp copy of the example. Off by default: without the pin
//! setup does not list it and phase 2 runs pyright alone.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::support::{Sandbox, pinned_sandbox, report_step};

/// The pin the test turns mypy on with (the version this xtask is tested with).
const MYPY: &str = "mypy = \"2.4.1\"";

fn mypy_sandbox() -> Sandbox {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    pinned_sandbox(MYPY, "mypy-venv", &READY)
}

#[test]
fn mypy_is_off_until_pinned() {
    let sandbox = Sandbox::new();
    let check = sandbox.xtask(&["setup", "--check"]);
    assert!(!check.stdout.contains("mypy"), "{}", check.all());
    let run = sandbox.xtask(&["promote", "llm", "--phase", "2"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let report = sandbox.report("llm");
    assert!(report_step(&report, "pyright").is_some(), "{report:#}");
    assert!(report_step(&report, "mypy").is_none(), "{report:#}");
}

#[test]
fn pinned_mypy_is_installed_and_feeds_the_types_gate() {
    let sandbox = mypy_sandbox();
    crate::support::assert_setup_has(&sandbox, "mypy", "2.4.1");

    // The clean tree: llm passes mypy and pyright.
    let clean = sandbox.xtask(&["promote", "llm", "--phase", "2"]);
    assert_eq!(clean.code, 0, "{}", clean.all());
    let report = sandbox.report("llm");
    let mypy = report_step(&report, "mypy").unwrap_or_else(|| panic!("no mypy step in {report:#}"));
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
    assert_eq!(report_step(&report, "pyright").unwrap()["status"], "passed");
    let mypy = report_step(&report, "mypy").unwrap();
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
