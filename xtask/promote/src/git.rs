//! The git queries `--fix` needs before editing users' files: what in scope is modified,
//! staged or untracked. Like `cargo fix`, we refuse rather than mix our edits into theirs.
//! Also what changed between two commits, for `affected`; worktrees for the ratchet; and the
//! objects of a promotion record's commit, all in one `git cat-file --batch`, for `verify`.

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

/// The top folder of the checkout holding `dir` without starting git: the nearest folder
/// at or above it with a `.git` (a folder, or the file a linked worktree has). For a caller
/// that runs on every warm `status`, where git's own answer costs a process.
pub fn find_toplevel(dir: &Path) -> Option<PathBuf> {
    let dir = std::path::absolute(dir).ok()?;
    dir.ancestors()
        .find(|folder| folder.join(".git").exists())
        .map(Path::to_path_buf)
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

/// One object as `git cat-file --batch` printed it, borrowed from its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchObject<'a> {
    /// `blob`, `tree`, `commit` or `tag`.
    pub kind: &'a str,
    pub bytes: &'a [u8],
}

/// Hands `visit` the object each of `specs` names (`<commit>:<path>`, an object id), by its
/// index, or `None` when git has no such object: one `git cat-file --batch` process for all
/// of them, where asking per file costs a process each. The objects are borrowed from git's
/// output, so a caller that hashes them holds every byte once. A spec holding a line break
/// cannot be asked (the batch reads one spec a line): it is `None` without reaching git.
pub fn cat_file_batch(
    top: &Path,
    specs: &[String],
    mut visit: impl FnMut(usize, Option<BatchObject<'_>>),
) -> Result<()> {
    let askable = |spec: &String| !spec.is_empty() && !spec.contains(['\n', '\r', '\0']);
    let asked: Vec<&String> = specs.iter().filter(|s| askable(s)).collect();
    let stdout = if asked.is_empty() {
        Vec::new()
    } else {
        let mut input = String::new();
        for spec in &asked {
            input.push_str(spec);
            input.push('\n');
        }
        let sh = Shell::new()?;
        sh.change_dir(top);
        cmd!(sh, "git cat-file --batch")
            .quiet()
            .ignore_stderr()
            .stdin(input)
            .output()
            .map_err(|e| anyhow::anyhow!("git cat-file --batch failed in {}: {e}", top.display()))?
            .stdout
    };
    let mut answers = parse_batch(&stdout, asked.len())?.into_iter();
    for (i, spec) in specs.iter().enumerate() {
        visit(
            i,
            if askable(spec) {
                answers.next().flatten()
            } else {
                None
            },
        );
    }
    Ok(())
}

fn not_a_header(header: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "git cat-file --batch printed `{}`, not an object header",
        header.escape_debug()
    )
}

/// `git cat-file --batch` output for `expected` specs: per spec either `<oid> <type>
/// <size>\n<bytes>\n`, or `<spec> missing\n` / `<spec> ambiguous\n` (`None`). Pure; output
/// that ends early or does not have that shape is an error, never a made-up object.
pub fn parse_batch(mut out: &[u8], expected: usize) -> Result<Vec<Option<BatchObject<'_>>>> {
    let mut objects = Vec::with_capacity(expected);
    for n in 0..expected {
        let Some((line, rest)) = split_once(out, b'\n') else {
            anyhow::bail!("git cat-file --batch stopped after {n} of {expected} objects");
        };
        let header = std::str::from_utf8(line).map_err(|_| {
            anyhow::anyhow!("git cat-file --batch printed a header that is not UTF-8")
        })?;
        out = rest;
        if header.ends_with(" missing") || header.ends_with(" ambiguous") {
            objects.push(None);
            continue;
        }
        let mut fields = header.rsplitn(3, ' ');
        let (Some(size), Some(kind), Some(oid)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(not_a_header(header));
        };
        let size: usize = size.parse().map_err(|_| not_a_header(header))?;
        if oid.is_empty() || !oid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(not_a_header(header));
        }
        let (Some(bytes), Some((b'\n', rest))) = (
            out.get(..size),
            out.get(size..).and_then(<[u8]>::split_first),
        ) else {
            anyhow::bail!(
                "git cat-file --batch printed fewer bytes than the {size} of object {oid}"
            );
        };
        objects.push(Some(BatchObject { kind, bytes }));
        out = rest;
    }
    Ok(objects)
}

/// `bytes` before and after the first `separator`.
fn split_once(bytes: &[u8], separator: u8) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|&b| b == separator)?;
    Some((bytes.get(..at)?, bytes.get(at + 1..)?))
}

/// Of `commits` (full ids), those git has that are neither `HEAD` nor one of its ancestors:
/// one `git rev-list <commits> ^HEAD` for all of them. It prints every commit reachable from
/// the given ones but not from HEAD, and a given commit is among them exactly when it is not
/// in HEAD's history. Ids git does not have are skipped (`--ignore-missing`), so this can run
/// beside the batch that finds out which ones it has.
pub fn not_in_head_history(
    top: &Path,
    commits: &[String],
) -> Result<std::collections::BTreeSet<String>> {
    if commits.is_empty() {
        return Ok(std::collections::BTreeSet::new());
    }
    for commit in commits {
        check_revision(commit)?;
    }
    let sh = Shell::new()?;
    sh.change_dir(top);
    let listed = cmd!(sh, "git rev-list --ignore-missing {commits...} ^HEAD --")
        .quiet()
        .ignore_stderr()
        .read()
        .map_err(|e| anyhow::anyhow!("git rev-list failed in {}: {e}", top.display()))?;
    let listed: std::collections::BTreeSet<&str> = listed.lines().map(str::trim).collect();
    Ok(commits
        .iter()
        .filter(|c| listed.contains(c.as_str()))
        .cloned()
        .collect())
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

    #[test]
    fn a_batch_is_read_object_by_object_with_missing_ones_as_none() {
        let out = b"1111111111111111111111111111111111111111 commit 12\ntree abc\nx y\n\
abc:no such.py missing\n\
2222222222222222222222222222222222222222 blob 0\n\n\
3333333333333333333333333333333333333333 blob 3\na\nb\n\
abc ambiguous\n";
        let objects = parse_batch(out, 5).unwrap();
        assert_eq!(
            objects,
            vec![
                Some(BatchObject {
                    kind: "commit",
                    bytes: b"tree abc\nx y"
                }),
                None,
                Some(BatchObject {
                    kind: "blob",
                    bytes: b""
                }),
                Some(BatchObject {
                    kind: "blob",
                    bytes: b"a\nb"
                }),
                None,
            ]
        );
    }

    #[test]
    fn a_batch_that_ends_early_or_lies_about_sizes_is_an_error() {
        let short = b"2222222222222222222222222222222222222222 blob 10\nabc\n";
        assert!(
            parse_batch(short, 1)
                .unwrap_err()
                .to_string()
                .contains("fewer bytes")
        );
        assert!(
            parse_batch(b"", 1)
                .unwrap_err()
                .to_string()
                .contains("after 0 of 1")
        );
        let odd = b"not a header\n";
        assert!(
            parse_batch(odd, 1)
                .unwrap_err()
                .to_string()
                .contains("not an object header")
        );
        // A blob whose bytes run into the next header is not split at a guess.
        let glued = b"2222222222222222222222222222222222222222 blob 2\nabc\n";
        assert!(parse_batch(glued, 1).is_err());
    }
}
