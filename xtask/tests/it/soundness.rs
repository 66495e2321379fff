//! "A hit is a fresh run's verdict": each case warms the cache, changes one thing a tool
//! reads, then asserts that the cached run's verdict (exit code, `promotable`, every gate's
//! `passed` and figures, every step's outcome) equals a `--no-cache` run's on the same tree and
//! environment, and that `cache explain` names what changed. The cases come from what the tools
//! read (pytest's rootdir/inifile discovery, conftest.py files, coverage's config, imports and
//! the folders searched for them, data files, ruff's config hierarchy and `extend`, pyright's
//! stubs), not from what the key lists.

use serde_json::{Value, json};

use crate::shaped;
use crate::support::{Run, Sandbox};

mod traced;

/// What a promotion run says, without what legitimately differs between a cached and a fresh
/// run (timings, cache flags, the generation time).
fn verdict(sandbox: &Sandbox, run: &Run, component: &str) -> Value {
    // 3 is a verdict too: a tool that could not give one (pytest erroring at collection).
    assert!(matches!(run.code, 0 | 1 | 3), "{}", run.all());
    let report = sandbox.report(component);
    let steps: Vec<Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            json!({
                "name": s["name"], "status": s["status"], "findings": s["findings"],
                "tests": s["tests"], "coverage": s["coverage"], "error": s["error"],
            })
        })
        .collect();
    json!({
        "exit": run.code,
        "promotable": report["promotable"],
        "passed": report["passed"],
        "gates": report["quality_gates"],
        "blockers": report["blockers"],
        "steps": steps,
        "findings": report["summary"]["findings"],
        "coverage": report["summary"]["coverage"],
    })
}

/// Runs `promote component` from the cache, then with `--no-cache`, and asserts both verdicts
/// are the same. Returns the verdict and the cached run.
fn cached_equals_fresh(sandbox: &Sandbox, component: &str) -> (Value, Run) {
    let cached_run = sandbox.xtask(&["promote", component]);
    let cached = verdict(sandbox, &cached_run, component);
    let fresh_run = sandbox.xtask(&["promote", component, "--no-cache"]);
    let fresh = verdict(sandbox, &fresh_run, component);
    assert_eq!(
        cached,
        fresh,
        "the cached verdict differs from a fresh run's\n--- cached run\n{}",
        cached_run.all()
    );
    (fresh, cached_run)
}

/// Warms the cache for `component` and returns its verdict.
fn warm(sandbox: &Sandbox, component: &str) -> Value {
    let run = sandbox.xtask(&["promote", component]);
    let first = verdict(sandbox, &run, component);
    // The second run must come from the cache, or the later comparisons would prove nothing.
    let again = sandbox.xtask(&["promote", component]);
    assert!(
        again.stdout.contains("5 of 5 steps from cache"),
        "a warm run was not served from the cache\n{}",
        again.all()
    );
    assert_eq!(verdict(sandbox, &again, component), first);
    first
}

/// `cache explain` for one step, as printed.
fn explain(sandbox: &Sandbox, component: &str, step: &str) -> String {
    let run = sandbox.xtask(&["cache", "explain", component, "--step", step]);
    assert_eq!(run.code, 0, "{}", run.all());
    run.stdout
}

fn append(sandbox: &Sandbox, file: &str, text: &str) {
    let mut content = sandbox.read(file);
    content.push_str(text);
    sandbox.write(file, &content);
}

fn tests_of(verdict: &Value) -> Value {
    verdict["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "pytest")
        .map(|s| json!({"status": s["status"], "tests": s["tests"], "coverage": s["coverage"]}))
        .unwrap()
}

#[test]
fn a_conftest_importing_another_component_sees_that_component_break() {
    let sandbox = Sandbox::new();
    let before = warm(&sandbox, "carbon");
    append(
        &sandbox,
        "src/components/llm/__init__.py",
        "\nraise RuntimeError(\"broken\")\n",
    );
    let explained = explain(&sandbox, "carbon", "pytest");
    assert!(
        explained.contains("src/components/llm/__init__.py changed"),
        "{explained}"
    );
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(
        tests_of(&before),
        tests_of(&after),
        "the break has an effect"
    );
    assert_ne!(after["exit"], 0);
}

#[test]
fn caller_variables_reach_the_tools_only_through_env_and_then_key_the_result() {
    let mut sandbox = Sandbox::new();
    let before = warm(&sandbox, "carbon");
    // Not passed: the tools do not see it, a warning says how to pass it, the verdict stands.
    sandbox.env("PYTEST_ADDOPTS", "-k energy_profile");
    let (unpassed, run) = cached_equals_fresh(&sandbox, "carbon");
    assert!(
        run.stderr
            .contains("PYTEST_ADDOPTS is set but the tools do not see it"),
        "{}",
        run.all()
    );
    assert_eq!(tests_of(&before), tests_of(&unpassed));
    // Passed: it is part of the key, so the cached verdict is the fresh one with it.
    let config = sandbox.config_text().replace(
        "pass = [\"PYTHONPATH\"]",
        "pass = [\"PYTHONPATH\", \"PYTEST_ADDOPTS\"]",
    );
    sandbox.set_config(&config);
    let explained = explain(&sandbox, "carbon", "pytest");
    assert!(
        explained.contains("variable PYTEST_ADDOPTS was added"),
        "{explained}"
    );
    let (passed, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(tests_of(&before), tests_of(&passed), "-k deselects tests");
}

#[test]
fn a_pytest_toml_at_the_project_root_is_read() {
    let sandbox = Sandbox::new();
    let before = warm(&sandbox, "carbon");
    sandbox.write(
        "pytest.toml",
        "[pytest]\naddopts = [\"-k\", \"energy_profile\"]\n",
    );
    let explained = explain(&sandbox, "carbon", "pytest");
    assert!(explained.contains("pytest.toml was added"), "{explained}");
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(
        tests_of(&before),
        tests_of(&after),
        "pytest.toml selects tests"
    );
}

#[test]
fn a_sitecustomize_on_the_import_path_is_read() {
    let sandbox = Sandbox::new();
    let before = warm(&sandbox, "carbon");
    sandbox.write(
        "src/sitecustomize.py",
        "import os\nos.environ[\"PYTEST_ADDOPTS\"] = \"-k energy_profile\"\n",
    );
    let explained = explain(&sandbox, "carbon", "pytest");
    assert!(
        explained.contains("miss:") && explained.contains("src"),
        "{explained}"
    );
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(
        tests_of(&before),
        tests_of(&after),
        "sitecustomize changes options"
    );
}

#[test]
fn a_poisoned_coverage_rcfile_never_changes_a_later_normal_run() {
    let mut sandbox = Sandbox::new();
    let clean = warm(&sandbox, "carbon");
    let rc = sandbox.root().join("poison.rc");
    std::fs::write(
        &rc,
        "[report]\nexclude_lines =\n    def \n    return\n    if \n",
    )
    .unwrap();
    let mut poisoned = Sandbox::command(&sandbox);
    let output = poisoned
        .env("COVERAGE_RCFILE", &rc)
        .args(["promote", "carbon", "--no-cache"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("COVERAGE_RCFILE is set"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Passed on purpose, the poison is in the key: the later plain run cannot see its entry.
    let config = sandbox.config_text().replace(
        "pass = [\"PYTHONPATH\"]",
        "pass = [\"PYTHONPATH\", \"COVERAGE_RCFILE\"]",
    );
    sandbox.set_config(&config);
    sandbox.env("COVERAGE_RCFILE", rc.to_str().unwrap());
    let poisoned_run = sandbox.xtask(&["promote", "carbon", "--no-cache"]);
    let inflated = verdict(&sandbox, &poisoned_run, "carbon");
    assert_ne!(
        tests_of(&inflated),
        tests_of(&clean),
        "the rc file excludes lines"
    );

    let plain = Sandbox::command(&sandbox)
        .env_remove("COVERAGE_RCFILE")
        .args(["promote", "carbon"])
        .output()
        .unwrap();
    let plain = Run {
        code: plain.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&plain.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&plain.stderr).into_owned(),
    };
    assert_eq!(
        verdict(&sandbox, &plain, "carbon"),
        clean,
        "{}",
        plain.all()
    );
}

#[test]
fn a_shared_package_outside_any_component_folder_is_an_input() {
    let sandbox = Sandbox::new();
    shaped::build(&sandbox);
    let before = warm(&sandbox, shaped::COMPONENT);
    append(
        &sandbox,
        "src/agent_orchestration/limits.py",
        "\nraise RuntimeError(\"broken\")\n",
    );
    let explained = explain(&sandbox, shaped::COMPONENT, "pytest");
    assert!(
        explained.contains("src/agent_orchestration/limits.py changed"),
        "{explained}"
    );
    // pyright reads only what checking the component needs: the planner's declared types,
    // not the limits module behind them. Either it read the file, or its answer cannot
    // depend on it; the verdicts below are compared either way.
    let pyright = explain(&sandbox, shaped::COMPONENT, "pyright");
    assert!(
        pyright.contains("hit") || pyright.contains("src/agent_orchestration/limits.py changed"),
        "{pyright}"
    );
    let (after, _) = cached_equals_fresh(&sandbox, shaped::COMPONENT);
    assert_ne!(tests_of(&before), tests_of(&after));
    assert_ne!(after["exit"], 0);
}

#[test]
fn the_shared_package_tests_helpers_and_their_conftest_are_inputs() {
    let sandbox = Sandbox::new();
    shaped::build(&sandbox);
    let before = warm(&sandbox, shaped::COMPONENT);
    // A helper package beside the tests: the expectations change.
    append(
        &sandbox,
        "tests/agent_orchestration/orchestration_helpers/__init__.py",
        "\n\ndef expected_plan(steps):\n    return [0] * steps\n",
    );
    let (after, _) = cached_equals_fresh(&sandbox, shaped::COMPONENT);
    assert_ne!(tests_of(&before), tests_of(&after));
}

#[test]
fn files_pytest_discovers_or_imports_are_inputs() {
    let sandbox = Sandbox::new();
    let before = warm(&sandbox, "carbon");

    // A module that shadows an import: tests/ is first on sys.path in pytest's prepend mode.
    sandbox.write("tests/components.py", "raise ImportError(\"shadowed\")\n");
    let explained = explain(&sandbox, "carbon", "pytest");
    assert!(
        explained.contains("miss:") && explained.contains("tests"),
        "{explained}"
    );
    let (shadowed, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(tests_of(&before), tests_of(&shadowed));
    std::fs::remove_file(sandbox.path("tests/components.py")).unwrap();
    let (restored, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_eq!(tests_of(&before), tests_of(&restored));

    // A setup.cfg with a [tool:pytest] section is not read while pyproject.toml configures
    // pytest, a tox.ini neither; the verdict must still be the fresh one.
    sandbox.write("tox.ini", "[pytest]\naddopts = -k energy_profile\n");
    cached_equals_fresh(&sandbox, "carbon");

    // A conftest.py in a parent folder of the tests.
    sandbox.write(
        "conftest.py",
        "def pytest_collection_modifyitems(items):\n    del items[1:]\n",
    );
    let (trimmed, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(tests_of(&before), tests_of(&trimmed));
}

#[test]
fn coverage_configuration_files_are_inputs() {
    let sandbox = Sandbox::new();
    let before = warm(&sandbox, "carbon");
    sandbox.write(
        ".coveragerc",
        "[run]\nbranch = true\n[report]\nexclude_lines =\n    def \n    return\n",
    );
    let explained = explain(&sandbox, "carbon", "pytest");
    assert!(explained.contains(".coveragerc"), "{explained}");
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(tests_of(&before), tests_of(&after));
}

#[test]
fn data_files_the_tests_open_are_inputs() {
    let sandbox = Sandbox::new();
    sandbox.write("tests/data/limit.txt", "5\n");
    append(
        &sandbox,
        "tests/test_carbon_component.py",
        "\n\ndef test_reads_a_data_file() -> None:\n    from pathlib import Path\n\n    text = (Path(__file__).parent / \"data\" / \"limit.txt\").read_text()\n    assert int(text) == 5\n",
    );
    sandbox.commit_all("a data file");
    let before = warm(&sandbox, "carbon");
    sandbox.write("tests/data/limit.txt", "6\n");
    let explained = explain(&sandbox, "carbon", "pytest");
    assert!(
        explained.contains("tests/data/limit.txt changed"),
        "{explained}"
    );
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(tests_of(&before), tests_of(&after));
}

#[test]
fn ruff_config_hierarchy_and_extend_are_inputs() {
    let sandbox = Sandbox::new();
    let before = warm(&sandbox, "carbon");
    // A ruff.toml beside the component's module, extending a base file elsewhere.
    sandbox.write(
        "src/components/ruff.toml",
        "extend = \"../../lint/base.toml\"\n",
    );
    sandbox.write(
        "lint/base.toml",
        "line-length = 100\n[lint]\nselect = [\"E\", \"F\"]\n",
    );
    let (same_rules, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_eq!(
        before["gates"]["lint"]["passed"],
        same_rules["gates"]["lint"]["passed"]
    );
    // Only the extended file changes: now docstring rules apply.
    sandbox.write(
        "lint/base.toml",
        "line-length = 100\n[lint]\nselect = [\"E\", \"F\", \"D\"]\n",
    );
    let explained = explain(&sandbox, "carbon", "ruff-check");
    assert!(explained.contains("lint/base.toml changed"), "{explained}");
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(before["gates"]["lint"], after["gates"]["lint"]);
}

#[test]
fn pyright_stub_folders_are_inputs() {
    let sandbox = Sandbox::new();
    let before = warm(&sandbox, "carbon");
    // A stub in pyright's default stubPath that contradicts the module it stands for.
    sandbox.write(
        "typings/components/carbon_component.pyi",
        "def not_what_the_module_has() -> int: ...\n",
    );
    let explained = explain(&sandbox, "carbon", "pyright");
    assert!(explained.contains("typings"), "{explained}");
    // Whatever pyright makes of it, the cached verdict is the fresh one.
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_eq!(before["gates"]["docs"], after["gates"]["docs"]);
}

/// Every entry file name (each is a key) in a sandbox's cache.
fn keys(sandbox: &Sandbox) -> Vec<String> {
    let mut keys = Vec::new();
    let entries = sandbox.root().join(".xtask/cache/entries");
    for shard in std::fs::read_dir(entries).unwrap().flatten() {
        for file in std::fs::read_dir(shard.path()).unwrap().flatten() {
            keys.push(file.file_name().to_string_lossy().into_owned());
        }
    }
    keys.sort();
    keys
}

#[test]
fn the_same_tree_at_another_path_gives_the_same_keys() {
    let here = Sandbox::new();
    let there = Sandbox::new();
    assert_ne!(here.root(), there.root());
    for sandbox in [&here, &there] {
        let run = sandbox.xtask(&["promote", "llm"]);
        verdict(sandbox, &run, "llm");
    }
    let (a, b) = (keys(&here), keys(&there));
    assert_eq!(a.len(), 10, "five results and their five manifests: {a:?}");
    assert_eq!(
        a, b,
        "keys, manifests and results name no checkout location"
    );
}

/// Whether the sandbox's last run was answered by the warm-run record (no key, no lookup).
fn answered_by_record(sandbox: &Sandbox) -> bool {
    let stats = std::fs::read_to_string(sandbox.root().join(".xtask/cache/stats.jsonl")).unwrap();
    let last: Value = serde_json::from_str(stats.lines().last().unwrap()).unwrap();
    last["record"] == json!(true)
}

#[test]
fn an_unchanged_tree_is_answered_by_the_warm_run_record_and_a_change_is_not() {
    let sandbox = Sandbox::new();
    // `warm` runs twice: the second run is answered by the record the first one left.
    let before = warm(&sandbox, "carbon");
    assert!(answered_by_record(&sandbox));
    let again = sandbox.xtask(&["promote", "carbon"]);
    assert!(answered_by_record(&sandbox), "{}", again.all());
    assert_eq!(verdict(&sandbox, &again, "carbon"), before);
    // Another command asks other steps: a record of its own.
    let other = sandbox.xtask(&["promote", "carbon", "--phase", "1"]);
    assert!(!answered_by_record(&sandbox), "{}", other.all());
    // A change anywhere under the project, even one no step reads, sends the run down the
    // full path, whose verdict is the fresh one.
    sandbox.write("notes.txt", "not an input\n");
    let (after, run) = cached_equals_fresh(&sandbox, "carbon");
    // The --no-cache run looks nothing up and logs no line: the last is the cached run's.
    assert!(!answered_by_record(&sandbox), "{}", run.all());
    assert_eq!(after, before, "{}", run.all());
    let run = sandbox.xtask(&["promote", "carbon"]);
    assert!(answered_by_record(&sandbox), "{}", run.all());
    // `cache clean` removes the records with the entries.
    let clean = sandbox.xtask(&["cache", "clean"]);
    assert_eq!(clean.code, 0, "{}", clean.all());
    assert!(!sandbox.root().join(".xtask/cache/warm").exists());
}

#[test]
fn a_file_outside_the_project_the_tests_open_is_an_input_of_the_warm_run_record() {
    let sandbox = Sandbox::new();
    // Beside the project's ancestors, where the walk of the project does not look.
    std::fs::write(sandbox.root().join("limit.txt"), "5\n").unwrap();
    append(
        &sandbox,
        "tests/test_carbon_component.py",
        "\n\ndef test_reads_a_file_above_the_project() -> None:\n    from pathlib import Path\n\n    text = (Path(__file__).resolve().parents[3] / \"limit.txt\").read_text()\n    assert int(text) == 5\n",
    );
    sandbox.commit_all("a file above the project");
    let before = warm(&sandbox, "carbon");
    assert!(answered_by_record(&sandbox));
    std::fs::write(sandbox.root().join("limit.txt"), "6\n").unwrap();
    let (after, run) = cached_equals_fresh(&sandbox, "carbon");
    assert!(
        !run.stdout.contains("5 of 5 steps from cache"),
        "{}",
        run.all()
    );
    assert_ne!(tests_of(&before), tests_of(&after));
}

#[test]
fn data_behind_a_symlinked_folder_is_an_input_of_the_warm_run_record() {
    let sandbox = Sandbox::new();
    // The tests read through a link to a folder outside the project: the walk does not follow
    // links, so the record must watch what was read behind it.
    let shared = sandbox.root().join("shared-data");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("limit.txt"), "5\n").unwrap();
    std::os::unix::fs::symlink(&shared, sandbox.path("tests/data")).unwrap();
    append(
        &sandbox,
        "tests/test_carbon_component.py",
        "\n\ndef test_reads_linked_data() -> None:\n    from pathlib import Path\n\n    text = (Path(__file__).parent / \"data\" / \"limit.txt\").read_text()\n    assert int(text) == 5\n",
    );
    sandbox.commit_all("linked data");
    let before = warm(&sandbox, "carbon");
    assert!(answered_by_record(&sandbox));
    std::fs::write(shared.join("limit.txt"), "6\n").unwrap();
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(tests_of(&before), tests_of(&after));
    // A new file behind the link, beside the one read: the folder's entries were read too
    // only if the tests listed it; the verdict must be the fresh one either way.
    std::fs::write(shared.join("other.txt"), "x\n").unwrap();
    cached_equals_fresh(&sandbox, "carbon");
}

#[test]
fn a_no_cache_run_replaces_a_stale_answer_in_the_entries_and_the_warm_run_record() {
    let sandbox = Sandbox::new();
    let right = warm(&sandbox, "carbon");
    assert!(answered_by_record(&sandbox));
    // A stale answer, served and recorded: the full path finds the planted verdict, and the
    // record it leaves answers the next run with it.
    crate::audit::plant_wrong_verdicts(&sandbox, "pytest");
    sandbox.change_unread("docs/components/neo4j/README.md");
    let stale_run = sandbox.xtask(&["promote", "carbon"]);
    let stale = verdict(&sandbox, &stale_run, "carbon");
    assert_ne!(
        tests_of(&stale),
        tests_of(&right),
        "the planted verdict is served"
    );
    let again = sandbox.xtask(&["promote", "carbon"]);
    assert!(answered_by_record(&sandbox), "{}", again.all());
    assert_eq!(verdict(&sandbox, &again, "carbon"), stale);
    // A fresher verdict: --no-cache. From then on the cached runs (the record's and the full
    // path's) give its verdict and every figure, never the stale one.
    let fresh_run = sandbox.xtask(&["promote", "carbon", "--no-cache"]);
    let fresh = verdict(&sandbox, &fresh_run, "carbon");
    assert_eq!(fresh, right, "{}", fresh_run.all());
    for path in ["record", "full"] {
        if path == "full" {
            sandbox.change_unread("docs/components/neo4j/README.md");
        }
        let cached_run = sandbox.xtask(&["promote", "carbon"]);
        assert!(
            cached_run.stdout.contains("5 of 5 steps from cache"),
            "{}",
            cached_run.all()
        );
        assert_eq!(answered_by_record(&sandbox), path == "record");
        assert_eq!(
            verdict(&sandbox, &cached_run, "carbon"),
            fresh,
            "the {path} path served a stale answer\n{}",
            cached_run.all()
        );
    }
}
