//! Issue 23's attacks on the landed binary, each through the real binary on a copy of the
//! example: odd files where we read (FIFOs, devices, links, read-only files), signals during
//! waits, user text a record must keep, configuration values that loaded and then crashed,
//! temp files left behind, the status history on a full disk, and the umask. Each test was
//! seen failing on the binary before the fix.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Run, Sandbox};

const NEO4J: &str = "docs/components/neo4j/MATURITY.md";

/// A started xtask whose output goes to files, so a long run never blocks on a full pipe.
pub struct Started {
    pub child: Child,
    out: tempfile::NamedTempFile,
    err: tempfile::NamedTempFile,
}

pub fn start(mut command: Command) -> Started {
    let out = tempfile::NamedTempFile::new().unwrap();
    let err = tempfile::NamedTempFile::new().unwrap();
    let child = command
        .stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(err.reopen().unwrap())
        .spawn()
        .expect("xtask starts");
    Started { child, out, err }
}

impl Started {
    /// Waits for the exit up to `limit`; a run still going then is killed and `None` (the
    /// hang the test is about).
    pub fn finish(mut self, limit: Duration) -> Option<Run> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(Run::from(std::process::Output {
                    status,
                    stdout: std::fs::read(self.out.path()).unwrap(),
                    stderr: std::fs::read(self.err.path()).unwrap(),
                }));
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: a signal to the child we started.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
}

/// A run that must end on its own, promptly: a hang is the failure.
fn run_within(sandbox: &Sandbox, args: &[&str], limit: Duration) -> Run {
    let mut command = sandbox.command();
    command.args(args);
    start(command)
        .finish(limit)
        .unwrap_or_else(|| panic!("`xtask {}` hung for {limit:?}", args.join(" ")))
}

#[test]
fn a_fifo_as_maturity_md_is_refused_at_once_naming_it() {
    let sandbox = Sandbox::new();
    mkfifo(&sandbox.path(NEO4J));
    for args in [
        &["demote", "neo4j", "--to", "development", "--reason", "x"][..],
        &["status"][..],
    ] {
        let run = run_within(&sandbox, args, Duration::from_secs(60));
        assert_eq!(run.code, 2, "{args:?}: {}", run.all());
        assert!(
            run.stderr.contains("neo4j/MATURITY.md is a FIFO"),
            "{args:?}: {}",
            run.all()
        );
    }
}

#[test]
fn an_event_that_is_a_fifo_or_a_device_is_refused_at_once() {
    let sandbox = Sandbox::new();
    let fifo = sandbox.root().join("event.json");
    mkfifo(&fifo);
    for (event, says) in [
        (fifo.display().to_string(), "is a FIFO"),
        ("/dev/zero".to_owned(), "is a character device"),
    ] {
        let out = sandbox.root().join("verdict");
        let run = run_within(
            &sandbox,
            &[
                "validate-request",
                "--event",
                &event,
                "--output-dir",
                out.to_str().unwrap(),
            ],
            Duration::from_secs(60),
        );
        assert_eq!(run.code, 2, "{event}: {}", run.all());
        assert!(run.stderr.contains(says), "{event}: {}", run.all());
    }
}

/// Takes an exclusive lock on `path` (as another xtask recording would), held while the
/// returned file lives.
fn hold_lock(path: &Path) -> std::fs::File {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.lock().unwrap();
    file
}

#[test]
fn a_demote_waiting_for_the_lock_stops_on_sigterm_and_sigint_and_records_nothing() {
    let sandbox = Sandbox::new();
    // A refused demotion still makes the file's lock, which is what we hold below.
    let refused = sandbox.xtask(&["demote", "neo4j", "--to", "production", "--reason", "x"]);
    assert_eq!(refused.code, 2, "{}", refused.all());
    let locks: Vec<PathBuf> = std::fs::read_dir(sandbox.root().join(".xtask/locks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("maturity-"))
        .collect();
    assert_eq!(locks.len(), 1, "{locks:?}");
    let before = sandbox.read(NEO4J);
    let held = hold_lock(&locks[0]);
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let mut command = sandbox.command();
        command.args(["demote", "neo4j", "--to", "development", "--reason", "x"]);
        let mut demote = start(command);
        std::thread::sleep(Duration::from_millis(1500));
        assert!(demote.running(), "the demotion did not wait for the lock");
        demote.signal(signal);
        let run = demote
            .finish(Duration::from_secs(30))
            .expect("a signal ends the wait for the lock");
        assert_eq!(run.code, code, "signal {signal}: {}", run.all());
        assert_eq!(sandbox.read(NEO4J), before, "a demotion was recorded");
    }
    drop(held);
    let run = sandbox.xtask(&["demote", "neo4j", "--to", "development", "--reason", "x"]);
    assert_eq!(run.code, 0, "{}", run.all());
}

#[test]
fn maturity_md_that_is_a_link_or_read_only_is_refused_and_left_as_it_was() {
    let demote = ["demote", "neo4j", "--to", "development", "--reason", "x"];
    // A symlink to a shared record.
    let sandbox = Sandbox::new();
    let shared = sandbox.root().join("shared-neo4j.md");
    std::fs::rename(sandbox.path(NEO4J), &shared).unwrap();
    std::os::unix::fs::symlink(&shared, sandbox.path(NEO4J)).unwrap();
    let before = std::fs::read_to_string(&shared).unwrap();
    let run = sandbox.xtask(&demote);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("is a symlink to"), "{}", run.all());
    assert!(sandbox.path(NEO4J).symlink_metadata().unwrap().is_symlink());
    assert_eq!(std::fs::read_to_string(&shared).unwrap(), before);

    // A hard link.
    let sandbox = Sandbox::new();
    let twin = sandbox.root().join("twin.md");
    std::fs::hard_link(sandbox.path(NEO4J), &twin).unwrap();
    let run = sandbox.xtask(&demote);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("has 2 hard links"), "{}", run.all());
    assert_eq!(std::fs::read_to_string(&twin).unwrap(), sandbox.read(NEO4J));

    // A read-only file keeps its text and its mode.
    let sandbox = Sandbox::new();
    let before = sandbox.read(NEO4J);
    std::fs::set_permissions(sandbox.path(NEO4J), std::fs::Permissions::from_mode(0o444)).unwrap();
    let run = sandbox.xtask(&demote);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("is read-only (mode 444)"),
        "{}",
        run.all()
    );
    assert_eq!(sandbox.read(NEO4J), before);
    let mode = std::fs::metadata(sandbox.path(NEO4J))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o444);
}

#[test]
fn a_record_keeps_text_on_the_stage_line_and_before_the_begin_marker() {
    let sandbox = Sandbox::new();
    let extra = "(since 2025-10-06, owner @ana, pager #tta-oncall)";
    let text = sandbox.read(NEO4J).replacen(
        "**Current Stage**: Staging",
        &format!("**Current Stage**: Staging {extra}"),
        1,
    );
    sandbox.write(NEO4J, &text);
    let demote = ["demote", "neo4j", "--to", "development", "--reason", "x"];
    let run = sandbox.xtask(&demote);
    assert_eq!(run.code, 0, "{}", run.all());
    let recorded = sandbox.read(NEO4J);
    assert!(
        recorded.contains(&format!("<!-- xtask:maturity:end -->\n{extra}\n")),
        "{recorded}"
    );
    // Text written before the begin marker, on its line, survives the next record.
    let edited = recorded
        .replacen(
            "<!-- xtask:maturity:begin",
            "Ours: <!-- xtask:maturity:begin",
            1,
        )
        .replacen(
            "**Current Stage**: Development",
            "**Current Stage**: Staging",
            1,
        );
    sandbox.write(NEO4J, &edited);
    let run = sandbox.xtask(&demote);
    assert_eq!(run.code, 0, "{}", run.all());
    let again = sandbox.read(NEO4J);
    assert!(
        again.contains("\nOurs: <!-- xtask:maturity:begin"),
        "{again}"
    );
    assert!(again.contains(extra), "{again}");
}

/// `xtask.toml` edited as `edit` says, then loaded by a command that runs no tool.
fn load_with(sandbox: &Sandbox, edit: impl Fn(&str) -> Vec<u8>) -> Run {
    std::fs::write(
        sandbox.root().join("xtask.toml"),
        edit(&sandbox.config_text()),
    )
    .unwrap();
    sandbox.xtask(&["cache", "stats"])
}

#[test]
fn configuration_values_that_would_crash_or_mislead_are_refused_where_written() {
    let sandbox = Sandbox::new();
    let original = sandbox.config_text();
    let cases: &[(&str, &str, &str)] = &[
        (
            "ruff = 120",
            "ruff = 9223372036854775807",
            "timeouts.ruff = 9223372036854775807",
        ),
        ("ruff = 120", "ruff = 18446744073709551615", "timeouts.ruff"),
        ("setup = 900", "setup = 0", "timeouts.setup = 0"),
        (
            "observation_days = 7",
            "observation_days = 100000000",
            "policy.observation_days",
        ),
        ("staging = 70", "staging = 170", "thresholds.staging = 170"),
        ("staging = 70", "staging = -5", "thresholds.staging = -5"),
        ("staging = 70", "staging = nan", "thresholds.staging = nan"),
        ("staging = 70", "staging = inf", "thresholds.staging = inf"),
        (
            "production = 80",
            "production = 65",
            "is below thresholds.staging",
        ),
        (
            "security_fail_on = \"medium\"",
            "security_fail_on = \"severe\"",
            "policy.security_fail_on",
        ),
        (
            "root = \"examples/tta\"",
            "root = \"/\"",
            "project.root `/` must be relative",
        ),
        (
            "root = \"examples/tta\"",
            "root = \"../..\"",
            "leaves its base folder",
        ),
        (
            "reports = \"reports\"",
            "reports = \"/tmp/reports\"",
            "project.reports",
        ),
        ("\"Monitoring & Operations\",\n]", "]", "`groups` is empty"),
        (
            "readme_sections = [\"Overview\", \"Usage\", \"API\", \"Testing\"]",
            "readme_sections = [\"\"]",
            "is empty",
        ),
        (
            "pass = [\"PYTHONPATH\"]",
            "pass = [\"PYTHONPATH\", \"\", \"A=B\"]",
            "env.pass entry \"\"",
        ),
        (
            "pass = [\"PYTHONPATH\"]",
            "pass = [\"PYTHONPATH\"]\nset = { \"BAD=NAME\" = \"1\" }",
            "env.set key \"BAD=NAME\"",
        ),
    ];
    for (from, to, says) in cases {
        assert!(original.contains(from), "{from}");
        let edited = if *to == "]" {
            // Every group removed: the list itself stays, empty.
            let start = original.find("groups = [").unwrap();
            let end = original[start..].find("\n]").unwrap() + start + 2;
            format!("{}groups = []{}", &original[..start], &original[end..])
        } else {
            original.replacen(from, to, 1)
        };
        // The place is on the last line of what was written.
        let written = if *to == "]" { "groups = []" } else { to };
        let place = edited.find(written).unwrap() + written.rfind('\n').map_or(0, |i| i + 1);
        let line = edited[..place].matches('\n').count() + 1;
        let run = load_with(&sandbox, |_| edited.clone().into_bytes());
        assert_eq!(run.code, 2, "{to}: {}", run.all());
        assert!(
            run.stderr.contains(&format!("xtask.toml:{line}:")) && run.stderr.contains(says),
            "{to} (line {line}): {}",
            run.all()
        );
    }
    // A dependency cycle is placed at the entry that closes it.
    let cyclic = original.replacen(
        "tests = [\"tests/test_model_management.py\"]",
        "tests = [\"tests/test_model_management.py\"]\ndepends_on = [\"llm\"]",
        1,
    );
    let run = load_with(&sandbox, |_| cyclic.clone().into_bytes());
    assert_eq!(run.code, 2, "{}", run.all());
    let placed = regex::Regex::new(r"xtask\.toml:\d+:\d+: dependency cycle").unwrap();
    assert!(placed.is_match(&run.stderr), "{}", run.all());
    // A byte that is not UTF-8 is named by its place, as a usage error.
    let run = load_with(&sandbox, |text| {
        let mut bytes = text.as_bytes().to_vec();
        let at = text.find("display_name = \"Carbon\"").unwrap() + "display_name = \"Carb".len();
        bytes.insert(at, 0xff);
        bytes
    });
    assert_eq!(run.code, 2, "{}", run.all());
    let line = original[..original.find("display_name = \"Carbon\"").unwrap()]
        .matches('\n')
        .count()
        + 1;
    assert!(
        run.stderr.contains(&format!(
            "xtask.toml:{line}:21: the configuration is not UTF-8"
        )),
        "{}",
        run.all()
    );
}

/// A command run with `umask` set in the child before it starts.
fn with_umask(mut command: Command, mask: u32) -> Run {
    // SAFETY: umask is async-signal-safe and touches only the child.
    unsafe {
        command.pre_exec(move || {
            libc::umask(mask);
            Ok(())
        });
    }
    Run::from(command.output().unwrap())
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn files_we_create_honour_the_umask() {
    for (mask, expected) in [(0o022, 0o644), (0o077, 0o600)] {
        let sandbox = Sandbox::new();
        let mut command = sandbox.command();
        command.args(["workflows"]);
        let run = with_umask(command, mask);
        assert_eq!(run.code, 0, "{}", run.all());
        let mut command = sandbox.command();
        command.args(["promote", "carbon", "--phase", "3"]);
        let run = with_umask(command, mask);
        assert!(run.code <= 1, "{}", run.all());
        let fresh = tempfile::tempdir().unwrap();
        crate::support::copy_tree(&sandbox.project(), &fresh.path().join("repo"));
        let mut command = sandbox.command();
        command.args([
            "init",
            "--root",
            fresh.path().join("repo").to_str().unwrap(),
        ]);
        let run = with_umask(command, mask);
        assert_eq!(run.code, 0, "{}", run.all());
        for file in [
            sandbox.root().join(".github/workflows/quality.yml"),
            sandbox
                .root()
                .join(".github/ISSUE_TEMPLATE/component_promotion.yml"),
            sandbox.root().join("reports/carbon/promotion.json"),
            sandbox.root().join("reports/carbon/summary.md"),
            fresh.path().join("repo/xtask.toml"),
        ] {
            assert_eq!(
                mode(&file),
                expected,
                "{} under umask {mask:o}",
                file.display()
            );
        }
    }
}

/// Every file and folder under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            found.push(path.strip_prefix(dir).unwrap().display().to_string());
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn temp_files_live_under_the_state_folder_and_no_run_leaves_any() {
    let mut sandbox = Sandbox::new();
    let system_tmp = tempfile::tempdir().unwrap();
    sandbox.env("TMPDIR", system_tmp.path().to_str().unwrap());
    let scratch = sandbox.root().join(".xtask/tmp");
    // A finished run leaves nothing, anywhere.
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "all", "--no-cache"]);
    assert!(run.code <= 1, "{}", run.all());
    assert_eq!(files_under(system_tmp.path()), Vec::<String>::new());
    assert_eq!(files_under(&scratch), Vec::<String>::new());
    let verify = sandbox.xtask(&["cache", "verify"]);
    assert!(!verify.stdout.contains("left by a run"), "{}", verify.all());

    // A run killed while its tools run leaves its folder under the state folder only, and
    // the next `cache verify` removes it.
    let mut command = sandbox.command();
    command.args(["promote", "carbon", "--phase", "all", "--no-cache"]);
    let mut killed = start(command);
    let deadline = Instant::now() + Duration::from_secs(120);
    while files_under(&scratch).len() < 3 {
        assert!(
            Instant::now() < deadline && killed.running(),
            "no tool started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1500));
    killed.signal(libc::SIGKILL);
    let _ = killed.finish(Duration::from_secs(30));
    // The guardian stops the tools; give it its grace period.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(files_under(system_tmp.path()), Vec::<String>::new());
    // A temp file an older run left beside a report, long ago.
    let stale = sandbox.root().join("reports/carbon/.xtask-tmp-old");
    std::fs::write(&stale, vec![b'x'; 4096]).unwrap();
    let long_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(long_ago)
        .unwrap();
    let verify = sandbox.xtask(&["cache", "verify"]);
    assert!(
        verify.stdout.contains("left by a run that was killed"),
        "{}",
        verify.all()
    );
    assert_eq!(files_under(&scratch), Vec::<String>::new());
    assert!(!stale.exists(), "{}", verify.all());
}

/// The history's lines that parse as status runs.
fn runs_in(history: &[u8]) -> usize {
    history
        .split(|b| *b == b'\n')
        .filter(|line| {
            serde_json::from_slice::<serde_json::Value>(line)
                .is_ok_and(|v| v.get("at").is_some() && v.get("components").is_some())
        })
        .count()
}

/// The sandbox's registry with only carbon, so `status` runs one component's tools.
fn carbon_only(sandbox: &Sandbox) {
    let text = sandbox.config_text();
    let start = text.find("\n[components.").unwrap();
    let carbon = text.find("[components.carbon]").unwrap();
    let carbon_end = text[carbon..]
        .find("\n\n")
        .map_or(text.len(), |i| carbon + i);
    let env = text.find("\n[env]").unwrap();
    sandbox.set_config(&format!(
        "{}\n{}\n{}",
        &text[..start],
        &text[carbon..carbon_end],
        &text[env..]
    ));
}

#[test]
fn the_status_history_keeps_whole_lines_on_a_full_disk_and_skips_bad_ones() {
    let sandbox = Sandbox::new();
    carbon_only(&sandbox);
    let history = sandbox.root().join("reports/history/status.jsonl");
    let run = sandbox.xtask(&["status"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let first = std::fs::read(&history).unwrap();
    assert_eq!(runs_in(&first), 1);

    // A line with a byte that is not UTF-8 and a fragment a crash left: skipped with one
    // warning, and the next line starts on a line of its own.
    let mut damaged = first.clone();
    damaged.extend_from_slice(b"{\"at\":\"\xff\"}\n{\"at\":\"2026-11-0");
    std::fs::write(&history, &damaged).unwrap();
    let run = sandbox.xtask(&["status"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        run.stderr.matches("they are skipped").count(),
        1,
        "{}",
        run.all()
    );
    let repaired = std::fs::read(&history).unwrap();
    assert_eq!(
        runs_in(&repaired),
        2,
        "{}",
        String::from_utf8_lossy(&repaired)
    );

    // A full disk: the file may grow by only a few bytes (RLIMIT_FSIZE cuts the write as
    // ENOSPC would). The history is padded with old runs so no other file hits the limit.
    let old_line = String::from_utf8_lossy(&first)
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let mut padded = repaired.clone();
    while padded.len() < 4 * 1024 * 1024 {
        padded.extend_from_slice(old_line.as_bytes());
        padded.push(b'\n');
    }
    std::fs::write(&history, &padded).unwrap();
    let runs_before = runs_in(&padded);
    let limit = padded.len() as u64 + 16;
    let mut command = sandbox.command();
    command.arg("status");
    // SAFETY: setrlimit and signal are async-signal-safe and touch only the child.
    unsafe {
        command.pre_exec(move || {
            let rlimit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &rlimit);
            // Past the limit a write fails with EFBIG, as on a full disk, instead of a signal.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let full = Run::from(command.output().unwrap());
    assert_ne!(
        full.code,
        0,
        "the append cannot have succeeded: {}",
        full.all()
    );
    let run = sandbox.xtask(&["status"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let after = std::fs::read(&history).unwrap();
    assert_eq!(
        runs_in(&after),
        runs_before + 1,
        "the next run's line was lost"
    );
    assert!(after.ends_with(b"\n"));
}
