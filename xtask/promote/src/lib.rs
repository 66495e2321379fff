//! xtask promote: takes the components of a Python monorepo through their maturity stages
//! (Development -> Staging -> Production) by running the real tools and deciding the gates.
//!
//! This is the whole program as a library: a repository's own `xtask` binary calls [`main`].
//! This file parses flags, dispatches to a command and maps the outcome to an exit code.

mod affected;
mod assess;
mod bench;
mod cache;
mod cli;
mod commands;
mod config;
mod deploy;
mod digest;
mod edge_env;
mod engine;
mod errors;
mod events;
mod evidence;
mod fsutil;
mod gates;
mod generated;
mod git;
mod github;
mod http;
mod imports;
mod init;
mod input_file;
mod markdown;
mod maturity;
mod plan;
mod plural;
mod process;
mod progress;
mod ratchet;
mod readme;
mod records;
mod remote_cache;
mod render;
mod report;
mod request;
mod scratch;
mod signals;
mod status;
mod toolchain;
mod tools;
mod ui;
mod vocab;
mod workflows;
mod write_guard;

#[cfg(test)]
mod testutil;

/// What this repository's integration tests (`xtask/tests`) need from inside the program to
/// set up what only a fault could produce; not an interface for anyone else.
#[doc(hidden)]
pub mod testing {
    pub use crate::cache::flip_stored_verdicts;
}

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

/// Runs the command line of this process and returns its exit code: the one entry point a
/// repository's `xtask/src/main.rs` calls.
pub fn main() -> ExitCode {
    // The environment is read here, once; everything below reads the snapshot.
    let env = edge_env::init();
    let cli = Cli::parse();
    let verbosity = if cli.global.quiet {
        ui::Verbosity::Quiet
    } else if cli.global.verbose {
        ui::Verbosity::Verbose
    } else {
        ui::Verbosity::Normal
    };
    ui::init(cli.global.color, verbosity, env);
    // Tools run in process groups of their own, so Ctrl-C does not reach them: a signal
    // stops them here, and every wait asks whether one came.
    signals::install();

    let outcome = match &cli.command {
        Command::Setup(args) => commands::setup::run(&cli.global, args),
        Command::Promote(args) => commands::promote::run(&cli.global, args),
        Command::Cache(args) => commands::cache::run(&cli.global, args),
        Command::Bench(args) => commands::bench::run(&cli.global, args),
        Command::Workflows(args) => commands::workflows::run(&cli.global, args),
        Command::Affected(args) => commands::affected::run(&cli.global, args),
        Command::Issue(args) => commands::issue::run(&cli.global, args),
        Command::ValidateRequest(args) => commands::validate_request::run(&cli.global, args),
        Command::Demote(args) => commands::demote::run(&cli.global, args),
        Command::Status(args) => commands::status::run(&cli.global, args),
        Command::Init(args) => commands::init::run(args),
        Command::Ratchet(args) => commands::ratchet::run(&cli.global, args),
        Command::Verify(args) => commands::verify::run(&cli.global, args),
    };
    record_peak_memory(env);
    // A finished run leaves nothing in the state folder's scratch space.
    scratch::remove_own();
    let code = match outcome {
        // A cached answer that fresh runs contradict (found by `[cache] audit_sample` in any
        // command that runs checks) never ends in success, whatever the gates said.
        Ok(errors::exit::OK) if engine::audit::found_mismatch() => errors::exit::GATE_FAILED,
        Ok(code) => code,
        Err(error) => {
            ui::error(format!("{error:#}"));
            errors::exit_code_of(&error)
        }
    };
    // A run a signal stopped says which one, whatever it finished (130 Ctrl-C, 143 SIGTERM).
    if signals::received().is_some() {
        return ExitCode::from(signals::exit_code());
    }
    ExitCode::from(code)
}

/// For the benchmark: when `XTASK_PEAK_RSS_TO` names a file, write this process's peak resident
/// memory (KiB, `VmHWM`) there. Tools run in other processes and are not counted.
fn record_peak_memory(env: &edge_env::EdgeEnv) {
    let Some(target) = &env.xtask.peak_rss_to else {
        return;
    };
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.split_whitespace().next().map(str::to_owned))
        });
    if let Some(peak) = peak {
        let _ = std::fs::write(target, peak);
    }
}
