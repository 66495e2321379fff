//! The only place that spawns tools: argument lists (never a shell), stdin closed, both streams
//! captured, each tool in its own process group, and a deadline that kills the whole group.
//!
//! Ctrl-C reaches only our own process group, so the handler installed by `main` kills every
//! registered tool group itself; a run stopped that way reports `Interrupted` and is never
//! cached or read as a result.

use std::collections::HashSet;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Process groups of the tools running now, so an interrupt can stop all of them.
static RUNNING_GROUPS: Mutex<Option<HashSet<i32>>> = Mutex::new(None);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How long to wait for a killed group's pipes to close before giving up on its output.
const KILL_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct ToolCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    /// Added to (or replacing) the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    /// When set, the tool sees `env` and nothing of our own environment (hermetic tool runs).
    pub clear_env: bool,
    pub timeout: Duration,
}

impl ToolCommand {
    pub fn new(program: impl Into<PathBuf>, cwd: impl Into<PathBuf>, timeout: Duration) -> Self {
        ToolCommand {
            program: program.into(),
            args: Vec::new(),
            cwd: cwd.into(),
            env: Vec::new(),
            clear_env: false,
            timeout,
        }
    }

    /// Starts the tool with only the variables given through `env`: what a tool reads from
    /// its environment is then exactly what the cache key holds.
    pub fn env_clear(mut self) -> Self {
        self.clear_env = true;
        self
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The command as a user would type it, for messages and reports.
    pub fn display(&self) -> String {
        std::iter::once(self.program.to_string_lossy().into_owned())
            .chain(self.args.iter().map(|a| shell_word(&a.to_string_lossy())))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Quotes a word only when a shell would split or expand it, so displayed commands paste back.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A tool that ran to its end, whatever its exit code.
#[derive(Debug, Clone)]
pub struct Finished {
    /// `None` when the process was killed by a signal.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub duration: Duration,
}

impl Finished {
    /// The last lines of stderr (or stdout when stderr is empty), for error messages.
    pub fn tail(&self, lines: usize) -> String {
        let stream = if self.stderr.iter().any(|b| !b.is_ascii_whitespace()) {
            &self.stderr
        } else {
            &self.stdout
        };
        tail_lines(&String::from_utf8_lossy(stream), lines)
    }

    /// "exit code 2" or "killed by signal 11", for messages.
    pub fn describe_exit(&self) -> String {
        match (self.code, self.signal) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            (None, None) => "an unknown exit status".to_owned(),
        }
    }
}

pub fn tail_lines(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("`{}` was not found", program.display())]
    NotFound { program: PathBuf },
    #[error("`{}` did not finish within {}s and was killed", program.display(), timeout.as_secs())]
    TimedOut {
        program: PathBuf,
        timeout: Duration,
        duration: Duration,
    },
    #[error("interrupted")]
    Interrupted,
    #[error("failed to start `{}`: {source}", program.display())]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
}

/// Runs `command` to completion or to its deadline.
pub fn run(command: &ToolCommand) -> Result<Finished, RunError> {
    run_as(command, Cleanup::No)
}

/// Runs `command` even after Ctrl-C: for the clean-up an interrupted run owes (tearing down
/// containers it started, rolling back a deploy it began). Ctrl-C does not kill it, so a
/// second press cannot cut a rollback in half; its own deadline still bounds it.
pub fn run_cleanup(command: &ToolCommand) -> Result<Finished, RunError> {
    run_as(command, Cleanup::Yes)
}

/// Whether Ctrl-C (or SIGTERM) stopped this run: loops that wait between commands, and the
/// cache before storing, check it.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cleanup {
    No,
    Yes,
}

fn run_as(command: &ToolCommand, cleanup: Cleanup) -> Result<Finished, RunError> {
    let interruptible = cleanup == Cleanup::No;
    if interruptible && INTERRUPTED.load(Ordering::SeqCst) {
        return Err(RunError::Interrupted);
    }
    // A bare name goes through PATH; duct would read a `Path` as `./name`.
    let mut expression = duct::cmd(command.program.as_os_str(), &command.args)
        .dir(&command.cwd)
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .before_spawn(|cmd| {
            // A group of its own: the deadline and Ctrl-C kill the tool and everything it
            // started (pyright's node, pytest's workers), not just the direct child.
            cmd.process_group(0);
            Ok(())
        });
    if command.clear_env {
        // Later values win, as they would with repeated `env` calls.
        let full: std::collections::HashMap<OsString, OsString> =
            command.env.iter().cloned().collect();
        expression = expression.full_env(full);
    } else {
        for (key, value) in &command.env {
            expression = expression.env(key, value);
        }
    }
    let started = Instant::now();
    let handle = expression.start().map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            RunError::NotFound {
                program: command.program.clone(),
            }
        } else {
            RunError::Spawn {
                program: command.program.clone(),
                source,
            }
        }
    })?;
    let group = handle.pids().first().map(|&pid| pid as i32);
    if let Some(group) = group.filter(|_| interruptible) {
        register(group);
        // An interrupt that landed between spawn and registration must still stop this tool.
        if INTERRUPTED.load(Ordering::SeqCst) {
            kill_group(group);
        }
    }
    let deadline = started + command.timeout;
    let waited = handle.wait_deadline(deadline);
    let result = match waited {
        Ok(Some(output)) => Ok(finished(output, started.elapsed())),
        Ok(None) => {
            if let Some(group) = group {
                kill_group(group);
            }
            let _ = handle.wait_deadline(Instant::now() + KILL_GRACE);
            Err(RunError::TimedOut {
                program: command.program.clone(),
                timeout: command.timeout,
                duration: started.elapsed(),
            })
        }
        Err(source) => Err(RunError::Spawn {
            program: command.program.clone(),
            source,
        }),
    };
    if let Some(group) = group {
        unregister(group);
        // Leave no stragglers behind: a tool that exited may have left children in its group.
        kill_group(group);
    }
    if interruptible && INTERRUPTED.load(Ordering::SeqCst) {
        return Err(RunError::Interrupted);
    }
    result
}

fn finished(output: &std::process::Output, duration: Duration) -> Finished {
    use std::os::unix::process::ExitStatusExt;
    Finished {
        code: output.status.code(),
        signal: output.status.signal(),
        stdout: output.stdout.clone(),
        stderr: output.stderr.clone(),
        duration,
    }
}

fn register(group: i32) {
    let mut running = RUNNING_GROUPS.lock().unwrap_or_else(|e| e.into_inner());
    running.get_or_insert_with(HashSet::new).insert(group);
}

fn unregister(group: i32) {
    let mut running = RUNNING_GROUPS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(set) = running.as_mut() {
        set.remove(&group);
    }
}

fn kill_group(group: i32) {
    // SAFETY: killpg only sends a signal; a group that no longer exists yields ESRCH, ignored.
    unsafe {
        libc::killpg(group, libc::SIGKILL);
    }
}

/// Called from the Ctrl-C handler: marks the run interrupted and kills every running tool.
pub fn interrupt_all() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let running = RUNNING_GROUPS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(set) = running.as_ref() {
        for &group in set {
            kill_group(group);
        }
    }
}

/// Finds `name` as an executable in `dir` (a venv's bin folder).
pub fn executable_in(dir: &Path, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    let metadata = std::fs::metadata(&path).ok()?;
    (metadata.is_file() && metadata.permissions().mode() & 0o111 != 0).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> ToolCommand {
        ToolCommand::new("/bin/sh", std::env::temp_dir(), timeout)
            .arg("-c")
            .arg(script)
    }

    #[test]
    fn captures_both_streams_and_the_exit_code() {
        let done = run(&sh(
            "echo out; echo err >&2; exit 3",
            Duration::from_secs(10),
        ))
        .unwrap();
        assert_eq!(done.code, Some(3));
        assert_eq!(done.stdout, b"out\n");
        assert_eq!(done.stderr, b"err\n");
    }

    #[test]
    fn stdin_is_closed() {
        // `cat` would wait forever on an inherited terminal; with stdin closed it ends at once.
        let done = run(&ToolCommand::new(
            "cat",
            std::env::temp_dir(),
            Duration::from_secs(10),
        ))
        .unwrap();
        assert_eq!(done.code, Some(0));
        assert!(done.stdout.is_empty());
    }

    #[test]
    fn a_timeout_kills_the_whole_group_including_grandchildren() {
        let marker = tempfile::NamedTempFile::new().unwrap();
        let path = marker.path().display().to_string();
        // The grandchild would write the marker after 2 s if it survived the kill.
        let script = format!("(sleep 2; echo alive > {path}) & sleep 30");
        let started = Instant::now();
        let error = run(&sh(&script, Duration::from_millis(300))).unwrap_err();
        assert!(matches!(error, RunError::TimedOut { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(2500));
        assert_eq!(std::fs::read_to_string(marker.path()).unwrap(), "");
    }

    #[test]
    fn a_missing_program_is_not_found() {
        let error = run(&ToolCommand::new(
            "/nonexistent/tool",
            std::env::temp_dir(),
            Duration::from_secs(1),
        ))
        .unwrap_err();
        assert!(matches!(error, RunError::NotFound { .. }));
    }

    #[test]
    fn a_signal_death_is_reported_as_such() {
        let done = run(&sh("kill -SEGV $$", Duration::from_secs(10))).unwrap();
        assert_eq!(done.code, None);
        assert_eq!(done.signal, Some(libc::SIGSEGV));
        assert_eq!(done.describe_exit(), "killed by signal 11");
    }

    #[test]
    fn displayed_commands_quote_what_a_shell_would_split() {
        let command =
            ToolCommand::new("ruff", "/", Duration::from_secs(1)).args(["check", "a b", "it's"]);
        assert_eq!(command.display(), r"ruff check 'a b' 'it'\''s'");
    }
}
