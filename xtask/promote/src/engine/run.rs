//! Running one job: building the tool's command over its members' paths, spawning it through
//! the process API, interpreting its output and splitting findings back per component.

use std::path::{Path, PathBuf};

use super::{Job, Prepared, RunContext, observe, trace};
use crate::config::Component;
use crate::events::Event;
use crate::process::{self, RunError, ToolCommand};
use crate::toolchain::ResolvedTool;
use crate::tools::result::{ErrorKind, StepError, StepResult};
use crate::tools::table::{ArgvInputs, EnvValue, Launch, Output, TestRunSpec, Verdict};
use crate::tools::{self, Finding, Severity, StepKind};

/// Stands for this run's fresh output folder in keys and displayed commands.
pub const RUN_DIR: &str = "$XTASK_RUN_DIR";

pub(super) fn args_for(
    ctx: &RunContext<'_>,
    kind: StepKind,
    paths: &[String],
    component: &Component,
) -> Vec<String> {
    (kind.spec().argv)(&ArgvInputs {
        paths,
        python: &ctx.toolchain.python,
        config: ctx.tool_configs.get(&kind.tool()).map(String::as_str),
        run_dir: RUN_DIR,
        coverage_root: &component.coverage_target(),
        also_covered: &ctx.shared_code().coverage_folders(component),
        tests: &component.tests,
    })
}

/// Arguments for `component` alone: a check takes in the shared code it reaches.
pub fn argv(ctx: &RunContext<'_>, kind: StepKind, component: &Component) -> Vec<String> {
    args_for(
        ctx,
        kind,
        &checked_paths(ctx, kind, std::slice::from_ref(&component)),
        component,
    )
}

/// What a check of `components` (one, or a batch's members) reads: their sources, then the
/// shared code they reach (`reach.rs`), each once. Fixes edit only the components' own files.
fn checked_paths(ctx: &RunContext<'_>, kind: StepKind, components: &[&Component]) -> Vec<String> {
    let mut paths: Vec<String> = components.iter().map(|c| c.source.clone()).collect();
    if kind.spec().observed {
        let mut shared: Vec<String> = components
            .iter()
            .flat_map(|c| ctx.shared_code().of_component(c).iter().cloned())
            .filter(|file| !components.iter().any(|c| c.owns(file)))
            .collect();
        shared.sort();
        shared.dedup();
        paths.extend(shared);
    }
    paths
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

/// Whether `kind` runs under the file-access observer, so its entries carry the reads it made.
pub fn observed(kind: StepKind) -> bool {
    kind.spec().observed
}

/// What an observed tool process tree did, from its trace.
pub struct Observed {
    /// Shared by every member of a batch (one tool process tree).
    summary: std::sync::Arc<observe::Summary>,
    /// Sources of the members of a batch: their files are analysed for them, not for
    /// every member, so they are another member's inputs only when it imports them.
    members: std::sync::Arc<Vec<String>>,
    /// The folder of every run's scratch folder (`$STATE/tmp`): nothing in it is an input (it
    /// holds only what runs wrote), and runs of this or another xtask process come and go in it
    /// while a tool runs.
    scratch: std::path::PathBuf,
}

impl Observed {
    /// Reads the trace the run left in `run_dir`; a missing one reads as a run the observer
    /// never saw start (not cacheable).
    fn read(
        run_dir: &Path,
        scratch: PathBuf,
        members: Vec<String>,
        unfollowable: Option<String>,
    ) -> Observed {
        let bytes = std::fs::read(run_dir.join(trace::TRACE_FILE)).unwrap_or_default();
        let mut parsed = trace::parse(&bytes);
        if let Some(why) = unfollowable {
            parsed.accesses.push((
                trace::Access::Unfollowable(why),
                std::path::PathBuf::from("-"),
            ));
        }
        Observed {
            summary: std::sync::Arc::new(observe::Summary::of(&parsed)),
            members: std::sync::Arc::new(members),
            scratch,
        }
    }

    fn share(&self) -> Observed {
        Observed {
            summary: self.summary.clone(),
            members: self.members.clone(),
            scratch: self.scratch.clone(),
        }
    }

    /// The absolute paths the run wrote (its outputs), for the warm-run record.
    pub fn outputs(&self) -> impl Iterator<Item = &Path> {
        self.summary.outputs()
    }

    pub fn capture(
        &self,
        ctx: &RunContext<'_>,
        prepared: &Prepared<'_>,
    ) -> Result<observe::ReadSet, String> {
        // A type checker reads another member's files for this one when this one imports
        // them; a linter never does.
        let reached = if prepared.kind.spec().reads_imports && self.members.len() > 1 {
            super::inputs::imported_files(&ctx.index, prepared.component)
        } else {
            Vec::new()
        };
        observe::Capture {
            locator: &ctx.locator,
            index: &ctx.index,
            scratch: Some(&self.scratch),
        }
        .read_set(
            &self.summary,
            &observe::Member {
                members: &self.members,
                own: &prepared.component.source,
                reached: &reached,
            },
        )
    }
}

/// `command` run under the file-access observer, writing its trace into `run_dir`; with the
/// benchmark's switch, or when the observer cannot be installed or cannot follow the program,
/// it runs as it is and the reason comes back (the run is then not cacheable).
fn traced(
    ctx: &RunContext<'_>,
    command: ToolCommand,
    run_dir: &Path,
) -> (ToolCommand, Option<String>) {
    // Scratch space of the run's own: what the tools make there is their output, and no other
    // run's files come and go beside it.
    let tmp = run_dir.join("tmp");
    let command = command
        .env("TMPDIR", &tmp)
        // The same for the user's cache folder (stevedore's entry-point cache under bandit):
        // a cache a tool made on one run and read on the next would make every first run's
        // answer stale at once.
        .env("XDG_CACHE_HOME", run_dir.join("cache"))
        // libuv's io_uring file operations would bypass the observer.
        .env("UV_USE_IO_URING", "0");
    if let Err(e) = std::fs::create_dir_all(&tmp) {
        return (
            command,
            Some(format!("failed to create {}: {e}", tmp.display())),
        );
    }
    if crate::edge_env::get().xtask.bench_no_trace {
        return (
            command,
            Some("the file-access observer is off (XTASK_BENCH_NO_TRACE)".to_owned()),
        );
    }
    if let Some(why) = trace::unfollowable_program(&command.program) {
        return (command, Some(why));
    }
    match trace::library(&ctx.config.state_dir()) {
        Ok(library) => (
            command
                .env("LD_PRELOAD", library)
                .env(trace::TRACE_VAR, run_dir.join(trace::TRACE_FILE)),
            None,
        ),
        Err(why) => (command, Some(why)),
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
        // Such a tool reads a user-level config (`~/.config/<tool>/...`) when the project has
        // none; it is not in the key, so the tools never see one.
        command = command.env(
            "XDG_CONFIG_HOME",
            ctx.config.state_dir().join("no-user-config"),
        );
    }
    command = command
        .env("PATH", ctx.toolchain.tool_path_env())
        // Bytecode a run reads is an input by content; tools write none into the tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("NO_COLOR", "1")
        .env("PY_COLORS", "0")
        // Temp files of tools (a type checker's, a scanner's, a test's) live and die with this
        // run.
        .env("TMPDIR", crate::scratch::tools_tmp(&ctx.config.state_dir()));
    // What the tool's row says it runs with (its own cache kept out of the tree, no update
    // check on every start).
    for (name, value) in tool.tool.spec().sets_env {
        command = match value {
            EnvValue::Text(text) => command.env(name, text),
            EnvValue::StateFolder(folder) => command.env(name, ctx.config.state_dir().join(folder)),
        };
    }
    command
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
    if let Output::TestRun(spec) = output {
        return job
            .members
            .iter()
            .map(|member| {
                let (result, reads) = run_tests(ctx, member, spec);
                (member, result, reads)
            })
            .collect();
    }
    let tool = &job.members[0].tool;
    let members: Vec<&Component> = job.members.iter().map(|m| m.component).collect();
    // Only the members' own sources split a trace's reads; shared code read is every member's.
    let sources: Vec<String> = members.iter().map(|c| c.source.clone()).collect();
    let paths = checked_paths(ctx, job.kind, &members);
    let names: Vec<String> = job
        .members
        .iter()
        .map(|m| m.component.name.clone())
        .collect();
    let args = args_for(ctx, job.kind, &paths, job.members[0].component);
    let run_dir = crate::scratch::tempdir(&ctx.config.state_dir(), "run-");
    let plain = tool_command(ctx, tool, args);
    // Shown as the tool's own command line, not with the observer's variables.
    let display = plain.display();
    let (command, unfollowable) = match (&run_dir, observed(job.kind)) {
        (Ok(dir), true) => {
            let (command, why) = traced(ctx, plain, dir.path());
            (command, Some(why))
        }
        _ => (plain, None),
    };
    ctx.listener.event(&Event::ToolStarted {
        kind: job.kind,
        components: &names,
        command: &display,
    });
    let outcome = process::run(&command);
    let reads = match (&run_dir, unfollowable) {
        (Ok(dir), Some(why)) => Some(Observed::read(
            dir.path(),
            crate::scratch::root(&ctx.config.state_dir()),
            sources,
            why,
        )),
        _ => None,
    };
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
                    let mine = split_findings(ctx, findings, member.component, &job.members);
                    verdict_result(job.kind, &member.tool, command, mine, duration_ms)
                }
            };
            (member, result, reads.as_ref().map(Observed::share))
        })
        .collect()
}

/// A member's share of a batch's findings: those in its files and in the shared code it
/// reaches, plus any that belong to no member (a config problem, say), which every member gets
/// so none of them passes by mistake.
fn split_findings(
    ctx: &RunContext<'_>,
    findings: &[Finding],
    component: &Component,
    members: &[Prepared<'_>],
) -> Vec<Finding> {
    let shared = ctx.shared_code();
    findings
        .iter()
        .filter(|f| {
            shared.checked_with(component, &f.file)
                || !members
                    .iter()
                    .any(|m| shared.checked_with(m.component, &f.file))
        })
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
    StepResult::verdict(kind, &tool.version, command, !failed, findings, duration_ms)
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
        config: None,
        run_dir: RUN_DIR,
        coverage_root: &component.coverage_target(),
        also_covered: &[],
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

fn run_tests(
    ctx: &RunContext<'_>,
    member: &Prepared<'_>,
    spec: &TestRunSpec,
) -> (StepResult, Option<Observed>) {
    let mut reads = None;
    let result = run_tests_observed(ctx, member, spec, &mut reads);
    (result, reads)
}

/// A test run of one component: what the step's row says it runs with and reads
/// (`TestRunSpec`), in a fresh folder of its own.
fn run_tests_observed(
    ctx: &RunContext<'_>,
    member: &Prepared<'_>,
    spec: &TestRunSpec,
    reads: &mut Option<Observed>,
) -> StepResult {
    let component = member.component;
    let name = member.kind.tool().name();
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
    let run_dir = match crate::scratch::tempdir(&ctx.config.state_dir(), &format!("{name}-")) {
        Ok(dir) => dir,
        Err(e) => {
            return error(
                ErrorKind::Crashed,
                format!("failed to create a temp folder for {name}: {e}"),
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
    let plain = tool_command(ctx, &member.tool, args);
    // Shown as the tool's own command line, not with the observer's variables.
    let display = plain.display();
    let (mut command_to_run, unfollowable) = if member.observed {
        let (command, why) = traced(ctx, plain, run_dir.path());
        (command, Some(why))
    } else {
        (plain, None)
    };
    for (variable, file) in spec.run_files_env {
        command_to_run = command_to_run.env(variable, run_dir.path().join(file));
    }
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
    *reads = unfollowable.map(|why| {
        Observed::read(
            run_dir.path(),
            crate::scratch::root(&ctx.config.state_dir()),
            vec![component.source.clone()],
            why,
        )
    });
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
    let run = match (spec.read)(&done, run_dir.path(), &ctx.normalizer, &component.tests) {
        Ok(run) => run,
        Err(failure) => {
            let step_error = StepError::from_failure(&failure);
            return error(step_error.kind, step_error.message, duration_ms);
        }
    };
    let coverage = run.coverage.as_ref().and_then(|report| {
        report.for_files(|path| ctx.shared_code().checked_with(component, path))
    });
    tests_result(
        member,
        command,
        run.tests,
        run.failures,
        coverage,
        duration_ms,
    )
}

/// A test run's verdict (failed when any test failed or erred: `StepOutcome::status`).
fn tests_result(
    member: &Prepared<'_>,
    command: Vec<String>,
    tests: tools::TestCounts,
    findings: Vec<Finding>,
    coverage: Option<tools::Coverage>,
    duration_ms: u64,
) -> StepResult {
    StepResult::test_run(
        member.kind,
        &member.tool.version,
        command,
        tests,
        coverage,
        findings,
        duration_ms,
    )
}
