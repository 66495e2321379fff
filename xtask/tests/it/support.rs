//! Shared test harness: the real tool venv (bootstrapped once through `xtask setup`), a venv of
//! test-only Python tools (check-jsonschema, junitparser, zizmor), sandboxes that copy the
//! example monorepo into a temp git checkout, and fake tools for faults the real ones cannot
//! produce on demand.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace this test binary was built from.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ has a parent")
        .to_path_buf()
}

pub fn xtask_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_xtask"))
}

/// The workspace's tool venv, created by running `xtask setup` once per test run; the real
/// tools are what every integration test drives.
pub fn tool_venv() -> PathBuf {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY
        .get_or_init(|| {
            let output = Command::new(xtask_bin())
                .arg("setup")
                .current_dir(workspace())
                .env_remove("XTASK_VENV")
                .env("NO_COLOR", "1")
                .output()
                .expect("failed to start xtask setup");
            assert!(
                output.status.success(),
                "`xtask setup` failed; the integration tests need python3 and PyPI once:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            workspace().join(".xtask").join("venv")
        })
        .clone()
}

/// Pinned test-only tools, installed once into `.xtask/test-venv`.
pub const TEST_TOOLS: &[&str] = &[
    "check-jsonschema==0.39.0",
    "junitparser==5.0.3",
    "zizmor==1.32.0",
];

pub fn test_venv() -> PathBuf {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY
        .get_or_init(|| {
            let venv = workspace().join(".xtask").join("test-venv");
            let marker = venv.join(format!(
                "installed-{}",
                TEST_TOOLS.join(",").replace(['=', '.'], "_")
            ));
            if marker.exists() {
                return venv;
            }
            let python = std::env::var("XTASK_PYTHON").unwrap_or_else(|_| "python3".to_owned());
            let created = Command::new(&python)
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .expect("failed to start python3 to create the test venv");
            assert!(created.success(), "failed to create {}", venv.display());
            let installed = Command::new(venv.join("bin/python"))
                .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
                .args(TEST_TOOLS)
                .status()
                .expect("failed to run pip in the test venv");
            assert!(
                installed.success(),
                "failed to install {TEST_TOOLS:?} (needs PyPI once)"
            );
            std::fs::write(&marker, b"").unwrap();
            venv
        })
        .clone()
}

/// The result of running the xtask binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Both streams, for assertion messages.
    pub fn all(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Names the generated folders that must never be copied into a sandbox.
fn skip(name: &str) -> bool {
    matches!(
        name,
        "__pycache__" | ".pytest_cache" | ".ruff_cache" | ".coverage"
    ) || name.ends_with(".egg-info")
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if skip(&name.to_string_lossy()) {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Writes `text` to `path`, creating its folders.
pub fn write_file(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Runs git in `dir` as a fixed test identity; a failure fails the test.
pub fn git(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `program` (the xtask binary, or a tracer in front of it) run in `cwd` against the shared tool
/// venv with nothing installed on the way, `src` importable (as the project's own environment
/// would make it), CI-style output, and no GitHub Actions context.
pub fn xtask_command(cwd: &Path, venv: &Path, src: &Path) -> Command {
    tool_command(&xtask_bin(), cwd, venv, src)
}

/// As `xtask_command`, with another program in front (`strace … xtask`).
pub fn tool_command(program: &Path, cwd: &Path, venv: &Path, src: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(cwd)
        .env("XTASK_VENV", venv)
        .env("XTASK_NO_BOOTSTRAP", "1")
        .env("PYTHONPATH", src)
        .env("CI", "true")
        .env("NO_COLOR", "1")
        .env_remove("XTASK_CACHE_DIR")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_OUTPUT");
    command
}

/// A temp workspace: `xtask.toml` and `examples/tta` copied from the repo into a fresh git
/// checkout, using the real tool venv and a cache of its own.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    venv: PathBuf,
    extra_env: Vec<(String, String)>,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox::in_dir(
            tempfile::Builder::new()
                .prefix("xtask-it-")
                .tempdir()
                .unwrap(),
        )
    }

    /// A sandbox under cargo's target folder rather than the system temp folder, as a real
    /// checkout is: reads under temp folders are never inputs, which can hide a run-specific
    /// path (the state folder's scratch) that a checkout elsewhere would key.
    pub fn outside_temp_folders() -> Sandbox {
        Sandbox::in_dir(
            tempfile::Builder::new()
                .prefix("xtask-it-")
                .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
                .unwrap(),
        )
    }

    fn in_dir(dir: tempfile::TempDir) -> Sandbox {
        let venv = tool_venv();
        // Tools run with a cleared environment; the sandbox's sources reach pytest and
        // pyright through PYTHONPATH (see `command`), so the config passes it.
        let config = std::fs::read_to_string(workspace().join("xtask.toml")).unwrap();
        std::fs::write(
            dir.path().join("xtask.toml"),
            format!("{config}\n[env]\npass = [\"PYTHONPATH\"]\n"),
        )
        .unwrap();
        copy_tree(
            &workspace().join("examples/tta"),
            &dir.path().join("examples/tta"),
        );
        let sandbox = Sandbox {
            dir,
            venv,
            extra_env: Vec::new(),
        };
        sandbox.git(&["init", "-q"]);
        sandbox.commit_all("example");
        sandbox
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The copied monorepo.
    pub fn project(&self) -> PathBuf {
        self.root().join("examples/tta")
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.project().join(relative)
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap()
    }

    pub fn write(&self, relative: &str, text: &str) {
        write_file(&self.path(relative), text);
    }

    pub fn config_text(&self) -> String {
        std::fs::read_to_string(self.root().join("xtask.toml")).unwrap()
    }

    pub fn set_config(&self, text: &str) {
        std::fs::write(self.root().join("xtask.toml"), text).unwrap();
    }

    /// Adds an environment variable to every later run.
    pub fn env(&mut self, key: &str, value: &str) {
        self.extra_env.push((key.to_owned(), value.to_owned()));
    }

    pub fn git(&self, args: &[&str]) -> Output {
        git(self.root(), args)
    }

    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    /// The xtask binary, configured for this sandbox. PYTHONPATH puts the sandbox's sources
    /// ahead of the editable install of the original example in the shared venv.
    pub fn command(&self) -> Command {
        let mut command = xtask_command(self.root(), &self.venv, &self.project().join("src"));
        for (key, value) in &self.extra_env {
            command.env(key, value);
        }
        command
    }

    pub fn xtask(&self, args: &[&str]) -> Run {
        Run::from(self.command().args(args).output().expect("xtask runs"))
    }

    /// The promotion.json of the last run for `component`.
    pub fn report(&self, component: &str) -> serde_json::Value {
        let path = self
            .root()
            .join("reports")
            .join(component)
            .join("promotion.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap()
    }

    pub fn report_path(&self, component: &str, file: &str) -> PathBuf {
        self.root().join("reports").join(component).join(file)
    }

    /// Runs a tool from the shared venv in the sandbox project, as a user would by hand.
    pub fn venv_tool(&self, tool: &str, args: &[&str]) -> Output {
        Command::new(self.venv.join("bin").join(tool))
            .args(args)
            .current_dir(self.project())
            .env("PYTHONPATH", self.project().join("src"))
            .env("PYRIGHT_PYTHON_IGNORE_WARNINGS", "1")
            .env("RUFF_CACHE_DIR", self.root().join(".ruff-cache"))
            .output()
            .expect("venv tool runs")
    }

    pub fn venv_python(&self) -> PathBuf {
        self.venv.join("bin").join("python")
    }

    /// Makes the next run take the full path (keys and lookups) instead of the warm-run
    /// record without changing what any step reads: one more line in `relative`, a file no
    /// tool reads. (A new mtime alone would not do: a file the record saw within its racy
    /// window is compared by content.)
    pub fn change_unread(&self, relative: &str) {
        let mut text = self.read(relative);
        text.push('\n');
        self.write(relative, &text);
    }
}

/// Writes an executable shell script named `name` into `dir`.
pub fn fake_tool(dir: &Path, name: &str, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs a test-venv tool (check-jsonschema, zizmor, python with junitparser).
pub fn test_tool(tool: &str, args: &[&str]) -> Output {
    Command::new(test_venv().join("bin").join(tool))
        .args(args)
        .output()
        .expect("test tool runs")
}

/// Validates a JSON file against one of our schemas with check-jsonschema.
pub fn assert_valid_json(schema: &str, file: &Path) {
    let schema_path = workspace().join("schemas").join(schema);
    let output = test_tool(
        "check-jsonschema",
        &[
            "--schemafile",
            schema_path.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{} is not valid against {schema}:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Parses a JUnit file with junitparser and returns its (tests, failures, errors).
pub fn junitparser_counts(file: &Path) -> (u64, u64, u64) {
    let script = "import sys\nfrom junitparser import JUnitXml\nxml = JUnitXml.fromfile(sys.argv[1])\ntests = failures = errors = 0\nfor suite in xml:\n    tests += suite.tests\n    failures += suite.failures\n    errors += suite.errors\nprint(tests, failures, errors)\n";
    let output = test_tool("python", &["-c", script, file.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "junitparser rejected {}: {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let numbers: Vec<u64> = text
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    (numbers[0], numbers[1], numbers[2])
}

/// A sandbox whose registry pins `pin` (an optional tool's `name = "version"`) under `[tools]`
/// and whose tools come from a venv of their own, `.xtask/<venv>`: `xtask setup` with that
/// registry installs the tool there once per test run (`ready` remembers it), so the shared venv
/// the other tests use (and their interpreter identity) never changes under them. The project is
/// not installed into it; the sandbox's sources reach the tools through PYTHONPATH.
pub fn pinned_sandbox(
    pin: &str,
    venv: &str,
    ready: &'static std::sync::OnceLock<PathBuf>,
) -> Sandbox {
    let mut sandbox = Sandbox::new();
    let text = sandbox
        .config_text()
        .replace("[tools]\n", &format!("[tools]\n{pin}\n"))
        .replace("install = true", "install = false");
    sandbox.set_config(&text);
    let venv = ready.get_or_init(|| {
        let venv = workspace().join(".xtask").join(venv);
        let mut command = sandbox.command();
        command
            .env("XTASK_VENV", &venv)
            .env_remove("XTASK_NO_BOOTSTRAP")
            .arg("setup");
        let output = command.output().expect("xtask setup runs");
        assert!(
            output.status.success(),
            "`xtask setup` with `{pin}` failed (needs PyPI once):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        venv
    });
    sandbox.env("XTASK_VENV", venv.to_str().unwrap());
    sandbox
}

/// The step named `name` in a promotion report, if it ran.
pub fn report_step<'a>(report: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
}

/// Asserts that `xtask setup --check` in `sandbox` finds `tool` installed at `version`.
pub fn assert_setup_has(sandbox: &Sandbox, tool: &str, version: &str) {
    let check = sandbox.xtask(&["setup", "--check"]);
    assert_eq!(check.code, 0, "{}", check.all());
    assert!(
        check
            .stdout
            .lines()
            .any(|l| l.starts_with("ok") && l.contains(tool) && l.contains(version)),
        "{}",
        check.all()
    );
}
