//! The git queries `--fix` needs before editing users' files: what in scope is modified,
//! staged or untracked. Like `cargo fix`, we refuse rather than mix our edits into theirs.
//! Also what changed between two commits, for `affected`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use xshell::{Shell, cmd};

use crate::errors::usage;

/// Paths under `scope` (relative to `root`) that are not clean in git. An error when `root` is
/// not in a git checkout: without git, an edit we make cannot be told apart or undone.
pub fn dirty_files(root: &Path, scope: &[String]) -> Result<Vec<String>> {
    toplevel_for(
        root,
        "--fix only edits files it can show you the diff of; run it in a git checkout or pass --allow-dirty",
    )?;
    let sh = Shell::new()?;
    sh.change_dir(root);
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

/// A revision as the user or the workflow gave it, checked before git sees it: never empty,
/// never an option (`--output=...` would make git write a file), no spaces or control
/// characters.
fn check_revision(rev: &str) -> Result<()> {
    let plain = !rev.is_empty()
        && rev.len() <= 256
        && !rev.starts_with('-')
        && !rev.chars().any(|c| c.is_whitespace() || c.is_control());
    if plain {
        Ok(())
    } else {
        Err(usage(format!(
            "`{}` is not a git revision: pass a commit, branch or tag such as origin/main",
            rev.escape_debug()
        )))
    }
}

/// The top folder of the git checkout that holds `dir`.
pub fn toplevel(dir: &Path) -> Result<PathBuf> {
    toplevel_for(dir, "`affected` compares commits, so run it in one")
}

/// The one `git rev-parse --show-toplevel` probe; `why` says what needs the checkout, so the
/// usage error tells the caller's own fix.
fn toplevel_for(dir: &Path, why: &str) -> Result<PathBuf> {
    let sh = Shell::new()?;
    sh.change_dir(dir);
    let top = cmd!(sh, "git rev-parse --show-toplevel")
        .quiet()
        .ignore_stderr()
        .read()
        .map_err(|_| {
            usage(format!(
                "{} is not inside a git checkout: {why}",
                dir.display()
            ))
        })?;
    Ok(PathBuf::from(top))
}

/// `rev` as a full commit id, or `None` when this checkout does not have that commit.
pub fn resolve_commit(top: &Path, rev: &str) -> Result<Option<String>> {
    check_revision(rev)?;
    let sh = Shell::new()?;
    sh.change_dir(top);
    let spec = format!("{rev}^{{commit}}");
    Ok(
        cmd!(sh, "git rev-parse --verify --quiet --end-of-options {spec}")
            .quiet()
            .ignore_stderr()
            .read()
            .ok()
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty()),
    )
}

/// The best common ancestor of two commits (ids from `resolve_commit`); `None` for unrelated
/// histories.
pub fn merge_base(top: &Path, a: &str, b: &str) -> Result<Option<String>> {
    let sh = Shell::new()?;
    sh.change_dir(top);
    Ok(cmd!(sh, "git merge-base {a} {b}")
        .quiet()
        .ignore_stderr()
        .read()
        .ok()
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty()))
}

/// Files that differ between commit `base` and commit `head`, or without `head` between
/// `base` and the working tree, untracked files included. Both sides of a rename are listed.
/// Paths are relative to `top`, with `/`.
pub fn changed_files(top: &Path, base: &str, head: Option<&str>) -> Result<Vec<String>> {
    let sh = Shell::new()?;
    sh.change_dir(top);
    let mut files: Vec<String> = Vec::new();
    let diff = match head {
        Some(head) => cmd!(sh, "git diff --name-only -z --no-renames {base} {head} --")
            .quiet()
            .read()?,
        None => cmd!(sh, "git diff --name-only -z --no-renames {base} --")
            .quiet()
            .read()?,
    };
    files.extend(
        diff.split('\0')
            .filter(|p| !p.is_empty())
            .map(str::to_owned),
    );
    if head.is_none() {
        let untracked = cmd!(sh, "git ls-files -z --others --exclude-standard")
            .quiet()
            .read()?;
        files.extend(
            untracked
                .split('\0')
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// Checks `commit` (an id from `resolve_commit`) out, detached, into a new worktree at `path`,
/// for the ratchet's base run and `verify --rerun`. Worktrees of killed runs are pruned first.
pub fn worktree_add(top: &Path, path: &Path, commit: &str) -> Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(top);
    let _ = cmd!(sh, "git worktree prune").quiet().ignore_stderr().run();
    cmd!(sh, "git worktree add --quiet --detach {path} {commit}")
        .quiet()
        .ignore_stdout()
        .run()
        .map_err(|e| anyhow::anyhow!("failed to check {commit} out into {}: {e}", path.display()))
}

/// Removes a worktree `worktree_add` made, and git's note of it.
pub fn worktree_remove(top: &Path, path: &Path) -> Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(top);
    cmd!(sh, "git worktree remove --force --force {path}")
        .quiet()
        .ignore_stderr()
        .run()
        .map_err(|e| anyhow::anyhow!("failed to remove the worktree {}: {e}", path.display()))
}

/// The id of the commit `HEAD` names.
pub fn head_commit(top: &Path) -> Result<String> {
    resolve_commit(top, "HEAD")?
        .ok_or_else(|| anyhow::anyhow!("{} has no commit yet", top.display()))
}

/// The tree id of `commit`.
pub fn tree_of(top: &Path, commit: &str) -> Result<String> {
    check_revision(commit)?;
    let sh = Shell::new()?;
    sh.change_dir(top);
    let spec = format!("{commit}^{{tree}}");
    Ok(
        cmd!(sh, "git rev-parse --verify --quiet --end-of-options {spec}")
            .quiet()
            .read()?
            .trim()
            .to_owned(),
    )
}

/// Whether `ancestor` is `descendant` or one of its ancestors.
pub fn is_ancestor(top: &Path, ancestor: &str, descendant: &str) -> Result<bool> {
    check_revision(ancestor)?;
    check_revision(descendant)?;
    let sh = Shell::new()?;
    sh.change_dir(top);
    Ok(
        cmd!(sh, "git merge-base --is-ancestor {ancestor} {descendant}")
            .quiet()
            .ignore_stderr()
            .run()
            .is_ok(),
    )
}

/// The bytes of `path` (relative to `top`) at `commit`; `None` when it has no such file.
pub fn file_at(top: &Path, commit: &str, path: &str) -> Result<Option<Vec<u8>>> {
    check_revision(commit)?;
    let sh = Shell::new()?;
    sh.change_dir(top);
    let spec = format!("{commit}:{path}");
    Ok(cmd!(sh, "git cat-file blob {spec}")
        .quiet()
        .ignore_stderr()
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| o.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_that_git_could_read_as_options_are_refused() {
        for bad in ["", "--output=/tmp/x", "-p", "main two", "a\nb", "x\u{7}"] {
            let error = check_revision(bad).unwrap_err();
            assert_eq!(
                crate::errors::exit_code_of(&error),
                crate::errors::exit::USAGE,
                "{bad:?}"
            );
        }
        for good in ["main", "origin/main", "HEAD~1", "0123abcd", "v1.2.3"] {
            assert!(check_revision(good).is_ok(), "{good}");
        }
    }
}
