//! Helpers for unit tests: the repository's own registry, loaded as the commands load it, and
//! hand-built promotion reports for renderers.

use indexmap::IndexMap;

use crate::config::{self, Config};
use crate::gates::{Blocker, GateResult};
use crate::report::PromotionReport;
use crate::report::model::RunSummary;
use crate::tools::result::StepResult;
use crate::tools::{Finding, Severity, StepKind};
use crate::vocab::{GateKind, Stage};

/// Writes `text` to `path` under `root`, creating its folders.
pub fn write_file(root: &std::path::Path, path: &str, text: &str) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().expect("a path under the root has a parent"))
        .expect("folders can be created");
    std::fs::write(full, text).expect("the file can be written");
}

/// The workspace's `xtask.toml` (the bundled example's registry), so snapshots show what the
/// committed generated files and the users see.
pub fn registry() -> Config {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(config::CONFIG_FILE_NAME);
    config::load(&path).expect("the workspace registry loads")
}

/// A promotion report of `carbon` (Development -> Staging) with `errors` ruff findings,
/// `warnings` pyright warnings and `infos` low-severity bandit findings; the lint gate fails
/// with a blocker when there are errors. Coverage 72.06 %.
pub fn report_with_findings(errors: usize, warnings: usize, infos: usize) -> PromotionReport {
    let finding = |code: &str, severity: Severity, i: usize| Finding {
        file: "src/components/carbon_component.py".into(),
        line: Some(i as u32 + 1),
        column: Some(1),
        code: code.into(),
        message: format!("{code} number {}", i + 1),
        severity,
        fixable: false,
    };
    let step = |kind: StepKind, findings: Vec<Finding>| {
        let command = vec![
            kind.tool().name().into(),
            "src/components/carbon_component.py".into(),
        ];
        let passed = !findings.iter().any(|f| f.severity == Severity::Error);
        StepResult::verdict(kind, "1.0", command, passed, findings, 10)
    };
    let mut quality_gates = IndexMap::new();
    quality_gates.insert(
        crate::vocab::GateKind::Lint,
        GateResult::from(crate::gates::Outcome::Lint {
            findings: errors,
            unformatted: 0,
        }),
    );
    let blockers = if errors > 0 {
        vec![Blocker {
            gate: GateKind::Lint,
            message: format!("{errors} ruff findings (0 safely fixable)"),
            fix: "fix them by hand".into(),
        }]
    } else {
        Vec::new()
    };
    let steps = vec![
        step(
            StepKind::RuffCheck,
            (0..errors)
                .map(|i| finding("E501", Severity::Error, i))
                .collect(),
        ),
        step(
            StepKind::Pyright,
            (0..warnings)
                .map(|i| finding("reportUnusedVariable", Severity::Warning, i))
                .collect(),
        ),
        step(
            StepKind::Bandit,
            (0..infos)
                .map(|i| finding("B101", Severity::Info, i))
                .collect(),
        ),
    ];
    PromotionReport {
        schema_version: crate::report::model::REPORT_SCHEMA_VERSION,
        component: "carbon".into(),
        display_name: "Carbon".into(),
        group: "Core Infrastructure".into(),
        from_stage: Stage::Development,
        to_stage: Stage::Staging,
        phases: vec![1, 2, 3, 4],
        promotable: errors == 0,
        passed: errors == 0,
        generated_at: "2025-11-03T09:00:00Z".into(),
        quality_gates,
        blockers,
        summary: RunSummary {
            steps: steps.len(),
            cached_steps: 0,
            findings: errors + warnings + infos,
            coverage: Some(72.06),
        },
        steps,
        deployment: None,
        integration: None,
    }
}

/// A phase-4 report for `name` decided by the real gates on hand-made step results: `lint`
/// ruff findings, one low-severity bandit finding, five passing tests, `coverage` percent,
/// every dependency still in Development.
pub fn assessed_report(config: &Config, name: &str, lint: usize, coverage: f64) -> PromotionReport {
    use std::collections::BTreeMap;

    use crate::gates::Facts;
    use crate::plan::{PhaseSelection, plan_component};
    use crate::tools::pytest::{Coverage, TestCounts};

    let component = config.component(name).expect("a registered component");
    let plan = plan_component(
        component,
        Stage::Development,
        &PhaseSelection::parse("all").unwrap(),
        None,
        false,
    )
    .unwrap();
    let finding = |code: &str, severity: Severity, i: usize, message: &str| Finding {
        file: format!("{}/module.py", component.coverage_root()),
        line: Some(i as u32 + 1),
        column: Some(5),
        code: code.into(),
        message: message.into(),
        severity,
        fixable: i.is_multiple_of(2),
    };
    let result = |kind: StepKind, findings: Vec<Finding>| {
        let command = vec![kind.tool().name().into(), component.source.clone()];
        let passed = !findings.iter().any(|f| f.severity == Severity::Error);
        let mut result = StepResult::verdict(kind, "9.9.9", command, passed, findings, 5);
        result.cached = kind != StepKind::Pytest;
        result
    };
    let mut steps = BTreeMap::new();
    steps.insert(
        StepKind::RuffCheck,
        result(
            StepKind::RuffCheck,
            (0..lint)
                .map(|i| finding("E501", Severity::Error, i, "Line too long (120 > 100)"))
                .collect(),
        ),
    );
    steps.insert(StepKind::RuffFormat, result(StepKind::RuffFormat, vec![]));
    steps.insert(StepKind::Pyright, result(StepKind::Pyright, vec![]));
    steps.insert(
        StepKind::Bandit,
        result(
            StepKind::Bandit,
            vec![finding(
                "B101",
                Severity::Info,
                0,
                "Use of assert detected. (severity low, confidence high)",
            )],
        ),
    );
    let pytest = StepResult::test_run(
        StepKind::Pytest,
        "9.9.9",
        vec!["pytest".into(), component.source.clone()],
        TestCounts {
            total: 5,
            passed: 5,
            failed: 0,
            errors: 0,
            skipped: 0,
        },
        Some(Coverage {
            percent: coverage,
            covered: 98,
            total: 136,
            files: 1,
            branch: true,
        }),
        vec![],
        5,
    );
    steps.insert(StepKind::Pytest, pytest);
    let facts = Facts {
        readme: Some(crate::readme::check(
            &component.readme,
            Some("# X\n## Overview\n## Usage\n## API\n## Testing\n"),
            &config.policy.readme_sections,
        )),
        dependencies: component
            .depends_on
            .iter()
            .map(|d| (d.clone(), Stage::Development))
            .collect(),
        staging_since: None,
        ..Facts::default()
    };
    let now = chrono::NaiveDate::from_ymd_opt(2025, 11, 3)
        .unwrap()
        .and_hms_opt(9, 0, 0)
        .unwrap();
    let evidence =
        crate::assess::Evidence::new(plan, steps, facts, now, "2025-11-03T09:00:00Z".into());
    crate::assess::report(config, &evidence).unwrap()
}
