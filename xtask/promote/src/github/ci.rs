//! The IO side of CI-native output: prints workflow commands, appends to the files the runner
//! names in `$GITHUB_STEP_SUMMARY` and `$GITHUB_OUTPUT`. Does nothing outside GitHub Actions,
//! so every command can call it unconditionally.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use super::{annotations, in_actions, outputs, random_token, summary};
use crate::config::Config;
use crate::report::PromotionReport;

/// `path` relative to the repository root, which is where GitHub resolves an annotation's
/// `file=` (`$GITHUB_WORKSPACE`); without it, relative to the workspace root.
pub fn repo_relative(config: &Config, path: &Path) -> String {
    let base = crate::edge_env::get()
        .github
        .workspace
        .as_ref()
        .and_then(|p| std::path::absolute(p).ok())
        .unwrap_or_else(|| config.workspace_root.clone());
    let relative = path
        .strip_prefix(&base)
        .or_else(|_| path.strip_prefix(&config.workspace_root))
        .unwrap_or(path);
    crate::fsutil::unix(relative)
}

fn append(variable: &str, text: &str) -> Result<()> {
    let Some(path) = crate::edge_env::get().var(variable) else {
        return Ok(());
    };
    let path = Path::new(&path);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("failed to open {} (${variable})", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("failed to write {} (${variable})", path.display()))
}

/// Appends Markdown to the job summary; nothing outside GitHub Actions.
pub fn append_summary(text: &str) -> Result<()> {
    if !in_actions() {
        return Ok(());
    }
    append(
        "GITHUB_STEP_SUMMARY",
        &summary::fit(text.to_owned(), summary::LIMIT),
    )
}

/// Writes step outputs for later steps; nothing outside GitHub Actions.
pub fn set_outputs(pairs: &[(String, String)]) -> Result<()> {
    if !in_actions() {
        return Ok(());
    }
    append("GITHUB_OUTPUT", &outputs::render(pairs, &random_token())?)
}

/// Where workflow commands go: the runner reads both streams, so a command whose stdout is a
/// document (`--format json`) sends them to stderr instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandStream {
    Stdout,
    Stderr,
}

/// After a run's reports are written: groups and annotations, the Markdown summary, and the
/// outputs (`promotable`, `coverage`, `from_stage`, `to_stage`, ...).
pub fn emit_reports(
    config: &Config,
    reports: &[PromotionReport],
    stream: CommandStream,
) -> Result<()> {
    if !in_actions() || reports.is_empty() {
        return Ok(());
    }
    let project = repo_relative(config, &config.project.root);
    let reports_dir = repo_relative(config, &config.project.reports_dir);
    let paths = annotations::Paths {
        project: &project,
        reports: &reports_dir,
    };
    let text = annotations::render(reports, paths, &random_token());
    let written = match stream {
        CommandStream::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        }
        CommandStream::Stderr => {
            let mut out = std::io::stderr().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        }
    };
    written.context("failed to write workflow commands")?;
    append("GITHUB_STEP_SUMMARY", &summary::render(reports))?;
    set_outputs(&outputs::for_reports(reports))
}
