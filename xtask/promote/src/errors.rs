//! Error classes that decide the process exit code: usage (2) and infrastructure (3).
//!
//! Everything else is an `anyhow::Error`. A caller that wants a specific exit code wraps its
//! message in one of these types; `main` downcasts the chain to pick the code. Findings are data
//! and never travel through this path.

use std::fmt;

/// Exit codes shared by every command (README.md, "Exit codes").
pub mod exit {
    pub const OK: u8 = 0;
    pub const GATE_FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const INFRASTRUCTURE: u8 = 3;
    /// Conventional code for a run stopped by Ctrl-C (128 + SIGINT).
    pub const INTERRUPTED: u8 = crate::signals::CTRL_C_EXIT;
}

/// A mistake in what the user asked for or in their configuration; exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A tool, interpreter, engine or file system that failed us; exit code 3.
#[derive(Debug)]
pub struct InfraError(pub String);

impl fmt::Display for InfraError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InfraError {}

/// A wait or a write given up because a signal asked us to stop; exit code 128 + the
/// signal's number (130 for Ctrl-C, 143 for SIGTERM).
#[derive(Debug)]
pub struct Interrupted(pub String);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}

/// Builds an `anyhow::Error` for a run a signal stopped (exit 130 or 143).
pub fn interrupted(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Interrupted(message.into()))
}

/// Builds an `anyhow::Error` that maps to exit code 2.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// Builds an `anyhow::Error` that maps to exit code 3.
pub fn infra(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(InfraError(message.into()))
}

/// The exit code for an error that reached `main`. Unclassified errors are infrastructure:
/// they come from IO or a tool, never from a gate.
pub fn exit_code_of(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.downcast_ref::<Interrupted>().is_some() {
            return crate::signals::exit_code();
        }
        if cause.downcast_ref::<UsageError>().is_some() {
            return exit::USAGE;
        }
        if cause.downcast_ref::<InfraError>().is_some() {
            return exit::INFRASTRUCTURE;
        }
    }
    exit::INFRASTRUCTURE
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn usage_error_keeps_its_code_through_context() {
        let error = Err::<(), _>(usage("unknown component `x`"))
            .context("failed to plan")
            .unwrap_err();
        assert_eq!(exit_code_of(&error), exit::USAGE);
    }

    #[test]
    fn unclassified_errors_are_infrastructure() {
        let error = anyhow::anyhow!("disk full");
        assert_eq!(exit_code_of(&error), exit::INFRASTRUCTURE);
    }
}
