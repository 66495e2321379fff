//! `cargo xtask promote`: the flags read into one request (`request.rs`), then the checks
//! (`check.rs`, `--fix` in `fix.rs`), a deploy (`deploy.rs`) or a rollback drill (`drill.rs`), each run once;
//! `finish.rs` is what the checks and the deploy do once their reports exist.

use anyhow::Result;

use crate::cli::{GlobalArgs, PromoteArgs};
use request::PromoteRequest;

mod check;
mod deploy;
mod drill;
pub mod finish;
mod fix;
mod request;

pub fn run(global: &GlobalArgs, args: &PromoteArgs) -> Result<u8> {
    match PromoteRequest::from_args(args)? {
        PromoteRequest::Checks(checks) => check::run(global, &checks),
        PromoteRequest::Deploy(deploy) => deploy::run(global, &deploy),
        PromoteRequest::Drill(drill) => drill::run(global, &drill),
    }
}
