//! Command-line flags, as clap derive structs and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::plan::PhaseSelection;
use crate::stage::Stage;
use crate::ui::ColorChoice;

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
    /// With phase 4, all or 5: bring up the component's `services`, run its tests marked
    /// `integration` against them, and tear the services down
    #[arg(long)]
    pub integration: bool,
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
}
