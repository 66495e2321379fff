//! One deploy per service at a time: an exclusive lock on a file under `.xtask/locks/`, held
//! for the whole deploy (std's `File::try_lock`, released by the kernel when the process ends,
//! however it ends). A second deploy of the same service is refused at once, naming the holder.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, Result};

use crate::errors::infra;

/// Held while it lives; dropping it (or the process dying) releases the lock.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Takes the lock named `name` in `dir`, or fails with who holds it. `holder` describes this
/// run for the message a second run will print.
pub fn try_acquire(dir: &Path, name: &str, holder: &str, what: &str) -> Result<Lock> {
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let path = dir.join(format!("{name}.lock"));
    // Never truncate on open: the file may be someone else's lock, and its text names them.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("failed to open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let text = text.trim();
            return Err(infra(format!(
                "{what} is already running{}: wait for it to finish, then run this again (lock: {})",
                if text.is_empty() {
                    String::new()
                } else {
                    format!(" ({text})")
                },
                path.display()
            )));
        }
        Err(TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("failed to lock {}", path.display()));
        }
    }
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)).map(|_| ()))
        .and_then(|()| writeln!(file, "{holder}"))
        .with_context(|| format!("failed to write {}", path.display()))?;
    Ok(Lock { _file: file })
}

/// How long a command waits for a lock held by another: the sections it guards (a record's
/// read, change and rename) take milliseconds, so a minute means the holder is stuck.
pub const WAIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Waits for the lock named `name`: for short critical sections (appending to a record). The
/// wait ends at `WAIT_LIMIT` (exit 3, naming the lock) or at a signal (exit 130 or 143), and
/// the caller then does nothing.
pub fn acquire(dir: &Path, name: &str) -> Result<Lock> {
    acquire_within(dir, name, WAIT_LIMIT)
}

fn acquire_within(dir: &Path, name: &str, limit: std::time::Duration) -> Result<Lock> {
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let path = dir.join(format!("{name}.lock"));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("failed to open {}", path.display()))?;
    let mut failure = None;
    // Polled, never a blocking `lock()`: a signal must be able to end the wait.
    let waited = crate::signals::wait_for(limit, || match file.try_lock() {
        Ok(()) => Some(()),
        Err(TryLockError::WouldBlock) => None,
        Err(TryLockError::Error(error)) => {
            failure = Some(error);
            Some(())
        }
    });
    if let Some(error) = failure {
        return Err(error).with_context(|| format!("failed to lock {}", path.display()));
    }
    match waited {
        Ok(()) => Ok(Lock { _file: file }),
        Err(crate::signals::WaitEnd::Interrupted) => Err(crate::errors::interrupted(format!(
            "interrupted while waiting for {}: nothing was done",
            path.display()
        ))),
        Err(crate::signals::WaitEnd::TimedOut) => Err(infra(format!(
            "waited {}s for {}, which another xtask holds: let it finish (or end it), then run this again",
            limit.as_secs(),
            path.display()
        ))),
    }
}

/// How a lock names its holder: process, component and start time.
pub fn holder_text(component: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "pid {}, {component}, since {}",
        std::process::id(),
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_for_a_held_lock_ends_at_its_limit_naming_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire(dir.path(), "maturity-x").unwrap();
        let error = acquire_within(
            dir.path(),
            "maturity-x",
            std::time::Duration::from_millis(200),
        )
        .unwrap_err();
        assert_eq!(
            crate::errors::exit_code_of(&error),
            crate::errors::exit::INFRASTRUCTURE
        );
        assert!(error.to_string().contains("maturity-x.lock"), "{error}");
        drop(held);
        assert!(acquire_within(dir.path(), "maturity-x", std::time::Duration::ZERO).is_ok());
    }

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_name_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = try_acquire(
            dir.path(),
            "deploy-tta-staging-web",
            "pid 1, carbon",
            "a deploy of web",
        )
        .unwrap();
        let error = try_acquire(
            dir.path(),
            "deploy-tta-staging-web",
            "pid 2, carbon",
            "a deploy of web",
        )
        .unwrap_err();
        assert_eq!(
            crate::errors::exit_code_of(&error),
            crate::errors::exit::INFRASTRUCTURE
        );
        let message = error.to_string();
        assert!(
            message.contains("a deploy of web is already running (pid 1, carbon)"),
            "{message}"
        );
        // Another service is another lock.
        try_acquire(
            dir.path(),
            "deploy-tta-staging-api",
            "pid 3",
            "a deploy of api",
        )
        .unwrap();
        drop(first);
        let _again = try_acquire(
            dir.path(),
            "deploy-tta-staging-web",
            "pid 4, carbon",
            "a deploy of web",
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("deploy-tta-staging-web.lock")).unwrap(),
            "pid 4, carbon\n"
        );
    }
}
