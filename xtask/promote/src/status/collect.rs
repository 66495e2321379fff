//! From the promotion reports of every component (one engine run), their MATURITY.md states
//! and the status history to the status report. Pure: the clock comes in as `now`.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

use super::history::{self, Run};
use super::model::*;
use super::predict;
use super::waves;
use crate::config::Config;
use crate::gates::{GateResult, Outcome};
use crate::maturity::Book;
use crate::maturity::observation::Observation;
use crate::plural::count;
use crate::report::PromotionReport;
use crate::vocab::GateKind;
use crate::vocab::Stage;

pub struct Inputs<'a> {
    pub config: &'a Config,
    /// One report per component, in any order.
    pub reports: &'a [PromotionReport],
    pub book: &'a Book,
    /// Earlier runs of the status history, oldest first.
    pub runs: &'a [Run],
    /// The history file as the report names it.
    pub history_file: &'a str,
    pub now: DateTime<Utc>,
}

/// Builds the report. Components without a report (none, when called as intended) are left
/// out rather than invented.
pub fn collect(inputs: &Inputs<'_>) -> StatusReport {
    let config = inputs.config;
    let now = inputs.now.naive_utc();
    let baseline = history::baseline(inputs.runs, now);
    let components: Vec<ComponentStatus> = config
        .components
        .iter()
        .filter_map(|component| {
            let report = inputs
                .reports
                .iter()
                .find(|r| r.component == component.name)?;
            Some(component_status(inputs, report, baseline, now))
        })
        .collect();
    let summary = summarise(&components);
    let recommendations = recommend(&components);
    let rollout = [Stage::Staging, Stage::Production]
        .into_iter()
        .map(|target| {
            let nodes: Vec<waves::Node<'_>> = config
                .graph
                .topological_order()
                .iter()
                .filter_map(|name| {
                    let status = components.iter().find(|c| &c.name == name)?;
                    let component = config.component(name)?;
                    Some(waves::Node {
                        name: &component.name,
                        stage: status.stage,
                        depends_on: &component.depends_on,
                        ready: status.readiness == Readiness::Ready && status.target == target,
                    })
                })
                .collect();
            waves::plan(&nodes, target)
        })
        .collect();
    StatusReport {
        schema_version: STATUS_SCHEMA_VERSION,
        generated_at: rfc3339(now),
        thresholds: StageValues {
            development: config.thresholds.development,
            staging: config.thresholds.staging,
            production: config.thresholds.production,
        },
        observation_days: config.policy.observation_days,
        groups: config.groups.clone(),
        summary,
        components,
        recommendations,
        rollout,
        history: HistoryInfo {
            file: inputs.history_file.to_owned(),
            previous_runs: inputs.runs.iter().filter(|r| r.at < now).count(),
            baseline: baseline.map(|run| rfc3339(run.at)),
        },
    }
}

fn rfc3339(at: NaiveDateTime) -> String {
    at.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn days_between(from: NaiveDateTime, to: NaiveDateTime) -> f64 {
    ((to - from).num_seconds().max(0) as f64 / 86_400.0 * 100.0).round() / 100.0
}

/// What the docs gate required (the target stage's sections), else the target's list.
fn required_sections(config: &Config, report: &PromotionReport) -> u64 {
    match report.gate(GateKind::Docs).map(|g| &g.outcome) {
        Some(Outcome::Docs { required, .. }) => *required as u64,
        _ => config.policy.readme_sections_for(report.to_stage).len() as u64,
    }
}

fn component_status(
    inputs: &Inputs<'_>,
    report: &PromotionReport,
    baseline: Option<&Run>,
    now: NaiveDateTime,
) -> ComponentStatus {
    let config = inputs.config;
    let component = config
        .component(&report.component)
        .expect("reports are made for registry components");
    let state = inputs.book.get(&component.name);
    let stage = report.from_stage;
    let target = report.to_stage;
    let check = if stage == Stage::Production {
        Check::Maintenance
    } else {
        Check::Promotion
    };
    let dependencies = component
        .depends_on
        .iter()
        .map(|name| {
            let dependency_stage = inputs
                .book
                .get(name)
                .map_or(Stage::Development, |s| s.stage);
            DependencyStatus {
                name: name.clone(),
                stage: dependency_stage,
                satisfied: dependency_stage >= target,
            }
        })
        .collect();
    let observation = (stage == Stage::Staging).then(|| observation_status(config, state, now));
    let in_stage_since = state
        .and_then(|s| s.entered(stage))
        .or_else(|| history::in_stage_since(inputs.runs, &component.name, stage, now));
    let docs = report.gate(GateKind::Docs);
    let readme = ReadmeStatus {
        passed: docs.is_some_and(|g| g.passed()),
        sections: match docs.map(|g| &g.outcome) {
            Some(Outcome::Docs {
                exists: true,
                present,
                ..
            }) => Some(*present as u64),
            _ => None,
        },
        required: required_sections(config, report),
        summary: docs.map_or_else(|| "not checked".to_owned(), GateResult::summary),
    };
    let lint = report.gate(GateKind::Lint).and_then(GateResult::count);
    let types = report.gate(GateKind::Types).and_then(GateResult::count);
    let security = report.gate(GateKind::Security).and_then(GateResult::count);
    let coverage = report.summary.coverage;
    let change = baseline.and_then(|run| {
        let before = run.line.components.get(&component.name)?;
        let delta = |now: Option<u64>, then: Option<u64>| match (now, then) {
            (Some(a), Some(b)) => Some(a as i64 - b as i64),
            _ => None,
        };
        Some(Change {
            since: rfc3339(run.at),
            previous_stage: (before.stage != stage).then_some(before.stage),
            coverage: match (coverage, before.coverage) {
                (Some(a), Some(b)) => Some(((a - b) * 100.0).round() / 100.0),
                _ => None,
            },
            lint: delta(lint, before.lint),
            types: delta(types, before.types),
            security: delta(security, before.security),
        })
    });
    let prediction = (target != stage).then(|| {
        prediction(
            inputs,
            &component.name,
            stage,
            target,
            now,
            (coverage, sum_findings(lint, types, security)),
        )
    });
    ComponentStatus {
        name: component.name.clone(),
        display_name: component.display_name.clone(),
        group: component.group.clone(),
        stage,
        check,
        target,
        coverage,
        coverage_threshold: config.thresholds.coverage_for(target),
        lint,
        types,
        security,
        failed_tests: report.gate(GateKind::Tests).and_then(GateResult::count),
        readme,
        dependencies,
        blockers: report.blockers.clone(),
        readiness: readiness(report, check),
        observation,
        in_stage_since: in_stage_since.map(rfc3339),
        days_in_stage: in_stage_since.map(|since| days_between(since, now)),
        change,
        prediction,
        record: None,
        steps: report.summary.steps,
        cached_steps: report.summary.cached_steps,
        uptime: uptime_of(report),
        last_drill: drill_of(report),
    }
}

/// The uptime the component's uptime gate measured, in percent.
fn uptime_of(report: &PromotionReport) -> Option<f64> {
    match &report.gate(GateKind::Uptime)?.outcome {
        Outcome::Production(crate::evidence::outcome::ProductionOutcome::Uptime {
            measured: Ok(m),
            ..
        }) if m.percent.is_finite() => Some(m.percent),
        _ => None,
    }
}

/// The newest drill the component's rollback gate read.
fn drill_of(report: &PromotionReport) -> Option<DrillBadge> {
    let Outcome::Rollback { fact, .. } = &report.gate(GateKind::Rollback)?.outcome else {
        return None;
    };
    Some(match &fact.last {
        Ok(Some(run)) => DrillBadge {
            result: if run.passed {
                DrillResult::Passed
            } else {
                DrillResult::Failed
            },
            at: Some(rfc3339(run.finished_at)),
        },
        // A history that cannot be read proves no drill.
        Ok(None) | Err(_) => DrillBadge {
            result: DrillResult::None,
            at: None,
        },
    })
}

/// The gates a report failed.
fn failed_gates(report: &PromotionReport) -> Vec<GateKind> {
    report
        .quality_gates
        .iter()
        .filter(|(_, gate)| !gate.passed())
        .map(|(kind, _)| *kind)
        .collect()
}

fn readiness(report: &PromotionReport, check: Check) -> Readiness {
    if report.infrastructure_error() || report.interrupted() {
        return Readiness::Error;
    }
    let failed = failed_gates(report);
    match check {
        Check::Maintenance if failed.is_empty() => Readiness::Maintained,
        Check::Maintenance => Readiness::AtRisk,
        Check::Promotion if report.promotable => Readiness::Ready,
        Check::Promotion if failed.iter().all(|g| *g == GateKind::Observation) => {
            Readiness::Observing
        }
        Check::Promotion
            if failed
                .iter()
                .all(|g| matches!(g, GateKind::Observation | GateKind::Dependencies)) =>
        {
            Readiness::WaitingOnDependencies
        }
        Check::Promotion => Readiness::Blocked,
    }
}

fn summarise(components: &[ComponentStatus]) -> Summary {
    let measured: Vec<f64> = components.iter().filter_map(|c| c.coverage).collect();
    let at = |stage: Stage| components.iter().filter(|c| c.stage == stage).count();
    let ready_for = |target: Stage| {
        components
            .iter()
            .filter(|c| c.readiness == Readiness::Ready && c.target == target)
            .count()
    };
    Summary {
        components: components.len(),
        development: at(Stage::Development),
        staging: at(Stage::Staging),
        production: at(Stage::Production),
        average_coverage: (!measured.is_empty()).then(|| {
            (measured.iter().sum::<f64>() / measured.len() as f64 * 100.0).round() / 100.0
        }),
        coverage_measured: measured.len(),
        ready_for_staging: ready_for(Stage::Staging),
        ready_for_production: ready_for(Stage::Production),
        at_risk: components
            .iter()
            .filter(|c| c.readiness == Readiness::AtRisk)
            .count(),
        errors: components
            .iter()
            .filter(|c| c.readiness == Readiness::Error)
            .count(),
    }
}

/// What to do next, most actionable first: promote what is ready, look after Production
/// components that slipped, repair broken checks, then what is waiting, then what is one or
/// two gates away.
fn recommend(components: &[ComponentStatus]) -> Vec<Recommendation> {
    let mut out = Vec::new();
    fn gates_of(c: &ComponentStatus) -> Vec<GateKind> {
        let mut gates: Vec<GateKind> = c.blockers.iter().map(|b| b.gate).collect();
        gates.dedup();
        gates
    }
    // The gates the component itself can fix: not its dependencies, not the calendar.
    fn own_gates(c: &ComponentStatus) -> Vec<GateKind> {
        gates_of(c)
            .into_iter()
            .filter(|g| !matches!(g, GateKind::Dependencies | GateKind::Observation))
            .collect()
    }
    for wanted in [
        Readiness::Ready,
        Readiness::AtRisk,
        Readiness::Error,
        Readiness::Observing,
        Readiness::WaitingOnDependencies,
        Readiness::Blocked,
    ] {
        for c in components.iter().filter(|c| c.readiness == wanted) {
            let name = &c.name;
            let recommendation = match wanted {
                Readiness::Ready => Recommendation {
                    component: name.clone(),
                    action: Action::Promote,
                    target: c.target,
                    reason: format!("every gate for {} passed", c.target),
                    command: Some(format!("cargo xtask promote {name} --phase all --record")),
                },
                Readiness::AtRisk => Recommendation {
                    component: name.clone(),
                    action: Action::FixOrDemote,
                    target: Stage::Staging,
                    reason: format!(
                        "in Production but failing its gates: {}",
                        gates_of(c)
                            .iter()
                            .map(|g| g.id())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    command: Some(format!(
                        "cargo xtask demote {name} --to staging --reason \"fails the Production maintenance check\""
                    )),
                },
                Readiness::Error => Recommendation {
                    component: name.clone(),
                    action: Action::Repair,
                    target: c.target,
                    reason: c.blockers.first().map_or_else(
                        || "a check gave no verdict".to_owned(),
                        |b| format!("{}; to fix: {}", b.message, b.fix),
                    ),
                    command: None,
                },
                Readiness::Observing => Recommendation {
                    component: name.clone(),
                    action: Action::Wait,
                    target: c.target,
                    reason: match c.observation.as_ref().and_then(|o| o.earliest.as_deref()) {
                        Some(earliest) => format!(
                            "only the observation period is left: promotable from {earliest}"
                        ),
                        None => {
                            "only the observation period is left, and no Staging date is recorded"
                                .to_owned()
                        }
                    },
                    command: None,
                },
                Readiness::WaitingOnDependencies => {
                    let lagging: Vec<&DependencyStatus> =
                        c.dependencies.iter().filter(|d| !d.satisfied).collect();
                    Recommendation {
                        component: name.clone(),
                        action: Action::PromoteDependencies,
                        target: c.target,
                        reason: format!(
                            "its own gates pass; waiting for {}",
                            lagging
                                .iter()
                                .map(|d| format!("{} ({})", d.name, d.stage))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        command: lagging.first().map(|d| {
                            format!("cargo xtask promote {} --target {}", d.name, c.target.id())
                        }),
                    }
                }
                Readiness::Blocked if own_gates(c).len() <= 2 => {
                    let lagging: Vec<&str> = c
                        .dependencies
                        .iter()
                        .filter(|d| !d.satisfied)
                        .map(|d| d.name.as_str())
                        .collect();
                    let mut reason = left_to_fix(c, &own_gates(c));
                    if !lagging.is_empty() {
                        reason.push_str(&format!(", then wait for {}", lagging.join(", ")));
                    }
                    Recommendation {
                        component: name.clone(),
                        action: Action::Fix,
                        target: c.target,
                        reason,
                        command: Some(format!("cargo xtask promote {name} --phase all")),
                    }
                }
                _ => continue,
            };
            out.push(recommendation);
        }
    }
    out
}

/// Each gate still to fix with the figure behind it, so the reader can judge how far off it
/// is (`coverage 8.83% (needs 70%)` is not close, and says so by itself).
fn left_to_fix(c: &ComponentStatus, gates: &[GateKind]) -> String {
    let counted = |gate: GateKind, value: Option<u64>, noun: &str| match value {
        Some(n) => format!("{gate} ({})", count(n, noun)),
        None => gate.id().to_owned(),
    };
    gates
        .iter()
        .map(|&gate| match gate {
            GateKind::Coverage => match c.coverage {
                Some(coverage) => format!(
                    "coverage {coverage:.2}% (needs {})",
                    super::view::threshold(c.coverage_threshold)
                ),
                None => "coverage (not measured)".to_owned(),
            },
            GateKind::Lint => counted(gate, c.lint, "finding"),
            GateKind::Types => counted(gate, c.types, "error"),
            GateKind::Security => counted(gate, c.security, "finding"),
            GateKind::Tests => counted(gate, c.failed_tests, "failed test"),
            GateKind::Docs => format!("docs ({})", c.readme.summary),
            other => other.id().to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;

/// Lint, type and security findings together; unknown when any is.
fn sum_findings(lint: Option<u64>, types: Option<u64>, security: Option<u64>) -> Option<u64> {
    Some(lint? + types? + security?)
}

/// The predicted promotion date of a component from the runs in its current stage and now.
fn prediction(
    inputs: &Inputs<'_>,
    name: &str,
    stage: Stage,
    target: Stage,
    now: NaiveDateTime,
    (coverage, findings): (Option<f64>, Option<u64>),
) -> predict::Predicted {
    let mut observations: Vec<predict::Observation> = inputs
        .runs
        .iter()
        .filter(|run| run.at < now)
        .filter_map(|run| {
            let then = run.line.components.get(name)?;
            // Only runs in the same stage say how fast it nears the same target.
            (then.stage == stage).then(|| predict::Observation {
                at: run.at,
                coverage: then.coverage,
                findings: sum_findings(then.lint, then.types, then.security),
            })
        })
        .collect();
    observations.push(predict::Observation {
        at: now,
        coverage,
        findings,
    });
    predict::Predicted::from(predict::predict(
        &observations,
        inputs.config.thresholds.coverage_for(target),
    ))
}

/// Where a Staging component's observation period stands.
fn observation_status(
    config: &crate::config::Config,
    state: Option<&crate::maturity::MaturityState>,
    now: NaiveDateTime,
) -> ObservationStatus {
    let days = config.policy.observation_days;
    match state.and_then(|s| s.entered(Stage::Staging)) {
        Some(since) => {
            let observed = Observation::new(since, days, now);
            ObservationStatus {
                since: Some(rfc3339(since)),
                days_observed: observed.elapsed_days(),
                days_remaining: observed.remaining_days(),
                earliest: Some(rfc3339(observed.earliest)),
            }
        }
        None => ObservationStatus {
            since: None,
            days_observed: 0.0,
            days_remaining: f64::from(days),
            earliest: None,
        },
    }
}
