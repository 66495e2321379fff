//! File writes that never leave a half-written file behind: a temp file in the same folder,
//! flushed, then renamed over the target; and `unix`, the one text form of a relative path.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

use anyhow::{Context, Result};

/// A relative path written with `/`, the form used in keys, reports and findings.
pub fn unix(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .filter_map(|part| match part {
            Component::Normal(p) => Some(p.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// Writes `bytes` to `path` atomically and durably, creating the parent folder if needed.
/// Readers see either the old file or the new one, never a mix, even across processes; the
/// data is flushed before the rename, so a power loss cannot leave an empty file behind. For
/// users' files (MATURITY.md, READMEs, generated workflows).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write(path, bytes, true)
}

/// Like `write_atomic` without the flush, for files we regenerate on every run or that carry
/// their own digest (reports, cache entries, records): after a power loss they may be missing
/// or empty, which reads as "not there", never as a wrong result. Saves a disk sync per file
/// on the warm path.
pub fn write_atomic_regenerable(path: &Path, bytes: &[u8]) -> Result<()> {
    write(path, bytes, false)
}

/// Refuses (exit 2, naming the file and the fix) to replace a user's file that an atomic write
/// would mishandle: a symlink (the rename would put a regular file in place of the link and
/// leave its target as it was), a file with other hard links (they would keep the old text),
/// and a read-only file (its mode says it is not to be changed). A missing file is fine.
pub fn refuse_unreplaceable(path: &Path, what: &str) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("failed to read {}", path.display())),
    };
    let problem = if metadata.file_type().is_symlink() {
        let target = std::fs::read_link(path)
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        format!(
            "is a symlink to {target}: a write would replace the link with a regular file and leave {target} as it was; point the registry at the file itself, or replace the link with the file"
        )
    } else if metadata.is_file() && metadata.nlink() > 1 {
        format!(
            "has {} hard links: a write would part it from its other names, which would keep the old text; make it a file of its own (cp it, then mv the copy over it)",
            metadata.nlink()
        )
    } else if metadata.is_file() && metadata.permissions().mode() & 0o222 == 0 {
        format!(
            "is read-only (mode {:o}): make it writable (chmod u+w) if xtask may change it",
            metadata.permissions().mode() & 0o7777
        )
    } else {
        return Ok(());
    };
    Err(crate::errors::usage(format!(
        "{what} {} {problem}; nothing was written",
        path.display()
    )))
}

/// Temp files of atomic writes (`.xtask-tmp-*`) under `dir` older than `age`: left beside
/// their targets by a run killed before its rename (an older xtask put them there; this one
/// does so only when the state folder is on another file system). Removes them and returns
/// them. Younger ones may belong to a run writing now.
pub fn remove_stale_temps(dir: &Path, age: std::time::Duration) -> Vec<std::path::PathBuf> {
    let cutoff = std::time::SystemTime::now()
        .checked_sub(age)
        .unwrap_or(std::time::UNIX_EPOCH);
    let mut removed = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let Ok(metadata) = entry.path().symlink_metadata() else {
                continue;
            };
            let stale = metadata.is_file()
                && entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX)
                && metadata.modified().is_ok_and(|m| m < cutoff);
            if metadata.is_dir() {
                folders.push(entry.path());
            } else if stale && std::fs::remove_file(entry.path()).is_ok() {
                removed.push(entry.path());
            }
        }
    }
    removed
}

/// How the temp files of atomic writes are named.
const TEMP_PREFIX: &str = ".xtask-tmp-";

fn write(path: &Path, bytes: &[u8], durable: bool) -> Result<()> {
    let parent = path
        .parent()
        .with_context(|| format!("{} has no parent folder", path.display()))?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("failed to create {}", parent.display()))?;
    // The temp file lives in this run's scratch folder, which the next run sweeps if we are
    // killed before the rename; beside the target only when that is another file system (a
    // rename cannot cross one) or no configuration named a state folder yet.
    if let Some(scratch) = scratch_for(path) {
        match write_via(&scratch, path, bytes, durable) {
            Err(WriteError::CrossDevice) => {}
            other => return other.map_err(WriteError::into_anyhow),
        }
    }
    write_via(parent, path, bytes, durable).map_err(WriteError::into_anyhow)
}

/// The scratch folder for a temp file that replaces `path`: the run's own, when `path` is in
/// the workspace whose state folder this run uses.
fn scratch_for(path: &Path) -> Option<std::path::PathBuf> {
    let workspace = crate::scratch::state_dir()?.parent()?;
    if !path.starts_with(workspace) {
        return None;
    }
    crate::scratch::run_dir()
}

enum WriteError {
    /// The temp folder is on another file system than the target.
    CrossDevice,
    Other(anyhow::Error),
}

impl WriteError {
    fn into_anyhow(self) -> anyhow::Error {
        match self {
            WriteError::CrossDevice => anyhow::anyhow!("a rename crossed file systems"),
            WriteError::Other(error) => error,
        }
    }
}

impl From<anyhow::Error> for WriteError {
    fn from(error: anyhow::Error) -> Self {
        WriteError::Other(error)
    }
}

/// Writes `bytes` to a temp file in `temp_dir`, then renames it over `path`.
fn write_via(temp_dir: &Path, path: &Path, bytes: &[u8], durable: bool) -> Result<(), WriteError> {
    // A new file gets 0666 less the umask, as `touch` would make it: a web server or a
    // colleague can read a report; a replaced file keeps its own mode below.
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(temp_dir)
        .with_context(|| format!("failed to create a temp file in {}", temp_dir.display()))?;
    temp.write_all(bytes)
        .with_context(|| format!("failed to write {}", path.display()))?;
    if durable {
        temp.as_file()
            .sync_data()
            .with_context(|| format!("failed to flush {}", path.display()))?;
    }
    // Keep the permissions of the file we replace (a user's executable script stays one).
    if let Ok(metadata) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(temp.path(), metadata.permissions());
    }
    match temp.persist(path) {
        Ok(_) => Ok(()),
        Err(error) if error.error.kind() == std::io::ErrorKind::CrossesDevices => {
            Err(WriteError::CrossDevice)
        }
        Err(error) => Err(WriteError::Other(
            anyhow::Error::new(error.error)
                .context(format!("failed to replace {}", path.display())),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("nested/report.json");
        write_atomic(&target, b"one").unwrap();
        write_atomic(&target, b"two").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        let leftovers: Vec<_> = std::fs::read_dir(target.parent().unwrap())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".xtask-tmp-"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_new_file_gets_0666_less_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("status.html");
        write_atomic_regenerable(&target, b"<html>").unwrap();
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !current_umask(), "mode {mode:o}");
        // Under the usual umask 022 that is readable by everyone, not 0600.
        assert_ne!(mode, 0o600);
    }

    /// The process's umask, read from /proc (setting it to read it would race other tests).
    fn current_umask() -> u32 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
        u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
    }

    #[test]
    fn links_and_read_only_files_are_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("MATURITY.md");
        assert!(refuse_unreplaceable(&file, "MATURITY.md").is_ok());
        std::fs::write(&file, "# T\n").unwrap();
        assert!(refuse_unreplaceable(&file, "MATURITY.md").is_ok());
        let link = dir.path().join("link.md");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let twin = dir.path().join("twin.md");
        std::fs::hard_link(&file, &twin).unwrap();
        for (path, says) in [(&link, "is a symlink to "), (&twin, "has 2 hard links")] {
            let error = refuse_unreplaceable(path, "MATURITY.md").unwrap_err();
            assert_eq!(
                crate::errors::exit_code_of(&error),
                crate::errors::exit::USAGE
            );
            assert!(error.to_string().contains(says), "{error}");
        }
        std::fs::remove_file(&twin).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
        let error = refuse_unreplaceable(&file, "MATURITY.md").unwrap_err();
        assert!(
            error.to_string().contains("is read-only (mode 444)"),
            "{error}"
        );
    }

    #[test]
    fn keeps_the_permissions_of_the_replaced_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("script.sh");
        std::fs::write(&target, b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
        write_atomic(&target, b"#!/bin/sh\necho hi\n").unwrap();
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }
}
