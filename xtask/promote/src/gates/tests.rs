//! Unit tests of every gate rule, on hand-built step results.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};

use super::*;
use crate::config::Config;
use crate::plan::{PhaseSelection, plan_component};
use crate::tools::Finding;
use crate::tools::pytest::{Coverage, TestCounts};
use crate::tools::result::{StepError, StepOutcome, StepResult};

fn config() -> Config {
    let components = r#"
[components.llm]
display_name = "LLM"
group = "Core Infrastructure"
source = "src/components/llm"
tests = ["tests/test_llm.py"]
depends_on = ["model-management"]
[components.model-management]
display_name = "Model Management"
group = "Core Infrastructure"
source = "src/components/model_management"
"#;
    let text = crate::config::test_registry_head(&["Core Infrastructure"]) + components;
    crate::config::parse(&text, &std::env::temp_dir().join("xtask.toml")).unwrap()
}

fn finding(code: &str, severity: Severity, fixable: bool) -> Finding {
    Finding {
        file: "src/components/llm/client.py".into(),
        line: Some(3),
        column: Some(1),
        code: code.into(),
        message: "m".into(),
        severity,
        fixable,
    }
}

fn step(kind: StepKind, findings: Vec<Finding>) -> StepResult {
    let command = vec![kind.tool().name().into()];
    StepResult::verdict(kind, "1", command, findings.is_empty(), findings, 1)
}

fn pytest(percent: Option<f64>, failed: u64) -> StepResult {
    let counts = TestCounts {
        total: 10,
        passed: 10 - failed,
        failed,
        errors: 0,
        skipped: 0,
    };
    let coverage = percent.map(|percent| Coverage {
        percent,
        covered: 1,
        total: 2,
        files: 1,
        branch: true,
    });
    let command = vec!["pytest".into()];
    StepResult::test_run(StepKind::Pytest, "1", command, counts, coverage, vec![], 1)
}

fn clean_steps() -> BTreeMap<StepKind, StepResult> {
    [
        step(StepKind::RuffCheck, vec![]),
        step(StepKind::RuffFormat, vec![]),
        step(StepKind::Pyright, vec![]),
        step(StepKind::Bandit, vec![]),
        pytest(Some(75.0), 0),
    ]
    .into_iter()
    .map(|s| (s.name, s))
    .collect()
}

fn clean_facts() -> Facts {
    Facts {
        readme: Some(crate::readme::ReadmeCheck {
            path: "README.md".into(),
            exists: true,
            missing_sections: vec![],
            placeholders: vec![],
        }),
        dependencies: vec![("model-management".into(), Stage::Staging)],
        staging_since: None,
        production: Some(crate::evidence::passing_facts(
            noon(2026, 11, 21).and_utc().timestamp(),
        )),
        drill: Some(drill(Some((noon(2026, 11, 19), true)))),
        ..Facts::default()
    }
}

/// The rollback fact of Staging with a 7-day window: the newest drill finished at that time,
/// passing or not; `None`, never drilled.
fn drill(last: Option<(NaiveDateTime, bool)>) -> DrillFact {
    DrillFact {
        environment: Stage::Staging,
        window_days: 7,
        last: Ok(last.map(|(finished_at, passed)| DrillRun {
            finished_at,
            passed,
            back_image: "sha256:111111111111".into(),
            forward_image: "sha256:222222222222".into(),
            failure: (!passed).then(|| "the roll back to the previous proven image sha256:111111111111 was not proven: web is not healthy".into()),
        })),
    }
}

fn noon(y: i32, m: u32, d: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap()
}

fn decide_with(
    from: Stage,
    target: Option<Stage>,
    steps: &BTreeMap<StepKind, StepResult>,
    facts: &Facts,
) -> Decision {
    let config = config();
    let component = config.component("llm").unwrap().clone();
    let plan = plan_component(
        &component,
        from,
        &PhaseSelection::parse("all").unwrap(),
        target,
        false,
    )
    .unwrap();
    agreeing(decide(
        &plan,
        &component,
        &config,
        steps,
        facts,
        noon(2026, 11, 21),
    ))
}

/// Every decision the tests make is checked here: a gate fails exactly when a blocker names
/// it, so a verdict read from an outcome never disagrees with what the blockers tell the user.
fn agreeing(decision: Decision) -> Decision {
    for (kind, result) in &decision.gates {
        let blocked = decision.blockers.iter().any(|b| b.gate == *kind);
        assert_eq!(
            result.passed(),
            !blocked,
            "the {kind} gate's verdict and its blockers disagree: {result:?} {:?}",
            decision.blockers
        );
    }
    assert_eq!(
        decision.passed,
        decision.gates.iter().all(|(_, g)| g.passed())
    );
    decision
}

fn gate(decision: &Decision, kind: GateKind) -> &GateResult {
    &decision.gates.iter().find(|(k, _)| *k == kind).unwrap().1
}

/// The first blocker of this gate; panics (the test fails) when there is none.
fn blocker_of(decision: &Decision, gate: GateKind) -> &Blocker {
    decision
        .blockers
        .iter()
        .find(|b| b.gate == gate)
        .unwrap_or_else(|| panic!("no {gate} blocker in {:?}", decision.blockers))
}

#[test]
fn everything_clean_passes_every_gate() {
    let decision = decide_with(Stage::Development, None, &clean_steps(), &clean_facts());
    assert!(decision.passed, "{:?}", decision.blockers);
    assert!(decision.blockers.is_empty());
}

#[test]
fn fixable_lint_findings_point_at_phase_one_fix() {
    let mut steps = clean_steps();
    steps.insert(
        StepKind::RuffCheck,
        step(
            StepKind::RuffCheck,
            vec![
                finding("F401", Severity::Error, true),
                finding("B006", Severity::Error, false),
            ],
        ),
    );
    let decision = decide_with(Stage::Development, None, &steps, &clean_facts());
    assert!(!gate(&decision, GateKind::Lint).passed());
    let blocker = blocker_of(&decision, GateKind::Lint);
    assert!(
        blocker
            .fix
            .contains("cargo xtask promote llm --phase 1 --fix"),
        "{}",
        blocker.fix
    );
    assert!(
        blocker.fix.contains("remaining 1 by hand"),
        "{}",
        blocker.fix
    );
}

#[test]
fn a_step_error_fails_its_gate_never_passes_it() {
    let mut steps = clean_steps();
    steps.insert(
        StepKind::Pyright,
        StepResult::error(
            StepKind::Pyright,
            "1.1.414",
            vec!["pyright".into()],
            StepError {
                kind: ErrorKind::TimedOut,
                message: "pyright did not finish within 600s".into(),
            },
            600_000,
        ),
    );
    let decision = decide_with(Stage::Development, None, &steps, &clean_facts());
    assert!(!gate(&decision, GateKind::Types).passed());
    assert!(
        decision
            .blockers
            .iter()
            .any(|b| b.gate == GateKind::Types && b.fix.contains("[timeouts]"))
    );
}

#[test]
fn type_gate_counts_errors_not_warnings() {
    let mut steps = clean_steps();
    steps.insert(
        StepKind::Pyright,
        step(
            StepKind::Pyright,
            vec![finding("reportUnusedVariable", Severity::Warning, false)],
        ),
    );
    let decision = decide_with(Stage::Development, None, &steps, &clean_facts());
    assert!(gate(&decision, GateKind::Types).passed());
}

#[test]
fn security_gate_fails_at_or_above_the_configured_severity() {
    let mut steps = clean_steps();
    steps.insert(
        StepKind::Bandit,
        step(
            StepKind::Bandit,
            vec![finding("B403", Severity::Info, false)],
        ),
    );
    let decision = decide_with(Stage::Development, None, &steps, &clean_facts());
    assert!(gate(&decision, GateKind::Security).passed());
    steps.insert(
        StepKind::Bandit,
        step(
            StepKind::Bandit,
            vec![finding("B301", Severity::Warning, false)],
        ),
    );
    let decision = decide_with(Stage::Development, None, &steps, &clean_facts());
    assert!(!gate(&decision, GateKind::Security).passed());
}

#[test]
fn the_security_blocker_keeps_ids_and_paths_as_they_are_and_counts_in_words() {
    let mut upper = finding("B301", Severity::Warning, false);
    upper.file = "src/components/LLM/Client.py".into();
    let mut steps = clean_steps();
    steps.insert(
        StepKind::Bandit,
        step(StepKind::Bandit, vec![upper.clone()]),
    );
    let decision = decide_with(Stage::Development, None, &steps, &clean_facts());
    let blocker = blocker_of(&decision, GateKind::Security);
    assert_eq!(
        blocker.message,
        format!(
            "1 bandit finding at or above medium severity (B301 at {})",
            upper.location()
        )
    );
    let mut second = upper.clone();
    second.code = "B602".into();
    steps.insert(
        StepKind::Bandit,
        step(StepKind::Bandit, vec![upper, second]),
    );
    let decision = decide_with(Stage::Development, None, &steps, &clean_facts());
    let blocker = blocker_of(&decision, GateKind::Security);
    assert!(
        blocker
            .message
            .starts_with("2 bandit findings at or above medium severity (")
    );
    assert!(
        blocker
            .message
            .contains("B602 at src/components/LLM/Client.py:3")
    );
}

#[test]
fn coverage_threshold_is_inclusive_and_names_the_gap() {
    let mut steps = clean_steps();
    steps.insert(StepKind::Pytest, pytest(Some(70.0), 0));
    let decision = decide_with(Stage::Development, None, &steps, &clean_facts());
    assert!(gate(&decision, GateKind::Coverage).passed());
    steps.insert(StepKind::Pytest, pytest(Some(31.25), 0));
    let decision = decide_with(Stage::Development, None, &steps, &clean_facts());
    let blocker = blocker_of(&decision, GateKind::Coverage);
    assert!(blocker.message.contains("31.25%"), "{}", blocker.message);
    assert!(blocker.fix.contains("+38.75 points"), "{}", blocker.fix);
}

#[test]
fn no_coverage_data_fails_with_a_message_never_zero() {
    let mut steps = clean_steps();
    steps.insert(StepKind::Pytest, pytest(None, 0));
    let decision = decide_with(Stage::Development, None, &steps, &clean_facts());
    let coverage = gate(&decision, GateKind::Coverage);
    assert!(!coverage.passed());
    assert!(coverage.measured().is_null());
    assert!(
        decision
            .blockers
            .iter()
            .any(|b| b.message.contains("no coverage data"))
    );
}

#[test]
fn no_tests_fail_the_tests_and_coverage_gates() {
    let mut steps = clean_steps();
    steps.insert(
        StepKind::Pytest,
        StepResult::error(
            StepKind::Pytest,
            "9.2.0",
            vec![],
            StepError {
                kind: ErrorKind::NoTests,
                message: "llm has no tests".into(),
            },
            0,
        ),
    );
    let decision = decide_with(Stage::Development, None, &steps, &clean_facts());
    assert!(!gate(&decision, GateKind::Tests).passed());
    assert!(!gate(&decision, GateKind::Coverage).passed());
}

#[test]
fn failing_tests_fail_the_tests_gate() {
    let mut steps = clean_steps();
    steps.insert(StepKind::Pytest, pytest(Some(90.0), 2));
    let decision = decide_with(Stage::Development, None, &steps, &clean_facts());
    assert!(!gate(&decision, GateKind::Tests).passed());
    assert!(
        decision
            .blockers
            .iter()
            .any(|b| b.message == "2 of 10 tests failed")
    );
}

#[test]
fn a_missing_readme_points_at_the_scaffold() {
    let mut facts = clean_facts();
    facts.readme = Some(crate::readme::check(
        "README.md",
        None,
        &["Overview".into()],
    ));
    let decision = decide_with(Stage::Development, None, &clean_steps(), &facts);
    assert!(!gate(&decision, GateKind::Docs).passed());
    assert!(
        decision
            .blockers
            .iter()
            .any(|b| b.fix.contains("--phase 3 --fix"))
    );
}

#[test]
fn dependencies_below_the_target_are_named() {
    let mut facts = clean_facts();
    facts.dependencies = vec![("model-management".into(), Stage::Development)];
    let decision = decide_with(Stage::Development, None, &clean_steps(), &facts);
    let blocker = blocker_of(&decision, GateKind::Dependencies);
    assert_eq!(
        blocker.message,
        "dependency model-management is in Development, below Staging"
    );
    assert!(
        blocker
            .fix
            .contains("cargo xtask promote model-management --target staging")
    );
}

#[test]
fn stages_cannot_be_skipped_or_repeated() {
    let decision = decide_with(
        Stage::Development,
        Some(Stage::Production),
        &clean_steps(),
        &clean_facts(),
    );
    assert!(!gate(&decision, GateKind::Stage).passed());
    assert!(
        decision
            .blockers
            .iter()
            .any(|b| b.message.contains("cannot be skipped"))
    );
    let decision = decide_with(
        Stage::Staging,
        Some(Stage::Staging),
        &clean_steps(),
        &clean_facts(),
    );
    assert!(!gate(&decision, GateKind::Stage).passed());
    assert!(
        decision
            .blockers
            .iter()
            .any(|b| b.message.contains("not a promotion"))
    );
}

#[test]
fn observation_needs_full_days_in_staging() {
    let mut steps = clean_steps();
    steps.insert(StepKind::Pytest, pytest(Some(85.0), 0));
    let mut facts = clean_facts();
    facts.dependencies = vec![("model-management".into(), Stage::Production)];
    // `now` is 2026-11-21 12:00; a date-only row of 2026-11-15 means 00:00, 6 days 12 hours.
    facts.staging_since =
        NaiveDate::from_ymd_opt(2026, 11, 15).and_then(|d| d.and_hms_opt(0, 0, 0));
    let decision = decide_with(Stage::Staging, None, &steps, &facts);
    assert!(!gate(&decision, GateKind::Observation).passed());
    let blocker = blocker_of(&decision, GateKind::Observation);
    assert!(
        blocker.fix.contains("2026-11-22 00:00 UTC"),
        "{}",
        blocker.fix
    );
    assert!(blocker.fix.contains("(12h more)"), "{}", blocker.fix);
    facts.staging_since =
        NaiveDate::from_ymd_opt(2026, 11, 14).and_then(|d| d.and_hms_opt(0, 0, 0));
    let decision = decide_with(Stage::Staging, None, &steps, &facts);
    assert!(
        gate(&decision, GateKind::Observation).passed(),
        "{:?}",
        decision.blockers
    );
    facts.staging_since = None;
    let decision = decide_with(Stage::Staging, None, &steps, &facts);
    assert!(!gate(&decision, GateKind::Observation).passed());
}

#[test]
fn six_days_twenty_three_hours_in_staging_is_not_enough() {
    let mut steps = clean_steps();
    steps.insert(StepKind::Pytest, pytest(Some(85.0), 0));
    let mut facts = clean_facts();
    facts.dependencies = vec![("model-management".into(), Stage::Production)];
    // `now` is 2026-11-21 12:00; a recorded promotion at 2026-11-14 13:00 UTC is 6 days 23h.
    facts.staging_since = Some(noon(2026, 11, 14) + chrono::Duration::hours(1));
    let decision = decide_with(Stage::Staging, None, &steps, &facts);
    let observation = gate(&decision, GateKind::Observation);
    assert!(!observation.passed());
    assert_eq!(observation.measured(), serde_json::json!(6.96));
    let blocker = blocker_of(&decision, GateKind::Observation);
    assert!(
        blocker.message.contains("6 days 23h of the 7 days"),
        "{}",
        blocker.message
    );
    assert!(
        blocker.fix.contains("2026-11-21 13:00 UTC (1h more)"),
        "{}",
        blocker.fix
    );
    assert!(!decision.passed);
    // Exactly seven days is enough.
    facts.staging_since = Some(noon(2026, 11, 14));
    let decision = decide_with(Stage::Staging, None, &steps, &facts);
    assert!(gate(&decision, GateKind::Observation).passed());
    assert!(decision.passed, "{:?}", decision.blockers);
}

#[test]
fn dependencies_at_or_above_the_target_pass_and_each_one_below_is_named() {
    let config = config();
    let mut component = config.component("llm").unwrap().clone();
    component.depends_on = vec!["model-management".into(), "neo4j".into(), "docker".into()];
    let plan = plan_component(
        &component,
        Stage::Staging,
        &PhaseSelection::parse("all").unwrap(),
        None,
        false,
    )
    .unwrap();
    let mut steps = clean_steps();
    steps.insert(StepKind::Pytest, pytest(Some(85.0), 0));
    let mut facts = clean_facts();
    facts.staging_since = Some(noon(2026, 11, 1));
    facts.dependencies = vec![
        ("model-management".into(), Stage::Production),
        ("neo4j".into(), Stage::Staging),
        ("docker".into(), Stage::Development),
    ];
    let decision = decide(
        &plan,
        &component,
        &config,
        &steps,
        &facts,
        noon(2026, 11, 21),
    );
    let messages: Vec<&str> = decision
        .blockers
        .iter()
        .filter(|b| b.gate == GateKind::Dependencies)
        .map(|b| b.message.as_str())
        .collect();
    assert_eq!(
        messages,
        vec![
            "dependency neo4j is in Staging, below Production",
            "dependency docker is in Development, below Production"
        ]
    );
    assert_eq!(
        gate(&decision, GateKind::Dependencies).summary(),
        "2 of 3 below Production"
    );
    facts.dependencies = vec![
        ("model-management".into(), Stage::Production),
        ("neo4j".into(), Stage::Production),
        ("docker".into(), Stage::Production),
    ];
    let decision = decide(
        &plan,
        &component,
        &config,
        &steps,
        &facts,
        noon(2026, 11, 21),
    );
    assert!(decision.passed, "{:?}", decision.blockers);
}

#[test]
fn a_collection_error_is_named_with_its_cause_and_a_command_that_can_be_pasted() {
    let mut steps = clean_steps();
    let mut result = pytest(None, 0);
    result.command = std::iter::once("python".to_owned())
        .chain(crate::tools::pytest::args(
            crate::engine::RUN_DIR,
            "src/components",
            &[],
            &["tests/test_models.py".to_owned()],
        ))
        .collect();
    let findings = vec![Finding {
        file: "tests/test_models.py".into(),
        line: None,
        column: None,
        code: "test-error".into(),
        message:
            "tests.test_models: cannot be collected: ModuleNotFoundError: No module named 'torch'"
                .into(),
        severity: Severity::Error,
        fixable: false,
    }];
    result.outcome = StepOutcome::TestRun {
        counts: TestCounts {
            total: 1,
            passed: 0,
            failed: 0,
            errors: 1,
            skipped: 0,
        },
        coverage: None,
        findings,
    };
    steps.insert(StepKind::Pytest, result);
    let decision = decide_with(Stage::Development, None, &steps, &clean_facts());
    let blocker = blocker_of(&decision, GateKind::Tests);
    assert_eq!(
        blocker.message,
        "1 test module cannot be collected (ModuleNotFoundError: No module named 'torch')"
    );
    assert!(!blocker.fix.contains("XTASK_RUN_DIR"), "{}", blocker.fix);
    assert!(
        blocker.fix.contains("`.xtask/venv/bin/python -m pytest")
            || blocker.fix.contains("/.xtask/venv/bin/python -m pytest"),
        "{}",
        blocker.fix
    );
}
fn used(component: &str, file: &str, line: usize) -> crate::imports::components::Use {
    crate::imports::components::Use {
        component: component.into(),
        file: file.into(),
        line,
    }
}

#[test]
fn importing_an_undeclared_component_blocks_with_the_file_line_and_the_fix() {
    let mut facts = clean_facts();
    facts.imported = Some(vec![
        used("model-management", "src/components/llm/client.py", 12),
        used("neo4j", "src/components/llm/store.py", 4),
    ]);
    let decision = decide_with(Stage::Development, None, &clean_steps(), &facts);
    let gate = gate(&decision, GateKind::Dependencies);
    assert!(!gate.passed());
    assert_eq!(
        gate.summary(),
        "all 1 at Staging or above; imports neo4j undeclared"
    );
    let blockers: Vec<&Blocker> = decision
        .blockers
        .iter()
        .filter(|b| b.gate == GateKind::Dependencies)
        .collect();
    assert_eq!(blockers.len(), 1, "{blockers:?}");
    assert_eq!(
        blockers[0].message,
        "src/components/llm/store.py:4 imports neo4j, which llm does not declare as a dependency"
    );
    assert_eq!(
        blockers[0].fix,
        "declare it in xtask.toml: depends_on = [\"model-management\", \"neo4j\"] under [components.llm]"
    );
}

#[test]
fn a_declared_dependency_never_imported_is_a_warning_not_a_blocker() {
    let mut facts = clean_facts();
    facts.imported = Some(Vec::new());
    facts.unresolved_imports = vec!["src/components/llm/plugins.py:7".into()];
    let decision = decide_with(Stage::Development, None, &clean_steps(), &facts);
    let gate = gate(&decision, GateKind::Dependencies);
    assert!(gate.passed(), "{:?}", decision.blockers);
    assert!(
        !decision
            .blockers
            .iter()
            .any(|b| b.gate == GateKind::Dependencies)
    );
    assert_eq!(
        gate.summary(),
        "all 1 at Staging or above; warning: declared but never imported: model-management; 1 dynamic import not followed (module computed at run time: src/components/llm/plugins.py:7)"
    );
    // Without import facts (nothing read), the gate is what it was.
    let decision = decide_with(Stage::Development, None, &clean_steps(), &clean_facts());
    assert_eq!(gate_summary(&decision), "all 1 at Staging or above");
}

fn gate_summary(decision: &Decision) -> String {
    gate(decision, GateKind::Dependencies).summary()
}

fn decide_deploy(from: Stage, target: Stage, facts: &Facts, integration: bool) -> Decision {
    let config = config();
    let component = config.component("llm").unwrap().clone();
    let phases = PhaseSelection(vec![
        crate::vocab::Phase::Validate,
        crate::vocab::Phase::Deploy,
    ]);
    let plan = plan_component(&component, from, &phases, Some(target), false).unwrap();
    let plan = if integration {
        plan.with_integration()
    } else {
        plan
    };
    agreeing(decide(
        &plan,
        &component,
        &config,
        &clean_steps(),
        facts,
        noon(2026, 11, 21),
    ))
}

fn deployed(result: DeployResult) -> DeploymentFact {
    DeploymentFact {
        service: "llm".into(),
        health_timeout_secs: 120,
        result,
        recovery: "docker tag sha256:ab tta/llm:staging".into(),
    }
}

#[test]
fn the_deploy_is_decided_once_it_ran_and_a_failed_one_blocks_with_the_retry_or_the_recovery() {
    // Before the deploy the decision says whether to deploy: the deployment gate is not in it.
    let before = decide_deploy(Stage::Development, Stage::Staging, &clean_facts(), false);
    assert!(before.promotable);
    assert!(before.gates.iter().all(|(k, _)| *k != GateKind::Deployment));

    let mut facts = clean_facts();
    facts.deployment = Some(deployed(DeployResult::Deployed {
        image: "sha256:abababababab".into(),
        seconds_to_healthy: 3.25,
    }));
    let healthy = decide_deploy(Stage::Development, Stage::Staging, &facts, false);
    assert!(healthy.promotable);
    let deployment = gate(&healthy, GateKind::Deployment);
    assert_eq!(deployment.measured(), serde_json::json!(3.3));
    assert_eq!(deployment.threshold(), serde_json::json!(120));
    assert_eq!(
        deployment.summary(),
        "llm healthy on sha256:abababababab in 3.2s"
    );

    facts.deployment = Some(deployed(DeployResult::RolledBack {
        previous_image: "sha256:cdcdcdcdcdcd".into(),
        failure: "container llm exited with code 3".into(),
        proof: "llm runs sha256:cdcdcdcdcdcd again".into(),
    }));
    let rolled_back = decide_deploy(Stage::Development, Stage::Staging, &facts, false);
    assert!(!rolled_back.passed && !rolled_back.promotable);
    assert_eq!(
        rolled_back.gates.last().map(|(k, _)| *k),
        Some(GateKind::Deployment)
    );
    let blocker = rolled_back.blockers.last().unwrap();
    assert_eq!(blocker.gate, GateKind::Deployment);
    assert!(blocker.message.contains("exited with code 3"));
    assert!(
        blocker
            .fix
            .contains("cargo xtask promote llm --phase 5 --target staging")
    );

    facts.deployment = Some(deployed(DeployResult::RollbackFailed {
        failure: "unhealthy".into(),
        proof: "nothing runs".into(),
    }));
    let broken = decide_deploy(Stage::Development, Stage::Staging, &facts, false);
    assert_eq!(
        broken.blockers.last().unwrap().fix,
        "docker tag sha256:ab tta/llm:staging"
    );
    assert_eq!(
        gate(&broken, GateKind::Deployment).measured(),
        serde_json::json!("deploy failed and the rollback failed: llm may be down")
    );
}

#[test]
fn a_redeploy_is_decided_without_the_stage_gate() {
    let redeploy = decide_deploy(Stage::Staging, Stage::Staging, &clean_facts(), false);
    assert!(redeploy.gates.iter().all(|(k, _)| *k != GateKind::Stage));
    assert!(redeploy.blockers.is_empty());
    assert!(redeploy.promotable);
    let skip = decide_deploy(Stage::Development, Stage::Production, &clean_facts(), false);
    assert!(!gate(&skip, GateKind::Stage).passed());
    assert!(!skip.promotable);
}

fn integration_run(tests_passed: bool, failed: u64) -> IntegrationFact {
    IntegrationFact {
        services: vec!["neo4j".into()],
        services_healthy: true,
        tests_passed,
        tests: Some(TestCounts {
            total: 3,
            passed: 3 - failed,
            failed,
            errors: 0,
            skipped: 0,
        }),
        error: None,
        command: vec!["python".into(), "-m".into(), "pytest".into()],
        first_finding: None,
        teardown: Some((true, "removed".into())),
    }
}

#[test]
fn integration_passes_only_with_passing_tests_and_services_removed() {
    // Asked for but never run: a bug, never a pass.
    let missing = decide_deploy(Stage::Development, Stage::Staging, &clean_facts(), true);
    assert!(!gate(&missing, GateKind::Integration).passed());
    assert!(!missing.promotable);

    let mut facts = clean_facts();
    facts.integration = Some(integration_run(true, 0));
    let passed = decide_deploy(Stage::Development, Stage::Staging, &facts, true);
    assert!(passed.promotable);
    assert_eq!(
        gate(&passed, GateKind::Integration).summary(),
        "3 passed, 0 failed against neo4j"
    );

    facts.integration = Some(integration_run(false, 2));
    let failed = decide_deploy(Stage::Development, Stage::Staging, &facts, true);
    let failing = gate(&failed, GateKind::Integration);
    assert!(!failing.passed());
    assert_eq!(failing.measured(), serde_json::json!("1 passed, 2 failed"));
    let blocker = failed.blockers.last().unwrap();
    assert_eq!(blocker.message, "2 integration tests failed");
    assert!(
        blocker
            .fix
            .contains("cargo xtask promote llm --phase 4 --integration")
    );

    let mut left = integration_run(true, 0);
    left.teardown = Some((false, "network tta-it-llm_default is left".into()));
    facts.integration = Some(left);
    let left = decide_deploy(Stage::Development, Stage::Staging, &facts, true);
    assert_eq!(
        gate(&left, GateKind::Integration).summary(),
        "services left behind"
    );
    assert_eq!(
        left.blockers.last().unwrap().fix,
        "network tta-it-llm_default is left"
    );
}

#[test]
fn a_gate_serialises_to_the_schema_shape_derived_from_its_outcome() {
    let decision = decide_with(Stage::Development, None, &clean_steps(), &clean_facts());
    let value = serde_json::to_value(gate(&decision, GateKind::Coverage)).unwrap();
    assert_eq!(
        value,
        serde_json::json!({
            "passed": true,
            "measured": 75.0,
            "threshold": 70.0,
            "unit": "percent",
            "summary": "75.00% of 2 lines and branches (needs 70%)",
        })
    );
    let value = serde_json::to_value(gate(&decision, GateKind::Dependencies)).unwrap();
    assert_eq!(
        value["measured"],
        serde_json::json!([{"component": "model-management", "stage": "staging"}])
    );
    assert_eq!(value["threshold"], serde_json::json!("staging"));
}

/// The data flows one way: deploy facts -> gates -> reports. `gates` reads neither the
/// reports nor deploy code, and `deploy` never reads the reports, so none of them can patch
/// what another decided.
#[test]
fn gates_deploy_and_reports_depend_one_way() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let uses = |folder: &str, forbidden: &[&str]| -> Vec<String> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(src.join(folder)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for module in forbidden {
                if text.contains(&format!("crate::{module}")) {
                    found.push(format!("{} uses crate::{module}", path.display()));
                }
            }
        }
        found
    };
    assert_eq!(
        uses("gates", &["report", "deploy", "assess"]),
        Vec::<String>::new()
    );
    assert_eq!(uses("deploy", &["report", "assess"]), Vec::<String>::new());
}

/// The config, the `llm` component and its plan from Development for `phases`.
fn planned(phases: &str) -> (Config, crate::config::Component, ComponentPlan) {
    let config = config();
    let component = config.component("llm").unwrap().clone();
    let plan = plan_component(
        &component,
        Stage::Development,
        &PhaseSelection::parse(phases).unwrap(),
        None,
        false,
    )
    .unwrap();
    (config, component, plan)
}

/// The table decides: a row that feeds the lint gate blocks it with its findings, though no
/// code of the gate names its step. Bandit's row stands in for a new lint tool's.
#[test]
fn a_new_row_feeding_the_lint_gate_blocks_it() {
    let mut steps = clean_steps();
    steps.insert(
        StepKind::Bandit,
        step(
            StepKind::Bandit,
            vec![finding("B101", Severity::Error, false)],
        ),
    );
    let (config, component, plan) = planned("all");
    let at = noon(2026, 11, 21);
    let by_the_table = decide(&plan, &component, &config, &steps, &clean_facts(), at);
    assert!(gate(&by_the_table, GateKind::Lint).passed());
    let table: Vec<StepSpec> = STEPS
        .iter()
        .map(|row| StepSpec {
            feeds: if row.kind == StepKind::Bandit {
                &[GateKind::Lint, GateKind::Security]
            } else {
                row.feeds
            },
            ..row.clone()
        })
        .collect();
    let decision = decide_by(
        &table,
        &plan,
        &component,
        &config,
        &steps,
        &clean_facts(),
        at,
    );
    let lint = gate(&decision, GateKind::Lint);
    assert!(!lint.passed());
    assert_eq!(
        lint.outcome,
        Outcome::Lint {
            findings: 1,
            unformatted: 0
        }
    );
    assert_eq!(
        blocker_of(&decision, GateKind::Lint).message,
        "1 bandit finding (0 safely fixable)"
    );
    // And a row that feeds no gate any more leaves it: no step feeds security here.
    let unfed: Vec<StepSpec> = table
        .into_iter()
        .map(|row| StepSpec {
            feeds: if row.kind == StepKind::Bandit {
                &[GateKind::Lint]
            } else {
                row.feeds
            },
            ..row
        })
        .collect();
    let decision = decide_by(
        &unfed,
        &plan,
        &component,
        &config,
        &steps,
        &clean_facts(),
        at,
    );
    assert!(!gate(&decision, GateKind::Security).passed());
}

/// Two security tools: the gate reads both, and names each tool with a blocking finding.
#[test]
fn every_step_feeding_security_counts() {
    let mut steps = clean_steps();
    steps.insert(
        StepKind::Bandit,
        step(
            StepKind::Bandit,
            vec![finding("B105", Severity::Error, false)],
        ),
    );
    let second = step(
        StepKind::Pyright,
        vec![finding("AWS", Severity::Error, false)],
    );
    steps.insert(StepKind::Pyright, second);
    let (config, component, plan) = planned("4");
    let table: Vec<StepSpec> = STEPS
        .iter()
        .map(|row| StepSpec {
            feeds: if row.kind == StepKind::Pyright {
                &[GateKind::Security]
            } else {
                row.feeds
            },
            ..row.clone()
        })
        .collect();
    let decision = decide_by(
        &table,
        &plan,
        &component,
        &config,
        &steps,
        &clean_facts(),
        noon(2026, 11, 21),
    );
    assert!(!gate(&decision, GateKind::Security).passed());
    assert!(
        blocker_of(&decision, GateKind::Security)
            .message
            .starts_with("2 pyright and bandit findings at or above"),
        "{}",
        blocker_of(&decision, GateKind::Security).message
    );
}

#[test]
fn the_production_gates_need_prometheus_evidence() {
    let mut steps = clean_steps();
    steps.insert(StepKind::Pytest, pytest(Some(85.0), 0));
    let mut facts = clean_facts();
    facts.dependencies = vec![("model-management".into(), Stage::Production)];
    facts.staging_since = Some(noon(2026, 11, 1));
    let decision = decide_with(Stage::Staging, None, &steps, &facts);
    assert!(decision.promotable, "{:?}", decision.blockers);
    let uptime = gate(&decision, GateKind::Uptime);
    assert_eq!(uptime.measured(), serde_json::json!(99.9));
    assert!(
        uptime.summary().contains("worst hour"),
        "{}",
        uptime.summary()
    );
    let json = serde_json::to_value(uptime).unwrap();
    assert_eq!(json["facts"]["coverage_percent"], serde_json::json!(100.0));
    assert_eq!(
        gate(&decision, GateKind::Latency).summary(),
        "no SLA, by choice (sla = \"none\")"
    );
    facts.production = None;
    let decision = decide_with(Stage::Staging, None, &steps, &facts);
    for kind in [GateKind::Uptime, GateKind::Latency, GateKind::Monitoring] {
        assert!(
            !gate(&decision, kind).passed(),
            "{kind} passed without evidence"
        );
    }
    assert!(!decision.promotable);
}

#[test]
fn production_needs_a_passing_rollback_drill_inside_the_observation_window() {
    let mut steps = clean_steps();
    steps.insert(StepKind::Pytest, pytest(Some(85.0), 0));
    let mut facts = clean_facts();
    facts.dependencies = vec![("model-management".into(), Stage::Production)];
    facts.staging_since = Some(noon(2026, 11, 1));
    let fix = "`cargo xtask promote llm --phase 5 --drill`";

    // Passed two days ago: the gate passes, with the drill's date and age.
    let decision = decide_with(Stage::Staging, None, &steps, &facts);
    assert!(decision.promotable, "{:?}", decision.blockers);
    let rollback = gate(&decision, GateKind::Rollback);
    assert!(rollback.passed());
    assert_eq!(rollback.measured(), serde_json::json!(2.0));
    assert_eq!(rollback.threshold(), serde_json::json!(7));
    assert!(
        rollback
            .summary()
            .starts_with("drill passed on 2026-11-19 12:00 UTC"),
        "{}",
        rollback.summary()
    );
    let json = serde_json::to_value(rollback).unwrap();
    assert_eq!(json["facts"]["drill"]["passed"], true);
    assert_eq!(json["facts"]["environment"], "staging");

    // Failed, too old, never drilled, unreadable history, not gathered: never a pass.
    let cases = [
        (
            Some(drill(Some((noon(2026, 11, 20), false)))),
            "the last drill (2026-11-20 12:00 UTC) failed: the roll back",
        ),
        (
            Some(drill(Some((noon(2026, 11, 13), true)))),
            "the last passing drill (2026-11-13 12:00 UTC) is older than the 7-day window",
        ),
        (Some(drill(None)), "no rollback drill in Staging"),
        (
            Some(DrillFact {
                last: Err("line 3: not a rollback drill".into()),
                ..drill(None)
            }),
            "the drill history cannot be read: line 3",
        ),
        (None, "the rollback drill lookup did not run"),
    ];
    for (fact, message) in cases {
        facts.drill = fact;
        let decision = decide_with(Stage::Staging, None, &steps, &facts);
        assert!(!gate(&decision, GateKind::Rollback).passed(), "{message}");
        assert!(!decision.promotable, "{message}");
        let blocker = blocker_of(&decision, GateKind::Rollback);
        assert!(blocker.message.starts_with(message), "{}", blocker.message);
        if facts.drill.is_some() {
            assert!(blocker.fix.contains(fix), "{}", blocker.fix);
        }
    }

    // Exactly at the window's edge still counts; a second later does not.
    let edge = noon(2026, 11, 14);
    let fact = drill(Some((edge, true)));
    assert!(fact.passes(noon(2026, 11, 21)));
    assert!(!fact.passes(noon(2026, 11, 21) + chrono::Duration::seconds(1)));

    // Promotions to Staging ask for no drill.
    let decision = decide_with(Stage::Development, None, &steps, &facts);
    assert!(!decision.gates.iter().any(|(k, _)| *k == GateKind::Rollback));
}

/// The rule of each gate is read from its outcome's figures, at their edges.
#[test]
fn a_verdict_is_read_from_the_figures_of_its_outcome() {
    let coverage = |percent| Outcome::Coverage {
        threshold: 70.0,
        measured: CoverageMeasure::Measured(Coverage {
            percent,
            covered: 7,
            total: 10,
            files: 1,
            branch: false,
        }),
    };
    assert!(coverage(70.0).passed() && !coverage(69.99).passed());
    for measure in [CoverageMeasure::NoData, CoverageMeasure::NotMeasured] {
        let outcome = Outcome::Coverage {
            threshold: 0.0,
            measured: measure,
        };
        assert!(!outcome.passed(), "{outcome:?}");
    }
    let docs = |exists, present, unfinished: &[&str]| Outcome::Docs {
        exists,
        present,
        required: 3,
        unfinished: unfinished.iter().map(|s| (*s).to_owned()).collect(),
    };
    assert!(docs(true, 3, &[]).passed());
    assert!(!docs(true, 2, &[]).passed());
    assert!(!docs(true, 3, &["Usage"]).passed());
    assert!(!docs(false, 3, &[]).passed());
    let lint = |findings, unformatted| Outcome::Lint {
        findings,
        unformatted,
    };
    assert!(lint(0, 0).passed() && !lint(1, 0).passed() && !lint(0, 1).passed());
    let errored = TestCounts {
        total: 1,
        errors: 1,
        ..TestCounts::default()
    };
    assert!(!Outcome::Tests(errored).passed());
    let step = StepKind::Pyright;
    for never in [
        Outcome::NoVerdict {
            step,
            errored: false,
        },
        Outcome::Missing {
            what: "x".to_owned(),
        },
    ] {
        assert!(!GateResult::from(never).passed());
    }
}
