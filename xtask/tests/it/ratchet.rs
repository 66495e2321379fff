//! `ratchet --base REF`: real ruff, pyright and pytest-cov on a two-commit history of the
//! example, the base checked in a temporary worktree: new findings, coverage drops and a gate
//! of the component's stage newly failing are worse (exit 1); moved and fixed findings are not
//! (exit 0); the generated pull-request check runs it and fails on it.

use crate::support::{Sandbox, workspace};

/// A function no test calls: `statements` uncovered statements, clean for ruff and pyright.
fn uncovered(name: &str, statements: usize) -> String {
    let mut text = format!("\n\ndef {name}(value: int) -> int:\n    total = value\n");
    for step in 1..statements.saturating_sub(1) {
        text.push_str(&format!("    total += {step}\n"));
    }
    text.push_str("    return total\n");
    text
}

fn append(sandbox: &Sandbox, relative: &str, text: &str) {
    let mut source = sandbox.read(relative);
    source.push_str(text);
    sandbox.write(relative, &source);
}

fn ratchet(sandbox: &Sandbox, components: &[&str]) -> (i32, serde_json::Value, String) {
    let mut args = vec!["ratchet", "--base", "HEAD~1", "--format", "json"];
    args.extend_from_slice(components);
    let run = sandbox.xtask(&args);
    let json = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("ratchet printed no JSON ({e}):\n{}", run.all()));
    (run.code, json, run.all())
}

fn comparison<'a>(all: &'a serde_json::Value, component: &str) -> &'a serde_json::Value {
    all.as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == component)
        .unwrap_or_else(|| panic!("no comparison for {component}: {all:#}"))
}

fn worse_kinds(comparison: &serde_json::Value) -> Vec<String> {
    comparison["worse"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| match w["kind"].as_str().unwrap() {
            "new-finding" => format!(
                "new {} {}",
                w["finding"]["tool"].as_str().unwrap(),
                w["finding"]["rule"].as_str().unwrap()
            ),
            "gate-failed" => format!("gate {}", w["gate"].as_str().unwrap()),
            other => other.to_owned(),
        })
        .collect()
}

#[test]
fn new_findings_coverage_drops_and_a_stage_gate_failing_are_worse() {
    let sandbox = Sandbox::new();
    // neo4j (Staging, clean): a new pyright error and a new ruff finding.
    append(
        &sandbox,
        "src/components/neo4j_component.py",
        "\n\ndef _ratchet_probe() -> int:\n    return \"x\"\n\n\nRATCHET_FLAG = [x for x in [1] if x == None]\n",
    );
    // gameplay-loop (Development, 100% of 158): four uncovered statements, about 2.5 points.
    append(
        &sandbox,
        "src/components/gameplay_loop/engine.py",
        &uncovered("_ratchet_uncovered", 4),
    );
    // carbon (Development, 72% of 136): forty uncovered statements take it below 60%.
    append(
        &sandbox,
        "src/components/carbon_component.py",
        &uncovered("_ratchet_uncovered", 40),
    );
    sandbox.commit_all("make things worse");
    let (code, all, output) = ratchet(&sandbox, &["neo4j", "gameplay-loop", "carbon"]);
    assert_eq!(code, 1, "{output}");

    let neo4j = comparison(&all, "neo4j");
    let kinds = worse_kinds(neo4j);
    assert!(
        kinds.contains(&"new pyright reportReturnType".to_owned()),
        "{kinds:?}"
    );
    assert!(kinds.contains(&"new ruff E711".to_owned()), "{kinds:?}");
    let pyright = neo4j["worse"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["finding"]["tool"] == "pyright")
        .unwrap();
    let source = sandbox.read("src/components/neo4j_component.py");
    let line = source
        .lines()
        .position(|l| l.contains("return \"x\""))
        .unwrap()
        + 1;
    assert_eq!(pyright["finding"]["line"], line, "{pyright:#}");
    assert!(pyright["fix"].as_str().unwrap().contains("type error"));
    assert!(neo4j["existing"].as_array().unwrap().is_empty());

    let gameplay = comparison(&all, "gameplay-loop");
    assert_eq!(worse_kinds(gameplay), ["coverage-dropped"], "{gameplay:#}");
    let (before, after) = (
        gameplay["base_coverage"].as_f64().unwrap(),
        gameplay["head_coverage"].as_f64().unwrap(),
    );
    assert!(
        (2.0..3.0).contains(&(before - after)),
        "{before} -> {after}"
    );

    let carbon = comparison(&all, "carbon");
    let kinds = worse_kinds(carbon);
    assert!(kinds.contains(&"gate coverage".to_owned()), "{kinds:?}");
    assert!(
        carbon["head_coverage"].as_f64().unwrap() < 60.0,
        "{carbon:#}"
    );
    // The base's worktree is gone.
    let worktrees =
        String::from_utf8_lossy(&sandbox.git(&["worktree", "list"]).stdout).into_owned();
    assert_eq!(worktrees.lines().count(), 1, "{worktrees}");
}

#[test]
fn moved_findings_are_existing_and_fixed_ones_are_reported_fixed() {
    let sandbox = Sandbox::new();
    let relative = "src/components/docker_component.py";
    let before = sandbox.read(relative);
    // Thirty lines above everything move every finding 30 lines down; one E711 is fixed.
    let filler: String = (1..=30).map(|i| format!("# filler line {i}\n")).collect();
    let fixed = before.replacen(
        "if self.host_ip != None:",
        "if self.host_ip is not None:",
        1,
    );
    assert_ne!(
        fixed, before,
        "the example changed: pick another finding to fix"
    );
    sandbox.write(relative, &format!("{filler}{fixed}"));
    sandbox.commit_all("move and fix");
    let (code, all, output) = ratchet(&sandbox, &["docker"]);
    assert_eq!(code, 0, "{output}");
    let docker = comparison(&all, "docker");
    assert!(docker["worse"].as_array().unwrap().is_empty(), "{docker:#}");
    let fixed: Vec<&serde_json::Value> = docker["fixed"].as_array().unwrap().iter().collect();
    assert_eq!(fixed.len(), 1, "{docker:#}");
    assert_eq!(fixed[0]["rule"], "E711");
    let base_line = before
        .lines()
        .position(|l| l.contains("if self.host_ip != None:"))
        .unwrap()
        + 1;
    assert_eq!(fixed[0]["line"], base_line);
    let existing = docker["existing"].as_array().unwrap();
    assert!(existing.len() > 30, "{docker:#}");
    // Every existing finding is reported where it now is: 30 lines further down.
    let e501 = existing.iter().find(|f| f["rule"] == "E501").unwrap();
    let first_long = before.lines().position(|l| l.len() > 100).unwrap() + 1;
    assert_eq!(e501["line"], first_long + 30, "{e501:#}");
    // The text form says the same, for people.
    let text = sandbox.xtask(&["ratchet", "--base", "HEAD~1", "docker"]);
    assert_eq!(text.code, 0, "{}", text.all());
    assert!(
        text.stdout.contains("docker (Development) against HEAD~1"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("fixed     src/components/docker_component.py:"),
        "{}",
        text.stdout
    );
}

#[test]
fn the_pull_request_check_fails_on_a_ratchet_violation() {
    let text = std::fs::read_to_string(workspace().join(".github/workflows/quality.yml")).unwrap();
    let workflow: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let jobs = workflow["jobs"].as_object().unwrap();
    let steps: Vec<&serde_json::Value> = jobs
        .values()
        .flat_map(|job| job["steps"].as_array().into_iter().flatten())
        .filter(|step| {
            step["run"]
                .as_str()
                .is_some_and(|run| run.contains("cargo xtask ratchet"))
        })
        .collect();
    assert!(!steps.is_empty(), "quality.yml never runs the ratchet");
    for step in steps {
        assert_eq!(
            step["if"], "github.event_name == 'pull_request'",
            "{step:#}"
        );
        let run = step["run"].as_str().unwrap();
        // Its exit code is the step's: nothing swallows a 1.
        assert!(!run.contains("||") && !run.contains("code="), "{run}");
        assert!(run.contains("--base \"$BASE_SHA\""), "{run}");
        assert_eq!(
            step["env"]["BASE_SHA"],
            "${{ github.event.pull_request.base.sha }}"
        );
    }
}

#[test]
fn only_the_main_branch_attests_records_and_only_that_job_may_sign() {
    let text = std::fs::read_to_string(workspace().join(".github/workflows/quality.yml")).unwrap();
    let workflow: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(workflow["permissions"], serde_json::json!({}));
    let jobs = workflow["jobs"].as_object().unwrap();
    let attesting: Vec<(&String, &serde_json::Value)> = jobs
        .iter()
        .filter(|(_, job)| {
            job["steps"].as_array().into_iter().flatten().any(|step| {
                step["uses"]
                    .as_str()
                    .is_some_and(|uses| uses.starts_with("actions/attest@"))
            })
        })
        .collect();
    let [(name, job)] = attesting.as_slice() else {
        panic!("one job should attest: {attesting:?}");
    };
    assert!(
        job["if"]
            .as_str()
            .unwrap()
            .starts_with("github.event_name == 'push' && github.ref == 'refs/heads/main'"),
        "{name}: {job:#}"
    );
    assert_eq!(
        job["permissions"],
        serde_json::json!({"contents": "read", "id-token": "write", "attestations": "write"})
    );
    let attest = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/attest@"))
        })
        .unwrap();
    // Pinned by full commit.
    let pin = attest["uses"]
        .as_str()
        .unwrap()
        .trim_start_matches("actions/attest@");
    assert_eq!(pin.len(), 40, "{pin}");
    assert_eq!(
        attest["with"]["predicate-type"],
        "https://xtask-promote.dev/attestations/promotion/v1"
    );
    // No other job can mint an OIDC token or write attestations.
    for (other, job) in jobs.iter().filter(|(n, _)| *n != *name) {
        let permissions = job["permissions"].as_object().cloned().unwrap_or_default();
        assert!(
            !permissions.contains_key("id-token") && !permissions.contains_key("attestations"),
            "{other}: {permissions:?}"
        );
    }
}
