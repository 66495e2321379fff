//! xtask promote: takes the components of a Python monorepo through their maturity stages
//! (Development -> Staging -> Production) by running the real tools and deciding the gates.
//!
//! This file parses flags, dispatches to a command and maps the outcome to an exit code.

mod assess;
mod cache;
mod cli;
mod commands;
mod config;
mod deploy;
mod engine;
mod errors;
mod events;
mod fsutil;
mod gates;
mod git;
mod maturity;
mod plan;
mod process;
mod progress;
mod readme;
mod render;
mod report;
mod stage;
mod toolchain;
mod tools;
mod ui;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let verbosity = if cli.global.quiet {
        ui::Verbosity::Quiet
    } else if cli.global.verbose {
        ui::Verbosity::Verbose
    } else {
        ui::Verbosity::Normal
    };
    ui::init(cli.global.color, verbosity);
    // Tools run in process groups of their own, so Ctrl-C does not reach them: stop them here.
    let _ = ctrlc::set_handler(process::interrupt_all);

    let outcome = match &cli.command {
        Command::Setup(args) => commands::setup::run(&cli.global, args),
        Command::Promote(args) => commands::promote::run(&cli.global, args),
        Command::Cache(args) => commands::cache::run(&cli.global, args),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            ui::error(format!("{error:#}"));
            ExitCode::from(errors::exit_code_of(&error))
        }
    }
}
