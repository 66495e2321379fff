//! Faults the real tools cannot produce on demand (a crash, a hang, garbage output, a missing
//! binary), with small fake executables on PATH; and those they can (a file bandit cannot
//! parse), with the real ones. None of them may ever pass.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::{Sandbox, fake_tool, junitparser_counts};

/// A sandbox whose tools come only from `bin` (plus the system's sh and coreutils).
fn sandbox_with_fakes() -> (Sandbox, PathBuf) {
    let mut sandbox = Sandbox::new();
    let bin = sandbox.root().join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let empty_venv = sandbox.root().join("no-venv");
    std::fs::create_dir_all(&empty_venv).unwrap();
    sandbox.env("XTASK_VENV", empty_venv.to_str().unwrap());
    sandbox.env("PATH", &format!("{}:/usr/bin:/bin", bin.display()));
    (sandbox, bin)
}

/// A fake tool that answers `--version` like the real one and otherwise runs `body`.
fn fake(bin: &std::path::Path, name: &str, version: &str, body: &str) {
    fake_tool(
        bin,
        name,
        &format!(
            "if [ \"$1\" = \"--version\" ]; then echo \"{name} {version}\"; exit 0; fi\n{body}"
        ),
    );
}

/// A sandbox whose pyright starts a child that would live for five minutes and then waits on
/// it; returns the file where the child's PID lands.
fn sandbox_with_hanging_pyright() -> (Sandbox, PathBuf) {
    let (sandbox, bin) = sandbox_with_fakes();
    let pid_file = sandbox.root().join("child.pid");
    fake(
        &bin,
        "pyright",
        "1.1.414",
        &format!("sleep 300 &\necho $! > {}\nwait", pid_file.display()),
    );
    (sandbox, pid_file)
}

fn step(report: &serde_json::Value, name: &str) -> serde_json::Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no step {name} in {report:#}"))
}

#[test]
fn a_crashing_tool_is_an_infrastructure_error() {
    let (sandbox, bin) = sandbox_with_fakes();
    fake(&bin, "ruff", "0.17.5", "kill -SEGV $$");
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "1"]);
    assert_eq!(run.code, 3, "{}", run.all());
    let report = sandbox.report("carbon");
    let check = step(&report, "ruff-check");
    assert_eq!(check["status"], "error");
    assert_eq!(check["error"]["kind"], "crashed");
    assert!(
        check["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signal 11")
    );
    assert_eq!(report["quality_gates"]["lint"]["passed"], false);
}

#[test]
fn a_hanging_tool_is_killed_with_its_children_at_the_deadline() {
    let (sandbox, pid_file) = sandbox_with_hanging_pyright();
    let config = sandbox
        .config_text()
        .replace("pyright = 600", "pyright = 2");
    sandbox.set_config(&config);
    let started = Instant::now();
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "2"]);
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(started.elapsed() < Duration::from_secs(60));
    let report = sandbox.report("carbon");
    assert_eq!(step(&report, "pyright")["error"]["kind"], "timed-out");
    assert!(
        run.stdout.contains("did not finish within 2s"),
        "{}",
        run.all()
    );
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(
        !running(&pid),
        "the tool's child {pid} outlived the deadline"
    );
}

#[test]
fn garbage_output_is_an_error_never_a_pass() {
    let (sandbox, bin) = sandbox_with_fakes();
    // Exit 0 with something that is not ruff's JSON: a lying tool must not pass the gate.
    fake(&bin, "ruff", "0.17.5", "echo 'All checks passed!'; exit 0");
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "1"]);
    assert_eq!(run.code, 3, "{}", run.all());
    let report = sandbox.report("carbon");
    assert_eq!(step(&report, "ruff-check")["error"]["kind"], "bad-output");
    assert_eq!(report["passed"], false);
}

#[test]
fn a_missing_tool_names_the_fix() {
    let (sandbox, _bin) = sandbox_with_fakes();
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "1"]);
    assert_eq!(run.code, 3, "{}", run.all());
    let report = sandbox.report("carbon");
    let check = step(&report, "ruff-check");
    assert_eq!(check["error"]["kind"], "not-found");
    assert!(
        check["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cargo xtask setup")
    );
    assert!(run.stdout.contains("cargo xtask setup"), "{}", run.all());
}

#[test]
fn control_characters_in_tool_output_keep_junit_well_formed() {
    let (sandbox, bin) = sandbox_with_fakes();
    let finding = r#"[{"code":"E999","message":"bad \u001b[31mred\u001b[0m \u0007bell \u0000nul","filename":"src/components/carbon_component.py","location":{"row":1,"column":1},"fix":null}]"#;
    fake(
        &bin,
        "ruff",
        "0.17.5",
        &format!("if [ \"$1\" = check ]; then echo '{finding}'; exit 1; fi\necho '[]'; exit 0"),
    );
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "1"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let junit = sandbox.report_path("carbon", "junit.xml");
    let (_, failures, _) = junitparser_counts(&junit);
    assert_eq!(failures, 2, "the finding and the lint gate");
    let bytes = std::fs::read(&junit).unwrap();
    assert!(!bytes.iter().any(|&b| b == 0 || b == 0x1b || b == 0x07));
}

#[test]
fn a_file_bandit_cannot_parse_fails_the_security_gate() {
    let sandbox = Sandbox::new();
    let file = "src/components/carbon_component.py";
    let mut text = sandbox.read(file);
    text.push_str("\ndef broken(:\n");
    sandbox.write(file, &text);
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "4"]);
    assert_ne!(run.code, 0, "{}", run.all());
    let report = sandbox.report("carbon");
    let bandit = step(&report, "bandit");
    assert_eq!(bandit["status"], "error", "{bandit:#}");
    assert!(
        bandit["error"]["message"]
            .as_str()
            .unwrap()
            .contains("carbon_component.py")
    );
    assert_eq!(report["quality_gates"]["security"]["passed"], false);
}

#[test]
fn an_interrupted_run_stops_its_tools_and_is_not_a_pass() {
    let (sandbox, pid_file) = sandbox_with_hanging_pyright();
    let mut child = sandbox
        .command()
        .args(["promote", "carbon", "--phase", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pid_file.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(pid_file.exists(), "the fake pyright never started");
    std::thread::sleep(Duration::from_millis(200));
    unsafe_sigint(child.id());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(!running(&pid), "Ctrl-C left the tool's child {pid} running");
    let report = sandbox.report("carbon");
    assert_eq!(report["passed"], false);
    assert_eq!(step(&report, "pyright")["error"]["kind"], "interrupted");
}

#[test]
fn a_run_killed_midway_leaves_no_report_of_an_earlier_run() {
    let (sandbox, bin) = sandbox_with_fakes();
    fake(&bin, "ruff", "0.17.5", "echo '[]'; exit 0");
    let first = sandbox.xtask(&["promote", "carbon", "--phase", "1"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let report = sandbox.report_path("carbon", "promotion.json");
    assert!(report.exists());
    let pid_file = sandbox.root().join("ruff.pid");
    fake(
        &bin,
        "ruff",
        "0.17.5",
        &format!("echo $$ > {}\nexec sleep 300", pid_file.display()),
    );
    let mut child = sandbox
        .command()
        .args(["promote", "carbon", "--phase", "1", "--no-cache"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while report.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !report.exists(),
        "the earlier run's report survived into this run"
    );
    // SIGKILL gives xtask no chance to stop its tools; stop this test's own fake only.
    if let Ok(pid) = std::fs::read_to_string(&pid_file) {
        let _ = std::process::Command::new("kill")
            .args(["-9", pid.trim()])
            .status();
    }
}

fn unsafe_sigint(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Whether a process runs: it exists and is not a zombie waiting for a reaper (in containers,
/// orphans of killed tools may linger as zombies under a PID 1 that does not reap them).
fn running(pid: &str) -> bool {
    // Killing is asynchronous; give the signal a moment to land.
    std::thread::sleep(Duration::from_millis(200));
    match std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.trim_start())
                .unwrap_or("");
            !state.starts_with('Z') && !state.starts_with('X')
        }
    }
}
