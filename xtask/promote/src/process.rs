//! The only place that spawns tools: argument lists (never a shell), stdin closed (or a file we
//! chose), both streams captured, each tool in its own process group, and a deadline that kills
//! the whole group.
//!
//! Ctrl-C reaches only our own process group, so the handler installed by `main` stops every
//! registered tool group itself; a run stopped that way reports `Interrupted` and is never
//! cached or read as a result. A deadline or Ctrl-C sends SIGTERM first and SIGKILL after a
//! grace period (as cargo-nextest does), so pytest can still write its reports.
//!
//! Nothing can run code in a process killed with SIGKILL, so a guardian does it for us: a
//! process forked at the first spawn that holds the read end of a pipe only we write to, and
//! learns each tool group as it starts and ends. When we die, however we die, the kernel
//! closes the pipe; the guardian reads end-of-file and stops the groups still running
//! (SIGTERM, grace, SIGKILL). `PR_SET_PDEATHSIG` would reach only each tool's direct child,
//! not pyright's node or pytest's workers; the group reaches them all. A tool that leaves its
//! group (a `setsid` daemon) is out of reach, as it is of any process-group based runner.

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

/// How long a tool has between SIGTERM and SIGKILL, at its deadline, on Ctrl-C and when we die.
pub const TERM_GRACE: Duration = Duration::from_secs(3);

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
    /// A file the tool reads as its standard input (`--fix` hands ruff a shadow copy this
    /// way); `None` closes stdin, as for every other tool.
    pub stdin: Option<PathBuf>,
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
            stdin: None,
        }
    }

    /// Feeds the file at `path` to the tool's standard input.
    pub fn stdin_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.stdin = Some(path.into());
        self
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

#[allow(clippy::disallowed_methods)] // the one place that spawns tools (clippy.toml)
fn run_as(command: &ToolCommand, cleanup: Cleanup) -> Result<Finished, RunError> {
    let interruptible = cleanup == Cleanup::No;
    if interruptible && INTERRUPTED.load(Ordering::SeqCst) {
        return Err(RunError::Interrupted);
    }
    // A bare name goes through PATH; duct would read a `Path` as `./name`.
    let expression = duct::cmd(command.program.as_os_str(), &command.args).dir(&command.cwd);
    let expression = match &command.stdin {
        Some(path) => expression.stdin_path(path),
        None => expression.stdin_null(),
    };
    let mut expression = expression
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
                // SIGTERM first, so the tool can write what it has; SIGKILL if it lingers.
                signal_group(group, libc::SIGTERM);
                if !matches!(
                    handle.wait_deadline(Instant::now() + TERM_GRACE),
                    Ok(Some(_))
                ) {
                    kill_group(group);
                }
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
    guardian::tell(group);
}

fn unregister(group: i32) {
    let mut running = RUNNING_GROUPS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(set) = running.as_mut() {
        set.remove(&group);
    }
    guardian::tell(-group);
}

fn signal_group(group: i32, signal: i32) {
    // SAFETY: killpg only sends a signal; a group that no longer exists yields ESRCH, ignored.
    unsafe {
        libc::killpg(group, signal);
    }
}

fn kill_group(group: i32) {
    signal_group(group, libc::SIGKILL);
}

/// The groups running now.
fn running_groups() -> Vec<i32> {
    let running = RUNNING_GROUPS.lock().unwrap_or_else(|e| e.into_inner());
    running
        .as_ref()
        .map(|set| set.iter().copied().collect())
        .unwrap_or_default()
}

/// Called from the Ctrl-C handler: marks the run interrupted and stops every running tool,
/// SIGTERM now and SIGKILL for those still running after the grace period.
pub fn interrupt_all() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    for group in running_groups() {
        signal_group(group, libc::SIGTERM);
    }
    std::thread::spawn(|| {
        std::thread::sleep(TERM_GRACE);
        for group in running_groups() {
            kill_group(group);
        }
    });
}

/// The guardian that stops our tool groups when we die (see the module comment).
mod guardian {
    use std::sync::Mutex;

    use super::TERM_GRACE;

    /// The write end of the guardian's pipe, once it runs; `None` when it could not start
    /// (the tools then still run, without the guarantee).
    static PIPE: Mutex<Option<Option<i32>>> = Mutex::new(None);

    /// Groups the guardian can track at once; more than we ever run in parallel.
    const CAPACITY: usize = 256;

    /// Tells the guardian that `group` started (positive) or ended (negative), starting it on
    /// first use.
    pub(super) fn tell(message: i32) {
        let mut pipe = PIPE.lock().unwrap_or_else(|e| e.into_inner());
        let fd = *pipe.get_or_insert_with(start);
        if let Some(fd) = fd {
            let bytes = message.to_ne_bytes();
            // SAFETY: a 4-byte write to a pipe we own; writes below PIPE_BUF are atomic.
            unsafe {
                libc::write(fd, bytes.as_ptr().cast(), bytes.len());
            }
        }
    }

    /// Forks the guardian. The child runs only async-signal-safe calls (read, killpg,
    /// nanosleep, close, _exit): it is a fork of a threaded process and must not allocate.
    fn start() -> Option<i32> {
        let mut fds = [0i32; 2];
        // SAFETY: plain syscalls on fds we own. O_CLOEXEC keeps the write end out of every tool
        // we spawn later, so only our own death (or exit) closes the last copy.
        unsafe {
            if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                return None;
            }
            let [read_end, write_end] = fds;
            match libc::fork() {
                -1 => {
                    libc::close(read_end);
                    libc::close(write_end);
                    None
                }
                0 => guard(read_end),
                _ => {
                    libc::close(read_end);
                    Some(write_end)
                }
            }
        }
    }

    /// The guardian's whole life.
    unsafe fn guard(read_end: i32) -> ! {
        // SAFETY: only async-signal-safe calls, on the stack.
        unsafe {
            // Out of our process group, so the terminal's Ctrl-C does not end it early; and
            // holding no other file, so it keeps no pipe of ours (a tool's output) open.
            libc::setpgid(0, 0);
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            if libc::dup2(read_end, 0) == -1 {
                libc::_exit(1);
            }
            if libc::syscall(libc::SYS_close_range, 1u32, u32::MAX, 0u32) != 0 {
                for fd in 1..65536 {
                    libc::close(fd);
                }
            }
            let mut groups = [0i32; CAPACITY];
            let mut buffer = [0u8; 4];
            loop {
                let mut filled = 0;
                while filled < 4 {
                    let n = libc::read(0, buffer[filled..].as_mut_ptr().cast(), 4 - filled);
                    if n <= 0 {
                        if n < 0 && *libc::__errno_location() == libc::EINTR {
                            continue;
                        }
                        stop_all(&groups);
                    }
                    filled += n as usize;
                }
                let message = i32::from_ne_bytes(buffer);
                if message > 0 {
                    if let Some(slot) = groups.iter_mut().find(|g| **g == 0) {
                        *slot = message;
                    }
                } else if let Some(slot) = groups.iter_mut().find(|g| **g == -message) {
                    *slot = 0;
                }
            }
        }
    }

    /// We are gone: SIGTERM to every group still running, SIGKILL after the grace period.
    unsafe fn stop_all(groups: &[i32; CAPACITY]) -> ! {
        // SAFETY: async-signal-safe calls only.
        unsafe {
            let live = |g: &&i32| **g > 0;
            for &group in groups.iter().filter(live) {
                libc::killpg(group, libc::SIGTERM);
            }
            if groups.iter().any(|g| *g > 0) {
                let grace = libc::timespec {
                    tv_sec: TERM_GRACE.as_secs() as libc::time_t,
                    tv_nsec: 0,
                };
                libc::nanosleep(&grace, std::ptr::null_mut());
            }
            for &group in groups.iter().filter(live) {
                libc::killpg(group, libc::SIGKILL);
            }
            libc::_exit(0)
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
    fn a_stdin_file_is_what_the_tool_reads() {
        let input = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(input.path(), "shadow copy\n").unwrap();
        let done = run(
            &ToolCommand::new("cat", std::env::temp_dir(), Duration::from_secs(10))
                .stdin_file(input.path()),
        )
        .unwrap();
        assert_eq!(done.stdout, b"shadow copy\n");
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
    fn a_timeout_sends_sigterm_first_so_the_tool_can_write_its_reports() {
        let marker = tempfile::NamedTempFile::new().unwrap();
        let path = marker.path().display().to_string();
        let script = format!("trap 'echo wrote > {path}; exit 143' TERM; sleep 30 & wait");
        let error = run(&sh(&script, Duration::from_millis(300))).unwrap_err();
        assert!(matches!(error, RunError::TimedOut { .. }), "{error}");
        assert_eq!(std::fs::read_to_string(marker.path()).unwrap(), "wrote\n");
    }

    #[test]
    fn a_tool_that_ignores_sigterm_is_killed_after_the_grace_period() {
        let started = Instant::now();
        let error = run(&sh("trap '' TERM; sleep 30", Duration::from_millis(300))).unwrap_err();
        assert!(matches!(error, RunError::TimedOut { .. }), "{error}");
        let took = started.elapsed();
        assert!(
            took >= TERM_GRACE && took < TERM_GRACE + Duration::from_secs(5),
            "{took:?}"
        );
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
