//! `promote` on copies of the example with the real tools: the acceptance cases of the
//! foundation issue, the report formats, `--fix`, and bad input.

use crate::support::{Sandbox, assert_valid_json, junitparser_counts};

fn step<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {report:#}"))
}

fn blocker_gates(report: &serde_json::Value) -> Vec<String> {
    report["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["gate"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn phase_two_counts_the_same_pyright_errors_as_pyright_itself() {
    let sandbox = Sandbox::new();
    let run = sandbox.xtask(&["promote", "narrative-arc-orchestrator", "--phase", "2"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let report = sandbox.report("narrative-arc-orchestrator");
    let ours = step(&report, "pyright")["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .count();

    let python = sandbox.venv_python();
    let direct = sandbox.venv_tool(
        "pyright",
        &[
            "--outputjson",
            "--pythonpath",
            python.to_str().unwrap(),
            "src/components/narrative_arc_orchestrator",
        ],
    );
    let direct: serde_json::Value = serde_json::from_slice(&direct.stdout).unwrap();
    let theirs = direct["summary"]["errorCount"].as_u64().unwrap() as usize;
    assert!(theirs > 0, "the example is meant to have type errors");
    assert_eq!(ours, theirs);
    assert!(
        run.stdout.contains("reportOptionalMemberAccess"),
        "{}",
        run.all()
    );
}

#[test]
fn carbon_is_promotable_to_staging() {
    let sandbox = Sandbox::new();
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "all"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let report = sandbox.report("carbon");
    assert_eq!(report["promotable"], true);
    assert_eq!(report["from_stage"], "development");
    assert_eq!(report["to_stage"], "staging");
    assert!(report["blockers"].as_array().unwrap().is_empty());
    assert!(
        run.stdout.contains("promotable to Staging"),
        "{}",
        run.all()
    );
}

#[test]
fn narrative_arc_orchestrator_is_blocked_on_lint_types_and_readme() {
    let sandbox = Sandbox::new();
    let run = sandbox.xtask(&["promote", "narrative-arc-orchestrator", "--phase", "all"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let report = sandbox.report("narrative-arc-orchestrator");
    assert_eq!(report["promotable"], false);
    let gates = blocker_gates(&report);
    for gate in ["lint", "types", "docs"] {
        assert!(
            gates.contains(&gate.to_owned()),
            "no {gate} blocker in {gates:?}"
        );
    }
    let lint_fix = report["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["gate"] == "lint")
        .unwrap()["fix"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(lint_fix.contains("cargo xtask promote narrative-arc-orchestrator --phase 1 --fix"));
    // Findings are listed as path:line:col code message.
    assert!(
        run.stdout.lines().any(
            |l| l.starts_with("src/components/narrative_arc_orchestrator/") && l.contains(" F401 ")
        ),
        "{}",
        run.all()
    );
}

#[test]
fn single_module_coverage_matches_a_direct_measurement_of_the_parent_package() {
    let sandbox = Sandbox::new();
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "4"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let ours = sandbox.report("carbon")["quality_gates"]["coverage"]["measured"]
        .as_f64()
        .unwrap();

    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("coverage.json");
    let direct = std::process::Command::new(sandbox.venv_python())
        .args([
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "tests/test_carbon_component.py",
        ])
        .arg("--cov=src/components")
        .arg(format!("--cov-report=json:{}", json.display()))
        .current_dir(sandbox.project())
        .env("PYTHONPATH", sandbox.project().join("src"))
        .env("COVERAGE_FILE", out.path().join(".coverage"))
        .output()
        .unwrap();
    assert!(direct.status.success());
    let data: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let summary = &data["files"]["src/components/carbon_component.py"]["summary"];
    assert_eq!(
        data["meta"]["branch_coverage"], true,
        "the example turns branch coverage on"
    );
    let percent = summary["percent_covered"].as_f64().unwrap();
    assert!(
        (ours - percent).abs() < 0.01,
        "ours {ours}, coverage.py {percent}"
    );
    assert!(
        ours > 70.0 && ours < 75.0,
        "carbon is meant to be just above 70%: {ours}"
    );
}

#[test]
fn reports_validate_against_the_schema_and_parse_as_junit() {
    let sandbox = Sandbox::new();
    let run = sandbox.xtask(&["promote", "model-management", "--phase", "all"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let json = sandbox.report_path("model-management", "promotion.json");
    assert_valid_json("promotion-report.schema.json", &json);
    let report = sandbox.report("model-management");
    let findings: u64 = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["findings"].as_array().unwrap().len() as u64)
        .sum();
    let gates = report["quality_gates"].as_object().unwrap();
    let failed_gates = gates.values().filter(|g| g["passed"] == false).count() as u64;
    let (tests, failures, errors) =
        junitparser_counts(&sandbox.report_path("model-management", "junit.xml"));
    assert_eq!(
        failures,
        findings + failed_gates,
        "one failing case per finding and per failed gate"
    );
    assert_eq!(errors, 0);
    assert!(tests >= gates.len() as u64 + findings);
    let summary =
        std::fs::read_to_string(sandbox.report_path("model-management", "summary.md")).unwrap();
    assert!(summary.contains("| security | ❌ fail |"), "{summary}");
    assert!(blocker_gates(&report).contains(&"security".to_owned()));
}

#[test]
fn json_format_prints_the_report_document() {
    let sandbox = Sandbox::new();
    let run = sandbox.xtask(&["promote", "llm", "--phase", "4", "--format", "json", "-q"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let printed: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(printed, sandbox.report("llm"));
    let coverage = printed["quality_gates"]["coverage"]["measured"]
        .as_f64()
        .unwrap();
    assert!(
        coverage > 25.0 && coverage < 35.0,
        "llm is meant to be near 30%: {coverage}"
    );
}

#[test]
fn fix_on_a_clean_tree_applies_safe_fixes_and_scaffolds_the_readme() {
    let sandbox = Sandbox::new();
    let before = sandbox.xtask(&["promote", "narrative-arc-orchestrator", "--phase", "1"]);
    assert_eq!(before.code, 1);
    let count = |sandbox: &Sandbox| {
        let report = sandbox.report("narrative-arc-orchestrator");
        step(&report, "ruff-check")["findings"]
            .as_array()
            .unwrap()
            .len()
            + step(&report, "ruff-format")["findings"]
                .as_array()
                .unwrap()
                .len()
    };
    let findings_before = count(&sandbox);

    let fixed = sandbox.xtask(&[
        "promote",
        "narrative-arc-orchestrator",
        "--phase",
        "1",
        "--fix",
    ]);
    assert!(fixed.code == 0 || fixed.code == 1, "{}", fixed.all());
    let after = sandbox.xtask(&["promote", "narrative-arc-orchestrator", "--phase", "1"]);
    assert_eq!(
        after.code,
        1,
        "B006 and E741 have no safe fix: {}",
        after.all()
    );
    let findings_after = count(&sandbox);
    assert!(
        findings_after < findings_before,
        "{findings_before} -> {findings_after}"
    );
    assert!(findings_after > 0);

    sandbox.commit_all("lint fixes");
    let readme = "src/components/narrative_arc_orchestrator/README.md";
    assert!(!sandbox.path(readme).exists());
    let docs = sandbox.xtask(&[
        "promote",
        "narrative-arc-orchestrator",
        "--phase",
        "3",
        "--fix",
    ]);
    // The scaffold's headings are there, but its placeholders are not documentation: the docs
    // gate names them until a person writes the sections.
    assert_eq!(docs.code, 1, "{}", docs.all());
    assert!(
        docs.all().contains("still holds scaffold placeholders"),
        "{}",
        docs.all()
    );
    let text = sandbox.read(readme);
    for section in ["## Overview", "## Usage", "## API", "## Testing"] {
        assert!(text.contains(section), "{text}");
    }
    assert!(
        text.contains("from components.narrative_arc_orchestrator import"),
        "{text}"
    );
    // The scaffold itself must not add a format finding (ruff formats code in Markdown too).
    sandbox.commit_all("readme");
    let lint = sandbox.xtask(&["promote", "narrative-arc-orchestrator", "--phase", "1"]);
    let report = sandbox.report("narrative-arc-orchestrator");
    assert!(
        step(&report, "ruff-format")["findings"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{}",
        lint.all()
    );
}

#[test]
fn fix_refuses_a_dirty_tree_and_changes_nothing() {
    let sandbox = Sandbox::new();
    let file = "src/components/narrative_arc_orchestrator/arcs.py";
    let mut text = sandbox.read(file);
    text.push_str("\n# a change of mine\n");
    sandbox.write(file, &text);
    sandbox.write(
        "src/components/narrative_arc_orchestrator/notes.py",
        "x = 1\n",
    );
    let snapshot = |sandbox: &Sandbox| {
        let mut all = Vec::new();
        for entry in
            std::fs::read_dir(sandbox.path("src/components/narrative_arc_orchestrator")).unwrap()
        {
            let path = entry.unwrap().path();
            if path.is_file() {
                all.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
        all.sort();
        all
    };
    let before = snapshot(&sandbox);
    let run = sandbox.xtask(&[
        "promote",
        "narrative-arc-orchestrator",
        "--phase",
        "all",
        "--fix",
    ]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("arcs.py"), "{}", run.all());
    assert!(
        run.stderr.contains("notes.py"),
        "untracked files are listed too: {}",
        run.all()
    );
    assert!(run.stderr.contains("--allow-dirty"), "{}", run.all());
    assert_eq!(
        snapshot(&sandbox),
        before,
        "nothing may change when --fix refuses"
    );

    let forced = sandbox.xtask(&[
        "promote",
        "narrative-arc-orchestrator",
        "--phase",
        "1",
        "--fix",
        "--allow-dirty",
    ]);
    assert!(forced.code == 0 || forced.code == 1, "{}", forced.all());
    assert_ne!(snapshot(&sandbox), before, "--allow-dirty lets --fix edit");
    assert!(
        sandbox.read(file).contains("# a change of mine"),
        "the user's change is kept"
    );
}

#[test]
fn unknown_component_is_a_usage_error_with_suggestions() {
    let sandbox = Sandbox::new();
    let run = sandbox.xtask(&["promote", "narrative"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("`narrative-arc-orchestrator`"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr.contains("`narrative-coherence`"),
        "{}",
        run.all()
    );
    let run = sandbox.xtask(&["promote", "narative-arc-orchestrator"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("did you mean `narrative-arc-orchestrator`"),
        "{}",
        run.all()
    );
}

#[test]
fn unknown_phase_and_stage_are_usage_errors() {
    let sandbox = Sandbox::new();
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "7"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("unknown phase"), "{}", run.all());
    let run = sandbox.xtask(&["promote", "carbon", "--target", "prod"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("unknown stage"), "{}", run.all());
    assert!(!sandbox.report_path("carbon", "promotion.json").exists());
}

#[test]
fn malformed_config_names_file_line_and_column() {
    let sandbox = Sandbox::new();
    let text = sandbox
        .config_text()
        .replace("display_name = \"Carbon\"", "display_name = Carbon");
    sandbox.set_config(&text);
    let line = text
        .lines()
        .position(|l| l == "display_name = Carbon")
        .unwrap()
        + 1;
    let run = sandbox.xtask(&["promote", "carbon"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains(&format!("xtask.toml:{line}:")),
        "{}",
        run.all()
    );
}

#[test]
fn a_dependency_cycle_is_refused_naming_it() {
    let sandbox = Sandbox::new();
    // The users' documents make therapeutic-systems depend on gameplay-loop too.
    let text = sandbox.config_text().replace(
        "depends_on = [\"neo4j\", \"narrative-coherence\"]",
        "depends_on = [\"neo4j\", \"narrative-coherence\", \"gameplay-loop\"]",
    );
    sandbox.set_config(&text);
    let run = sandbox.xtask(&["promote", "carbon"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("dependency cycle"), "{}", run.all());
    assert!(
        run.stderr
            .contains("therapeutic-systems -> gameplay-loop -> therapeutic-systems")
            || run
                .stderr
                .contains("gameplay-loop -> therapeutic-systems -> gameplay-loop"),
        "{}",
        run.all()
    );
}

#[test]
fn components_without_tests_fail_the_tests_gate() {
    let sandbox = Sandbox::new();
    let run = sandbox.xtask(&["promote", "therapeutic-systems", "--phase", "4"]);
    assert_eq!(
        run.code,
        1,
        "no tests is a gate failure, not infrastructure: {}",
        run.all()
    );
    let report = sandbox.report("therapeutic-systems");
    let pytest = step(&report, "pytest");
    assert_eq!(pytest["status"], "error");
    assert_eq!(pytest["error"]["kind"], "no-tests");
    assert_eq!(report["quality_gates"]["tests"]["passed"], false);
    assert_eq!(report["quality_gates"]["coverage"]["passed"], false);
}

#[test]
fn a_test_file_that_collects_nothing_is_an_error_not_a_pass() {
    let sandbox = Sandbox::new();
    sandbox.write("tests/test_empty.py", "\"\"\"No tests here.\"\"\"\n");
    let text = sandbox.config_text().replace(
        "tests = [\"tests/test_carbon_component.py\"]",
        "tests = [\"tests/test_empty.py\"]",
    );
    sandbox.set_config(&text);
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "4"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let report = sandbox.report("carbon");
    assert_eq!(step(&report, "pytest")["error"]["kind"], "no-tests");
    assert_eq!(report["promotable"], false);
}
