//! File writes that never leave a half-written file behind: a temp file in the same folder,
//! flushed, then renamed over the target.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

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

fn write(path: &Path, bytes: &[u8], durable: bool) -> Result<()> {
    let parent = path
        .parent()
        .with_context(|| format!("{} has no parent folder", path.display()))?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("failed to create {}", parent.display()))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".xtask-tmp-")
        .tempfile_in(parent)
        .with_context(|| format!("failed to create a temp file in {}", parent.display()))?;
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
    temp.persist(path)
        .with_context(|| format!("failed to replace {}", path.display()))?;
    Ok(())
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
