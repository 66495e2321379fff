//! Snapshot tests of every report renderer, on reports decided by the real gates from
//! hand-made step results (`testutil::assessed_report`): a blocked one with findings, failing
//! gates and blockers, and a passing one, plus a phase-5 report with its deploy decided.

use std::collections::BTreeMap;

use super::{PromotionReport, json, junit, markdown, text};
use crate::testutil::{assessed_report, registry};
use crate::vocab::GateKind;

/// Three ruff findings and 47.1 % coverage: lint and coverage fail, with blockers.
fn blocked() -> PromotionReport {
    assessed_report(&registry(), "narrative-arc-orchestrator", 3, 47.1)
}

fn passing() -> PromotionReport {
    assessed_report(&registry(), "carbon", 0, 72.06)
}

/// Phase 4 and 5 of carbon, the deploy rolled back: the deployment gate fails with the
/// rollback's proof, and the report carries the deployment section.
fn rolled_back() -> PromotionReport {
    use crate::deploy::model::{Outcome, Rollback, tests::sample};
    use crate::plan::{PhaseSelection, plan_component};
    use crate::vocab::Phase;
    use crate::vocab::Stage;

    let config = registry();
    let component = config.component("carbon").unwrap();
    let phases = PhaseSelection(vec![Phase::Validate, Phase::Deploy]);
    let plan = plan_component(component, Stage::Development, &phases, None, false).unwrap();
    let mut deployment = sample(Stage::Staging, Outcome::RolledBack, 7);
    deployment.failure = Some("container carbon exited with code 3".into());
    deployment.rollback = Some(Rollback {
        proven: true,
        message: "carbon was removed again".into(),
        time_to_healthy_ms: None,
        settle: None,
        running: Some("nothing".into()),
    });
    // The validation evidence of a passing carbon, re-decided with the deploy as a fact.
    let passing = passing();
    let steps: BTreeMap<_, _> = passing.steps.iter().map(|s| (s.name, s.clone())).collect();
    let facts = crate::gates::Facts {
        readme: Some(crate::readme::ReadmeCheck {
            path: component.readme.clone(),
            exists: true,
            missing_sections: vec![],
            placeholders: vec![],
        }),
        dependencies: component
            .depends_on
            .iter()
            .map(|d| (d.clone(), Stage::Staging))
            .collect(),
        ..Default::default()
    };
    let mut evidence = crate::assess::Evidence::new(
        plan,
        steps,
        facts,
        chrono::NaiveDate::from_ymd_opt(2025, 11, 3)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap(),
        "2025-11-03T09:00:00Z".into(),
    );
    evidence.add_deployment(
        deployment,
        std::time::Duration::from_secs(120),
        "recover by hand",
    );
    crate::assess::report(&config, &evidence).unwrap()
}

#[test]
fn the_reports_under_test_are_what_their_names_say() {
    assert!(!blocked().promotable && !blocked().blockers.is_empty());
    assert!(passing().promotable && passing().blockers.is_empty());
    let rolled_back = rolled_back();
    assert!(!rolled_back.promotable);
    assert_eq!(rolled_back.blockers.len(), 1);
    assert_eq!(rolled_back.blockers[0].gate, GateKind::Deployment);
}

#[test]
fn text() {
    console::set_colors_enabled(false);
    insta::assert_snapshot!("text_blocked", text::render(&blocked(), false));
    insta::assert_snapshot!("text_passing", text::render(&passing(), false));
    insta::assert_snapshot!("text_rolled_back", text::render(&rolled_back(), false));
}

#[test]
fn markdown() {
    insta::assert_snapshot!("markdown_blocked", markdown::render(&blocked()));
    insta::assert_snapshot!("markdown_passing", markdown::render(&passing()));
    insta::assert_snapshot!("markdown_rolled_back", markdown::render(&rolled_back()));
}

#[test]
fn junit() {
    insta::assert_snapshot!("junit_blocked", junit::render(&blocked()).unwrap());
    insta::assert_snapshot!("junit_passing", junit::render(&passing()).unwrap());
}

#[test]
fn json() {
    insta::assert_snapshot!("json_blocked", json::render(&blocked()).unwrap());
    insta::assert_snapshot!("json_rolled_back", json::render(&rolled_back()).unwrap());
}
