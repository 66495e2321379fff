//! CI-native output with `GITHUB_ACTIONS=true`: groups and annotations on stdout, the summary
//! appended to `$GITHUB_STEP_SUMMARY`, outputs in `$GITHUB_OUTPUT`, all from a real run.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::Sandbox;

/// Reads `$GITHUB_OUTPUT` as the runner does: `name<<DELIM`, lines, `DELIM`.
fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let (name, delimiter) = line
            .split_once("<<")
            .unwrap_or_else(|| panic!("not a multi-line output: {line:?} in\n{text}"));
        let mut value = Vec::new();
        for next in lines.by_ref() {
            if next == delimiter {
                break;
            }
            value.push(next);
        }
        outputs.insert(name.to_owned(), value.join("\n"));
    }
    outputs
}

fn actions_sandbox() -> (Sandbox, tempfile::TempDir) {
    let mut sandbox = Sandbox::new();
    let runner = tempfile::tempdir().unwrap();
    let summary = runner.path().join("summary.md");
    let output = runner.path().join("output.txt");
    // The runner creates both files before the step; we append.
    std::fs::write(&summary, "previous step\n").unwrap();
    std::fs::write(&output, "").unwrap();
    sandbox.env("GITHUB_ACTIONS", "true");
    sandbox.env("GITHUB_STEP_SUMMARY", summary.to_str().unwrap());
    sandbox.env("GITHUB_OUTPUT", output.to_str().unwrap());
    let workspace = sandbox.root().to_str().unwrap().to_owned();
    sandbox.env("GITHUB_WORKSPACE", &workspace);
    (sandbox, runner)
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

#[test]
fn lint_findings_become_at_most_ten_error_annotations_with_repo_paths() {
    let (sandbox, runner) = actions_sandbox();
    let run = sandbox.xtask(&["promote", "narrative-arc-orchestrator", "--phase", "1"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let report = sandbox.report("narrative-arc-orchestrator");
    let findings = report["steps"][0]["findings"].as_array().unwrap().len();
    assert!(
        findings > 10,
        "the example has many lint findings: {findings}"
    );

    let stdout = &run.stdout;
    assert!(stdout.contains("::group::narrative-arc-orchestrator ruff-check: failed"));
    assert_eq!(
        stdout.matches("::group::").count(),
        stdout.matches("::endgroup::").count()
    );
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    assert_eq!(errors.len(), 10, "{stdout}");
    // Blockers first, then findings with a path GitHub can open from the repository root.
    assert!(
        errors[0].contains("title=narrative-arc-orchestrator%3A lint gate"),
        "{}",
        errors[0]
    );
    let with_file: Vec<&&str> = errors.iter().filter(|l| l.contains("file=")).collect();
    assert!(!with_file.is_empty());
    for line in with_file {
        assert!(
            line.starts_with(
                "::error file=examples/tta/src/components/narrative_arc_orchestrator/"
            ) && line.contains(",line=")
                && line.contains(",col="),
            "{line}"
        );
        let path = line["::error file=".len()..].split(',').next().unwrap();
        assert!(sandbox.root().join(path).is_file(), "{path}");
    }
    assert!(
        stdout.contains("more errors are not annotated (GitHub shows 10 of each per step)"),
        "{stdout}"
    );

    let summary = read(runner.path(), "summary.md");
    assert!(
        summary.starts_with("previous step\n# Narrative Arc Orchestrator"),
        "{summary}"
    );
    assert!(summary.contains("## Quality gates"));

    let outputs = parse_outputs(&read(runner.path(), "output.txt"));
    assert_eq!(outputs["promotable"], "false");
    assert_eq!(outputs["component"], "narrative-arc-orchestrator");
    assert_eq!(outputs["from_stage"], "development");
    assert_eq!(outputs["to_stage"], "staging");
    // Phase 1 measures no coverage: empty, never a made-up 0.
    assert_eq!(outputs["coverage"], "");
}

#[test]
fn a_promotable_run_writes_its_coverage_and_verdict_to_the_outputs() {
    let (sandbox, runner) = actions_sandbox();
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "all"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let report = sandbox.report("carbon");
    let outputs = parse_outputs(&read(runner.path(), "output.txt"));
    assert_eq!(outputs["promotable"], "true");
    let coverage: f64 = outputs["coverage"].parse().unwrap();
    assert_eq!(coverage, report["summary"]["coverage"].as_f64().unwrap());
    assert!(coverage >= 70.0);
    let list: serde_json::Value = serde_json::from_str(&outputs["components"]).unwrap();
    assert_eq!(list[0]["component"], "carbon");
    assert!(!run.stdout.contains("::error"), "{}", run.stdout);
    assert!(read(runner.path(), "summary.md").contains("✅ promotable"));
}

#[test]
fn outside_github_actions_nothing_ci_specific_is_printed() {
    let sandbox = Sandbox::new();
    let run = sandbox.xtask(&["promote", "narrative-arc-orchestrator", "--phase", "1"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(!run.stdout.contains("::"), "{}", run.stdout);
}

#[test]
fn json_format_keeps_stdout_a_json_document_and_sends_commands_to_stderr() {
    let (sandbox, _runner) = actions_sandbox();
    let run = sandbox.xtask(&[
        "promote",
        "narrative-arc-orchestrator",
        "--phase",
        "1",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}", run.all());
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(document["component"], "narrative-arc-orchestrator");
    assert!(run.stderr.contains("::group::"), "{}", run.stderr);
}
