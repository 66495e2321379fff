//! Running one job: building the tool's command over its members' paths, spawning it through
//! the process API, interpreting its output and splitting findings back per component.

use std::ffi::OsString;
use std::path::Path;

use super::result::{ErrorKind, StepError, StepResult, StepStatus};
use super::{Job, Prepared, RunContext, observe};
use crate::config::Component;
use crate::events::Event;
use crate::process::{self, RunError, ToolCommand};
use crate::toolchain::ResolvedTool;
use crate::tools::table::{ArgvInputs, Launch, Output, Verdict};
use crate::tools::{self, Finding, Severity, StepKind};

/// Stands for this run's fresh output folder in keys and displayed commands.
pub const RUN_DIR: &str = "$XTASK_RUN_DIR";

/// `pyproject.toml` if it configures bandit.
pub fn bandit_config(root: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("pyproject.toml")).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    table
        .get("tool")
        .and_then(|t| t.get("bandit"))
        .map(|_| "pyproject.toml".to_owned())
}

pub(super) fn args_for(
    ctx: &RunContext<'_>,
    kind: StepKind,
    paths: &[String],
    component: &Component,
) -> Vec<String> {
    (kind.spec().argv)(&ArgvInputs {
        paths,
        python: &ctx.toolchain.python,
        bandit_config: ctx.bandit_config.as_deref(),
        run_dir: RUN_DIR,
        coverage_root: component.coverage_root(),
        tests: &component.tests,
    })
}

/// Arguments for `component` alone.
pub fn argv(ctx: &RunContext<'_>, kind: StepKind, component: &Component) -> Vec<String> {
    args_for(
        ctx,
        kind,
        std::slice::from_ref(&component.source),
        component,
    )
}

/// The command as the report shows it: the tool's name, then its arguments.
pub fn command_line(kind: StepKind, argv: &[String]) -> Vec<String> {
    let program = match kind.tool().spec().launch {
        Launch::PythonModule => "python",
        Launch::Executable => kind.tool().name(),
    };
    std::iter::once(program.to_owned())
        .chain(argv.iter().cloned())
        .collect()
}

/// Whether `kind` runs under the observer, so its entries carry the reads it made.
pub fn observed(kind: StepKind) -> bool {
    kind.spec().observed
}

/// What an observed tool process read, as its hook reported it.
pub struct Observed {
    /// Shared by every member of a batch (one tool process).
    raw: std::sync::Arc<observe::Raw>,
    /// Sources of the other members of a batch: their files are analysed for them, not for
    /// this member, so they are not this member's inputs.
    foreign: Vec<String>,
}

impl Observed {
    /// Reads the hook's file; `None` when the process never wrote it.
    fn read(run_dir: &Path) -> Option<Observed> {
        let text = std::fs::read_to_string(run_dir.join(observe::READS_FILE)).ok()?;
        Some(Observed {
            raw: std::sync::Arc::new(observe::parse(&text)),
            foreign: Vec::new(),
        })
    }

    pub fn capture(
        &self,
        ctx: &RunContext<'_>,
        prepared: &Prepared<'_>,
    ) -> Result<observe::ReadSet, String> {
        let foreign = observe::Foreign::new(&self.foreign, &prepared.component.source);
        observe::capture(&ctx.locator, &ctx.index, &self.raw, |path| {
            foreign.keeps(path)
        })
    }
}

pub(super) fn tool_command(
    ctx: &RunContext<'_>,
    tool: &ResolvedTool,
    args: Vec<String>,
) -> ToolCommand {
    let mut command = ToolCommand::new(
        &tool.program,
        &ctx.config.project.root,
        ctx.config.timeouts.of(tool.tool),
    )
    .args(args)
    .env_clear();
    for (name, value) in &ctx.env.vars {
        command = command.env(name, value);
    }
    if tool.tool.spec().hide_user_config {
        // ruff and mypy read a user-level config (`~/.config/ruff/ruff.toml`,
        // `~/.config/mypy/config`) when the project has none; it is not in the key, so the
        // tools never see one.
        command = command.env(
            "XDG_CONFIG_HOME",
            ctx.config.state_dir().join("no-user-config"),
        );
    }
    command
        .env("PATH", ctx.toolchain.tool_path_env())
        .env("NO_COLOR", "1")
        .env("PY_COLORS", "0")
        // ruff's own cache stays out of the user's tree.
        .env("RUFF_CACHE_DIR", ctx.config.state_dir().join("ruff-cache"))
        // Temp files of tools (pyright's, bandit's, a test's) live and die with this run.
        .env("TMPDIR", crate::scratch::tools_tmp(&ctx.config.state_dir()))
        // The PyPI wrapper of pyright otherwise asks PyPI for a newer version on every start.
        .env("PYRIGHT_PYTHON_IGNORE_WARNINGS", "1")
}

/// A step error from a process that did not run to its end.
pub(super) fn run_error(error: &RunError) -> StepError {
    StepError {
        kind: match error {
            RunError::NotFound { .. } => ErrorKind::NotFound,
            RunError::TimedOut { .. } => ErrorKind::TimedOut,
            RunError::Interrupted => ErrorKind::Interrupted,
            RunError::Spawn { .. } => ErrorKind::Crashed,
        },
        message: match error {
            RunError::TimedOut { .. } => format!(
                "{error}; raise its limit under [timeouts] in xtask.toml if the work is genuinely that long"
            ),
            RunError::NotFound { .. } => format!("{error}: run `cargo xtask setup`"),
            _ => error.to_string(),
        },
    }
}

/// Runs one job and returns a result per member, in member order.
pub(crate) fn execute<'j, 'c>(
    ctx: &RunContext<'_>,
    job: &'j Job<'c>,
) -> Vec<super::Executed<'j, 'c>> {
    let output = job.kind.spec().output;
    if output.runs_tests() {
        return job
            .members
            .iter()
            .map(|member| {
                let (result, reads) = run_pytest(ctx, member);
                (member, result, reads)
            })
            .collect();
    }
    let tool = &job.members[0].tool;
    let paths: Vec<String> = job
        .members
        .iter()
        .map(|m| m.component.source.clone())
        .collect();
    let names: Vec<String> = job
        .members
        .iter()
        .map(|m| m.component.name.clone())
        .collect();
    let args = args_for(ctx, job.kind, &paths, job.members[0].component);
    // Observed batch tools run as `python -c <observer> <reads> -m <tool>` in the tool's venv.
    let run_dir = crate::scratch::tempdir(&ctx.config.state_dir(), "run-");
    let observing = match (&run_dir, observed(job.kind)) {
        (Ok(dir), true) => Some(dir.path().to_path_buf()),
        _ => None,
    };
    let command = match &observing {
        Some(dir) => {
            let python = ResolvedTool {
                program: tool.program.with_file_name("python"),
                ..tool.clone()
            };
            let module = vec!["-m".to_owned(), job.kind.tool().name().to_owned()];
            let argv: Vec<String> = module.into_iter().chain(args).collect();
            tool_command(
                ctx,
                &python,
                observe::wrap(&dir.join(observe::READS_FILE), &argv),
            )
        }
        None => tool_command(ctx, tool, args),
    };
    // Shown as the tool's own command line, not as the observer's wrapper around it.
    let display = if observing.is_some() {
        tool_command(
            ctx,
            tool,
            args_for(ctx, job.kind, &paths, job.members[0].component),
        )
        .display()
    } else {
        command.display()
    };
    ctx.listener.event(&Event::ToolStarted {
        kind: job.kind,
        components: &names,
        command: &display,
    });
    let outcome = process::run(&command);
    let reads = observing.as_deref().and_then(|dir| {
        Observed::read(dir).map(|mut o| {
            o.foreign = paths.clone();
            o
        })
    });
    let duration_ms = match &outcome {
        Ok(done) => done.duration.as_millis() as u64,
        Err(RunError::TimedOut { duration, .. }) => duration.as_millis() as u64,
        Err(_) => 0,
    };
    let verdict: Result<Vec<Finding>, StepError> = match &outcome {
        Err(error) => Err(run_error(error)),
        Ok(done) => output
            .findings(done, &ctx.normalizer)
            .map_err(|failure| StepError::from_failure(&failure)),
    };
    job.members
        .iter()
        .map(|member| {
            let command = command_line(job.kind, &member.argv);
            let result = match &verdict {
                Err(error) => StepResult::error(
                    job.kind,
                    &member.tool.version,
                    command,
                    error.clone(),
                    duration_ms,
                ),
                Ok(findings) => {
                    let mine = split_findings(findings, member.component, &job.members);
                    verdict_result(job.kind, &member.tool, command, mine, duration_ms)
                }
            };
            let reads = reads.as_ref().map(|o| Observed {
                raw: o.raw.clone(),
                foreign: o.foreign.clone(),
            });
            (member, result, reads)
        })
        .collect()
}

/// A member's share of a batch's findings: those in its files, plus any that belong to no
/// member (a config problem, say), which every member gets so none of them passes by mistake.
fn split_findings(
    findings: &[Finding],
    component: &Component,
    members: &[Prepared<'_>],
) -> Vec<Finding> {
    findings
        .iter()
        .filter(|f| component.owns(&f.file) || !members.iter().any(|m| m.component.owns(&f.file)))
        .cloned()
        .collect()
}

fn verdict_result(
    kind: StepKind,
    tool: &ResolvedTool,
    command: Vec<String>,
    mut findings: Vec<Finding>,
    duration_ms: u64,
) -> StepResult {
    findings.sort_by(|a, b| {
        (&a.file, a.line, a.column, &a.code).cmp(&(&b.file, b.line, b.column, &b.code))
    });
    // Type checkers' exit codes count errors only; warnings are shown but do not fail the step.
    let failed = match kind.spec().verdict {
        Verdict::AnyError => findings.iter().any(|f| f.severity == Severity::Error),
        Verdict::AnyFinding => !findings.is_empty(),
    };
    StepResult {
        name: kind,
        tool: kind.tool(),
        version: tool.version.clone(),
        command,
        status: if failed {
            StepStatus::Failed
        } else {
            StepStatus::Passed
        },
        cached: false,
        duration_ms,
        findings,
        error: None,
        tests: None,
        coverage: None,
    }
}

/// A verdict that needs no tool and no cache: a component with no tests listed, or with a
/// listed test path that matches nothing. (Running pytest with no paths would run every test
/// in the project; with a missing one it exits 4, which is not the machine's fault.) No
/// process starts, so a warm run stays free without a cache entry.
pub fn decided_without_running(
    component: &Component,
    kind: StepKind,
    tool: &ResolvedTool,
    project_root: &std::path::Path,
) -> Option<StepResult> {
    if !kind.spec().output.runs_tests() {
        return None;
    }
    let missing: Vec<&str> = component
        .tests
        .iter()
        .filter(|test| !project_root.join(test).exists())
        .map(String::as_str)
        .collect();
    let message = if component.tests.is_empty() {
        format!(
            "{} has no tests: write tests and list them under `tests` for the component in xtask.toml",
            component.name
        )
    } else if !missing.is_empty() {
        format!(
            "{} lists test paths that match nothing: {}; fix or remove them under `tests` for the component in xtask.toml",
            component.name,
            missing.join(", ")
        )
    } else {
        return None;
    };
    let argv = (kind.spec().argv)(&ArgvInputs {
        paths: std::slice::from_ref(&component.source),
        python: Path::new("python"),
        bandit_config: None,
        run_dir: RUN_DIR,
        coverage_root: component.coverage_root(),
        tests: &component.tests,
    });
    Some(StepResult::error(
        kind,
        &tool.version,
        command_line(kind, &argv),
        StepError {
            kind: ErrorKind::NoTests,
            message,
        },
        0,
    ))
}

fn run_pytest(ctx: &RunContext<'_>, member: &Prepared<'_>) -> (StepResult, Option<Observed>) {
    let mut reads = None;
    let result = run_pytest_observed(ctx, member, &mut reads);
    (result, reads)
}

fn run_pytest_observed(
    ctx: &RunContext<'_>,
    member: &Prepared<'_>,
    reads: &mut Option<Observed>,
) -> StepResult {
    let component = member.component;
    let command = command_line(member.kind, &member.argv);
    let error = |kind: ErrorKind, message: String, duration_ms: u64| {
        StepResult::error(
            member.kind,
            &member.tool.version,
            command.clone(),
            StepError { kind, message },
            duration_ms,
        )
    };
    // A folder of this run's own: a report left by an earlier run can never be read as ours.
    let run_dir = match crate::scratch::tempdir(&ctx.config.state_dir(), "pytest-") {
        Ok(dir) => dir,
        Err(e) => {
            return error(
                ErrorKind::Crashed,
                format!("failed to create a temp folder for pytest: {e}"),
                0,
            );
        }
    };
    let dir_text = run_dir.path().display().to_string();
    let args: Vec<String> = member
        .argv
        .iter()
        .map(|a| a.replace(RUN_DIR, &dir_text))
        .collect();
    // Shown as pytest's own command line, not as the observer's wrapper around it.
    let display = tool_command(ctx, &member.tool, args.clone()).display();
    let args = if member.observed {
        observe::wrap(&run_dir.path().join(observe::READS_FILE), &args)
    } else {
        args
    };
    let mut command_to_run = tool_command(ctx, &member.tool, args)
        // Coverage data of concurrent runs would otherwise collide in the project root.
        .env("COVERAGE_FILE", run_dir.path().join(".coverage"))
        .env("PYTHONDONTWRITEBYTECODE", OsString::from("1"));
    // The services' addresses for integration tests (`XTASK_SERVICE_<NAME>_HOST`).
    for (name, value) in &ctx.step_env {
        command_to_run = command_to_run.env(name, value);
    }
    let names = [component.name.clone()];
    ctx.listener.event(&Event::ToolStarted {
        kind: member.kind,
        components: &names,
        command: &display,
    });
    let outcome = process::run(&command_to_run);
    *reads = Observed::read(run_dir.path());
    let done = match outcome {
        Ok(done) => done,
        Err(e) => {
            let duration = match &e {
                RunError::TimedOut { duration, .. } => duration.as_millis() as u64,
                _ => 0,
            };
            let step_error = run_error(&e);
            return error(step_error.kind, step_error.message, duration);
        }
    };
    let duration_ms = done.duration.as_millis() as u64;
    let junit = std::fs::read(run_dir.path().join(tools::pytest::JUNIT_FILE)).ok();
    if matches!(member.kind.spec().output, Output::IntegrationRun) {
        let (tests, findings) =
            match tools::pytest::interpret_integration(&done, junit.as_deref(), &component.tests) {
                Ok(read) => read,
                Err(failure) => {
                    let step_error = StepError::from_failure(&failure);
                    return error(step_error.kind, step_error.message, duration_ms);
                }
            };
        return tests_result(member, command, tests, findings, None, duration_ms);
    }
    let coverage = std::fs::read(run_dir.path().join(tools::pytest::COVERAGE_FILE)).ok();
    let run = match tools::pytest::interpret(
        &done,
        junit.as_deref(),
        coverage.as_deref(),
        &ctx.normalizer,
        &component.tests,
    ) {
        Ok(run) => run,
        Err(failure) => {
            let step_error = StepError::from_failure(&failure);
            return error(step_error.kind, step_error.message, duration_ms);
        }
    };
    let coverage = run
        .coverage
        .as_ref()
        .and_then(|report| report.for_files(|path| component.owns(path)));
    tests_result(
        member,
        command,
        run.tests,
        run.failures,
        coverage,
        duration_ms,
    )
}

/// A test run's verdict: failed when any test failed or erred.
fn tests_result(
    member: &Prepared<'_>,
    command: Vec<String>,
    tests: tools::pytest::TestCounts,
    findings: Vec<Finding>,
    coverage: Option<tools::pytest::Coverage>,
    duration_ms: u64,
) -> StepResult {
    let failed = tests.failed + tests.errors > 0;
    StepResult {
        name: member.kind,
        tool: member.kind.tool(),
        version: member.tool.version.clone(),
        command,
        status: if failed {
            StepStatus::Failed
        } else {
            StepStatus::Passed
        },
        cached: false,
        duration_ms,
        findings,
        error: None,
        tests: Some(tests),
        coverage,
    }
}
