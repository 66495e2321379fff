//! One module per subcommand: each turns parsed flags into work and an exit code.

pub mod affected;
pub mod bench;
pub mod cache;
pub mod cache_audit;
pub mod demote;
pub mod init;
pub mod issue;
pub mod promote;
pub mod ratchet;
pub mod setup;
pub mod status;
pub mod validate_request;
pub mod verify;
pub mod workflows;

use anyhow::Result;

use crate::cache::Cache;
use crate::cli::GlobalArgs;
use crate::config::{self, Config};
use crate::engine::RunContext;
use crate::plan::ComponentPlan;
use crate::progress;
use crate::remote_cache::RemoteStore;
use crate::toolchain::{self, Toolchain};
use crate::ui;

/// Loads the registry named by `--config`, or the nearest one.
pub fn load_config(global: &GlobalArgs) -> Result<Config> {
    let path = config::locate(global.config.as_deref())?;
    let config = config::load(&path)?;
    // From here on temp files go under the state folder, and dead runs' scratch goes first.
    crate::scratch::init(&config.state_dir());
    let overridden = crate::render::load_overrides(&config.workspace_root)?;
    if !overridden.is_empty() {
        crate::ui::verbose(format!(
            "templates overridden by the repository: {}",
            overridden.join(", ")
        ));
    }
    Ok(config)
}

/// `--jobs`, else the number of CPUs.
pub fn jobs(requested: Option<usize>) -> usize {
    requested
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// `--jobs` and `--no-cache`, as every command that runs checks takes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOptions {
    pub jobs: Option<usize>,
    /// Run every step even when a cached result exists, and refresh the entries.
    pub refresh: bool,
}

/// Runs checks the way every command does: the toolchain (bootstrapped when pinned tools are
/// missing), the result cache, a progress listener that is gone before the caller prints, and
/// `assess` over one engine context. Returns what `assess` returned, and the toolchain for work
/// that follows (integration services).
pub fn run_checks<T>(
    config: &Config,
    plans: &[ComponentPlan],
    options: CheckOptions,
    assess: impl FnOnce(&RunContext<'_>) -> Result<T>,
) -> Result<(T, Toolchain)> {
    // Scratch folders of runs that were killed go first; a live run's stay.
    crate::scratch::init(&config.state_dir());
    let toolchain = prepare_toolchain(config, plans)?;
    let cache = Cache::open(&config.cache_dir(), config.cache_max_bytes)
        .with_remote(config.cache_remote.as_ref().map(RemoteStore::open));
    let listener = progress::listener();
    let outcome = {
        let ctx = RunContext::new(
            config,
            &toolchain,
            Some(&cache),
            listener.as_ref(),
            jobs(options.jobs),
            options.refresh,
        );
        let outcome = assess(&ctx)?;
        ctx.warm.save(&ctx);
        outcome
    };
    drop(listener);
    Ok((outcome, toolchain))
}

/// Loads the toolchain and, when the venv lacks the pinned tools the plans need, installs
/// them first and says so: a fresh clone runs with nothing installed by hand.
fn prepare_toolchain(config: &Config, plans: &[ComponentPlan]) -> Result<Toolchain> {
    let toolchain = Toolchain::load(config)?;
    let needs_tools = plans.iter().any(|p| !p.steps.is_empty());
    let bootstrap_allowed = !crate::edge_env::get().xtask.no_bootstrap;
    if !needs_tools || !bootstrap_allowed {
        return Ok(toolchain);
    }
    let gaps = toolchain::setup::gaps(config, &toolchain)?;
    if gaps.is_empty() {
        return Ok(toolchain);
    }
    ui::status(
        "Bootstrap",
        format!(
            "pinned tools are missing; installing {} (this is `cargo xtask setup`)",
            gaps.describe()
        ),
    );
    toolchain::setup::install(config)?;
    Toolchain::load(config)
}
