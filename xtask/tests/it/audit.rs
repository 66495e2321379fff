//! `cache audit` and `[cache] audit_sample` with the real tools: a stored verdict rewritten to
//! its opposite (through the entries' own framing, so only a fresh run can tell) is found,
//! named and evicted; a test that fails on every second run is reported flaky and is then not
//! served from the cache until its inputs change.

use serde_json::Value;

use crate::support::{Run, Sandbox};

/// Rewrites the stored verdicts of `step` to the opposite, as only a fault could: through the
/// entries' own framing, so every check of an entry passes.
pub(crate) fn plant_wrong_verdicts(sandbox: &Sandbox, step: &str) {
    let flipped =
        xtask_promote::testing::flip_stored_verdicts(&sandbox.root().join(".xtask/cache"), step);
    assert!(flipped > 0, "no stored {step} result to rewrite");
}

fn step<'r>(report: &'r Value, name: &str) -> &'r Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} step in {report}"))
}

fn promote(sandbox: &Sandbox, component: &str) -> Run {
    let run = sandbox.xtask(&["promote", component]);
    assert!(matches!(run.code, 0 | 1), "{}", run.all());
    run
}

#[test]
fn an_audit_finds_a_rewritten_verdict_names_it_and_evicts_it() {
    let sandbox = Sandbox::new();
    promote(&sandbox, "carbon");
    assert_eq!(
        step(&sandbox.report("carbon"), "pytest")["status"],
        "passed"
    );
    plant_wrong_verdicts(&sandbox, "pytest");

    // -v: the error lists every read the entry was stored for, not the first few.
    let audit = sandbox.xtask(&["cache", "audit", "--all", "-v"]);
    assert_eq!(audit.code, 1, "a mismatch never exits 0\n{}", audit.all());
    assert!(
        audit.stdout.contains("MISMATCH   carbon pytest"),
        "{}",
        audit.all()
    );
    for agreed in ["ruff-check", "ruff-format", "pyright", "bandit"] {
        assert!(
            audit
                .stdout
                .contains(&format!("agreed     carbon {agreed}")),
            "{}",
            audit.all()
        );
    }
    // The error names the step, the figure that differs and what the entry was stored for.
    for expected in [
        "carbon pytest: the cache answered what fresh runs do not give",
        "status: failed (cached) vs passed (fresh)",
        "the entry was evicted",
        "tests/test_carbon_component.py",
        "cache explain carbon --step pytest",
    ] {
        assert!(
            audit.stderr.contains(expected),
            "{expected}\n{}",
            audit.all()
        );
    }
    assert!(
        audit
            .stdout
            .contains("5 audited: 4 agreed, 1 mismatch (evicted)")
    );

    // Evicted: the next run computes pytest afresh (and stores it), the others are hits.
    promote(&sandbox, "carbon");
    let pytest = step(&sandbox.report("carbon"), "pytest").clone();
    assert_eq!(pytest["status"], "passed");
    assert_eq!(pytest["cached"], false);
    let again = sandbox.xtask(&["cache", "audit", "carbon"]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(
        again.stdout.contains("5 audited: 5 agreed"),
        "{}",
        again.all()
    );

    let stats = sandbox.xtask(&["cache", "stats"]);
    assert!(
        stats
            .stdout
            .contains("10 steps re-run fresh over the last 2 audits: 9 agreed, 1 mismatched"),
        "{}",
        stats.all()
    );
}

/// A carbon test that passes on odd runs and fails on even ones, counting in a file outside
/// the project that it only appends to (an output of the run, never read).
fn add_alternating_test(sandbox: &Sandbox, counter: &std::path::Path) {
    let mut tests = sandbox.read("tests/test_carbon_component.py");
    tests.push_str(&format!(
        r#"

def test_alternates_between_runs() -> None:
    import os

    fd = os.open({counter:?}, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"x")
        runs = os.lseek(fd, 0, os.SEEK_CUR)
    finally:
        os.close(fd)
    assert runs % 2 == 1, "fails on every second run"
"#,
        counter = counter.display().to_string()
    ));
    sandbox.write("tests/test_carbon_component.py", &tests);
    sandbox.commit_all("a flaky test");
}

#[test]
fn a_step_whose_fresh_runs_disagree_is_flaky_and_runs_fresh_until_its_inputs_change() {
    let sandbox = Sandbox::new();
    let counter_dir = tempfile::tempdir().unwrap();
    add_alternating_test(&sandbox, &counter_dir.path().join("runs"));
    // Run 1 passes and is stored.
    promote(&sandbox, "carbon");
    assert_eq!(
        step(&sandbox.report("carbon"), "pytest")["status"],
        "passed"
    );

    // Runs 2 (fails, unlike the cache) and 3 (passes again): the fresh runs disagree.
    let audit = sandbox.xtask(&["cache", "audit", "carbon", "--all"]);
    assert_eq!(audit.code, 1, "{}", audit.all());
    assert!(
        audit.stdout.contains("FLAKY      carbon pytest"),
        "{}",
        audit.all()
    );
    assert!(
        audit.stderr.contains("carbon pytest is flaky")
            && audit
                .stderr
                .contains("status: failed (first fresh run) vs passed (second fresh run)"),
        "{}",
        audit.all()
    );

    // Not served from the cache, not stored, and the report says why, run after run.
    for _ in 0..2 {
        let run = sandbox.xtask(&["promote", "carbon"]);
        let report = sandbox.report("carbon");
        let pytest = step(&report, "pytest");
        assert_eq!(pytest["cached"], false, "{}", run.all());
        assert!(
            pytest["not_cached"]
                .as_str()
                .is_some_and(|why| why.starts_with("flaky: `cache audit` ran it fresh twice")),
            "{pytest}"
        );
        assert!(run.stdout.contains("not cached: flaky"), "{}", run.all());
        assert_eq!(step(&report, "ruff-check")["cached"], true);
        crate::support::assert_valid_json(
            "promotion-report.schema.json",
            &sandbox.report_path("carbon", "promotion.json"),
        );
    }
    let explained = sandbox.xtask(&["cache", "explain", "carbon", "--step", "pytest"]);
    assert!(
        explained.stdout.contains("not cached: flaky"),
        "{}",
        explained.all()
    );
    let stats = sandbox.xtask(&["cache", "stats"]);
    assert!(
        stats
            .stdout
            .contains("flaky      1 run fresh until their inputs change: carbon pytest"),
        "{}",
        stats.all()
    );

    // Its inputs change (the flaky test is fixed): cached again.
    let fixed = sandbox
        .read("tests/test_carbon_component.py")
        .replace("assert runs % 2 == 1", "assert runs > 0");
    sandbox.write("tests/test_carbon_component.py", &fixed);
    promote(&sandbox, "carbon");
    let run = promote(&sandbox, "carbon");
    assert!(
        run.stdout.contains("5 of 5 steps from cache"),
        "{}",
        run.all()
    );
}

#[test]
fn audit_sample_rechecks_a_run_s_hits_and_the_run_reports_the_fresh_verdict() {
    let sandbox = Sandbox::new();
    let config = sandbox
        .config_text()
        .replace("[cache]\n", "[cache]\naudit_sample = 100\n");
    assert_ne!(
        config,
        sandbox.config_text(),
        "the example has a [cache] table"
    );
    sandbox.set_config(&config);
    promote(&sandbox, "carbon");
    plant_wrong_verdicts(&sandbox, "bandit");
    // Past the warm-run record, which holds the right answer: the planted one is the hit.
    sandbox.change_unread("docs/components/neo4j/README.md");

    let run = sandbox.xtask(&["promote", "carbon"]);
    // The gates pass on the fresh verdict, but a wrong answer in the cache never exits 0.
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(
            "error: carbon bandit: the cache answered what fresh runs do not give on unchanged inputs (status: failed (cached) vs passed (fresh))"
        ),
        "{}",
        run.all()
    );
    let report = sandbox.report("carbon");
    assert_eq!(report["promotable"], true);
    let bandit = step(&report, "bandit");
    assert_eq!(bandit["status"], "passed");
    assert_eq!(bandit["cached"], false);
    assert!(bandit["not_cached"].as_str().is_some(), "{bandit}");

    // Evicted: the next run stores bandit again, and its sample agrees with everything.
    let next = sandbox.xtask(&["promote", "carbon"]);
    assert_eq!(next.code, 0, "{}", next.all());
    assert!(
        next.stdout.contains("4 of 5 steps from cache"),
        "{}",
        next.all()
    );
    let last = sandbox.xtask(&["promote", "carbon"]);
    assert_eq!(last.code, 0, "{}", last.all());
    assert!(
        last.stdout.contains("5 of 5 steps from cache"),
        "{}",
        last.all()
    );
    assert!(
        last.stderr.contains(
            "re-running 5 of this run's cached steps fresh ([cache] audit_sample = 100%)"
        ),
        "{}",
        last.all()
    );
}

#[test]
fn an_audit_sample_outside_0_to_100_is_refused_where_it_is_written() {
    let sandbox = Sandbox::new();
    let config = sandbox
        .config_text()
        .replace("[cache]\n", "[cache]\naudit_sample = 150\n");
    sandbox.set_config(&config);
    let run = sandbox.xtask(&["cache", "stats"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr
            .contains("cache.audit_sample must be a percentage from 0 to 100, not 150"),
        "{}",
        run.all()
    );
    let flag = sandbox.xtask(&["cache", "audit", "--sample", "101"]);
    assert_eq!(flag.code, 2, "{}", flag.all());
}
