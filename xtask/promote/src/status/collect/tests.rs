//! The status report from fixed reports, MATURITY.md texts, history and clock.

use super::*;
use crate::status::fixture;

fn component<'a>(report: &'a StatusReport, name: &str) -> &'a ComponentStatus {
    report
        .components
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn every_readiness_is_told_apart() {
    let report = fixture::status();
    let readiness: Vec<(&str, Readiness)> = report
        .components
        .iter()
        .map(|c| (c.name.as_str(), c.readiness))
        .collect();
    assert_eq!(
        readiness,
        vec![
            ("neo4j", Readiness::Observing),
            ("carbon", Readiness::Ready),
            ("docker", Readiness::Blocked),
            ("model-management", Readiness::Maintained),
            ("llm", Readiness::WaitingOnDependencies),
            ("gameplay-loop", Readiness::Error),
            ("therapeutic-systems", Readiness::AtRisk),
        ]
    );
    let mm = component(&report, "model-management");
    assert_eq!(
        (mm.check, mm.target),
        (Check::Maintenance, Stage::Production)
    );
    assert_eq!(mm.coverage_threshold, 80.0);
    let carbon = component(&report, "carbon");
    assert_eq!(
        (carbon.check, carbon.target),
        (Check::Promotion, Stage::Staging)
    );
    assert_eq!(carbon.coverage_threshold, 70.0);
}

#[test]
fn the_summary_counts_stages_readiness_and_average_coverage() {
    let summary = fixture::status().summary;
    assert_eq!(
        (
            summary.components,
            summary.development,
            summary.staging,
            summary.production
        ),
        (7, 4, 1, 2)
    );
    assert_eq!(summary.coverage_measured, 6);
    // (98.95 + 72.06 + 20.1 + 100 + 75 + 75.5) / 6
    assert_eq!(summary.average_coverage, Some(73.6));
    assert_eq!(
        (
            summary.ready_for_staging,
            summary.ready_for_production,
            summary.at_risk,
            summary.errors
        ),
        (1, 0, 1, 1)
    );
}

#[test]
fn a_staging_component_shows_days_remaining_and_the_earliest_date() {
    let report = fixture::status();
    let observation = component(&report, "neo4j").observation.clone().unwrap();
    assert_eq!(observation.since.as_deref(), Some("2026-11-10T00:00:00Z"));
    assert_eq!(observation.days_observed, 6.5);
    assert_eq!(observation.days_remaining, 0.5);
    assert_eq!(
        observation.earliest.as_deref(),
        Some("2026-11-17T00:00:00Z")
    );
    assert!(component(&report, "carbon").observation.is_none());
}

#[test]
fn week_over_week_compares_with_last_weeks_run() {
    let report = fixture::status();
    assert_eq!(report.history.previous_runs, 3);
    assert_eq!(
        report.history.baseline.as_deref(),
        Some("2026-11-09T09:00:00Z")
    );
    let carbon = component(&report, "carbon").change.clone().unwrap();
    assert_eq!(carbon.since, "2026-11-09T09:00:00Z");
    assert_eq!(carbon.coverage, Some(6.56));
    assert_eq!(
        (carbon.lint, carbon.types, carbon.security),
        (Some(-2), Some(-1), Some(0))
    );
    assert_eq!(carbon.previous_stage, None);
    let neo4j = component(&report, "neo4j").change.clone().unwrap();
    assert_eq!(neo4j.previous_stage, Some(Stage::Development));
    // docker's lint count was unknown last week: no delta rather than a made-up one.
    let docker = component(&report, "docker").change.clone().unwrap();
    assert_eq!((docker.lint, docker.coverage), (None, None));
    // Not in the baseline run: no change to show.
    assert!(component(&report, "gameplay-loop").change.is_none());
}

#[test]
fn time_in_stage_comes_from_maturity_then_from_the_history() {
    let report = fixture::status();
    let neo4j = component(&report, "neo4j");
    assert_eq!(
        neo4j.in_stage_since.as_deref(),
        Some("2026-11-10T00:00:00Z")
    );
    assert_eq!(neo4j.days_in_stage, Some(6.5));
    let mm = component(&report, "model-management");
    assert_eq!(mm.in_stage_since.as_deref(), Some("2026-10-20T08:30:00Z"));
    // llm's MATURITY.md has no history row; the status history has seen it in Development
    // since 2026-11-09 09:00.
    let llm = component(&report, "llm");
    assert_eq!(llm.in_stage_since.as_deref(), Some("2026-11-09T09:00:00Z"));
    assert_eq!(llm.days_in_stage, Some(7.13));
    assert!(
        component(&report, "therapeutic-systems")
            .in_stage_since
            .is_none()
    );
}

#[test]
fn dependencies_are_listed_with_their_stages() {
    let report = fixture::status();
    let llm = component(&report, "llm");
    let deps: Vec<(&str, Stage, bool)> = llm
        .dependencies
        .iter()
        .map(|d| (d.name.as_str(), d.stage, d.satisfied))
        .collect();
    assert_eq!(
        deps,
        vec![
            ("model-management", Stage::Production, true),
            ("docker", Stage::Development, false)
        ]
    );
}

#[test]
fn recommendations_put_what_can_be_done_now_first() {
    let report = fixture::status();
    let actions: Vec<(&str, Action)> = report
        .recommendations
        .iter()
        .map(|r| (r.component.as_str(), r.action))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("carbon", Action::Promote),
            ("therapeutic-systems", Action::FixOrDemote),
            ("gameplay-loop", Action::Repair),
            ("neo4j", Action::Wait),
            ("llm", Action::PromoteDependencies),
            ("docker", Action::Fix),
        ]
    );
    assert_eq!(
        report.recommendations[0].command.as_deref(),
        Some("cargo xtask promote carbon --phase all --record")
    );
    assert!(
        report.recommendations[3]
            .reason
            .contains("2026-11-17T00:00:00Z")
    );
    assert_eq!(
        report.recommendations[4].command.as_deref(),
        Some("cargo xtask promote docker --target staging")
    );
    assert_eq!(
        report.recommendations[5].reason, "lint (14 findings), coverage 20.10% (needs 70%)",
        "figures, never \"close\""
    );
}

#[test]
fn the_rollout_marks_who_is_ready_and_keeps_dependency_order() {
    let report = fixture::status();
    let staging = &report.rollout[0];
    assert_eq!(staging.target, Stage::Staging);
    let waves: Vec<Vec<(&str, bool)>> = staging
        .waves
        .iter()
        .map(|w| {
            w.components
                .iter()
                .map(|m| (m.name.as_str(), m.ready))
                .collect()
        })
        .collect();
    assert_eq!(
        waves,
        vec![
            vec![
                ("carbon", true),
                ("docker", false),
                ("gameplay-loop", false)
            ],
            vec![("llm", false)],
        ]
    );
    let production = &report.rollout[1];
    assert_eq!(production.target, Stage::Production);
    assert_eq!(production.waves[0].components[0].name, "neo4j");
}

#[test]
fn uptime_and_the_last_drill_come_from_their_gates_or_show_a_dash() {
    let report = fixture::status();
    let neo4j = component(&report, "neo4j");
    assert_eq!(neo4j.uptime, Some(99.716));
    assert_eq!(uptime_text(neo4j.uptime), "99.71 %");
    let badge = neo4j.last_drill.as_ref().unwrap();
    assert_eq!(badge.result, DrillResult::Passed);
    assert_eq!(drill_text(Some(badge)), "passed on 2026-11-14");
    // No uptime or rollback gate in a promotion to Staging: a dash, not a verdict.
    let carbon = component(&report, "carbon");
    assert_eq!(uptime_text(carbon.uptime), "–");
    assert_eq!(drill_text(carbon.last_drill.as_ref()), "–");
    let failed = DrillBadge {
        result: DrillResult::Failed,
        at: Some("2026-11-20T08:00:00Z".into()),
    };
    assert_eq!(failed.text(), "failed on 2026-11-20");
    let none = DrillBadge {
        result: DrillResult::None,
        at: None,
    };
    assert_eq!(none.text(), "none");
}
