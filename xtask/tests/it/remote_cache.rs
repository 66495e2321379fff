//! The remote cache against a real nginx (WebDAV PUT, as Bazel's docs set it up): clones at
//! different paths sharing verdicts, Ed25519 signatures (unsigned entries, another key's, no
//! public key), hostile manifests, tampering, read-only, failing, hanging and stopped servers,
//! concurrent writers, and the generated workflows' handling of the secret key. Each case
//! asserts the verdicts and the processes started (counted with strace).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Run, Sandbox, xtask_bin};

#[path = "../../promote/src/remote_cache/test_server.rs"]
mod test_server;

use test_server::{Hanging, Nginx};

const KEY_ENV: &str = "XTASK_TEST_REMOTE_KEY";

/// A key pair as `cargo xtask cache keygen` prints it.
#[derive(Clone)]
struct KeyPair {
    /// `ed25519:<hex>`, for xtask.toml.
    public: String,
    /// `ed25519-secret:<hex>`, for the variable `signing_key_env` names.
    secret: String,
}

fn keygen() -> KeyPair {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(xtask_bin())
        .args(["cache", "keygen"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let run = Run::from(output);
    assert_eq!(run.code, 0, "{}", run.all());
    let public = run
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("public_key = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("a public_key line");
    let secret = run
        .stdout
        .lines()
        .find(|line| line.starts_with("ed25519-secret:"))
        .expect("a secret key line");
    assert!(
        public.starts_with("ed25519:") && public.len() == 8 + 64,
        "{public}"
    );
    KeyPair {
        public: public.to_owned(),
        secret: secret.to_owned(),
    }
}

/// The trusted key pair of the tests in this file.
fn trusted() -> &'static KeyPair {
    static TRUSTED: std::sync::OnceLock<KeyPair> = std::sync::OnceLock::new();
    TRUSTED.get_or_init(keygen)
}

/// A clone of the example using the remote at `url`, checking entries with the trusted public
/// key, and holding the secret key (a writer) when `signed`.
fn clone_with_remote(url: &str, signed: bool, extra: &str) -> Sandbox {
    let mut sandbox = Sandbox::new();
    use_remote(
        &mut sandbox,
        url,
        Some(trusted()),
        signed.then(trusted),
        extra,
    );
    sandbox
}

/// Points `sandbox` at the remote at `url`: entries checked with `public`'s key (none: no
/// `public_key`), written with `secret`'s.
fn use_remote(
    sandbox: &mut Sandbox,
    url: &str,
    public: Option<&KeyPair>,
    secret: Option<&KeyPair>,
    extra: &str,
) {
    let base = sandbox
        .config_text()
        .split("\n[cache.remote]\n")
        .next()
        .unwrap()
        .to_owned();
    let public_line = public.map_or(String::new(), |keys| {
        format!(
            "public_key = \"{}\"\nsigning_key_env = \"{KEY_ENV}\"\n",
            keys.public
        )
    });
    sandbox.set_config(&format!(
        "{base}\n[cache.remote]\nurl = \"{url}\"\n{public_line}timeout_ms = 1000\n{extra}\n"
    ));
    sandbox.commit_all("remote cache");
    sandbox.env(KEY_ENV, secret.map_or("", |keys| keys.secret.as_str()));
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

/// Runs phase 1 on a fresh machine: every step runs (nothing from the remote is trusted), all
/// pass, and there is exactly one remote warning, containing `says`.
fn runs_everything_with_one_warning(sandbox: &Sandbox, says: &str) {
    fresh_machine(sandbox);
    let (run, started) = traced(sandbox, PHASE_1);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!started.is_empty(), "an untrusted entry was used");
    assert!(all_passed(sandbox, false), "{}", run.all());
    let warned = warnings(&run);
    assert_eq!(warned.len(), 1, "{}", run.all());
    assert!(warned[0].contains(says), "{}", run.all());
}

/// Rewrites every record on the server as unsigned (`sig -`).
fn strip_signatures(server: &Nginx) {
    for record in server.stored("ac") {
        let text = std::fs::read_to_string(&record).unwrap();
        let stripped: Vec<String> = text
            .lines()
            .map(|line| match line.starts_with("sig ") {
                true => "sig -".to_owned(),
                false => line.to_owned(),
            })
            .collect();
        std::fs::write(&record, stripped.join("\n") + "\n").unwrap();
    }
}

#[test]
fn entries_signed_with_another_key_or_unsigned_are_misses_for_every_reader() {
    let server = Nginx::start();
    let stranger = keygen();
    // Entries written with another key pair (an attacker with write access to the server).
    let mut sandbox = Sandbox::new();
    use_remote(
        &mut sandbox,
        &server.url(),
        Some(&stranger),
        Some(&stranger),
        "",
    );
    let run = sandbox.xtask(PHASE_1);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(server.count("PUT") > 0);
    let planted = server.stored("ac");

    // A reader without write access, then one with it (the trusted key): neither uses them.
    use_remote(
        &mut sandbox,
        &server.url(),
        Some(trusted()),
        None,
        "read_only = true",
    );
    runs_everything_with_one_warning(&sandbox, "does not check");
    strip_signatures(&server);
    runs_everything_with_one_warning(&sandbox, "not signed");
    use_remote(
        &mut sandbox,
        &server.url(),
        Some(trusted()),
        Some(trusted()),
        "",
    );
    runs_everything_with_one_warning(&sandbox, "not signed");
    // That run wrote signed entries over them: the next fresh machine hits them all...
    assert_eq!(server.stored("ac"), planted, "the same names, signed now");
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
    runs_everything_with_one_warning(&sandbox, "does not hash");
}

#[test]
fn without_a_public_key_the_remote_is_not_read_and_the_run_says_so_once() {
    let server = Nginx::start();
    let writer = clone_with_remote(&server.url(), true, "");
    assert_eq!(writer.xtask(PHASE_1).code, 0);
    let puts = server.count("PUT");
    assert!(puts > 0);
    let mut reader = Sandbox::new();
    use_remote(&mut reader, &server.url(), None, None, "");
    let gets = server.count("GET");
    let (run, started) = traced(&reader, PHASE_1);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!started.is_empty());
    let warned = warnings(&run);
    assert_eq!(warned.len(), 1, "{}", run.all());
    assert!(warned[0].contains("no public_key"), "{}", run.all());
    assert_eq!(server.count("GET"), gets, "an unchecked remote was read");
    assert_eq!(server.count("PUT"), puts);
}

/// A framed manifest naming one result key, written as it is.
fn hostile_manifest(result: &str) -> Vec<u8> {
    let mut payload = b"xtask-manifest v2\n".to_vec();
    payload.extend_from_slice(&(result.len() as u32).to_le_bytes());
    payload.extend_from_slice(result.as_bytes());
    payload.extend_from_slice(&0u32.to_le_bytes());
    let mut framed = format!("xtask-cache v1 {}\n", sha256(&payload)).into_bytes();
    framed.extend_from_slice(&payload);
    framed
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_server_returning_manifests_whose_result_keys_are_paths_writes_nothing_and_panics_nowhere() {
    // Phase 4 has the observed steps (bandit, pytest), whose entries are manifests.
    const VALIDATE: &[&str] = &["promote", "carbon", "--phase", "4", "--format", "json"];
    let verdicts = |sandbox: &Sandbox| -> Vec<(String, String)> {
        promote_verdicts(sandbox, "carbon")
            .into_iter()
            .map(|(name, status, _)| (name, status))
            .collect()
    };
    let server = Nginx::start();
    let writer = clone_with_remote(&server.url(), true, "");
    let run = writer.xtask(VALIDATE);
    assert!(run.code <= 1, "{}", run.all());
    let expected = verdicts(&writer);
    let outside = tempfile::tempdir().unwrap();
    let targets = [
        outside.path().join("absolute").display().to_string(),
        "../../../../../../escaped".to_owned(),
        ".vscode/settings".to_owned(),
        format!("a\u{e9}{}", "0".repeat(61)),
    ];
    // Every manifest on the server now names a hostile result key, under a record that is
    // unsigned or has a signature that is not the key's (a server cannot sign).
    let mut replaced = 0;
    for (n, record) in server.stored("ac").into_iter().enumerate() {
        let text = std::fs::read_to_string(&record).unwrap();
        let cas = text
            .lines()
            .find_map(|l| l.strip_prefix("cas "))
            .unwrap()
            .to_owned();
        let blob = std::fs::read(server.storage().join("cas").join(&cas)).unwrap();
        if !blob.windows(17).any(|w| w == b"xtask-manifest v2") {
            continue;
        }
        let hostile = hostile_manifest(&targets[n % targets.len()]);
        let digest = sha256(&hostile);
        std::fs::write(server.storage().join("cas").join(&digest), &hostile).unwrap();
        let sig = match n % 2 {
            0 => "-".to_owned(),
            _ => "ab".repeat(64),
        };
        let record_text = format!(
            "xtask-remote v2\ncas {digest}\nsize {}\nsig {sig}\n",
            hostile.len()
        );
        std::fs::write(&record, record_text).unwrap();
        replaced += 1;
    }
    assert!(replaced > 0, "no manifest on the server");
    for signed in [false, true] {
        let reader = clone_with_remote(&server.url(), signed, "");
        let (run, started) = traced(&reader, VALIDATE);
        assert!(run.code <= 1, "{}", run.all());
        assert!(!run.stderr.contains("panicked"), "{}", run.all());
        // The observed steps (whose manifests were replaced) run, with the writer's verdicts.
        assert!(!started.is_empty());
        assert_eq!(verdicts(&reader), expected, "{}", run.all());
        assert_eq!(warnings(&run).len(), 1, "{}", run.all());
        assert!(!reader.root().join(".vscode").exists());
        for leaked in [
            outside.path().join("absolute.json"),
            outside.path().join("absolute"),
        ] {
            assert!(!leaked.exists(), "{} was written", leaked.display());
        }
        let entries = reader.root().join(".xtask/cache/entries");
        let verify = reader.xtask(&["cache", "verify"]);
        assert_eq!(verify.code, 0, "{}", verify.all());
        assert!(entries.exists());
    }
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
    secret_key_reaches_no_job_a_pull_request_can_run(&sandbox.root().join(".github/workflows"));
    let dir = sandbox.root().join(".github/workflows");
    let expected: [(&str, &[&str]); 2] = [
        (
            "quality.yml",
            &[
                "XTASK_TEST_REMOTE_KEY: ${{ secrets.XTASK_TEST_REMOTE_KEY }}",
                "XTASK_REMOTE_CACHE_READ_ONLY: \"true\"",
            ],
        ),
        (
            "component-status.yml",
            &[
                "XTASK_TEST_REMOTE_KEY: ${{ github.ref == 'refs/heads/main'",
                "XTASK_REMOTE_CACHE_READ_ONLY: ${{ github.ref != 'refs/heads/main'",
            ],
        ),
    ];
    for (name, lines) in expected {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let common = [
            "XTASK_CACHE_TOKEN: ${{ secrets.XTASK_CACHE_TOKEN }}",
            "environment: xtask-cache-writer",
        ];
        for line in lines.iter().chain(&common) {
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

/// Events through which a pull request's code or text can start a job.
const PULL_REQUEST_EVENTS: &[&str] = &[
    "pull_request",
    "pull_request_target",
    "pull_request_review",
    "pull_request_review_comment",
    "issue_comment",
    "workflow_run",
    "merge_group",
];

/// The events that start `workflow` (its `on:`), in any of the three forms GitHub takes.
fn triggers(workflow: &serde_json::Value) -> Vec<String> {
    match &workflow["on"] {
        serde_json::Value::String(event) => vec![event.clone()],
        serde_json::Value::Array(events) => events
            .iter()
            .filter_map(|e| e.as_str().map(str::to_owned))
            .collect(),
        serde_json::Value::Object(events) => events.keys().cloned().collect(),
        other => panic!("an `on:` of an unknown form: {other}"),
    }
}

/// Which of `events` can run `job`: its `if:` narrows them when it is a conjunction of
/// `github.event_name == '…'` / `!= '…'` tests among others; anything else narrows nothing.
fn events_running(job: &serde_json::Value, events: &[String]) -> Vec<String> {
    let condition = job["if"].as_str().unwrap_or("");
    if condition.contains("||") {
        return events.to_vec();
    }
    let mut running = events.to_vec();
    for test in condition.split("&&").map(str::trim) {
        if let Some(event) = test.strip_prefix("github.event_name == ") {
            running.retain(|e| format!("'{e}'") == event);
        } else if let Some(event) = test.strip_prefix("github.event_name != ") {
            running.retain(|e| format!("'{e}'") != event);
        }
    }
    running
}

/// The jobs of the workflow in `text` that name the secret key, with the pull-request events
/// that can run each, and whether it sits in the writer environment.
fn jobs_with_the_key(text: &str) -> Vec<(String, Vec<String>, bool)> {
    let workflow: serde_json::Value = serde_saphyr::from_str(text).expect("a workflow parses");
    let events = triggers(&workflow);
    let needle = format!("secrets.{KEY_ENV}");
    workflow["jobs"]
        .as_object()
        .expect("jobs")
        .iter()
        .filter(|(_, job)| job.to_string().contains(&needle))
        .map(|(id, job)| {
            let from_pull_requests = events_running(job, &events)
                .into_iter()
                .filter(|e| PULL_REQUEST_EVENTS.contains(&e.as_str()))
                .collect();
            let writer = job["environment"] == "xtask-cache-writer";
            (id.clone(), from_pull_requests, writer)
        })
        .collect()
}

/// Every job of the generated workflows that is given the secret key runs for no event a pull
/// request can cause, and in the writer environment; and there is such a job.
fn secret_key_reaches_no_job_a_pull_request_can_run(dir: &std::path::Path) {
    let mut writers = 0;
    for file in std::fs::read_dir(dir).unwrap().flatten() {
        let text = std::fs::read_to_string(file.path()).unwrap();
        for (job, from_pull_requests, writer) in jobs_with_the_key(&text) {
            let name = file.file_name();
            assert_eq!(from_pull_requests, Vec::<String>::new(), "{name:?} {job}");
            assert!(writer, "{name:?} {job} is not in the writer environment");
            writers += 1;
        }
    }
    assert!(writers >= 2, "no job writes the remote cache");
}

#[test]
fn the_key_check_flags_a_job_a_pull_request_runs() {
    let workflow = format!(
        "on:\n  pull_request:\n  push:\njobs:\n  a:\n    if: github.event_name != 'push'\n    environment: xtask-cache-writer\n    steps:\n      - env:\n          K: ${{{{ secrets.{KEY_ENV} }}}}\n  b:\n    if: github.event_name == 'push' && github.ref == 'refs/heads/main'\n    steps:\n      - env:\n          K: ${{{{ secrets.{KEY_ENV} }}}}\n"
    );
    let jobs = jobs_with_the_key(&workflow);
    assert_eq!(
        jobs,
        vec![
            ("a".to_owned(), vec!["pull_request".to_owned()], true),
            ("b".to_owned(), vec![], false),
        ]
    );
}
