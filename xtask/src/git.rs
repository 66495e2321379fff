//! The git queries `--fix` needs before editing users' files: what in scope is modified,
//! staged or untracked. Like `cargo fix`, we refuse rather than mix our edits into theirs.

use std::path::Path;

use anyhow::Result;
use xshell::{Shell, cmd};

use crate::errors::usage;

/// Paths under `scope` (relative to `root`) that are not clean in git. An error when `root` is
/// not in a git checkout: without git, an edit we make cannot be told apart or undone.
pub fn dirty_files(root: &Path, scope: &[String]) -> Result<Vec<String>> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    let top = cmd!(sh, "git rev-parse --show-toplevel")
        .quiet()
        .ignore_stderr()
        .read()
        .map_err(|_| {
            usage(format!(
                "{} is not inside a git checkout: --fix only edits files it can show you the diff of; run it in a git checkout or pass --allow-dirty",
                root.display()
            ))
        })?;
    let _ = top;
    let output = cmd!(
        sh,
        "git status --porcelain=v1 -z --untracked-files=all -- {scope...}"
    )
    .quiet()
    .read()?;
    let mut dirty = Vec::new();
    let mut records = output.split('\0');
    while let Some(record) = records.next() {
        if record.len() < 4 {
            continue;
        }
        let (status, path) = record.split_at(3);
        // A rename record is followed by its source path; both are in play.
        if status.starts_with('R') || status.starts_with('C') {
            let _ = records.next();
        }
        dirty.push(format!("{} {}", status.trim(), path));
    }
    Ok(dirty)
}
