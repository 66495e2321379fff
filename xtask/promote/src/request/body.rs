//! The body of a promotion request issue, filled from a promotion report: the title line, then
//! one `### <label>` section per form field in form order, as GitHub renders a submitted form,
//! so that GitHub's form and `validate-request` read it the same way. Boxes are ticked only
//! where gates show the criterion met. Pure: report and `now` in, Markdown out; long finding
//! lists are cut, with a note, until the body fits GitHub's limit.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use chrono::NaiveDate;
use serde::Serialize;

use super::form::{self, FieldId, NO_RESPONSE};
use crate::config::Config;
use crate::gates::outcome::severity_name;
use crate::gates::{CoverageMeasure, Outcome};
use crate::markdown::{Place, code, inline};
use crate::report::PromotionReport;
use crate::tools::{Finding, StepKind};
use crate::vocab::GateKind;
use crate::vocab::Stage;

/// GitHub refuses an issue body longer than this (counted here in UTF-16 units, as the web does).
pub const BODY_LIMIT: usize = 65_536;
/// Findings listed per step before the rest are counted; lowered until the body fits.
const FINDING_CAPS: [usize; 4] = [30, 10, 3, 0];
/// Characters of one finding message or blocker text kept in the body.
const TEXT_LIMIT: usize = 300;

/// `path` (relative to the project root) relative to the repository root.
fn repo_path(project_prefix: &str, path: &str) -> String {
    if project_prefix.is_empty() || project_prefix == "." {
        path.to_owned()
    } else {
        format!("{project_prefix}/{path}")
    }
}

#[derive(Serialize)]
struct CriterionView {
    label: String,
    met: bool,
    /// What the Production gates measured for it (uptime, p95, monitoring), beside the box.
    figure: Option<String>,
}

#[derive(Serialize)]
struct GateView {
    id: String,
    passed: bool,
    summary: String,
}

#[derive(Serialize)]
struct TestsView {
    tool: String,
    passed: u64,
    failed: u64,
    errors: u64,
    skipped: u64,
}

#[derive(Serialize)]
struct CoverageView {
    percent: String,
    threshold: String,
    passed: bool,
}

#[derive(Serialize)]
struct FindingView {
    location: String,
    code: String,
    message: String,
}

#[derive(Serialize)]
struct FindingGroup {
    step: &'static str,
    tool: String,
    count: usize,
    shown: Vec<FindingView>,
    hidden: usize,
}

#[derive(Serialize)]
struct SecurityView {
    tool: String,
    summary: String,
    passed: bool,
    fail_on: String,
    findings: FindingGroup,
}

#[derive(Serialize)]
struct DocsView {
    readme: String,
    readme_status: String,
    maturity: String,
    maturity_exists: bool,
}

#[derive(Serialize)]
struct DependencyView {
    name: String,
    stage: String,
    ok: bool,
}

#[derive(Serialize)]
struct BlockerView {
    gate: String,
    message: String,
    fix: String,
}

#[derive(Serialize)]
struct StepView {
    name: &'static str,
    tool: &'static str,
    version: String,
    cached: bool,
}

#[derive(Serialize)]
struct RollbackView {
    /// The compose command that redeploys, or `None` when the target stage has no
    /// environment in xtask.toml.
    command: Option<String>,
    /// `staging`, for the `[environments.<stage>]` the text names when there is none.
    stage_id: &'static str,
}

/// The rollback command for `component` in `stage`: the stage's compose file and project,
/// and the component's own service when it names one.
fn rollback_view(config: &Config, component: &str, stage: Stage) -> RollbackView {
    let command = config
        .environments
        .iter()
        .find(|e| e.stage == stage)
        .map(|env| {
            let mut command = format!(
                "docker compose -f {} -p {} up -d",
                env.compose_file, env.project_name
            );
            if let Some(service) = config.service_settings(component).service {
                command.push_str(&format!(" --no-deps {service}"));
            }
            code(&command)
        });
    RollbackView {
        command,
        stage_id: stage.id(),
    }
}

#[derive(Serialize)]
struct BodyContext {
    title: String,
    labels: BTreeMap<String, &'static str>,
    no_response: &'static str,
    blocked_label: &'static str,
    component: String,
    display_name: String,
    from_stage: &'static str,
    to_stage: &'static str,
    group: String,
    promotable: bool,
    failed_gates: Vec<String>,
    command: String,
    full_command: String,
    measured_on: String,
    development_criteria: Vec<CriterionView>,
    staging_criteria: Vec<CriterionView>,
    gates: Vec<GateView>,
    tests: Option<TestsView>,
    coverage: Option<CoverageView>,
    finding_groups: Vec<FindingGroup>,
    security: Option<SecurityView>,
    docs: DocsView,
    dependencies: Vec<DependencyView>,
    dependencies_measured: bool,
    blockers: Vec<BlockerView>,
    cached_steps: usize,
    step_count: usize,
    steps: Vec<StepView>,
    /// How to put the previous build back, from the target stage's `[environments]` entry.
    rollback: RollbackView,
    /// Findings listed per step, and whether that is fewer than usual to fit the limit.
    cap: usize,
    shortened: bool,
}

fn finding_group(
    step: StepKind,
    tool: String,
    findings: &[Finding],
    cap: usize,
    project_prefix: &str,
) -> FindingGroup {
    FindingGroup {
        step: step.id(),
        tool,
        count: findings.len(),
        shown: findings
            .iter()
            .take(cap)
            .map(|f| FindingView {
                location: code(&repo_path(project_prefix, &f.location())),
                code: inline(&f.code, 60),
                message: inline(&f.message, TEXT_LIMIT),
            })
            .collect(),
        hidden: findings.len().saturating_sub(cap),
    }
}

/// Whether the gates of the report show `criterion` met: every gate it rests on ran and passed.
fn met(report: &PromotionReport, criterion: &form::Criterion) -> bool {
    !criterion.evidence.is_empty()
        && criterion
            .evidence
            .iter()
            .all(|gate| report.gate(*gate).is_some_and(|result| result.passed()))
}

/// The summaries of the Production gates (Prometheus evidence, the rollback drill with its
/// date) that show a criterion.
fn figure(report: &PromotionReport, criterion: &form::Criterion) -> Option<String> {
    let figures: Vec<String> = criterion
        .evidence
        .iter()
        .filter(|kind| {
            matches!(
                kind,
                GateKind::Uptime | GateKind::Latency | GateKind::Monitoring | GateKind::Rollback
            )
        })
        .filter_map(|kind| report.gate(*kind))
        .map(|gate| inline(&gate.summary(), TEXT_LIMIT))
        .collect();
    (!figures.is_empty()).then(|| figures.join("; "))
}

fn criteria_views(config: &Config, report: &PromotionReport, set: Stage) -> Vec<CriterionView> {
    form::criteria(config, set)
        .into_iter()
        .map(|criterion| CriterionView {
            // Only the requested promotion's criteria can be shown met by this run's gates.
            met: report.to_stage == set && met(report, &criterion),
            figure: (report.to_stage == set)
                .then(|| figure(report, &criterion))
                .flatten(),
            label: criterion.label,
        })
        .collect()
}

/// The coverage the gate measured against its threshold; `None` when nothing was measured.
fn coverage_view(report: &PromotionReport) -> Option<CoverageView> {
    let gate = report.gate(GateKind::Coverage)?;
    let Outcome::Coverage {
        threshold,
        measured: CoverageMeasure::Measured(coverage),
    } = &gate.outcome
    else {
        return None;
    };
    Some(CoverageView {
        percent: format!("{:.2}", coverage.percent),
        threshold: format!("{threshold}"),
        passed: gate.passed(),
    })
}

fn security_view(
    config: &Config,
    report: &PromotionReport,
    project_prefix: &str,
    cap: usize,
) -> Option<SecurityView> {
    let step = report.steps.iter().find(|s| s.name == StepKind::Bandit)?;
    let gate = report.gate(GateKind::Security);
    Some(SecurityView {
        tool: format!("bandit {}", inline(&step.version, 40)),
        summary: gate.map_or_else(
            || format!("{} findings", step.findings().len()),
            |g| inline(&g.summary(), TEXT_LIMIT),
        ),
        passed: gate.is_some_and(|g| g.passed()),
        fail_on: severity_name(config.policy.security_fail_on).to_owned(),
        findings: finding_group(
            StepKind::Bandit,
            "bandit".into(),
            step.findings(),
            cap,
            project_prefix,
        ),
    })
}

/// Each declared dependency with its stage, as the dependencies gate found them.
fn dependency_views(report: &PromotionReport) -> Vec<DependencyView> {
    let Some(Outcome::Dependencies(dependencies)) =
        report.gate(GateKind::Dependencies).map(|g| &g.outcome)
    else {
        return Vec::new();
    };
    dependencies
        .stages
        .iter()
        .map(|(name, stage)| DependencyView {
            name: code(name),
            stage: stage.title().to_owned(),
            ok: *stage >= report.to_stage,
        })
        .collect()
}

fn gate_views(report: &PromotionReport) -> Vec<GateView> {
    report
        .quality_gates
        .iter()
        .map(|(id, gate)| GateView {
            id: id.id().to_owned(),
            passed: gate.passed(),
            summary: inline(&gate.summary(), TEXT_LIMIT),
        })
        .collect()
}

fn context(
    config: &Config,
    report: &PromotionReport,
    project_prefix: &str,
    now: NaiveDate,
    cap: usize,
    maturity_exists: bool,
) -> Result<BodyContext> {
    let component = config.require_component(&report.component)?;
    let labels = FieldId::ALL
        .iter()
        .map(|f| (f.id().replace('-', "_"), f.label()))
        .collect();
    let target_flag = format!("--target {}", report.to_stage.id());
    let step = |kind: StepKind| report.steps.iter().find(|s| s.name == kind);

    let tests = step(StepKind::Pytest).and_then(|s| {
        s.tests().map(|t| TestsView {
            tool: format!("pytest {}", inline(&s.version, 40)),
            passed: t.passed,
            failed: t.failed,
            errors: t.errors,
            skipped: t.skipped,
        })
    });
    let finding_groups = report
        .steps
        .iter()
        .filter(|s| s.name != StepKind::Bandit && !s.findings().is_empty())
        .map(|s| {
            finding_group(
                s.name,
                format!("{} {}", s.tool().name(), inline(&s.version, 40)),
                s.findings(),
                cap,
                project_prefix,
            )
        })
        .collect();
    let path = |relative: &str| code(&repo_path(project_prefix, relative));
    Ok(BodyContext {
        title: form::title(
            &inline(&report.display_name, 100),
            report.from_stage,
            report.to_stage,
        ),
        labels,
        no_response: NO_RESPONSE,
        blocked_label: form::LABEL_BLOCKED,
        component: component.name.clone(),
        display_name: inline(&component.display_name, 100),
        from_stage: report.from_stage.title(),
        to_stage: report.to_stage.title(),
        group: inline(&component.group, 100),
        promotable: report.promotable,
        failed_gates: report
            .quality_gates
            .iter()
            .filter(|(_, g)| !g.passed())
            .map(|(id, _)| id.id().to_owned())
            .collect(),
        command: format!("cargo xtask issue {} {target_flag}", component.name),
        full_command: format!("cargo xtask promote {} {target_flag} -v", component.name),
        measured_on: now.format("%Y-%m-%d").to_string(),
        development_criteria: criteria_views(config, report, Stage::Staging),
        staging_criteria: criteria_views(config, report, Stage::Production),
        gates: gate_views(report),
        tests,
        coverage: coverage_view(report),
        finding_groups,
        security: security_view(config, report, project_prefix, cap),
        docs: DocsView {
            readme: path(&component.readme),
            readme_status: report.gate(GateKind::Docs).map_or_else(
                || "not checked".to_owned(),
                |g| inline(&g.summary(), TEXT_LIMIT),
            ),
            maturity: path(&component.maturity),
            maturity_exists,
        },
        dependencies: dependency_views(report),
        dependencies_measured: report.gate(GateKind::Dependencies).is_some(),
        blockers: report
            .blockers
            .iter()
            .map(|b| BlockerView {
                gate: inline(b.gate.id(), 40),
                message: crate::markdown::prose(
                    b.message.trim_end_matches('.'),
                    Place::Line,
                    TEXT_LIMIT,
                ),
                fix: crate::markdown::prose(&b.fix, Place::Line, TEXT_LIMIT),
            })
            .collect(),
        cached_steps: report.summary.cached_steps,
        step_count: report.summary.steps,
        steps: report
            .steps
            .iter()
            .map(|s| StepView {
                name: s.name.id(),
                tool: s.tool().name(),
                version: inline(&s.version, 40),
                cached: s.cached,
            })
            .collect(),
        rollback: rollback_view(config, &component.name, report.to_stage),
        cap,
        shortened: cap < FINDING_CAPS[0],
    })
}

/// The request body for `report` (which must come from a phase-4 run for the requested
/// target). `project_prefix` is the project root relative to the repository root, for links;
/// `now` is the measurement date printed in the body; `maturity_exists` says whether the
/// component's MATURITY.md is on disk (a link to a file that does not exist is not evidence).
pub fn render(
    config: &Config,
    report: &PromotionReport,
    project_prefix: &str,
    now: NaiveDate,
    maturity_exists: bool,
) -> Result<String> {
    let mut last_length = 0;
    for cap in FINDING_CAPS {
        let text = crate::render::request_markdown(
            "promotion-request.md.j2",
            context(config, report, project_prefix, now, cap, maturity_exists)?,
        )?;
        last_length = text.encode_utf16().count();
        if last_length <= BODY_LIMIT {
            return Ok(text);
        }
    }
    bail!(
        "the request for {} is {last_length} characters even without findings, over GitHub's limit of {BODY_LIMIT}",
        report.component
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rollback_names_the_target_environments_compose_file_or_says_there_is_none() {
        let text = format!(
            "{}[components.carbon]\ndisplay_name = \"Carbon\"\ngroup = \"Core Infrastructure\"\nsource = \"carbon_component.py\"\nservice = \"carbon-api\"\n\n[environments.staging]\ncompose_file = \"deploy/compose.staging.yml\"\nproject_name = \"tta-staging\"\n",
            crate::config::test_registry_head(&["Core Infrastructure"])
        );
        let config = crate::config::parse(&text, &std::env::temp_dir().join("xtask.toml")).unwrap();
        let staging = rollback_view(&config, "carbon", Stage::Staging);
        assert_eq!(
            staging.command.as_deref(),
            Some(
                "docker compose -f deploy/compose.staging.yml -p tta-staging up -d --no-deps carbon-api"
            )
        );
        let production = rollback_view(&config, "carbon", Stage::Production);
        assert_eq!(production.command, None);
        assert_eq!(production.stage_id, "production");
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 11, 3).unwrap()
    }

    use crate::request::form::FieldId;
    use crate::request::{parse, validate};
    use crate::testutil::{assessed_report, registry};

    fn body_of(name: &str, lint: usize, coverage: f64) -> String {
        let config = registry();
        let report = assessed_report(&config, name, lint, coverage);
        render(&config, &report, "examples/tta", date(), true).unwrap()
    }

    #[test]
    fn a_promotable_component_gets_its_evidence_and_ticked_boxes() {
        let text = body_of("carbon", 0, 72.06);
        assert!(text.starts_with(
            "[PROMOTION] Carbon: Development → Staging\n\n### Component Name\n\ncarbon\n"
        ));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_blocked_component_lists_blockers_and_ticks_only_what_passed() {
        let text = body_of("narrative-arc-orchestrator", 42, 47.1);
        let sections = parse::parse(&text).unwrap();
        let criteria = sections.value(FieldId::DevelopmentCriteria).unwrap();
        // Tests pass but coverage does not: the testing box stays empty; so does code quality.
        assert!(criteria.contains("- [ ] Testing:"), "{criteria}");
        assert!(criteria.contains("- [ ] Code Quality:"), "{criteria}");
        assert!(criteria.contains("- [X] Documentation:"), "{criteria}");
        // Its dependencies are in Development, below Staging.
        assert!(criteria.contains("- [ ] Dependencies:"), "{criteria}");
        let staging = sections.value(FieldId::StagingCriteria).unwrap();
        assert!(!staging.contains("[X]"), "{staging}");
        let blockers = sections.value(FieldId::KnownBlockers).unwrap();
        assert!(
            blockers.contains("**lint**") && blockers.contains("**coverage**"),
            "{blockers}"
        );
        let dependencies = sections.value(FieldId::Dependencies).unwrap();
        assert!(
            dependencies.contains("`neo4j`: Development, below Staging ❌"),
            "{dependencies}"
        );
        // 42 findings, 30 listed, the rest counted with where to see them.
        let results = sections.value(FieldId::TestResults).unwrap();
        assert!(
            results.contains("**ruff-check** (ruff 9.9.9): 42 findings"),
            "{results}"
        );
        assert!(
            results.contains("- … and 12 more not listed here"),
            "{results}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn the_body_round_trips_through_the_parser_and_the_checks() {
        for (name, lint) in [
            ("carbon", 0),
            ("narrative-arc-orchestrator", 7),
            ("player-experience", 3),
        ] {
            let text = body_of(name, lint, 75.0);
            let sections = parse::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
            let request = validate::validate(&registry(), &sections).unwrap();
            assert_eq!(request.component, name);
            assert_eq!(request.to, Stage::Staging);
            assert_eq!(sections.value(FieldId::PerformanceMetrics), None);
        }
    }

    #[test]
    fn long_finding_lists_are_cut_until_the_body_fits() {
        let config = registry();
        let mut report = assessed_report(&config, "llm", 3000, 80.0);
        // Every step full of hostile tool text: long, multi-line, with headings and HTML. It
        // must neither break the layout nor the size limit.
        let template = report.steps[0].findings()[0].clone();
        for step in &mut report.steps {
            if let Some(findings) = step.findings_mut() {
                *findings = (0..3000)
                    .map(|_| crate::tools::Finding {
                        file: format!("src/{}x.py", "deep/".repeat(80)),
                        message: format!("{}\n### Component Name\n<details>", "é".repeat(400)),
                        ..template.clone()
                    })
                    .collect();
            }
        }
        let text = render(&config, &report, "examples/tta", date(), true).unwrap();
        assert!(text.encode_utf16().count() <= BODY_LIMIT, "{}", text.len());
        // Thirty per step would not fit; ten do, and the body says so.
        assert!(text.contains("- … and 2990 more not listed here"), "{text}");
        assert!(
            text.contains("_Finding lists are shortened to 10 per step"),
            "{text}"
        );
        let sections = parse::parse(&text).unwrap();
        assert_eq!(sections.value(FieldId::Component), Some("llm"));
        assert!(!text.contains("<details>"));
    }
}
