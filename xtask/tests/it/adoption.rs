//! Adoption on a monorepo shaped like our users' real one (`xtask/tests/fixtures/adoption`):
//! a package and a module sharing a stem, a component module without `_component`, a namespace
//! package, a component wrapping a package outside `src/components/`, "moved" MATURITY.md
//! stubs, tests in `tests/<pkg>/` and `tests/integration/`, a `templates/` folder and an issue
//! form of its own, a `uv.lock` and `requires-python >= 3.12`. `init`, `status` and
//! `workflows` run on a temp copy with the real tools.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use crate::init::components;
use crate::support::{Run, copy_tree, tool_command, tool_venv, workspace, xtask_bin};
use crate::workflows::{assert_valid_workflows, assert_zizmor_finds_nothing};

const ISSUE_FORM: &str = ".github/ISSUE_TEMPLATE/component_promotion.yml";

/// A temp copy of the fixture, in a git checkout of its own.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("xtask-adopt-")
            .tempdir()
            .unwrap();
        copy_tree(
            &workspace().join("xtask/tests/fixtures/adoption"),
            dir.path(),
        );
        let fixture = Fixture { dir };
        for args in [
            &["init", "-q"][..],
            &["add", "-A"],
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                "repo",
            ],
        ] {
            let done = Command::new("git")
                .args(args)
                .current_dir(fixture.root())
                .output()
                .unwrap();
            assert!(done.status.success(), "git {args:?}");
        }
        fixture
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.root().join(path)).unwrap()
    }

    /// `program` in the fixture, with the shared tool venv (nothing is installed) and the
    /// fixture's sources importable, as its own `.venv` would make them.
    fn command(&self, program: &Path) -> Command {
        tool_command(program, self.root(), &tool_venv(), &self.root().join("src"))
    }

    fn xtask(&self, args: &[&str]) -> Run {
        run(self.command(&xtask_bin()).args(args))
    }

    fn init(&self) -> Run {
        let init = self.xtask(&["init"]);
        assert_eq!(init.code, 0, "{}", init.all());
        init
    }
}

fn run(command: &mut Command) -> Run {
    Run::from(command.output().expect("the command starts"))
}

/// name -> (source, tests, depends_on) of a registry text.
type Registry = BTreeMap<String, (String, Vec<String>, BTreeSet<String>)>;

/// The groups, the components and the whole table of a registry text.
fn registry(text: &str) -> (Vec<String>, Registry, toml::Table) {
    let table: toml::Table = toml::from_str(text).unwrap();
    let groups = table["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap().to_owned())
        .collect();
    (groups, components(text), table)
}

fn entry(source: &str, tests: &[&str], deps: &[&str]) -> (String, Vec<String>, BTreeSet<String>) {
    (
        source.to_owned(),
        tests.iter().map(|t| (*t).to_owned()).collect(),
        deps.iter().map(|d| (*d).to_owned()).collect(),
    )
}

#[test]
fn init_finds_every_component_once_with_its_tests_and_import_dependencies() {
    let fixture = Fixture::new();
    fixture.assert_no_gitignore();
    let init = fixture.init();
    let text = fixture.read("xtask.toml");
    let (groups, components, table) = registry(&text);
    let expected: Registry = [
        (
            "carbon",
            entry(
                "src/components/carbon_component.py",
                &["tests/test_carbon_component.py"],
                &[],
            ),
        ),
        (
            "character-arc-manager",
            entry(
                "src/components/character_arc_manager.py",
                &["tests/test_character_arc_manager.py"],
                &[],
            ),
        ),
        (
            "agent-orchestration",
            entry(
                "src/components/agent_orchestration_component.py",
                &["tests/agent_orchestration"],
                &["character-arc-manager"],
            ),
        ),
        (
            // The package and its same-named wrapper module are one component.
            "gameplay-loop",
            entry(
                "src/components/gameplay_loop",
                &["tests/integration/test_gameplay_loop_integration.py"],
                &["carbon"],
            ),
        ),
        (
            // A namespace package (no __init__.py) is the code, not its sibling module.
            "narrative-arc-orchestrator",
            entry(
                "src/components/narrative_arc_orchestrator",
                &["tests/test_narrative_arc_orchestrator_component.py"],
                &["character-arc-manager"],
            ),
        ),
        (
            // A `Component` module named after the package with a suffix is its wrapper.
            "narrative-coherence",
            entry(
                "src/components/narrative_coherence",
                &["tests/test_narrative_coherence_engine.py"],
                &[],
            ),
        ),
        (
            // Named by its MATURITY.md, not by the folder's `_enhanced` suffix.
            "therapeutic-systems",
            entry(
                "src/components/therapeutic_systems_enhanced",
                &["tests/test_therapeutic_systems.py"],
                &[],
            ),
        ),
    ]
    .into_iter()
    .map(|(name, e)| (name.to_owned(), e))
    .collect();
    assert_eq!(components, expected, "{text}");
    // Only the groups the repo names: its issue form's, then Ungrouped for the rest.
    assert_eq!(
        groups,
        vec!["Core Infrastructure", "Player Experience", "Ungrouped"],
        "{text}"
    );
    let component = |name: &str| table["components"][name].as_table().unwrap().clone();
    assert_eq!(
        component("gameplay-loop")["display_name"].as_str(),
        Some("Gameplay Loop"),
        "a moved stub's title names the component, not the document"
    );
    assert_eq!(component("carbon")["display_name"].as_str(), Some("Carbon"));
    assert_eq!(
        component("gameplay-loop")["group"].as_str(),
        Some("Player Experience")
    );
    // A module's documents beside it, where this repo keeps them.
    assert_eq!(
        component("carbon")["maturity"].as_str(),
        Some("src/components/carbon/MATURITY.md")
    );
    assert_eq!(
        component("carbon")["readme"].as_str(),
        Some("src/components/carbon/README.md")
    );
    assert!(
        init.stderr
            .contains("Skipped src/components/app_component.py"),
        "{}",
        init.all()
    );
    assert!(
        text.contains("# - src/components/app_component.py:"),
        "{text}"
    );
    let gitignore = fixture.read(".gitignore");
    for entry in [".xtask/", "reports/", "target/"] {
        assert!(gitignore.lines().any(|l| l == entry), "{gitignore}");
    }
    // A second init with --force appends nothing more to .gitignore.
    let again = fixture.xtask(&["init", "--force"]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(fixture.read(".gitignore"), gitignore);
}

impl Fixture {
    /// The fixture ships without a .gitignore, so init's append is observable.
    fn assert_no_gitignore(&self) {
        assert!(!self.root().join(".gitignore").exists());
    }
}

/// The processes a command started, from `strace -f -e trace=execve` (the first is itself).
fn traced_execs(fixture: &Fixture, args: &[&str]) -> (Run, Vec<String>) {
    assert!(
        which::which("strace").is_ok(),
        "strace is not installed: `.ci/run` installs it (Debian package strace)"
    );
    // Outside the project: a new file at its root is a changed listing, which observed steps
    // rightly take for a change (a module that could shadow an import).
    let trace_dir = tempfile::tempdir().unwrap();
    let trace = trace_dir.path().join("execve.trace");
    let mut command = fixture.command(Path::new("strace"));
    command
        .args(["-f", "-qq", "-e", "trace=execve", "-e", "signal=none", "-o"])
        .arg(&trace)
        .arg(xtask_bin())
        .args(args);
    let done = run(&mut command);
    let lines = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter(|l| l.contains("execve(") && !l.contains("= -1 ENOENT"))
        .map(str::to_owned)
        .collect();
    std::fs::remove_file(&trace).unwrap();
    (done, lines)
}

fn report_component<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

#[test]
fn status_measures_the_adopted_repo_a_missing_test_path_fails_its_gate_and_a_warm_run_starts_nothing()
 {
    let fixture = Fixture::new();
    fixture.init();
    // As in the users' own inventory, a test path that does not exist.
    let path = fixture.root().join("xtask.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "tests = [\"tests/test_character_arc_manager.py\"]",
        "tests = [\"tests/test_character_arc_manager.py\", \"tests/test_character_arc_manager_enhanced.py\"]",
    );
    std::fs::write(&path, text).unwrap();

    let cold = fixture.xtask(&["status", "--format", "json", "--output", "-"]);
    assert!(
        cold.code == 0 || cold.code == 1,
        "status is never an infrastructure error here: {}",
        cold.all()
    );
    // status reports gate failures; only a check that could not run would make it exit 3.
    assert_eq!(cold.code, 0, "{}", cold.all());
    assert!(
        cold.stderr
            .contains("tests/test_character_arc_manager_enhanced.py`, which matches nothing"),
        "a warning when the registry loads: {}",
        cold.all()
    );
    let report: serde_json::Value = serde_json::from_str(&cold.stdout).unwrap();
    let arcs = report_component(&report, "character-arc-manager");
    let blockers = arcs.to_string();
    assert!(
        blockers.contains("tests/test_character_arc_manager_enhanced.py"),
        "the blocker names the path: {blockers}"
    );
    // The other components were measured by the real tools.
    let carbon = report_component(&report, "carbon");
    assert_eq!(carbon["failed_tests"], 0, "{carbon}");
    assert!(carbon["coverage"].as_f64().unwrap() > 50.0, "{carbon}");
    // promote on that component: a failed tests gate (exit 1), not a crash (exit 3).
    let promote = fixture.xtask(&["promote", "character-arc-manager"]);
    assert_eq!(promote.code, 1, "{}", promote.all());
    assert!(
        promote
            .stdout
            .contains("tests/test_character_arc_manager_enhanced.py"),
        "{}",
        promote.all()
    );
    let history = fixture.read("reports/history/status.jsonl");
    assert_eq!(history.lines().count(), 1, "a gate failure is history");

    // Warm: the same verdicts and not a single process started.
    let (warm, execs) = traced_execs(&fixture, &["status", "--format", "json", "--output", "-"]);
    assert_eq!(warm.code, 0, "{}", warm.all());
    assert_eq!(execs.len(), 1, "only xtask itself: {execs:#?}");
    let warm_report: serde_json::Value = serde_json::from_str(&warm.stdout).unwrap();
    assert_eq!(
        report_component(&warm_report, "carbon")["coverage"],
        carbon["coverage"]
    );

    // A template of the same name under the repo's templates/ overrides ours; its own
    // templates (welcome.html.j2) are left alone.
    std::fs::write(
        fixture.root().join("templates/status-report.md.j2"),
        "# Our own status page: {{ report.summary.components }} components\n",
    )
    .unwrap();
    let custom = fixture.xtask(&["status", "--output", "-"]);
    assert_eq!(custom.code, 0, "{}", custom.all());
    assert_eq!(custom.stdout, "# Our own status page: 7 components\n");
}

#[test]
fn workflows_refuses_to_replace_the_repos_own_issue_form_unless_forced() {
    let fixture = Fixture::new();
    fixture.init();
    let theirs = fixture.read(ISSUE_FORM);
    let refused = fixture.xtask(&["workflows"]);
    assert_eq!(refused.code, 2, "{}", refused.all());
    assert!(refused.stderr.contains("pass --force"), "{}", refused.all());
    assert!(
        refused
            .stdout
            .contains("-name: Component Promotion Request"),
        "the diff shows what would replace it: {}",
        refused.all()
    );
    assert_eq!(fixture.read(ISSUE_FORM), theirs, "their form is untouched");
    // The workflows themselves are ours to write.
    for name in [
        "quality.yml",
        "component-status.yml",
        "promotion-validation.yml",
    ] {
        assert!(
            fixture
                .root()
                .join(".github/workflows")
                .join(name)
                .is_file(),
            "{name}"
        );
    }
    // With the project's own environment named, the workflows create it from uv.lock.
    let path = fixture.root().join("xtask.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "install = true",
        "python = \".venv/bin/python\"\ninstall = false",
    );
    std::fs::write(&path, text).unwrap();
    let forced = fixture.xtask(&["workflows", "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.all());
    let quality = fixture.read(".github/workflows/quality.yml");
    assert!(quality.contains("/bin/uv\" sync --frozen"), "{quality}");
    assert!(
        quality.contains("hashFiles('Cargo.lock', 'xtask/**')"),
        "{quality}"
    );
    let generated: Vec<std::path::PathBuf> = [
        "quality.yml",
        "component-status.yml",
        "promotion-validation.yml",
    ]
    .iter()
    .map(|name| fixture.root().join(".github/workflows").join(name))
    .collect();
    assert_zizmor_finds_nothing(&generated);
    assert_valid_workflows(&generated);
    assert!(
        fixture
            .read(ISSUE_FORM)
            .starts_with("# Generated by `cargo xtask workflows`")
    );
    let check = fixture.xtask(&["workflows", "--check"]);
    assert_eq!(check.code, 0, "{}", check.all());
}

#[test]
fn setup_builds_the_tool_venv_with_a_python_that_satisfies_requires_python() {
    let fixture = Fixture::new();
    fixture.init();
    let venv = fixture.root().join("fresh-venv");
    // PyPI is out of reach on purpose: the venv is created, then the install fails fast.
    let mut command = fixture.command(&xtask_bin());
    command
        .arg("setup")
        .env("XTASK_VENV", &venv)
        .env_remove("XTASK_PYTHON")
        .env("PIP_NO_INDEX", "1")
        .env("UV_OFFLINE", "1");
    let setup = run(&mut command);
    assert_eq!(setup.code, 3, "{}", setup.all());
    let cfg = std::fs::read_to_string(venv.join("pyvenv.cfg")).unwrap();
    let version = cfg
        .lines()
        .find_map(|l| {
            l.strip_prefix("version = ")
                .or_else(|| l.strip_prefix("version_info = "))
        })
        .unwrap_or_else(|| panic!("{cfg}"));
    let minor: u32 = version.split('.').nth(1).unwrap().parse().unwrap();
    assert!(
        minor >= 12,
        "requires-python >=3.12, got {version}: {}",
        setup.all()
    );

    // Nothing satisfies: exit 3 naming what is needed, and no venv.
    let pyproject = fixture.read("pyproject.toml");
    std::fs::write(
        fixture.root().join("pyproject.toml"),
        pyproject.replace(">=3.12", ">=3.99"),
    )
    .unwrap();
    let none = fixture.root().join("no-venv");
    let mut command = fixture.command(&xtask_bin());
    command
        .arg("setup")
        .env("XTASK_VENV", &none)
        .env_remove("XTASK_PYTHON");
    let refused = run(&mut command);
    assert_eq!(refused.code, 3, "{}", refused.all());
    assert!(
        refused
            .stderr
            .contains("no Python satisfying requires-python >=3.99"),
        "{}",
        refused.all()
    );
    assert!(!none.exists());
}

#[test]
fn with_the_projects_own_environment_pytest_and_pinned_tools_come_from_it() {
    let fixture = Fixture::new();
    fixture.init();
    let env = fixture.root().join(".venv");
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&env)
        .status()
        .unwrap();
    assert!(made.success());
    let installed = Command::new(env.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "pytest==9.2.0",
            "pytest-cov==7.1.0",
            "ruff==0.17.5",
        ])
        .status()
        .unwrap();
    assert!(
        installed.success(),
        "pip install into the project's env (PyPI)"
    );
    let path = fixture.root().join("xtask.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "install = true",
        "python = \".venv/bin/python\"\ninstall = false",
    );
    std::fs::write(&path, text).unwrap();

    // An empty tool venv: what the project's environment has is not missing.
    let empty = fixture.root().join("empty-venv");
    std::fs::create_dir_all(&empty).unwrap();
    let mut command = fixture.command(&xtask_bin());
    command.args(["setup", "--check"]).env("XTASK_VENV", &empty);
    let check = run(&mut command);
    assert_eq!(
        check.code,
        1,
        "pyright and bandit are missing: {}",
        check.all()
    );
    let row = |tool: &str| {
        check
            .stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(tool))
            .unwrap_or_else(|| panic!("no {tool} row: {}", check.all()))
            .to_owned()
    };
    for tool in ["pytest", "pytest-cov", "ruff"] {
        let line = row(tool);
        assert!(
            line.starts_with("ok") && line.contains("in the project's environment"),
            "{line}"
        );
    }
    for tool in ["pyright", "bandit"] {
        assert!(row(tool).starts_with("MISS"), "{}", row(tool));
    }
    assert!(
        empty.read_dir().unwrap().next().is_none(),
        "--check installs nothing"
    );

    // setup installs only what the project's environment lacks (PyPI is cut off here, so
    // it stops after saying what it installs).
    let mut command = fixture.command(&xtask_bin());
    command
        .arg("setup")
        .env("XTASK_VENV", fixture.root().join("tool-venv"))
        .env("PIP_NO_INDEX", "1");
    let setup = run(&mut command);
    let installing = setup
        .stderr
        .lines()
        .find(|l| l.contains("Installing"))
        .unwrap_or_else(|| panic!("{}", setup.all()))
        .to_owned();
    assert!(installing.contains("pyright"), "{installing}");
    assert!(installing.contains("bandit==1.9.4"), "{installing}");
    for provided in ["pytest==", "pytest-cov==", "ruff=="] {
        assert!(!installing.contains(provided), "{installing}");
    }
}

/// `cargo xtask ARGS` in the fixture, through the thin crate `init` wrote: cargo builds it into
/// a target folder under this checkout's own (kept between test runs, so only the first builds
/// every dependency), offline, with the versions of this checkout's Cargo.lock.
fn cargo_xtask(fixture: &Fixture, args: &[&str]) -> Run {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = fixture.command(Path::new(&cargo));
    command
        .arg("xtask")
        .args(args)
        // setup makes the fixture's own tool venv (`.xtask/venv`, with a Python satisfying its
        // requires-python) and installs the fixture into it, as on a user's machine; the
        // shared venv of the other tests stays as it is.
        .env_remove("XTASK_VENV")
        .env("CARGO_TARGET_DIR", workspace().join("target/adoption"))
        .env("CARGO_NET_OFFLINE", "true")
        // The test binary runs with cargo's variables for this workspace; the fixture's
        // build must see only its own.
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CARGO_MANIFEST_PATH")
        .env_remove("CARGO_PKG_NAME")
        .env_remove("RUSTC_WRAPPER");
    run(&mut command)
}

/// The files `git status` shows as new, changed or ignored in the fixture, as paths.
fn changed_files(fixture: &Fixture) -> BTreeSet<String> {
    let output = Command::new("git")
        .args([
            "status",
            "--porcelain=v1",
            "--untracked-files=all",
            "--ignored=matching",
        ])
        .current_dir(fixture.root())
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| line.get(3..).unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_thin_xtask_depending_on_the_crate_by_path_runs_init_setup_status_and_workflows() {
    let fixture = Fixture::new();
    // The one-time bootstrap the README shows,
    // `cargo run --manifest-path <checkout>/xtask/Cargo.toml -- init --root . --xtask-path ...`:
    // this checkout's own binary is what that command runs.
    let checkout = workspace().join("xtask/promote");
    let init = run(fixture
        .command(&xtask_bin())
        .args(["init", "--root", ".", "--xtask-path"])
        .arg(&checkout));
    assert_eq!(init.code, 0, "{}", init.all());
    let manifest: toml::Table = toml::from_str(&fixture.read("xtask/Cargo.toml")).unwrap();
    let dependencies = manifest["dependencies"].as_table().unwrap();
    assert_eq!(dependencies.len(), 1, "one dependency: {manifest}");
    assert_eq!(
        dependencies["xtask-promote"]["path"].as_str(),
        Some(checkout.to_str().unwrap())
    );
    assert!(fixture.read("xtask/src/main.rs").lines().count() <= 6);
    // A second init leaves every file of the user's alone, thin crate included.
    std::fs::write(
        fixture.root().join("xtask/src/main.rs"),
        "// ours now\nfn main() {}\n",
    )
    .unwrap();
    let again = run(fixture
        .command(&xtask_bin())
        .args(["init", "--force", "--xtask-path"])
        .arg(&checkout));
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(
        fixture.read("xtask/src/main.rs"),
        "// ours now\nfn main() {}\n"
    );
    std::fs::write(
        fixture.root().join("xtask/src/main.rs"),
        "fn main() -> std::process::ExitCode {\n    xtask_promote::main()\n}\n",
    )
    .unwrap();
    // Pin the dependencies' versions to this checkout's, so the build reuses its artifacts
    // and needs no network; a user's first build resolves them.
    std::fs::copy(
        workspace().join("Cargo.lock"),
        fixture.root().join("Cargo.lock"),
    )
    .unwrap();

    let setup = cargo_xtask(&fixture, &["setup"]);
    assert_eq!(setup.code, 0, "{}", setup.all());
    // No `--quiet`: cargo's own lines say what the first run is doing.
    assert!(
        setup.stderr.contains("Running `"),
        "cargo's progress shows: {}",
        setup.all()
    );
    let status = cargo_xtask(&fixture, &["status"]);
    assert_eq!(status.code, 0, "{}", status.all());
    assert!(fixture.root().join("reports/status/status.md").is_file());
    // The repository's own issue form is replaced only when asked to.
    let workflows = cargo_xtask(&fixture, &["workflows", "--force"]);
    assert_eq!(workflows.code, 0, "{}", workflows.all());
    let check = cargo_xtask(&fixture, &["workflows", "--check"]);
    assert_eq!(check.code, 0, "{}", check.all());

    // What adoption left in the repository: the thin crate and its workspace, the alias, the
    // registry, the generated files, and the ignored state and report folders. No Python of
    // ours, no fixture, no test.
    let mut expected: BTreeSet<String> = [
        ".cargo/config.toml",
        ".github/ISSUE_TEMPLATE/component_promotion.yml",
        ".gitignore",
        "Cargo.lock",
        "Cargo.toml",
        "xtask.toml",
        "xtask/Cargo.toml",
        "xtask/src/main.rs",
        ".xtask/",
        "reports/",
        // setup's editable install of the fixture (setuptools' metadata, ignored).
        "src/adoption_fixture.egg-info/",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for name in [
        "quality.yml",
        "component-status.yml",
        "promotion-validation.yml",
    ] {
        expected.insert(format!(".github/workflows/{name}"));
    }
    let found = changed_files(&fixture);
    // The user's own Python leaves bytecode beside itself when their tests import it.
    let found: BTreeSet<String> = found
        .into_iter()
        .filter(|path| !path.contains("__pycache__/"))
        .collect();
    assert_eq!(found, expected, "{}", status.all());
}
