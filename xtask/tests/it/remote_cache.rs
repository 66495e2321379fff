//! The remote cache against a real nginx (WebDAV PUT, as Bazel's docs set it up): clones at
//! different paths sharing verdicts, signatures, tampering, read-only, failing, hanging and
//! stopped servers, concurrent writers. Each case asserts the verdicts and the processes started
//! (counted with strace).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Run, Sandbox, xtask_bin};

#[path = "../../promote/src/remote_cache/test_server.rs"]
mod test_server;

use test_server::{Hanging, Nginx};

const KEY_ENV: &str = "XTASK_TEST_REMOTE_KEY";
const SIGNING_KEY: &str = "a signing key only trusted writers hold";

/// A clone of the example using the remote at `url`, with the signing key when `signed`.
fn clone_with_remote(url: &str, signed: bool, extra: &str) -> Sandbox {
    let mut sandbox = Sandbox::new();
    let config = format!(
        "{}\n[cache.remote]\nurl = \"{url}\"\nsigning_key_env = \"{KEY_ENV}\"\ntimeout_ms = 1000\n{extra}\n",
        sandbox.config_text()
    );
    sandbox.set_config(&config);
    sandbox.commit_all("remote cache");
    if signed {
        sandbox.env(KEY_ENV, SIGNING_KEY);
    }
    sandbox
}

/// Runs xtask under strace; returns the run and the programs it started (itself excluded).
fn traced(sandbox: &Sandbox, args: &[&str]) -> (Run, Vec<String>) {
    let logs = tempfile::tempdir().unwrap();
    let plain = sandbox.command();
    let mut command = Command::new("strace");
    // One log per thread (-ff): lines of concurrent threads never interleave.
    command
        .args(["-f", "-ff", "-qq", "-e", "trace=execve", "-o"])
        .arg(logs.path().join("execve"))
        .arg(xtask_bin())
        .args(args)
        .current_dir(sandbox.root());
    for (key, value) in plain.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let run = Run::from(
        command
            .output()
            .expect("strace runs (installed by .ci/run)"),
    );
    let mut started = Vec::new();
    for log in std::fs::read_dir(logs.path()).unwrap().flatten() {
        started.extend(started_programs(
            &std::fs::read_to_string(log.path()).unwrap_or_default(),
        ));
    }
    (run, started)
}

/// Programs in successful `execve` lines of an strace log, xtask itself left out.
fn started_programs(log: &str) -> Vec<String> {
    let xtask = xtask_bin().display().to_string();
    log.lines()
        .filter(|line| line.trim_end().ends_with("= 0"))
        .filter_map(|line| line.split("execve(\"").nth(1)?.split('"').next())
        .filter(|program| *program != xtask)
        .map(str::to_owned)
        .collect()
}

fn warnings(run: &Run) -> Vec<String> {
    run.stderr
        .lines()
        .filter(|line| line.to_lowercase().contains("remote cache"))
        .map(str::to_owned)
        .collect()
}

/// The status report without what differs between a run and a cached rerun.
fn comparable_status(sandbox: &Sandbox) -> serde_json::Value {
    let path = sandbox.root().join("reports/status/status.json");
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    strip(&mut report);
    report
}

fn strip(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            // What a cached rerun changes, and what moves with the clock.
            for key in [
                "cached",
                "cached_steps",
                "duration_ms",
                "generated_at",
                "since",
                "baseline",
                "days_in_stage",
                "days_observed",
            ] {
                map.remove(key);
            }
            map.values_mut().for_each(strip);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

fn promote_verdicts(sandbox: &Sandbox, component: &str) -> Vec<(String, String, bool)> {
    let report = sandbox.report(component);
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            (
                step["name"].as_str().unwrap().to_owned(),
                step["status"].as_str().unwrap().to_owned(),
                step["cached"].as_bool().unwrap(),
            )
        })
        .collect()
}

const PHASE_1: &[&str] = &["promote", "carbon", "--phase", "1", "--format", "json"];

#[test]
fn an_empty_local_cache_and_a_clone_at_another_path_get_the_full_status_from_the_remote() {
    let server = Nginx::start();
    let a = clone_with_remote(&server.url(), true, "");
    let cold = a.xtask(&["status", "--format", "json"]);
    assert_eq!(cold.code, 0, "{}", cold.all());
    assert!(server.count("PUT") > 0, "nothing was written to the remote");
    let expected = comparable_status(&a);

    // The same checkout with its local cache and reports gone (a fresh CI runner): all from
    // the remote.
    fresh_machine(&a);
    status_from_the_remote(
        &a,
        &expected,
        "a run with an empty local cache started processes",
    );
    let stats = a.xtask(&["cache", "stats"]);
    assert!(stats.stdout.contains("remote     "), "{}", stats.all());
    assert!(!stats.stdout.contains(" 0 hits"), "{}", stats.all());

    // Another machine: a clone at another path. Its keys hold no absolute path, so it finds
    // every verdict too.
    let b = clone_with_remote(&server.url(), true, "");
    assert_ne!(a.root(), b.root());
    status_from_the_remote(
        &b,
        &expected,
        "clone B at another path started processes (are cache keys path-independent?)",
    );
}

/// A full `status` that starts no process, warns of nothing and reports `expected`.
fn status_from_the_remote(sandbox: &Sandbox, expected: &serde_json::Value, why: &str) {
    let (warm, started) = traced(sandbox, &["status", "--format", "json"]);
    assert_eq!(warm.code, 0, "{}", warm.all());
    assert_eq!(started, Vec::<String>::new(), "{why}");
    assert!(warnings(&warm).is_empty(), "{}", warm.all());
    assert_eq!(&comparable_status(sandbox), expected);
}

/// Another machine with the same checkout path (CI runners check out at one path): the local
/// cache and the reports are gone.
fn fresh_machine(sandbox: &Sandbox) {
    for dir in [".xtask/cache", "reports"] {
        let path = sandbox.root().join(dir);
        if path.exists() {
            std::fs::remove_dir_all(path).unwrap();
        }
    }
}

fn all_passed(sandbox: &Sandbox, cached: bool) -> bool {
    let verdicts = promote_verdicts(sandbox, "carbon");
    !verdicts.is_empty()
        && verdicts
            .iter()
            .all(|(_, status, was_cached)| status == "passed" && *was_cached == cached)
}

#[test]
fn unsigned_and_tampered_entries_are_misses_with_one_warning() {
    let server = Nginx::start();
    let mut sandbox = clone_with_remote(&server.url(), false, "");
    // Written without the key (the variable is empty): a reader with the key ignores every
    // entry and runs the tools.
    sandbox.env(KEY_ENV, "");
    let run = sandbox.xtask(PHASE_1);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(server.count("PUT") > 0);
    fresh_machine(&sandbox);
    sandbox.env(KEY_ENV, SIGNING_KEY);
    let (run, started) = traced(&sandbox, PHASE_1);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!started.is_empty(), "an unsigned entry was trusted");
    assert!(all_passed(&sandbox, false), "{}", run.all());
    let warned = warnings(&run);
    assert_eq!(warned.len(), 1, "{}", run.all());
    assert!(warned[0].contains("not signed"), "{}", run.all());

    // That run wrote signed entries over them: the next fresh machine hits them all...
    fresh_machine(&sandbox);
    let (run, started) = traced(&sandbox, PHASE_1);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(started, Vec::<String>::new());
    assert!(all_passed(&sandbox, true), "{}", run.all());
    assert!(warnings(&run).is_empty(), "{}", run.all());

    // ...until a byte of each stored blob flips: a miss, and the steps run again.
    for blob in server.stored("cas") {
        let mut bytes = std::fs::read(&blob).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 0x01;
        std::fs::write(&blob, bytes).unwrap();
    }
    fresh_machine(&sandbox);
    let (run, started) = traced(&sandbox, PHASE_1);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!started.is_empty(), "a tampered entry was trusted");
    assert!(all_passed(&sandbox, false), "{}", run.all());
    let warned = warnings(&run);
    assert_eq!(warned.len(), 1, "{}", run.all());
    assert!(warned[0].contains("does not hash"), "{}", run.all());
}

#[test]
fn a_read_only_remote_is_never_written() {
    let server = Nginx::start();
    let by_config = clone_with_remote(&server.url(), true, "read_only = true");
    let run = by_config.xtask(PHASE_1);
    assert_eq!(run.code, 0, "{}", run.all());
    let mut by_env = clone_with_remote(&server.url(), true, "");
    by_env.env("XTASK_REMOTE_CACHE_READ_ONLY", "true");
    let run = by_env.xtask(PHASE_1);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(server.count("GET") > 0, "the remote was not read");
    assert_eq!(server.count("PUT"), 0, "{:#?}", server.requests());

    // The same run with write access does write: the count above means something.
    let writer = clone_with_remote(&server.url(), true, "");
    let run = writer.xtask(PHASE_1);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(server.count("PUT") > 0);
}

/// Runs phase 1 of carbon against a sick remote: it passes on local results with one warning.
fn finishes_locally_with_one_warning(sandbox: &Sandbox) -> Duration {
    let started_at = Instant::now();
    let (run, started) = traced(sandbox, PHASE_1);
    let took = started_at.elapsed();
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!started.is_empty());
    assert!(
        promote_verdicts(sandbox, "carbon")
            .iter()
            .all(|(_, status, _)| status == "passed")
    );
    let warned = warnings(&run);
    assert_eq!(warned.len(), 1, "{}", run.all());
    assert!(
        warned[0].contains("not used for the rest of this run"),
        "{}",
        run.all()
    );
    took
}

#[test]
fn a_failing_hanging_or_stopped_remote_costs_one_warning_and_one_deadline() {
    let baseline = Sandbox::new();
    let started_at = Instant::now();
    let run = baseline.xtask(PHASE_1);
    assert_eq!(run.code, 0, "{}", run.all());
    let local = started_at.elapsed();

    let server = Nginx::start();
    let failing = clone_with_remote(&server.broken_url(), true, "");
    finishes_locally_with_one_warning(&failing);
    assert!(
        server.count("GET") + server.count("PUT") <= 8,
        "the breaker did not open"
    );

    let hanging_server = Hanging::start();
    let hanging = clone_with_remote(&hanging_server.url(), true, "");
    let took = finishes_locally_with_one_warning(&hanging);
    // One 1 s deadline for the reads (in parallel), none for the writes after the breaker.
    assert!(
        took < local + Duration::from_millis(2500),
        "{took:?} against {local:?} without a remote"
    );

    // Stopped mid-run: after the reads, before the writes.
    let mut server = Nginx::start();
    let stopped = clone_with_remote(&server.url(), true, "");
    let mut child = stopped
        .command()
        .args(["promote", "carbon", "--phase", "2", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.count("GET") == 0 {
        assert!(Instant::now() < deadline, "the run never asked the remote");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before asking the remote"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    server.stop();
    let output = child.wait_with_output().unwrap();
    let run = Run::from(output);
    assert_eq!(run.code, 0, "{}", run.all());
    let warned = warnings(&run);
    assert_eq!(warned.len(), 1, "{}", run.all());
    assert_eq!(server.count("PUT"), 0);
    // Its verdicts are in the local cache: the rerun starts nothing.
    let (rerun, started) = traced(
        &stopped,
        &["promote", "carbon", "--phase", "2", "--format", "json"],
    );
    assert_eq!(rerun.code, 0, "{}", rerun.all());
    assert_eq!(started, Vec::<String>::new());
}

#[test]
fn two_concurrent_writers_of_the_same_keys_leave_valid_entries() {
    let server = Nginx::start();
    let sandbox = clone_with_remote(&server.url(), true, "");
    // Two machines (two local caches) check the same commit at the same time.
    let caches = [
        sandbox.root().join("cache-1"),
        sandbox.root().join("cache-2"),
    ];
    let children: Vec<_> = caches
        .iter()
        .map(|cache| {
            sandbox
                .command()
                .args(PHASE_1)
                .env("XTASK_CACHE_DIR", cache)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    assert!(server.count("PUT") > 0);
    fresh_machine(&sandbox);
    let (run, started) = traced(&sandbox, PHASE_1);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(started, Vec::<String>::new(), "{}", run.all());
    assert!(warnings(&run).is_empty(), "{}", run.all());
    assert!(all_passed(&sandbox, true), "{}", run.all());
}

#[test]
fn workflows_pass_the_remote_cache_secrets_through_env_and_stay_clean() {
    let sandbox = clone_with_remote(
        "https://cache.example.com/xtask",
        false,
        "token_env = \"XTASK_CACHE_TOKEN\"",
    );
    let run = sandbox.xtask(&["workflows"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let dir = sandbox.root().join(".github/workflows");
    for name in ["quality.yml", "component-status.yml"] {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        for line in [
            "XTASK_CACHE_TOKEN: ${{ secrets.XTASK_CACHE_TOKEN }}",
            "XTASK_TEST_REMOTE_KEY: ${{ github.ref == 'refs/heads/main'",
            "XTASK_REMOTE_CACHE_READ_ONLY: ${{ github.ref != 'refs/heads/main'",
        ] {
            assert!(text.contains(line), "{name} lacks {line}:\n{text}");
        }
        // Secrets reach the steps only through env:, never inside run:.
        let mut in_run = false;
        for line in text.lines() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("run:") {
                in_run = true;
            } else if trimmed.starts_with("- name:") || trimmed.starts_with("env:") {
                in_run = false;
            }
            assert!(!(in_run && line.contains("secrets.")), "{name}: {line}");
        }
        for schema in [
            "vendor.github-workflows",
            "custom.github-workflows-require-timeout",
        ] {
            let output = crate::support::test_tool(
                "check-jsonschema",
                &["--builtin-schema", schema, path.to_str().unwrap()],
            );
            assert_eq!(output.status.code(), Some(0), "{name} against {schema}");
        }
    }
    let quality = dir.join("quality.yml");
    let status = dir.join("component-status.yml");
    crate::workflows::assert_zizmor_finds_nothing(&[quality, status]);
}
