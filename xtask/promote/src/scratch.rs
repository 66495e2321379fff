//! Scratch folders of a run: `.xtask/tmp/<pid>/`, one per xtask process, where tools write
//! what we read back (pytest's JUnit and coverage files). A run that was killed leaves its
//! folder behind; the next run removes every folder whose process is gone, so nothing piles up
//! in `/tmp` or here, and a live run's folder is never touched.

use std::path::{Path, PathBuf};
use std::sync::Once;

/// Where the scratch folders of every run live.
pub fn root(state_dir: &Path) -> PathBuf {
    state_dir.join("tmp")
}

/// A new empty folder under this run's scratch folder, deleted when the returned guard drops.
/// The first call of a run sweeps the folders of dead runs.
pub fn tempdir(state_dir: &Path, prefix: &str) -> std::io::Result<tempfile::TempDir> {
    static SWEPT: Once = Once::new();
    SWEPT.call_once(|| {
        sweep(state_dir);
    });
    let ours = root(state_dir).join(std::process::id().to_string());
    std::fs::create_dir_all(&ours)?;
    tempfile::Builder::new().prefix(prefix).tempdir_in(&ours)
}

/// Removes the scratch folders of runs whose process no longer exists; returns them. A folder
/// whose name is not a PID is not ours to judge and stays.
pub fn sweep(state_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root(state_dir)) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
        else {
            continue;
        };
        if pid > 0 && !alive(pid) && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed
}

/// Whether a process with this PID exists (a zombie counts: its parent has not reaped it yet).
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence and permission; it sends nothing.
    let status = unsafe { libc::kill(pid, 0) };
    status == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_runs_folder_is_swept_and_a_live_ones_is_kept() {
        let state = tempfile::tempdir().unwrap();
        // An ID that existed and is gone: a thread we joined (Linux gives threads IDs from the
        // same space as processes), so this test starts no process outside process.rs.
        let dead = std::thread::spawn(|| {
            // SAFETY: gettid has no preconditions.
            unsafe { libc::gettid() }
        })
        .join()
        .unwrap()
        .cast_unsigned();
        let live = std::process::id();
        for name in [dead.to_string(), live.to_string(), "notes".to_owned()] {
            std::fs::create_dir_all(root(state.path()).join(name).join("pytest-x")).unwrap();
        }
        let removed = sweep(state.path());
        assert_eq!(removed, vec![root(state.path()).join(dead.to_string())]);
        assert!(root(state.path()).join(live.to_string()).is_dir());
        assert!(root(state.path()).join("notes").is_dir());
    }

    #[test]
    fn scratch_folders_are_under_our_pid() {
        let state = tempfile::tempdir().unwrap();
        let dir = tempdir(state.path(), "pytest-").unwrap();
        assert!(
            dir.path()
                .starts_with(root(state.path()).join(std::process::id().to_string()))
        );
    }
}
