//! Messages to the person at the terminal (stderr): verbosity, colour, and the cargo-style
//! `  Label message` status lines. Reports and machine output go to stdout elsewhere.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use console::Style;

use crate::edge_env::EdgeEnv;

static VERBOSITY: AtomicU8 = AtomicU8::new(1);
/// stderr is a terminal and not a CI log (set by `init`).
static LIVE_TERMINAL: AtomicBool = AtomicBool::new(false);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet = 0,
    Normal = 1,
    Verbose = 2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Applies `--color` and `NO_COLOR` (any non-empty value turns colour off in `auto`).
pub fn init(color: ColorChoice, verbosity: Verbosity, env: &EdgeEnv) {
    VERBOSITY.store(verbosity as u8, Ordering::Relaxed);
    LIVE_TERMINAL.store(env.stderr_terminal && !env.ci, Ordering::Relaxed);
    let enabled = match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => !env.no_color && env.stderr_terminal,
    };
    console::set_colors_enabled(enabled);
    console::set_colors_enabled_stderr(enabled);
}

pub fn verbosity() -> Verbosity {
    match VERBOSITY.load(Ordering::Relaxed) {
        0 => Verbosity::Quiet,
        1 => Verbosity::Normal,
        _ => Verbosity::Verbose,
    }
}

/// Whether live progress (spinners, redrawn lines) fits: a terminal, and not CI, whose logs
/// keep every redraw as a new line.
pub fn interactive() -> bool {
    LIVE_TERMINAL.load(Ordering::Relaxed) && verbosity() != Verbosity::Quiet
}

/// `     Label message`, with the label right-aligned and coloured as cargo does.
pub fn status(label: &str, message: impl AsRef<str>) {
    if verbosity() >= Verbosity::Normal {
        eprintln!(
            "{:>12} {}",
            Style::new().green().bold().apply_to(label),
            message.as_ref()
        );
    }
}

pub fn warn(message: impl AsRef<str>) {
    eprintln!(
        "{} {}",
        Style::new().yellow().bold().apply_to("warning:"),
        message.as_ref()
    );
}

pub fn error(message: impl AsRef<str>) {
    eprintln!(
        "{} {}",
        Style::new().red().bold().apply_to("error:"),
        message.as_ref()
    );
}

pub fn verbose(message: impl AsRef<str>) {
    if verbosity() >= Verbosity::Verbose {
        eprintln!(
            "{:>12} {}",
            Style::new().dim().apply_to("debug"),
            message.as_ref()
        );
    }
}
