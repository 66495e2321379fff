//! The result cache with the real tools: every ingredient of the key causes a miss, nothing
//! else does; damaged, concurrent, interrupted and unwritable caches never break a run or
//! serve a wrong result; batched runs give the same results as single ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{Run, Sandbox};

/// step name -> cached, for the component's last report.
fn cached(sandbox: &Sandbox, component: &str) -> BTreeMap<String, bool> {
    sandbox.report(component)["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["cached"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn run_ok(sandbox: &Sandbox, args: &[&str]) -> Run {
    let run = sandbox.xtask(args);
    assert!(run.code == 0 || run.code == 1, "{}", run.all());
    run
}

/// The report without what may differ between a warm and a cold run.
pub(crate) fn normalized(mut report: serde_json::Value) -> serde_json::Value {
    report["generated_at"] = serde_json::Value::Null;
    report["summary"]["cached_steps"] = serde_json::Value::Null;
    for step in report["steps"].as_array_mut().unwrap() {
        step["cached"] = serde_json::Value::Null;
        step["duration_ms"] = serde_json::Value::Null;
    }
    // The observation period is measured against the clock of each run (days to two
    // decimals), so two slow runs in a row may differ by 0.01 day; its verdict must not.
    if let Some(gate) = report["quality_gates"].get_mut("observation") {
        gate["measured"] = serde_json::Value::Null;
        gate["summary"] = serde_json::Value::Null;
    }
    // The Production evidence window ends at the run's own minute: two runs either side of a
    // minute's turn name different windows over the same evidence.
    if let Some(facts) = report["quality_gates"]
        .get_mut("uptime")
        .and_then(|gate| gate.get_mut("facts"))
    {
        facts["from"] = serde_json::Value::Null;
        facts["to"] = serde_json::Value::Null;
    }
    if let Some(blockers) = report["blockers"].as_array_mut() {
        for blocker in blockers.iter_mut().filter(|b| b["gate"] == "observation") {
            blocker["message"] = serde_json::Value::Null;
        }
    }
    report
}

fn entries(cache: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(shards) = std::fs::read_dir(cache.join("entries")) else {
        return found;
    };
    for shard in shards.flatten() {
        for file in std::fs::read_dir(shard.path()).unwrap().flatten() {
            found.push(file.path());
        }
    }
    found.sort();
    found
}

/// Entries holding a step's result, not a manifest of observed reads (pytest and bandit have
/// one manifest each besides their result).
fn results(cache: &Path) -> Vec<PathBuf> {
    // A manifest's payload (binary) starts with its own magic line, after the entry's header.
    const MANIFEST: &[u8] = b"\nxtask-manifest v";
    entries(cache)
        .into_iter()
        .filter(|p| {
            !std::fs::read(p)
                .unwrap_or_default()
                .windows(MANIFEST.len())
                .any(|w| w == MANIFEST)
        })
        .collect()
}

/// Files per component in the cache: five results and the manifest of each step's observed
/// reads (every tool runs under the file-access observer).
const ENTRIES_PER_COMPONENT: usize = 10;

/// The warm-run records beside the entries (`cache verify` checks them too).
fn warm_records(cache: &Path) -> usize {
    std::fs::read_dir(cache.join("warm"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|f| !f.file_name().to_string_lossy().starts_with(".xtask-tmp-"))
        .count()
}

/// What `cache verify` says of a cache with nothing bad in it.
fn all_good(cache: &Path) -> String {
    format!(
        "{} entries checked, 0 bad",
        entries(cache).len() + warm_records(cache)
    )
}

fn cache_dir(sandbox: &Sandbox) -> PathBuf {
    sandbox.root().join(".xtask/cache")
}

fn append(sandbox: &Sandbox, file: &str, text: &str) {
    let mut content = sandbox.read(file);
    content.push_str(text);
    sandbox.write(file, &content);
}

#[test]
fn a_warm_report_equals_the_cold_one_but_for_cache_flags_and_timings() {
    let sandbox = Sandbox::new();
    run_ok(&sandbox, &["promote", "llm"]);
    let cold = sandbox.report("llm");
    assert!(cached(&sandbox, "llm").values().all(|c| !c));
    let warm_run = run_ok(&sandbox, &["promote", "llm"]);
    let warm = sandbox.report("llm");
    assert!(
        cached(&sandbox, "llm").values().all(|c| *c),
        "{}",
        warm_run.all()
    );
    assert!(
        warm_run.stdout.contains("5 of 5 steps from cache"),
        "{}",
        warm_run.all()
    );
    assert_eq!(normalized(cold), normalized(warm));
}

#[test]
fn a_checkout_outside_temp_folders_is_warm_on_its_second_run() {
    // xtask.toml above the project, as in this repository: the state folder with each run's
    // scratch (pytest's coverage files, its junit.xml) is outside the project root. Its
    // per-run paths once landed in pytest's read set, so every run missed.
    let sandbox = Sandbox::outside_temp_folders();
    run_ok(&sandbox, &["promote", "llm"]);
    // Without the warm-run record, each run looks every step up and checks its read set.
    let without_record = || std::fs::remove_dir_all(cache_dir(&sandbox).join("warm")).unwrap();
    without_record();
    let warm_run = run_ok(&sandbox, &["promote", "llm"]);
    assert!(
        cached(&sandbox, "llm").values().all(|c| *c),
        "{}",
        warm_run.all()
    );
    without_record();
    let again = run_ok(&sandbox, &["promote", "llm"]);
    assert!(
        again.stdout.contains("5 of 5 steps from cache"),
        "{}",
        again.all()
    );
}

#[test]
fn every_ingredient_of_the_key_causes_a_miss_and_nothing_else_does() {
    let mut sandbox = Sandbox::new();
    let all_hit = |sandbox: &Sandbox| {
        run_ok(sandbox, &["promote", "llm"]);
        cached(sandbox, "llm")
    };
    let expect = |sandbox: &Sandbox, what: &str, missed: &[&str]| {
        let steps = all_hit(sandbox);
        for (step, was_cached) in &steps {
            let should_miss = missed.contains(&step.as_str());
            assert_eq!(
                !was_cached,
                should_miss,
                "after {what}: step {step} was {} ({steps:?})",
                if *was_cached { "a hit" } else { "a miss" }
            );
        }
        // The next run with nothing changed is all hits again.
        assert!(
            all_hit(sandbox).values().all(|c| *c),
            "after {what}, re-run"
        );
    };
    const ALL: &[&str] = &["ruff-check", "ruff-format", "pyright", "bandit", "pytest"];
    let source = "src/components/llm/prompts.py";

    run_ok(&sandbox, &["promote", "llm"]);
    expect(&sandbox, "nothing", &[]);

    append(&sandbox, source, "# a changed byte\n");
    expect(&sandbox, "a changed source byte", ALL);

    let path = sandbox.path(source);
    let later = std::time::SystemTime::now() + Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(later)
        .unwrap();
    expect(&sandbox, "touching an mtime", &[]);

    sandbox.write(
        "src/components/llm/extra.py",
        "\"\"\"Extra.\"\"\"\n\nVALUE = 1\n",
    );
    expect(&sandbox, "adding a file", ALL);
    std::fs::rename(
        sandbox.path("src/components/llm/extra.py"),
        sandbox.path("src/components/llm/renamed.py"),
    )
    .unwrap();
    expect(&sandbox, "renaming a file", ALL);
    sandbox.write(
        "src/components/llm/second.py",
        "\"\"\"Second.\"\"\"\n\nOTHER = 2\n",
    );
    expect(&sandbox, "adding another file", ALL);
    std::fs::remove_file(sandbox.path("src/components/llm/renamed.py")).unwrap();
    expect(&sandbox, "removing a file", ALL);
    // Back to a state the cache has seen: content addressing makes that a hit, correctly.
    std::fs::remove_file(sandbox.path("src/components/llm/second.py")).unwrap();
    expect(&sandbox, "returning to an earlier state", &[]);

    append(&sandbox, "tests/test_llm.py", "# a changed test\n");
    expect(&sandbox, "a changed test file", &["pytest"]);
    append(&sandbox, "tests/conftest.py", "# a changed conftest\n");
    expect(&sandbox, "a changed conftest.py", &["pytest"]);

    // llm depends on model-management: pyright and pytest read it, ruff and bandit do not.
    append(
        &sandbox,
        "src/components/model_management/registry.py",
        "# dependency\n",
    );
    expect(&sandbox, "a dependency's source", &["pyright", "pytest"]);
    // carbon is no dependency of llm: nothing of llm changes.
    append(
        &sandbox,
        "src/components/carbon_component.py",
        "# unrelated\n",
    );
    expect(&sandbox, "an unrelated component's source", &[]);

    // bandit reads no pyproject.toml unless told to (`-c`): its read set does not hold it, so
    // its cached verdict stays a fresh one.
    append(&sandbox, "pyproject.toml", "# a config comment\n");
    expect(
        &sandbox,
        "pyproject.toml",
        &["ruff-check", "ruff-format", "pyright", "pytest"],
    );

    let config = sandbox
        .config_text()
        .replace("staging = 70", "staging = 71");
    sandbox.set_config(&config);
    expect(&sandbox, "a threshold", ALL);

    // The interpreter's identity includes PYTHONPATH, which changes what imports resolve to.
    let src = sandbox.project().join("src");
    sandbox.env(
        "PYTHONPATH",
        &format!("{}:{}", src.display(), sandbox.root().display()),
    );
    expect(&sandbox, "the interpreter environment", ALL);
}

#[test]
fn damaged_entries_are_misses_that_get_repaired() {
    let sandbox = Sandbox::new();
    run_ok(&sandbox, &["promote", "carbon"]);
    let found = results(&cache_dir(&sandbox));
    assert_eq!(found.len(), 5, "{found:?}");
    let bytes = std::fs::read(&found[0]).unwrap();
    let mut flipped = bytes.clone();
    let at = flipped.len() - 5;
    flipped[at] ^= 0x01;
    std::fs::write(&found[0], flipped).unwrap();
    std::fs::write(&found[1], b"").unwrap();
    std::fs::write(&found[2], b"{\"not\": \"an entry\"").unwrap();
    // The warm-run record holds the first run's answers and would answer without reading an
    // entry: without it, the run looks every step up.
    std::fs::remove_dir_all(cache_dir(&sandbox).join("warm")).unwrap();

    let run = run_ok(&sandbox, &["promote", "carbon"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        run.stderr.matches("is unusable").count(),
        3,
        "{}",
        run.all()
    );
    let hits = cached(&sandbox, "carbon").values().filter(|c| **c).count();
    assert_eq!(hits, 2, "three damaged entries were misses");

    let verify = sandbox.xtask(&["cache", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.all());
    assert!(
        verify.stdout.contains(&all_good(&cache_dir(&sandbox))),
        "{}",
        verify.all()
    );
    run_ok(&sandbox, &["promote", "carbon"]);
    assert!(cached(&sandbox, "carbon").values().all(|c| *c));
}

#[test]
fn cache_verify_finds_and_removes_bad_entries() {
    let sandbox = Sandbox::new();
    run_ok(&sandbox, &["promote", "carbon", "--phase", "1"]);
    let found = entries(&cache_dir(&sandbox));
    // A well-formed header whose digest is not the payload's.
    std::fs::write(
        &found[0],
        format!("xtask-cache v1 {}\n{{}}", "0".repeat(64)),
    )
    .unwrap();
    let verify = sandbox.xtask(&["cache", "verify"]);
    assert_eq!(verify.code, 1, "{}", verify.all());
    assert!(
        verify.stdout.contains("digest mismatch"),
        "{}",
        verify.all()
    );
    assert!(!found[0].exists());
    assert_eq!(sandbox.xtask(&["cache", "verify"]).code, 0);
}

#[test]
fn two_runs_at_once_both_succeed_and_leave_one_valid_entry_per_step() {
    let sandbox = Sandbox::new();
    let spawn = || {
        sandbox
            .command()
            .args(["promote", "carbon"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(entries(&cache_dir(&sandbox)).len(), ENTRIES_PER_COMPONENT);
    let verify = sandbox.xtask(&["cache", "verify"]);
    assert!(
        verify.stdout.contains(&all_good(&cache_dir(&sandbox))),
        "{}",
        verify.all()
    );
}

#[test]
fn runs_killed_at_any_moment_leave_no_entry_that_reads_as_valid() {
    let sandbox = Sandbox::new();
    for delay_ms in [150, 400, 900, 1500, 2200] {
        let mut child = sandbox
            .command()
            .args(["promote", "carbon", "--no-cache"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
        let verify = sandbox.xtask(&["cache", "verify"]);
        assert_eq!(
            verify.code,
            0,
            "after a kill at {delay_ms} ms: {}",
            verify.all()
        );
    }
    // A temp file left by a killed writer is not an entry.
    let shard = cache_dir(&sandbox).join("entries/ff");
    std::fs::create_dir_all(&shard).unwrap();
    std::fs::write(shard.join(".xtask-tmp-abc"), b"half an entr").unwrap();
    let verify = sandbox.xtask(&["cache", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.all());
    let run = run_ok(&sandbox, &["promote", "carbon"]);
    assert_eq!(run.code, 0, "{}", run.all());
}

/// Makes `dir` unwritable even for root: chmod for ordinary users, the immutable attribute
/// for root. Returns false when neither works here.
fn make_unwritable(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = dir.join("probe");
    if std::fs::write(&probe, b"").is_err() {
        return true;
    }
    let _ = std::fs::remove_file(&probe);
    let chattr = std::process::Command::new("chattr")
        .arg("+i")
        .arg(dir)
        .status();
    chattr.is_ok_and(|s| s.success()) && std::fs::write(&probe, b"").is_err()
}

#[test]
fn an_unwritable_cache_still_gives_a_result_with_a_warning() {
    let mut sandbox = Sandbox::new();
    let cache = sandbox.root().join("locked-cache");
    let locked = make_unwritable(&cache);
    let target = if locked {
        cache.clone()
    } else {
        // Neither chmod nor chattr can lock a folder here: a path under a file cannot be
        // created by anyone, which is the same failure for the cache.
        let file = sandbox.root().join("a-file");
        std::fs::write(&file, b"").unwrap();
        file.join("cache")
    };
    sandbox.env("XTASK_CACHE_DIR", target.to_str().unwrap());
    let run = sandbox.xtask(&["promote", "carbon"]);
    let _ = std::process::Command::new("chattr")
        .arg("-i")
        .arg(&cache)
        .status();
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("results are not cached"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.stderr.matches("results are not cached").count(),
        1,
        "warned once"
    );
    assert_eq!(sandbox.report("carbon")["promotable"], true);
}

/// Three single-module components share a folder: a change to one re-runs that one's steps
/// and nothing of its neighbours, whose coverage is measured by module name (coverage reads
/// every file of a measured folder), and the figures equal a `--no-cache` run's.
#[test]
fn a_dependency_re_runs_a_dependant_only_through_a_file_its_steps_read() {
    // llm depends on model-management and imports its package, which imports registry.py;
    // nothing of llm reads model-management's README.
    let sandbox = Sandbox::new();
    let args = ["promote", "llm"];
    run_ok(&sandbox, &args);
    append(
        &sandbox,
        "src/components/model_management/README.md",
        "\nMore words.\n",
    );
    run_ok(&sandbox, &args);
    let steps = cached(&sandbox, "llm");
    assert!(steps.contains_key("pyright") && steps.contains_key("pytest"));
    assert!(
        steps.values().all(|c| *c),
        "llm ran again after a change no step of it reads: {steps:?}"
    );
    append(
        &sandbox,
        "src/components/model_management/registry.py",
        "\n\n# a comment\n",
    );
    run_ok(&sandbox, &args);
    let steps = cached(&sandbox, "llm");
    for read in ["pyright", "pytest"] {
        assert_eq!(
            steps.get(read),
            Some(&false),
            "{read} imports registry.py and must run again: {steps:?}"
        );
    }
    let warm = normalized(sandbox.report("llm"));
    run_ok(&sandbox, &["promote", "llm", "--no-cache"]);
    assert_eq!(warm, normalized(sandbox.report("llm")));
}

#[test]
fn a_change_to_one_module_re_runs_only_the_steps_that_read_it() {
    let sandbox = Sandbox::new();
    let components = ["promote", "carbon", "neo4j", "docker"];
    run_ok(&sandbox, &components);
    append(
        &sandbox,
        "src/components/carbon_component.py",
        "\n\n# a comment\n",
    );
    run_ok(&sandbox, &components);
    assert!(
        cached(&sandbox, "carbon").values().all(|c| !c),
        "{:?}",
        cached(&sandbox, "carbon")
    );
    for neighbour in ["neo4j", "docker"] {
        let steps = cached(&sandbox, neighbour);
        assert!(steps.contains_key("pytest"), "{steps:?}");
        assert!(
            steps.values().all(|c| *c),
            "{neighbour} ran again after a change to carbon: {steps:?}"
        );
    }
    let warm: Vec<_> = ["carbon", "neo4j", "docker"]
        .iter()
        .map(|c| normalized(sandbox.report(c)))
        .collect();
    let mut fresh_args = components.to_vec();
    fresh_args.push("--no-cache");
    run_ok(&sandbox, &fresh_args);
    let fresh: Vec<_> = ["carbon", "neo4j", "docker"]
        .iter()
        .map(|c| normalized(sandbox.report(c)))
        .collect();
    assert_eq!(warm, fresh);
}

#[test]
fn no_cache_runs_everything_and_refreshes_the_entries() {
    let sandbox = Sandbox::new();
    run_ok(&sandbox, &["promote", "carbon"]);
    let before: Vec<_> = entries(&cache_dir(&sandbox))
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    run_ok(&sandbox, &["promote", "carbon", "--no-cache"]);
    assert!(cached(&sandbox, "carbon").values().all(|c| !c));
    let after: Vec<_> = entries(&cache_dir(&sandbox))
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .collect();
    assert_eq!(before.len(), after.len());
    assert!(
        before.iter().zip(&after).all(|(b, a)| a > b),
        "entries were rewritten"
    );
}

#[test]
fn cache_stats_and_clean_report_what_is_there() {
    let sandbox = Sandbox::new();
    run_ok(&sandbox, &["promote", "carbon"]);
    run_ok(&sandbox, &["promote", "carbon"]);
    let stats = sandbox.xtask(&["cache", "stats"]);
    assert_eq!(stats.code, 0, "{}", stats.all());
    assert!(
        stats
            .stdout
            .contains(&format!("entries    {ENTRIES_PER_COMPONENT}\n")),
        "{}",
        stats.all()
    );
    assert!(
        stats
            .stdout
            .contains("hit rate   50.0% over the last 2 runs"),
        "{}",
        stats.all()
    );
    let clean = sandbox.xtask(&["cache", "clean"]);
    assert!(
        clean
            .stdout
            .contains(&format!("removed {ENTRIES_PER_COMPONENT} entries")),
        "{}",
        clean.all()
    );
    assert!(entries(&cache_dir(&sandbox)).is_empty());
    run_ok(&sandbox, &["promote", "carbon"]);
    assert!(cached(&sandbox, "carbon").values().all(|c| !c));
}

#[test]
fn the_size_cap_evicts_what_the_last_run_did_not_use() {
    let sandbox = Sandbox::new();
    let config = sandbox
        .config_text()
        .replace("max_size_mb = 256", "max_size_mb = 0");
    sandbox.set_config(&config);
    run_ok(&sandbox, &["promote", "carbon"]);
    assert_eq!(sandbox.report("carbon")["promotable"], true);
    let carbon = entries(&cache_dir(&sandbox));
    assert!(
        !carbon.is_empty(),
        "a run keeps the entries it used, even over the cap"
    );
    run_ok(&sandbox, &["promote", "neo4j"]);
    let neo4j = entries(&cache_dir(&sandbox));
    assert!(!neo4j.is_empty());
    assert!(
        carbon.iter().all(|entry| !neo4j.contains(entry)),
        "a zero cap keeps nothing the last run did not use:\n{carbon:?}\n{neo4j:?}"
    );
}

#[test]
fn batched_runs_split_findings_exactly_as_single_runs_find_them() {
    let sandbox = Sandbox::new();
    let components = [
        "narrative-arc-orchestrator",
        "model-management",
        "gameplay-loop",
        "carbon",
    ];
    let mut single = BTreeMap::new();
    for component in components {
        run_ok(&sandbox, &["promote", component, "--no-cache"]);
        single.insert(component, normalized(sandbox.report(component)));
    }
    let mut args = vec!["promote", "-v", "--no-cache"];
    args.extend(components);
    let batched = run_ok(&sandbox, &args);
    for tool_call in ["ruff check", "ruff format", "/pyright ", "/bandit "] {
        let calls = batched
            .stderr
            .lines()
            .filter(|l| l.contains(tool_call))
            .count();
        assert_eq!(
            calls, 1,
            "{tool_call} ran {calls} times:\n{}",
            batched.stderr
        );
    }
    let pytest_calls = batched
        .stderr
        .lines()
        .filter(|l| l.contains("-m pytest"))
        .count();
    assert_eq!(
        pytest_calls,
        components.len(),
        "pytest runs once per component"
    );
    for component in components {
        assert_eq!(
            normalized(sandbox.report(component)),
            single[component],
            "{component} differs between its own run and the batched run"
        );
    }
    // Entries stored by the batch answer a single component's run.
    run_ok(&sandbox, &["promote", "gameplay-loop"]);
    assert!(cached(&sandbox, "gameplay-loop").values().all(|c| *c));
}

#[test]
fn output_does_not_depend_on_the_number_of_jobs() {
    let sandbox = Sandbox::new();
    let components = ["llm", "neo4j", "docker", "player-experience"];
    let mut one = vec![
        "promote",
        "--no-cache",
        "--jobs",
        "1",
        "--format",
        "json",
        "-q",
    ];
    one.extend(components);
    let first = run_ok(&sandbox, &one);
    let mut four = vec![
        "promote",
        "--no-cache",
        "--jobs",
        "4",
        "--format",
        "json",
        "-q",
    ];
    four.extend(components);
    let second = run_ok(&sandbox, &four);
    let strip = |text: &str| -> Vec<serde_json::Value> {
        let all: Vec<serde_json::Value> = serde_json::from_str(text).unwrap();
        all.into_iter().map(normalized).collect()
    };
    assert_eq!(strip(&first.stdout), strip(&second.stdout));
    let names: Vec<String> = strip(&first.stdout)
        .iter()
        .map(|r| r["component"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, components, "reports come in the order asked for");
}

#[test]
fn a_warm_run_starts_no_process_not_even_for_a_version() {
    // Tools from PATH (no venv): the fake logs every start, `--version` included.
    let mut sandbox = Sandbox::new();
    let bin = sandbox.root().join("fake-bin");
    let log = sandbox.root().join("starts.log");
    crate::support::fake_tool(
        &bin,
        "ruff",
        &format!(
            "echo \"$*\" >> {}\nif [ \"$1\" = --version ]; then echo 'ruff 0.17.5'; exit 0; fi\necho '[]'",
            log.display()
        ),
    );
    let empty_venv = sandbox.root().join("no-venv");
    std::fs::create_dir_all(&empty_venv).unwrap();
    sandbox.env("XTASK_VENV", empty_venv.to_str().unwrap());
    sandbox.env("PATH", &format!("{}:/usr/bin:/bin", bin.display()));
    let cold = sandbox.xtask(&["promote", "carbon", "--phase", "1"]);
    assert_eq!(cold.code, 0, "{}", cold.all());
    let starts = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        starts.lines().count(),
        3,
        "--version, check, format --check: {starts}"
    );
    let warm = sandbox.xtask(&["promote", "carbon", "--phase", "1"]);
    assert_eq!(warm.code, 0, "{}", warm.all());
    assert!(cached(&sandbox, "carbon").values().all(|c| *c));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        starts,
        "the warm run started a tool"
    );
}

#[test]
fn a_result_whose_input_changed_while_the_tool_ran_is_not_stored() {
    let mut sandbox = Sandbox::new();
    let bin = sandbox.root().join("fake-bin");
    let source = sandbox.path("src/components/carbon_component.py");
    // A ruff that edits the file it checks, as an editor saving mid-run would.
    crate::support::fake_tool(
        &bin,
        "ruff",
        &format!(
            "if [ \"$1\" = --version ]; then echo 'ruff 0.17.5'; exit 0; fi\nif [ \"$1\" = check ]; then echo '# edited' >> {}; fi\necho '[]'",
            source.display()
        ),
    );
    let empty_venv = sandbox.root().join("no-venv");
    std::fs::create_dir_all(&empty_venv).unwrap();
    sandbox.env("XTASK_VENV", empty_venv.to_str().unwrap());
    sandbox.env("PATH", &format!("{}:/usr/bin:/bin", bin.display()));
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "1"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("changed while it ran"), "{}", run.all());
    assert!(
        entries(&cache_dir(&sandbox)).is_empty(),
        "nothing was stored"
    );
}
