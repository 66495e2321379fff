//! One module per subcommand: each turns parsed flags into work and an exit code.

pub mod affected;
pub mod bench;
pub mod cache;
pub mod demote;
pub mod init;
pub mod issue;
pub mod promote;
pub mod promote_deploy;
pub mod setup;
pub mod status;
pub mod validate_request;
pub mod workflows;

use anyhow::Result;

use crate::cli::GlobalArgs;
use crate::config::{self, Config};

/// Loads the registry named by `--config`, or the nearest one.
pub fn load_config(global: &GlobalArgs) -> Result<Config> {
    let path = config::locate(global.config.as_deref())?;
    config::load(&path)
}

/// `--jobs`, else the number of CPUs.
pub fn jobs(requested: Option<usize>) -> usize {
    requested
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}
