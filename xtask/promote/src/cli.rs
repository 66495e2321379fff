//! Command-line flags, as clap derive structs and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::plan::PhaseSelection;
use crate::ui::ColorChoice;
use crate::vocab::Stage;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    version,
    about = "Take the components of a Python monorepo through Development -> Staging -> Production, with real evidence.",
    after_help = "Exit codes: 0 all gates passed or nothing stale; 1 a gate failed or a file is stale; \
2 usage or configuration error; 3 infrastructure error (tool missing, crashed, timed out).\n\
Examples:\n  cargo xtask promote narrative-arc-orchestrator --phase 2\n  cargo xtask promote carbon --phase all\n  cargo xtask setup --check"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The registry to use [default: the nearest xtask.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// When to colour output; `auto` honours NO_COLOR and terminals
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print only errors and the final result
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print the commands run and every finding
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Install the pinned tool versions into .xtask/venv
    Setup(SetupArgs),
    /// Run promotion phases for components, decide the gates, write reports
    Promote(PromoteArgs),
    /// Inspect and maintain the result cache
    Cache(CacheArgs),
    /// Time the release binary against the plain sequential tool runs
    Bench(BenchArgs),
    /// (Re)write the GitHub workflows and issue form from templates/ and xtask.toml
    Workflows(WorkflowsArgs),
    /// Print the components a change affects (with their dependents) as a CI matrix
    Affected(AffectedArgs),
    /// Write a promotion request issue (title line and body) from measured evidence
    Issue(IssueArgs),
    /// Check the promotion request in a GitHub issues event, run its checks, decide the label
    ValidateRequest(ValidateRequestArgs),
    /// Record a demotion in a component's MATURITY.md
    Demote(DemoteArgs),
    /// The component-status report over every component: stages, readiness, rollout waves,
    /// week over week
    Status(StatusArgs),
    /// Discover the components of an existing monorepo and write a starting xtask.toml
    Init(InitArgs),
    /// Fail when a change makes a component worse than the base commit: a new finding, lower
    /// coverage, or a gate of its stage newly failing
    Ratchet(RatchetArgs),
    /// Re-check a component's newest promotion record: signature, commit, inputs, and what
    /// changed since
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The component by its xtask.toml name
    #[arg(value_name = "COMPONENT")]
    pub component: String,
    /// Also check the record's commit out into a temporary worktree, decide its gates again
    /// and compare verdicts and figures with the record
    #[arg(long)]
    pub rerun: bool,
}

#[derive(Debug, Args)]
pub struct RatchetArgs {
    /// The commit to compare with, e.g. origin/main (its merge base with HEAD is used)
    #[arg(long, value_name = "REF")]
    pub base: String,
    /// Components by their xtask.toml name [default: those the change affects]
    #[arg(value_name = "COMPONENT")]
    pub components: Vec<String>,
    /// How many tool processes may run at once [default: the number of CPUs]
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// text for people, json for programs (one comparison per component)
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Only report missing or mismatched tools; exit 1 when something is missing
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

fn parse_phase(text: &str) -> Result<PhaseSelection, String> {
    PhaseSelection::parse(text).map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// Components by their xtask.toml name, e.g. narrative-arc-orchestrator
    #[arg(required = true, value_name = "COMPONENT")]
    pub components: Vec<String>,
    /// 1 lint, 2 types, 3 docs, 4 validate (1-3 plus security, tests, coverage, dependencies),
    /// 5 deploy, or all (1-4)
    #[arg(long, default_value = "all", value_parser = parse_phase)]
    pub phase: PhaseSelection,
    /// The stage to promote to [default: the next stage after the current one]
    #[arg(long, value_name = "STAGE")]
    pub target: Option<Stage>,
    /// Apply safe lint fixes and formatting, scaffold a missing README
    #[arg(long)]
    pub fix: bool,
    /// With --fix: edit files even when they have uncommitted changes
    #[arg(long, requires = "fix")]
    pub allow_dirty: bool,
    /// Run every step even when a cached result exists, and refresh the cache
    #[arg(long)]
    pub no_cache: bool,
    /// How many tool processes may run at once [default: the number of CPUs]
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// text for people, json for programs (the promotion.json document)
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Write the promotion into MATURITY.md when every gate for the target passed (needs
    /// --phase all or 4)
    #[arg(long)]
    pub record: bool,
    /// With phase 4, all or 5: bring up the component's `services`, run its tests marked
    /// `integration` against them, and tear the services down
    #[arg(long)]
    pub integration: bool,
    /// With phase 5: the rollback drill on the environment of the stage the component is in:
    /// roll back to the previous proven image, prove it healthy, roll forward again, prove
    /// that, and record both in deployment.json (a Production promotion needs a passing one)
    #[arg(long)]
    pub drill: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    Markdown,
    Json,
    Html,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// markdown for GitHub (tables and mermaid), json for programs, html for a browser
    #[arg(long, value_enum, default_value_t = StatusFormat::Markdown)]
    pub format: StatusFormat,
    /// Where to write the report, `-` for stdout [default: reports/status/status.<md|json|html>]
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// How many tool processes may run at once [default: the number of CPUs]
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The monorepo to scan; xtask.toml is written there [default: the current folder]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Overwrite an existing xtask.toml
    #[arg(long)]
    pub force: bool,
    /// The thin xtask crate `init` writes (when missing) depends on xtask promote from this
    /// local checkout's `xtask/promote` folder instead of its git repository and tag
    #[arg(long, value_name = "DIR")]
    pub xtask_path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoteArgs {
    /// The component by its xtask.toml name
    #[arg(value_name = "COMPONENT")]
    pub component: String,
    /// The lower stage to move it to
    #[arg(long, value_name = "STAGE")]
    pub to: Stage,
    /// Why, for the history row (e.g. "fails the Production maintenance criteria: uptime 98%")
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub action: CacheAction,
}

#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// Entries, size and the hit rate of recent runs
    Stats,
    /// Remove every entry
    Clean,
    /// Recheck every entry's digest and remove the bad ones
    Verify,
    /// Print the actions/cache key of the cache for CI (and set it as a step output there)
    Key(CacheKeyArgs),
    /// Say, per step of a component, whether the cache answers and, if not, which input changed
    Explain(CacheExplainArgs),
    /// Print a new Ed25519 key pair for the remote cache: the public key for xtask.toml, the
    /// secret key for the CI secret of the trusted writer
    Keygen,
    /// Re-run steps the cache answers, fresh, and compare their verdicts and figures
    ///
    /// The fresh runs read nothing from the cache and store nothing. A cached answer that two
    /// fresh runs contradict on unchanged inputs is an error and its entry is evicted (exit 1);
    /// a step whose fresh runs disagree with each other is flaky: evicted, marked, and run fresh
    /// until its inputs change (exit 1); a fresh run without a verdict (a tool missing, crashed
    /// or timed out) is exit 3.
    Audit(CacheAuditArgs),
}

#[derive(Debug, Args)]
pub struct CacheAuditArgs {
    /// Components by their xtask.toml name [default: every component]
    #[arg(value_name = "COMPONENT")]
    pub components: Vec<String>,
    /// Re-run this percentage of the cached steps, chosen at random (e.g. 10)
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent, conflicts_with = "all")]
    pub sample: Option<f64>,
    /// Re-run every cached step (the default)
    #[arg(long)]
    pub all: bool,
    /// How many tool processes may run at once [default: the number of CPUs]
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
}

fn parse_percent(text: &str) -> Result<f64, String> {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(percent) if (0.0..=100.0).contains(&percent) => Ok(percent),
        _ => Err(format!("`{text}` is not a percentage from 0 to 100")),
    }
}

#[derive(Debug, Args)]
pub struct CacheExplainArgs {
    /// The component to explain
    pub component: String,
    /// Only this step (ruff-check, ruff-format, pyright, bandit, pytest)
    #[arg(long, value_name = "NAME")]
    pub step: Option<String>,
}

#[derive(Debug, Args)]
pub struct CacheKeyArgs {
    /// Key the inputs of this component only [default: every component]
    #[arg(long, value_name = "COMPONENT")]
    pub component: Option<String>,
}

#[derive(Debug, Args)]
pub struct WorkflowsArgs {
    /// Write nothing; print a unified diff of every stale file and exit 1 if there is one
    #[arg(long)]
    pub check: bool,
    /// Replace files that do not carry our generated header (the repo's own issue form)
    #[arg(long, conflicts_with = "check")]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct AffectedArgs {
    /// The commit to compare with, e.g. origin/main or the pull request's base
    #[arg(long, value_name = "REF")]
    pub base: String,
    /// The commit with the change [default: the working tree, untracked files included]
    #[arg(long, value_name = "REF")]
    pub head: Option<String>,
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The component by its xtask.toml name
    #[arg(value_name = "COMPONENT")]
    pub component: String,
    /// The stage to request [default: the next stage after the current one]
    #[arg(long, value_name = "STAGE")]
    pub target: Option<Stage>,
    /// Write the request here instead of to stdout
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ValidateRequestArgs {
    /// The event payload, as GitHub writes it to $GITHUB_EVENT_PATH
    #[arg(long, value_name = "FILE")]
    pub event: PathBuf,
    /// Where comment.md, label and the reports go [default: <reports>/promotion-request]
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

fn parse_shape(text: &str) -> Result<crate::bench::synthetic::Shape, String> {
    let (components, files) = text
        .split_once('x')
        .ok_or_else(|| format!("`{text}` is not COMPONENTSxFILES, e.g. 200x100"))?;
    let parse = |n: &str| {
        n.trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("`{n}` is not a positive number"))
    };
    Ok(crate::bench::synthetic::Shape {
        components: parse(components)?,
        files_per_component: parse(files)?,
    })
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Sequential, cold and one-file-changed runs per scenario (medians are reported)
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Warm runs per scenario
    #[arg(long, default_value_t = 10)]
    pub warm_runs: usize,
    /// Synthetic monorepos to generate, as COMPONENTSxFILES_PER_COMPONENT (repeatable); the
    /// default times 20,000 and 100,000 files, so cold growth with size shows
    #[arg(long, value_parser = parse_shape, default_values = ["200x100", "1000x100"])]
    pub synthetic: Vec<crate::bench::synthetic::Shape>,
    /// Skip the synthetic monorepos
    #[arg(long)]
    pub no_synthetic: bool,
    /// Skip the bundled example
    #[arg(long)]
    pub no_example: bool,
    /// Time this binary instead of building the release binary
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
    /// Also write the results (Markdown) to this file
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Also time a fresh clone against a warm remote cache at this URL (nginx, bazel-remote)
    #[arg(long, value_name = "URL")]
    pub remote: Option<String>,
    /// Keep the synthetic monorepos (with their warm caches) and print where, for profiling
    #[arg(long)]
    pub keep: bool,
}
