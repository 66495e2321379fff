//! `--fix` without editing a file in place while a tool can be killed. A fixer that rewrites
//! files itself (`ruff check --fix`, `ruff format`) leaves a file empty or cut short when Ctrl-C
//! or a kill reaches it mid-write. So no tool writes a user's file here:
//!
//! 1. each fixing step lists the files it would change with its check over the real tree
//!    (the tool's own discovery, excludes and config hierarchy decide, as for the check);
//! 2. each listed file is copied into this run's scratch folder and handed through stdin to
//!    every requested fixer in turn, named by its real path (so the tool reads that file's
//!    config), and the fixed text comes back on stdout, parsed and checked like any output;
//! 3. only when every tool exited as documented and no signal came, each changed file is
//!    moved into place with one rename (mode and owner kept), after checking that the file
//!    is still what was copied; a file that changed meanwhile is left alone and named.
//!
//! So an interrupted `--fix` leaves every file as it was before or as it is after, never in
//! between, and a write that fails (an immutable file) is an error step, never a pass.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{RunContext, StepId, run};
use crate::config::Component;
use crate::events::Event;
use crate::process;
use crate::toolchain::ResolvedTool;
use crate::tools::StepKind;
use crate::tools::result::{ErrorKind, StepError, StepResult};
use crate::tools::table::{FixSpec, Output};

/// The largest source file `--fix` takes on: far beyond any real module.
const MAX_SOURCE_BYTES: u64 = 64 * 1024 * 1024;

/// One requested fixing step: its kind, its tool and the components it fixes.
pub(crate) struct Stage<'c> {
    pub kind: StepKind,
    pub tool: ResolvedTool,
    pub members: Vec<&'c Component>,
}

impl Stage<'_> {
    fn spec(&self) -> &'static FixSpec {
        match self.kind.spec().output {
            Output::Fix(spec) => spec,
            // Only fixing steps become stages (`run_fixes`), and their rows say `Fix`.
            _ => unreachable!("{} is not a fixing step", self.kind),
        }
    }

    fn owner(&self, file: &str) -> Option<&Component> {
        self.members.iter().copied().find(|c| c.owns(file))
    }
}

/// Errors of a run, per (component, step).
type Errors = BTreeMap<StepId, StepError>;

/// Runs the requested fixing `stages` (in the tool table's order) and returns a result per
/// (component, step).
pub(crate) fn run(ctx: &RunContext<'_>, stages: &[Stage<'_>]) -> Vec<(StepId, StepResult)> {
    let started = Instant::now();
    announce(ctx, stages);
    let mut errors = Errors::new();
    let mut marked: Vec<BTreeSet<String>> = Vec::with_capacity(stages.len());
    for stage in stages {
        match list(ctx, stage) {
            Ok(files) => marked.push(files),
            Err(error) => {
                for component in &stage.members {
                    errors.insert((component.name.clone(), stage.kind), error.clone());
                }
                marked.push(BTreeSet::new());
            }
        }
    }
    let files: Vec<String> = marked
        .iter()
        .flatten()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    match crate::scratch::tempdir(&ctx.config.state_dir(), "fix-") {
        Ok(shadow) => {
            let fixed = super::parallel::map(&files, |file| {
                fix_one(ctx, stages, &marked, shadow.path(), file)
            });
            let mut changed = Vec::new();
            for (file, outcome) in files.iter().zip(fixed) {
                match outcome {
                    Ok(Some(change)) => changed.push(change),
                    Ok(None) => {}
                    Err((kind, error)) => blame(stages, &mut errors, file, Some(kind), error),
                }
            }
            if !process::interrupted() {
                move_into_place(ctx, stages, &changed, &mut errors);
            }
        }
        Err(e) => {
            let error = failed(format!("failed to create the shadow folder for --fix: {e}"));
            for stage in stages {
                for component in &stage.members {
                    errors.insert((component.name.clone(), stage.kind), error.clone());
                }
            }
        }
    }
    results(ctx, stages, errors, started.elapsed().as_millis() as u64)
}

fn failed(message: String) -> StepError {
    StepError {
        kind: ErrorKind::Crashed,
        message,
    }
}

/// Every step starts now; each stage shows the command it stands for.
fn announce(ctx: &RunContext<'_>, stages: &[Stage<'_>]) {
    for stage in stages {
        let names: Vec<String> = stage.members.iter().map(|c| c.name.clone()).collect();
        for name in &names {
            ctx.listener.event(&Event::StepStarted {
                component: name,
                kind: stage.kind,
            });
        }
        let paths: Vec<String> = stage.members.iter().map(|c| c.source.clone()).collect();
        let args = run::args_for(ctx, stage.kind, &paths, stage.members[0]);
        let display = format!(
            "{} (on shadow copies)",
            run::tool_command(ctx, &stage.tool, args).display()
        );
        ctx.listener.event(&Event::ToolStarted {
            kind: stage.kind,
            components: &names,
            command: &display,
        });
    }
}

/// The files `stage` would change: its check's findings that mark a file, over the members'
/// sources on the real tree.
fn list(ctx: &RunContext<'_>, stage: &Stage<'_>) -> Result<BTreeSet<String>, StepError> {
    let spec = stage.spec();
    let paths: Vec<String> = stage.members.iter().map(|c| c.source.clone()).collect();
    let args = run::args_for(ctx, spec.lists_with, &paths, stage.members[0]);
    let done =
        process::run(&run::tool_command(ctx, &stage.tool, args)).map_err(|e| run::run_error(&e))?;
    let findings = spec
        .lists_with
        .spec()
        .output
        .findings(&done, &ctx.normalizer)
        .map_err(|failure| StepError::from_failure(&failure))?;
    Ok(findings
        .iter()
        .filter(|f| (spec.marks)(f) && stage.owner(&f.file).is_some())
        .map(|f| f.file.clone())
        .collect())
}

/// A file whose fixed text differs from what was copied: where the new text is, and what the
/// file was when copied.
struct Change {
    file: String,
    fixed: PathBuf,
    copied: Copied,
}

/// A user's file as it was copied: its bytes and the stat fields that change with any write.
struct Copied {
    bytes: Vec<u8>,
    identity: (u64, u64, u64, i64, i64, i64, i64),
    mode: u32,
    owner: (u32, u32),
}

fn identity(metadata: &std::fs::Metadata) -> (u64, u64, u64, i64, i64, i64, i64) {
    (
        metadata.dev(),
        metadata.ino(),
        metadata.size(),
        metadata.mtime(),
        metadata.mtime_nsec(),
        metadata.ctime(),
        metadata.ctime_nsec(),
    )
}

/// Reads `path` as it is now, if it is still a regular file of its own.
fn copy_of(path: &Path) -> Result<Copied, String> {
    let metadata = std::fs::symlink_metadata(path).map_err(|e| format!("cannot read it ({e})"))?;
    if !metadata.is_file() || metadata.nlink() > 1 {
        return Err("it is no longer a regular file of its own".to_owned());
    }
    let what = "the file to fix";
    let bytes = match crate::input_file::read(path, what, MAX_SOURCE_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Err("it was removed".to_owned()),
        Err(e) => return Err(format!("{e:#}")),
    };
    Ok(Copied {
        bytes,
        identity: identity(&metadata),
        mode: metadata.mode() & 0o7777,
        owner: (metadata.uid(), metadata.gid()),
    })
}

/// Copies `file` into `shadow`, runs every stage that marked it (or follows a stage that
/// changed it) over the copy, and returns the change, if any; an error names the stage.
fn fix_one(
    ctx: &RunContext<'_>,
    stages: &[Stage<'_>],
    marked: &[BTreeSet<String>],
    shadow: &Path,
    file: &str,
) -> Result<Option<Change>, (StepKind, StepError)> {
    let Some(first) = stages
        .iter()
        .zip(marked)
        .find(|(_, m)| m.contains(file))
        .map(|(s, _)| s.kind)
    else {
        return Ok(None);
    };
    let real = ctx.config.project_path(file);
    let copied = copy_of(&real)
        .map_err(|reason| (first, failed(format!("--fix cannot take {file}: {reason}"))))?;
    // The shadow mirrors the project's layout: `<shadow>/<file>.in0`, `.fixed`.
    let stem = shadow.join(file);
    if let Some(parent) = stem.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            (
                first,
                failed(format!("failed to create the shadow folder of {file}: {e}")),
            )
        })?;
    }
    let named = |suffix: &str| {
        let mut name = stem.clone().into_os_string();
        name.push(suffix);
        PathBuf::from(name)
    };
    let absolute = real.display().to_string();
    let mut text = copied.bytes.clone();
    for (index, (stage, marks)) in stages.iter().zip(marked).enumerate() {
        if !marks.contains(file) && text == copied.bytes {
            continue;
        }
        let input = named(&format!(".in{index}"));
        std::fs::write(&input, &text).map_err(|e| {
            (
                stage.kind,
                failed(format!("failed to write the shadow copy of {file}: {e}")),
            )
        })?;
        let spec = stage.spec();
        let command =
            run::tool_command(ctx, &stage.tool, (spec.stdin_argv)(&absolute)).stdin_file(&input);
        let done = process::run(&command).map_err(|e| (stage.kind, run::run_error(&e)))?;
        text = (spec.read)(&done).map_err(|failure| {
            let mut error = StepError::from_failure(&failure);
            error.message = format!("{file}: {}", error.message);
            (stage.kind, error)
        })?;
    }
    if text == copied.bytes {
        return Ok(None);
    }
    let fixed = named(".fixed");
    std::fs::write(&fixed, &text).map_err(|e| {
        (
            first,
            failed(format!("failed to write the fixed copy of {file}: {e}")),
        )
    })?;
    Ok(Some(Change {
        file: file.to_owned(),
        fixed,
        copied,
    }))
}

/// Moves each fixed copy over its file with one rename, unless the file changed since it was
/// copied; stops at a signal (every file is then before or after, never between).
fn move_into_place(
    ctx: &RunContext<'_>,
    stages: &[Stage<'_>],
    changed: &[Change],
    errors: &mut Errors,
) {
    for change in changed {
        if process::interrupted() {
            return;
        }
        let real = ctx.config.project_path(&change.file);
        if let Err(message) = replace(&real, change) {
            blame(stages, errors, &change.file, None, failed(message));
        }
    }
}

/// Replaces `real` with the fixed copy, or says why not.
fn replace(real: &Path, change: &Change) -> Result<(), String> {
    let file = &change.file;
    let now = copy_of(real).map_err(|reason| format!("{file} was left as it is: {reason}"))?;
    if now.identity != change.copied.identity || now.bytes != change.copied.bytes {
        return Err(format!(
            "{file} changed while --fix ran, so it was left as it is now: run --fix again"
        ));
    }
    let fixed = std::fs::OpenOptions::new()
        .write(true)
        .open(&change.fixed)
        .map_err(|e| format!("failed to reopen the fixed copy of {file}: {e}"))?;
    use std::os::unix::fs::PermissionsExt;
    let kept = fixed
        .set_permissions(std::fs::Permissions::from_mode(change.copied.mode))
        .and_then(|()| {
            // Only root may give a file away; anyone else already owns what they fix.
            let (uid, gid) = change.copied.owner;
            std::os::unix::fs::fchown(&fixed, Some(uid), Some(gid)).or(Ok(()))
        })
        .and_then(|()| fixed.sync_data());
    kept.map_err(|e| format!("failed to prepare the fixed copy of {file}: {e}"))?;
    match std::fs::rename(&change.fixed, real) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
            // The state folder is on another file system: an atomic write beside the file.
            let text = std::fs::read(&change.fixed)
                .map_err(|e| format!("failed to read the fixed copy of {file}: {e}"))?;
            crate::fsutil::write_atomic(real, &text)
                .map_err(|e| format!("failed to replace {file}: {e:#}"))
        }
        Err(e) => Err(format!(
            "failed to replace {file} ({e}); it was left as it was"
        )),
    }
}

/// Records `error` for the component owning `file`: for `kind`, or for every stage of that
/// component when the failure is the move's.
fn blame(
    stages: &[Stage<'_>],
    errors: &mut Errors,
    file: &str,
    kind: Option<StepKind>,
    error: StepError,
) {
    for stage in stages.iter().filter(|s| kind.is_none_or(|k| k == s.kind)) {
        if let Some(owner) = stage.owner(file) {
            errors
                .entry((owner.name.clone(), stage.kind))
                .and_modify(|e| {
                    e.message.push('\n');
                    e.message.push_str(&error.message);
                })
                .or_insert_with(|| error.clone());
        }
    }
}

/// A result per (component, step): an error when anything of it failed or a signal came,
/// else a pass (what a fix leaves unfixed is found by the checks that follow).
fn results(
    ctx: &RunContext<'_>,
    stages: &[Stage<'_>],
    mut errors: Errors,
    duration_ms: u64,
) -> Vec<(StepId, StepResult)> {
    let interrupted = process::interrupted();
    let mut out = Vec::new();
    for stage in stages {
        for component in &stage.members {
            let id = (component.name.clone(), stage.kind);
            let command = run::command_line(stage.kind, &run::argv(ctx, stage.kind, component));
            let error = errors.remove(&id).or_else(|| {
                interrupted.then(|| StepError {
                    kind: ErrorKind::Interrupted,
                    message: "interrupted: files --fix had not moved into place are as they were"
                        .to_owned(),
                })
            });
            let result = match error {
                Some(error) => {
                    StepResult::error(stage.kind, &stage.tool.version, command, error, duration_ms)
                }
                None => StepResult::verdict(
                    stage.kind,
                    &stage.tool.version,
                    command,
                    true,
                    Vec::new(),
                    duration_ms,
                ),
            };
            ctx.listener.event(&Event::StepFinished {
                component: &component.name,
                result: &result,
            });
            out.push((id, result));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn prepared(dir: &Path, text: &str, fixed: &str) -> (PathBuf, Change) {
        let real = dir.join("a.py");
        std::fs::write(&real, text).unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o750)).unwrap();
        let shadow = dir.join("a.py.fixed");
        std::fs::write(&shadow, fixed).unwrap();
        let change = Change {
            file: "a.py".to_owned(),
            fixed: shadow,
            copied: copy_of(&real).unwrap(),
        };
        (real, change)
    }

    #[test]
    fn a_fixed_copy_replaces_its_file_keeping_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let (real, change) = prepared(dir.path(), "x=1\n", "x = 1\n");
        replace(&real, &change).unwrap();
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "x = 1\n");
        let mode = std::fs::metadata(&real).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o750);
        assert!(!change.fixed.exists(), "moved, not copied");
    }

    #[test]
    fn a_file_that_changed_since_it_was_copied_is_left_as_it_is_now() {
        let dir = tempfile::tempdir().unwrap();
        let (real, change) = prepared(dir.path(), "x=1\n", "x = 1\n");
        std::fs::write(&real, "y=2\n").unwrap();
        let error = replace(&real, &change).unwrap_err();
        assert!(error.contains("a.py changed while --fix ran"), "{error}");
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "y=2\n");
        // The same bytes written again are still a change: the stat fields moved.
        let (real, change) = prepared(dir.path(), "x=1\n", "x = 1\n");
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::fs::write(&real, "x=1\n").unwrap();
        assert!(replace(&real, &change).is_err());
    }
}
