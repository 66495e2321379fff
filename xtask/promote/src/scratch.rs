//! Scratch space of a run: `.xtask/tmp/<pid>/`, one folder per xtask process, and the only
//! place we or our tools put temporary files. It holds what tools write for us to read back
//! (pytest's JUnit and coverage files, observed reads), the tools' own `TMPDIR`, `--fix`'s
//! shadow copies and the temp files of atomic writes. A finished run removes its folder; a run
//! that was killed leaves it behind, and the next run (and `cache verify`) removes every folder
//! whose process is gone, so nothing piles up in `/tmp` or here, and a live run's folder is
//! never touched.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The state folder of this run, once a command has loaded its configuration.
static STATE_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Where the scratch folders of every run live.
pub fn root(state_dir: &Path) -> PathBuf {
    state_dir.join("tmp")
}

/// This process's folder under `state_dir`.
fn own(state_dir: &Path) -> PathBuf {
    root(state_dir).join(std::process::id().to_string())
}

/// Makes `state_dir` this run's state folder and sweeps the folders of dead runs: called once
/// the configuration is loaded, before anything is written. Later calls change nothing.
pub fn init(state_dir: &Path) {
    if STATE_DIR.set(state_dir.to_path_buf()).is_ok() {
        sweep(state_dir);
    }
}

/// This run's state folder, once `init` ran.
pub fn state_dir() -> Option<&'static Path> {
    STATE_DIR.get().map(PathBuf::as_path)
}

/// This run's scratch folder, created on first use; `None` before `init` (commands without a
/// configuration: `init`, `--help`) or when it cannot be created.
pub fn run_dir() -> Option<PathBuf> {
    let dir = own(state_dir()?);
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

/// The `TMPDIR` every tool of this run gets: `.xtask/tmp/<pid>/tmp`, so what pyright, bandit
/// or a test leaves in its temp folder goes when the run does.
pub fn tools_tmp(state_dir: &Path) -> PathBuf {
    let dir = own(state_dir).join("tmp");
    // A failure shows when a tool tries to write there; it never passes a step.
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// A new empty folder under this run's scratch folder, deleted when the returned guard drops.
pub fn tempdir(state_dir: &Path, prefix: &str) -> std::io::Result<tempfile::TempDir> {
    let ours = own(state_dir);
    std::fs::create_dir_all(&ours)?;
    tempfile::Builder::new().prefix(prefix).tempdir_in(&ours)
}

/// Removes this run's scratch folder: the last thing `main` does.
pub fn remove_own() {
    if let Some(state_dir) = state_dir() {
        let _ = std::fs::remove_dir_all(own(state_dir));
        // The shared parent goes too when no other run is using it.
        let _ = std::fs::remove_dir(root(state_dir));
    }
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
        let tools = tools_tmp(state.path());
        assert!(tools.is_dir() && tools.starts_with(own(state.path())));
    }
}
