//! The tool table: one descriptor per tool and one per kind of step, which the engine, the
//! config, the plan, the gates, setup and init iterate instead of matching on tool names.
//!
//! Adding a tool is its own module (argument list, exit-code meaning, pure parser, the config
//! files and caches it has) plus one row in `TOOLS` and one in `STEPS` (and the two enum
//! variants that name them); the engine reads only the rows.

use std::path::Path;

use super::{Finding, Generated, PathNormalizer, StepKind, TestRun, Tool, ToolFailure};
use crate::process::Finished;
use crate::vocab::{GateKind, Phase};

/// What a tool is and how it is installed, pinned, found and given time.
#[derive(Debug)]
pub struct ToolSpec {
    pub tool: Tool,
    /// Executable, PyPI distribution, and its key under `[tools]` and `[timeouts]`.
    pub name: &'static str,
    /// Distributions pinned and installed with it (pytest's coverage plugin).
    pub companions: &'static [&'static str],
    /// Off unless the project pins it in `[tools]` of xtask.toml.
    pub optional: bool,
    /// The version this xtask is tested with; `init` writes it into a new xtask.toml.
    pub tested: &'static [(&'static str, &'static str)],
    /// Seconds when `[timeouts]` does not say.
    pub default_timeout_secs: u64,
    /// How it is started: its own executable, or `python -m <name>` in the monorepo's
    /// environment (its plugins and conftest imports live there).
    pub launch: Launch,
    /// It would read a user-level config (`~/.config/...`) that is not in the key; it gets an
    /// empty config home instead.
    pub hide_user_config: bool,
    /// Prefixes of the variables it reads: one the caller set but does not pass gets a warning.
    pub env_prefixes: &'static [&'static str],
    /// Variables it is always run with, beside the hermetic environment.
    pub sets_env: &'static [(&'static str, EnvValue)],
    /// The project's config file it must be pointed at to read (bandit reads `[tool.bandit]`
    /// only when given `-c pyproject.toml`), found once per run at the project root; the
    /// step's argument list gets it as `ArgvInputs::config`.
    pub config_file: Option<fn(&Path) -> Option<String>>,
    /// Files at the project root that change how it behaves, present or not: what `affected`
    /// and the CI cache key count (the result cache keys on what its trace shows it read).
    pub config_files: &'static [&'static str],
    /// What it leaves in the tree when run by hand (its caches, its reports): never an input,
    /// or a tool's own run would look like a change.
    pub generated: &'static [Generated],
    /// Folders it resolves first-party imports from besides the root and `src/` (a type
    /// checker's extra paths), read from the project's config once per run: the import
    /// closure that splits a batch's reads per member takes every tool's.
    pub import_roots: Option<fn(&Path) -> Vec<String>>,
}

/// The value of a variable a tool is run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvValue {
    Text(&'static str),
    /// A folder of this name in xtask's state folder (a tool's own cache, kept out of the tree).
    StateFolder(&'static str),
}

impl ToolSpec {
    /// The PyPI distributions the tool is pinned and installed as: itself, then its companions.
    pub fn distributions(&self) -> impl Iterator<Item = &'static str> + use<> {
        std::iter::once(self.name).chain(self.companions.iter().copied())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    Executable,
    PythonModule,
}

/// The paths and settings a step's argument list is built from.
pub struct ArgvInputs<'a> {
    /// The components' sources (one per batch member).
    pub paths: &'a [String],
    /// The monorepo's interpreter.
    pub python: &'a Path,
    /// The project's config file the step's tool is pointed at (`ToolSpec::config_file`).
    pub config: Option<&'a str>,
    /// This run's fresh output folder (a placeholder in keys).
    pub run_dir: &'a str,
    /// What coverage is measured over, and the tests to run (single-component steps).
    pub coverage_root: &'a str,
    /// Folders of the shared code the component reaches, measured with it.
    pub also_covered: &'a [String],
    pub tests: &'a [String],
}

/// How a step's output becomes a result.
#[derive(Clone, Copy)]
pub enum Output {
    /// Findings from stdout; the run is checked against its exit code.
    Findings(fn(&Finished, &PathNormalizer) -> Result<Vec<Finding>, ToolFailure>),
    /// A fixing run, made on shadow copies (see `FixSpec`); its result is only whether the
    /// tool worked.
    Fix(&'static FixSpec),
    /// A test run, one process per component: counts (and coverage) from the report files it
    /// writes into the run's own fresh folder.
    TestRun(&'static TestRunSpec),
}

/// How a test run is run and read.
pub struct TestRunSpec {
    /// Variables set to a file of this name in the run's own folder.
    pub run_files_env: &'static [(&'static str, &'static str)],
    /// The run read from its exit and the reports it wrote into the run's folder, given the
    /// component's listed test paths.
    pub read: fn(&Finished, &Path, &PathNormalizer, &[String]) -> Result<TestRun, ToolFailure>,
}

impl Output {
    /// Whether the step runs a component's tests, one process per component.
    pub fn runs_tests(self) -> bool {
        matches!(self, Output::TestRun(_))
    }

    /// Findings of a run over many paths; a fixing run has none (what it leaves unfixed is
    /// found by the checks that follow). A test run reads files, not the process's output:
    /// it never gets here, and if it did it would be an error, never a pass.
    pub fn findings(
        self,
        done: &Finished,
        normalizer: &PathNormalizer,
    ) -> Result<Vec<Finding>, ToolFailure> {
        match self {
            Output::Findings(read) => read(done, normalizer),
            Output::Fix(spec) => (spec.read)(done).map(|_| Vec::new()),
            Output::TestRun(_) => Err(ToolFailure::BadOutput {
                tool: "pytest",
                reason: "a test run is read from its report files, not its output".to_owned(),
                tail: String::new(),
            }),
        }
    }
}

/// How a fixing step runs without editing a file in place while it can be killed: the check
/// it lists files with, over the real tree (so the tool's own discovery, excludes and
/// config hierarchy pick them), and the tool's form that reads one file's text on stdin and
/// prints the fixed text, named by the file's real path (so it finds that file's config).
pub struct FixSpec {
    /// The check whose findings name the files this fix would change.
    pub lists_with: StepKind,
    /// Which of those findings mark a file to fix.
    pub marks: fn(&Finding) -> bool,
    /// Arguments for one file's text on stdin, the file named by its absolute path.
    pub stdin_argv: fn(&str) -> Vec<String>,
    /// The fixed text from a finished run over stdin, or why the run failed.
    pub read: fn(&Finished) -> Result<Vec<u8>, ToolFailure>,
}

/// Which findings fail a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    AnyFinding,
    /// Only errors; warnings and notes are shown but pass (type checkers' exit codes).
    AnyError,
}

/// One kind of step: a tool run with a purpose.
#[derive(Clone)]
pub struct StepSpec {
    pub kind: StepKind,
    pub id: &'static str,
    pub tool: Tool,
    pub argv: fn(&ArgvInputs<'_>) -> Vec<String>,
    pub output: Output,
    pub verdict: Verdict,
    /// The gates its results decide, the only way a gate finds its steps (`gates::decide`
    /// reads every step that feeds it); none for fixing steps and for the integration run
    /// (its gate reads the typed fact `deploy/gate.rs` makes of it).
    pub feeds: &'static [GateKind],
    /// The phase that runs it (validation runs every check of every phase).
    pub phase: Phase,
    /// Rewrites files: never cached, runs before every check, only with `--fix`.
    pub modifies_files: bool,
    /// Findings depend only on each file and its imports, so one run over many components can
    /// be split back per component.
    pub batchable: bool,
    /// Reads the sources of the components this one depends on.
    pub reads_dependencies: bool,
    /// Follows first-party imports beyond the dependencies (type checkers).
    pub reads_imports: bool,
    /// Runs under the file-access observer (every cached check): its entries carry what its
    /// process tree read.
    pub observed: bool,
    /// Relative cost, so the slowest jobs start first.
    pub cost: u8,
    /// Planned only when asked for (`--integration`), never as part of a phase.
    pub on_request: bool,
    /// Whether its verdicts may be cached (not when they depend on live services).
    pub cached: bool,
}

pub static TOOLS: &[ToolSpec] = &[
    ToolSpec {
        tool: Tool::Ruff,
        name: "ruff",
        companions: &[],
        optional: false,
        tested: &[("ruff", "0.17.5")],
        default_timeout_secs: 120,
        launch: Launch::Executable,
        hide_user_config: true,
        env_prefixes: &["RUFF_"],
        sets_env: &[("RUFF_CACHE_DIR", EnvValue::StateFolder("ruff-cache"))],
        config_file: None,
        config_files: super::ruff::CONFIG_FILES,
        generated: super::ruff::GENERATED,
        import_roots: None,
    },
    ToolSpec {
        tool: Tool::Pyright,
        name: "pyright",
        companions: &[],
        optional: false,
        tested: &[("pyright", "1.1.414")],
        default_timeout_secs: 600,
        launch: Launch::Executable,
        hide_user_config: true,
        env_prefixes: &["PYRIGHT_"],
        sets_env: &[("PYRIGHT_PYTHON_IGNORE_WARNINGS", EnvValue::Text("1"))],
        config_file: None,
        config_files: super::pyright::CONFIG_FILES,
        generated: &[],
        import_roots: Some(super::pyright::import_roots),
    },
    ToolSpec {
        tool: Tool::Mypy,
        name: "mypy",
        companions: &[],
        optional: true,
        tested: &[("mypy", "2.4.1")],
        default_timeout_secs: 600,
        launch: Launch::Executable,
        hide_user_config: true,
        env_prefixes: &["MYPY"],
        sets_env: &[],
        config_file: None,
        config_files: super::mypy::CONFIG_FILES,
        generated: super::mypy::GENERATED,
        import_roots: None,
    },
    ToolSpec {
        tool: Tool::Bandit,
        name: "bandit",
        companions: &[],
        optional: false,
        tested: &[("bandit", "1.9.4")],
        default_timeout_secs: 300,
        launch: Launch::Executable,
        hide_user_config: false,
        env_prefixes: &[],
        sets_env: &[],
        config_file: Some(super::bandit::config_file),
        config_files: super::bandit::CONFIG_FILES,
        generated: &[],
        import_roots: None,
    },
    ToolSpec {
        tool: Tool::DetectSecrets,
        name: "detect-secrets",
        companions: &[],
        optional: true,
        tested: &[("detect-secrets", "1.5.0")],
        default_timeout_secs: 300,
        launch: Launch::Executable,
        hide_user_config: false,
        env_prefixes: &[],
        sets_env: &[],
        config_file: None,
        config_files: &[],
        generated: &[],
        import_roots: None,
    },
    ToolSpec {
        tool: Tool::Pytest,
        name: "pytest",
        companions: &["pytest-cov"],
        optional: false,
        tested: &[("pytest", "9.2.0"), ("pytest-cov", "7.1.0")],
        default_timeout_secs: 1800,
        launch: Launch::PythonModule,
        hide_user_config: false,
        env_prefixes: &["PYTEST_", "COVERAGE_"],
        sets_env: &[],
        config_file: None,
        config_files: super::pytest::CONFIG_FILES,
        generated: super::pytest::GENERATED,
        import_roots: None,
    },
];

/// A check step's row; fields differ per tool only where the tool differs.
const fn check(
    kind: StepKind,
    id: &'static str,
    tool: Tool,
    argv: fn(&ArgvInputs<'_>) -> Vec<String>,
    output: Output,
    feeds: &'static [GateKind],
    phase: Phase,
) -> StepSpec {
    StepSpec {
        kind,
        id,
        tool,
        argv,
        output,
        verdict: Verdict::AnyFinding,
        feeds,
        phase,
        modifies_files: false,
        batchable: true,
        reads_dependencies: false,
        reads_imports: false,
        observed: true,
        cost: 1,
        on_request: false,
        cached: true,
    }
}

/// A fixing step's row (`--fix`).
const fn fixer(
    kind: StepKind,
    id: &'static str,
    argv: fn(&ArgvInputs<'_>) -> Vec<String>,
    fix: &'static FixSpec,
) -> StepSpec {
    StepSpec {
        modifies_files: true,
        batchable: false,
        observed: false,
        cached: false,
        ..check(
            kind,
            id,
            Tool::Ruff,
            argv,
            Output::Fix(fix),
            &[],
            Phase::Lint,
        )
    }
}

/// In plan order: fixes first, then the checks of each phase.
pub static STEPS: &[StepSpec] = &[
    fixer(
        StepKind::RuffFix,
        "ruff-fix",
        |i| super::ruff::fix_args(i.paths),
        &FixSpec {
            lists_with: StepKind::RuffCheck,
            marks: |finding| finding.fixable,
            stdin_argv: super::ruff::fix_stdin_args,
            read: super::ruff::read_fixed,
        },
    ),
    fixer(
        StepKind::RuffFormatApply,
        "ruff-format-apply",
        |i| super::ruff::format_apply_args(i.paths),
        &FixSpec {
            lists_with: StepKind::RuffFormat,
            marks: |finding| finding.code == super::UNFORMATTED,
            stdin_argv: super::ruff::format_stdin_args,
            read: super::ruff::read_formatted,
        },
    ),
    check(
        StepKind::RuffCheck,
        "ruff-check",
        Tool::Ruff,
        |i| super::ruff::check_args(i.paths),
        Output::Findings(super::ruff::interpret),
        &[GateKind::Lint],
        Phase::Lint,
    ),
    check(
        StepKind::RuffFormat,
        "ruff-format",
        Tool::Ruff,
        |i| super::ruff::format_check_args(i.paths),
        Output::Findings(super::ruff::interpret),
        &[GateKind::Lint],
        Phase::Lint,
    ),
    StepSpec {
        verdict: Verdict::AnyError,
        reads_dependencies: true,
        reads_imports: true,
        cost: 4,
        ..check(
            StepKind::Pyright,
            "pyright",
            Tool::Pyright,
            |i| super::pyright::args(i.python, i.paths),
            Output::Findings(super::pyright::interpret),
            &[GateKind::Types],
            Phase::Types,
        )
    },
    StepSpec {
        verdict: Verdict::AnyError,
        reads_dependencies: true,
        reads_imports: true,
        cost: 4,
        ..check(
            StepKind::Mypy,
            "mypy",
            Tool::Mypy,
            |i| super::mypy::args(i.python, i.paths),
            Output::Findings(super::mypy::interpret),
            &[GateKind::Types],
            Phase::Types,
        )
    },
    StepSpec {
        cost: 2,
        ..check(
            StepKind::Bandit,
            "bandit",
            Tool::Bandit,
            |i| super::bandit::args(i.paths, i.config),
            Output::Findings(super::bandit::interpret),
            &[GateKind::Security],
            Phase::Validate,
        )
    },
    check(
        StepKind::DetectSecrets,
        "detect-secrets",
        Tool::DetectSecrets,
        |i| super::detect_secrets::args(i.paths),
        Output::Findings(super::detect_secrets::interpret),
        &[GateKind::Security],
        Phase::Validate,
    ),
    StepSpec {
        batchable: false,
        reads_dependencies: true,
        cost: 3,
        ..check(
            StepKind::Pytest,
            "pytest",
            Tool::Pytest,
            |i| super::pytest::args(i.run_dir, i.coverage_root, i.also_covered, i.tests),
            Output::TestRun(&TestRunSpec {
                run_files_env: super::pytest::RUN_FILES_ENV,
                read: super::pytest::read_run,
            }),
            &[GateKind::Tests, GateKind::Coverage],
            Phase::Validate,
        )
    },
    // The gate it feeds is decided by `deploy/gate.rs` from the `IntegrationRun` that
    // `deploy/integration.rs` builds around this step's result (services up, the step, down).
    StepSpec {
        feeds: &[],
        batchable: false,
        reads_dependencies: true,
        cost: 3,
        on_request: true,
        observed: false,
        cached: false,
        ..check(
            StepKind::PytestIntegration,
            "pytest-integration",
            Tool::Pytest,
            |i| super::pytest::integration_args(i.run_dir, i.tests),
            Output::TestRun(&TestRunSpec {
                run_files_env: super::pytest::RUN_FILES_ENV,
                read: super::pytest::read_integration_run,
            }),
            &[],
            Phase::Validate,
        )
    },
];

impl Tool {
    pub fn spec(self) -> &'static ToolSpec {
        TOOLS
            .iter()
            .find(|spec| spec.tool == self)
            .expect("every tool has a row in TOOLS")
    }
}

impl StepKind {
    pub fn spec(self) -> &'static StepSpec {
        STEPS
            .iter()
            .find(|spec| spec.kind == self)
            .expect("every step kind has a row in STEPS")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_and_step_has_one_row_with_a_unique_name() {
        let mut names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TOOLS.len());
        let mut ids: Vec<&str> = STEPS.iter().map(|s| s.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), STEPS.len());
        for step in STEPS {
            assert_eq!(step.kind.spec().id, step.id);
            assert_eq!(step.tool.spec().tool, step.tool);
        }
    }

    #[test]
    fn fixing_steps_feed_no_gate_and_planned_checks_feed_one() {
        for step in STEPS {
            assert_eq!(
                step.modifies_files,
                matches!(step.output, Output::Fix(_)),
                "{}",
                step.id
            );
            if step.modifies_files {
                assert!(step.feeds.is_empty() && !step.cached, "{}", step.id);
            } else if !step.on_request {
                assert!(!step.feeds.is_empty(), "{}", step.id);
            }
        }
    }

    #[test]
    fn integration_runs_only_on_request_and_is_never_cached() {
        let spec = StepKind::PytestIntegration.spec();
        assert!(spec.on_request && !spec.cached && !spec.batchable);
        assert!(spec.output.runs_tests());
        let counts = crate::tools::pytest::TestCounts::default();
        let verdict = |kind| {
            crate::tools::result::StepResult::test_run(
                kind,
                "9.2.0",
                vec![],
                counts,
                None,
                vec![],
                0,
            )
        };
        assert!(!verdict(StepKind::PytestIntegration).cacheable());
        let ordinary = verdict(StepKind::Pytest);
        assert!(ordinary.cacheable());
    }
}
