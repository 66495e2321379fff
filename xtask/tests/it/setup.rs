//! `setup` and the bootstrap `promote` runs on a fresh clone: what is missing is reported and
//! installed, and a second run with everything present starts no process at all.

use crate::support::{Sandbox, fake_tool, tool_venv};

/// The sandbox's registry without the editable install of the example: the shared venv has it
/// installed from the repository's own copy, which is not the sandbox's.
fn without_project_install(sandbox: &Sandbox) {
    let text = sandbox
        .config_text()
        .replace("install = true", "install = false");
    sandbox.set_config(&text);
}

#[test]
fn check_reports_what_is_missing_and_what_is_present() {
    let mut sandbox = Sandbox::new();
    without_project_install(&sandbox);
    let present = sandbox.xtask(&["setup", "--check"]);
    assert_eq!(present.code, 0, "{}", present.all());
    for tool in ["ruff", "pyright", "bandit", "pytest", "pytest-cov"] {
        assert!(
            present
                .stdout
                .lines()
                .any(|l| l.starts_with("ok") && l.contains(tool)),
            "{tool}: {}",
            present.all()
        );
    }

    let empty = sandbox.root().join("empty-venv");
    std::fs::create_dir_all(&empty).unwrap();
    sandbox.env("XTASK_VENV", empty.to_str().unwrap());
    let missing = sandbox.xtask(&["setup", "--check"]);
    assert_eq!(missing.code, 1, "{}", missing.all());
    assert!(
        missing
            .stdout
            .lines()
            .any(|l| l.starts_with("MISS") && l.contains("ruff") && l.contains("0.17.5")),
        "{}",
        missing.all()
    );
    assert!(
        missing.stdout.contains("run `cargo xtask setup`"),
        "{}",
        missing.all()
    );
    assert!(
        std::fs::read_dir(&empty).unwrap().next().is_none(),
        "--check installs nothing"
    );
}

#[test]
fn a_second_setup_with_everything_present_starts_no_process() {
    let mut sandbox = Sandbox::new();
    without_project_install(&sandbox);
    // Any attempt to create a venv or run pip would need these, and fail.
    sandbox.env("PATH", "/nonexistent");
    sandbox.env("XTASK_PYTHON", "/nonexistent/python3");
    let run = sandbox.xtask(&["setup"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("Fresh"), "{}", run.all());
    assert!(run.stderr.contains("ruff 0.17.5"), "{}", run.all());
    assert!(tool_venv().join("bin/ruff").exists());
}

#[test]
fn promote_bootstraps_missing_tools_saying_what_it_installs() {
    let mut sandbox = Sandbox::new();
    let venv = sandbox.root().join("fresh-venv");
    let bin = sandbox.root().join("fake-bin");
    let log = sandbox.root().join("python3.log");
    // A python3 that answers setup's version question (the example needs >=3.11), records
    // how it was asked to make the venv, then fails as a machine without PyPI would: the
    // bootstrap must say what it installs and stop with exit 3.
    fake_tool(
        &bin,
        "python3",
        &format!(
            "if [ \"$1\" = -c ]; then echo 3.12.0; exit 0; fi\necho \"$*\" >> {}\necho 'no network' >&2\nexit 1",
            log.display()
        ),
    );
    sandbox.env("XTASK_VENV", venv.to_str().unwrap());
    sandbox.env("XTASK_NO_BOOTSTRAP", "");
    sandbox.env("XTASK_PYTHON", bin.join("python3").to_str().unwrap());
    sandbox.env("PATH", &format!("{}:/usr/bin:/bin", bin.display()));
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "1"]);
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(run.stderr.contains("Bootstrap"), "{}", run.all());
    assert!(run.stderr.contains("ruff==0.17.5"), "{}", run.all());
    assert!(
        run.stderr.contains("failed to create the tool venv"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr.contains("no network"),
        "the installer's own message is shown: {}",
        run.all()
    );
    let asked = std::fs::read_to_string(&log).unwrap();
    assert!(asked.starts_with("-m venv"), "{asked}");
    assert!(asked.contains(venv.to_str().unwrap()), "{asked}");
}
