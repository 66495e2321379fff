//! The status report as display text: every number formatted, every icon chosen, once, for
//! both the Markdown and the HTML templates. Pure; escaping is the templates' business.

use serde::Serialize;

use super::model::*;
use crate::vocab::Stage;

#[derive(Debug, Serialize)]
pub struct View<'a> {
    pub report: &'a StatusReport,
    /// The day of the report, `YYYY-MM-DD`.
    pub date: String,
    pub thresholds: String,
    pub average_coverage: String,
    /// Groups that have components, in report order.
    pub groups: Vec<GroupView>,
    pub recommendations: Vec<RecommendationRow>,
    pub blockers: Vec<BlockerRow>,
    pub rollout: Vec<RolloutView>,
    pub changes: Vec<ChangeRow>,
    pub baseline: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct GroupView {
    pub name: String,
    pub rows: Vec<Row>,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub name: String,
    pub display_name: String,
    pub stage: String,
    /// `development`, `staging` or `production`: CSS classes and Mermaid classes.
    pub stage_id: &'static str,
    pub stage_icon: &'static str,
    /// `Staging → Production`, or `Production (maintenance)`.
    pub checked_against: String,
    /// `72.06% / 70%`: measured against needed.
    pub coverage: String,
    pub coverage_ok: bool,
    pub lint: String,
    pub types: String,
    pub security: String,
    /// `4/4`, or `missing`.
    pub readme: String,
    pub readme_ok: bool,
    pub dependencies: Vec<DependencyView>,
    pub blockers: usize,
    pub readiness: &'static str,
    pub readiness_id: String,
    pub readiness_icon: &'static str,
    pub observation: String,
    /// `99.71 %` from the uptime gate, or `–`.
    pub uptime: String,
    /// `passed on 2026-03-02`, `failed on …`, `none`, or `–` without a rollback gate.
    pub drill: String,
    /// `ok`, `bad` or `` (no rollback gate): the badge's CSS class.
    pub drill_class: &'static str,
}

#[derive(Debug, Serialize)]
pub struct DependencyView {
    pub name: String,
    pub stage: String,
    /// At the target stage or above.
    pub ok: bool,
}

#[derive(Debug, Serialize)]
pub struct RecommendationRow {
    pub title: String,
    pub reason: String,
    pub command: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct BlockerRow {
    pub component: String,
    pub gate: String,
    pub message: String,
    pub fix: String,
}

#[derive(Debug, Serialize)]
pub struct RolloutView {
    pub title: String,
    pub waves: Vec<WaveRow>,
    pub unschedulable: String,
}

#[derive(Debug, Serialize)]
pub struct WaveRow {
    pub number: usize,
    pub members: Vec<WaveMember>,
    pub ready: usize,
    pub size: usize,
}

#[derive(Debug, Serialize)]
pub struct ChangeRow {
    pub name: String,
    pub stage: String,
    pub coverage: String,
    pub lint: String,
    pub types: String,
    pub security: String,
    pub in_stage: String,
}

pub fn stage_icon(stage: Stage) -> &'static str {
    match stage {
        Stage::Development => "🔨",
        Stage::Staging => "🧪",
        Stage::Production => "🚀",
    }
}

pub fn readiness_icon(readiness: Readiness) -> &'static str {
    match readiness {
        Readiness::Ready => "✅",
        Readiness::Observing => "⏳",
        Readiness::WaitingOnDependencies => "🔗",
        Readiness::Blocked => "⛔",
        Readiness::Maintained => "🟢",
        Readiness::AtRisk => "⚠️",
        Readiness::Error => "❗",
    }
}

fn percent(value: f64) -> String {
    format!("{value:.2}%")
}

/// A threshold as written in xtask.toml: `70%`, or `72.5%`.
pub fn threshold(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}%")
    } else {
        format!("{value}%")
    }
}

fn count(value: Option<u64>) -> String {
    value.map_or_else(|| "error".to_owned(), |n| n.to_string())
}

/// The date part of an RFC 3339 time.
fn day(time: &str) -> &str {
    time.get(..10).unwrap_or(time)
}

fn signed(delta: i64) -> String {
    match delta {
        0 => "±0".to_owned(),
        d if d > 0 => format!("+{d}"),
        d => format!("−{}", d.unsigned_abs()),
    }
}

fn days(value: f64) -> String {
    if value == 1.0 {
        "1 day".to_owned()
    } else {
        format!("{value} days")
    }
}

fn row(c: &ComponentStatus) -> Row {
    let coverage = match c.coverage {
        Some(value) => format!("{} / {}", percent(value), threshold(c.coverage_threshold)),
        None => format!("no data / {}", threshold(c.coverage_threshold)),
    };
    let readme = match c.readme.sections {
        Some(n) => format!("{n}/{}", c.readme.required),
        None => "missing".to_owned(),
    };
    let dependencies = c
        .dependencies
        .iter()
        .map(|d| DependencyView {
            name: d.name.clone(),
            stage: d.stage.title().to_owned(),
            ok: d.satisfied,
        })
        .collect();
    let observation = match &c.observation {
        None => "—".to_owned(),
        Some(o) if o.days_remaining == 0.0 => format!("done ({} observed)", days(o.days_observed)),
        Some(ObservationStatus {
            earliest: Some(earliest),
            days_remaining,
            ..
        }) => format!("{} left, earliest {}", days(*days_remaining), day(earliest)),
        Some(_) => "no Staging date recorded".to_owned(),
    };
    Row {
        name: c.name.clone(),
        display_name: c.display_name.clone(),
        stage: c.stage.title().to_owned(),
        stage_id: c.stage.id(),
        stage_icon: stage_icon(c.stage),
        checked_against: match c.check {
            Check::Promotion => format!("{} → {}", c.stage, c.target),
            Check::Maintenance => format!("{} (maintenance)", c.stage),
        },
        coverage,
        coverage_ok: c.coverage.is_some_and(|v| v >= c.coverage_threshold),
        lint: count(c.lint),
        types: count(c.types),
        security: count(c.security),
        readme,
        readme_ok: c.readme.passed,
        dependencies,
        blockers: c.blockers.len(),
        readiness: c.readiness.title(),
        readiness_id: serde_json::to_value(c.readiness)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        readiness_icon: readiness_icon(c.readiness),
        observation,
        uptime: super::model::uptime_text(c.uptime),
        drill: super::model::drill_text(c.last_drill.as_ref()),
        drill_class: drill_class(c.last_drill.as_ref()),
    }
}

/// The drill badge's CSS class: green only for a passed drill.
fn drill_class(badge: Option<&super::model::DrillBadge>) -> &'static str {
    match badge.map(|b| b.result) {
        Some(super::model::DrillResult::Passed) => "ok",
        Some(_) => "bad",
        None => "",
    }
}

fn recommendation(r: &Recommendation) -> RecommendationRow {
    let title = match r.action {
        Action::Promote => format!("Promote {} to {}", r.component, r.target),
        Action::Wait => format!("Wait, then promote {} to {}", r.component, r.target),
        Action::PromoteDependencies => {
            format!("Promote the dependencies of {} first", r.component)
        }
        Action::Fix => format!("Fix {} for {}", r.component, r.target),
        Action::FixOrDemote => format!("Fix or demote {}", r.component),
        Action::Repair => format!("Repair the checks of {}", r.component),
    };
    RecommendationRow {
        title,
        reason: r.reason.clone(),
        command: r.command.clone(),
    }
}

fn change_row(c: &ComponentStatus) -> ChangeRow {
    let change = c.change.as_ref();
    let with_delta = |now: String, delta: Option<i64>| match delta {
        Some(d) => format!("{now} ({})", signed(d)),
        None => now,
    };
    ChangeRow {
        name: c.name.clone(),
        stage: match change.and_then(|ch| ch.previous_stage) {
            Some(before) => format!("{before} → {}", c.stage),
            None => c.stage.title().to_owned(),
        },
        coverage: match (c.coverage, change.and_then(|ch| ch.coverage)) {
            (Some(now), Some(delta)) if delta >= 0.0 => format!("{} (+{delta:.2})", percent(now)),
            (Some(now), Some(delta)) => format!("{} (−{:.2})", percent(now), delta.abs()),
            (Some(now), None) => percent(now),
            (None, _) => "no data".to_owned(),
        },
        lint: with_delta(count(c.lint), change.and_then(|ch| ch.lint)),
        types: with_delta(count(c.types), change.and_then(|ch| ch.types)),
        security: with_delta(count(c.security), change.and_then(|ch| ch.security)),
        in_stage: match (&c.days_in_stage, &c.in_stage_since) {
            (Some(d), Some(since)) => format!("{} (since {})", days(*d), day(since)),
            _ => "unknown".to_owned(),
        },
    }
}

pub fn build(report: &StatusReport) -> View<'_> {
    let groups = report
        .groups
        .iter()
        .filter_map(|group| {
            let rows: Vec<Row> = report
                .components
                .iter()
                .filter(|c| &c.group == group)
                .map(row)
                .collect();
            (!rows.is_empty()).then(|| GroupView {
                name: group.clone(),
                rows,
            })
        })
        .collect();
    let blockers = report
        .components
        .iter()
        .flat_map(|c| {
            c.blockers.iter().map(|b| BlockerRow {
                component: c.name.clone(),
                gate: b.gate.id().to_owned(),
                message: b.message.clone(),
                fix: b.fix.clone(),
            })
        })
        .collect();
    let rollout = report
        .rollout
        .iter()
        .map(|plan| RolloutView {
            title: match plan.target {
                Stage::Production => "Toward Production (after the Staging waves)".to_owned(),
                target => format!("Toward {target}"),
            },
            waves: plan
                .waves
                .iter()
                .map(|wave| WaveRow {
                    number: wave.number,
                    members: wave.components.clone(),
                    ready: wave.components.iter().filter(|m| m.ready).count(),
                    size: wave.components.len(),
                })
                .collect(),
            unschedulable: plan.unschedulable.join(", "),
        })
        .collect();
    let s = &report.summary;
    View {
        report,
        date: day(&report.generated_at).to_owned(),
        thresholds: format!(
            "Development {}, Staging {}, Production {}",
            threshold(report.thresholds.development),
            threshold(report.thresholds.staging),
            threshold(report.thresholds.production)
        ),
        average_coverage: match s.average_coverage {
            Some(average) => format!(
                "{} ({} of {} measured)",
                percent(average),
                s.coverage_measured,
                s.components
            ),
            None => "no data".to_owned(),
        },
        groups,
        recommendations: report.recommendations.iter().map(recommendation).collect(),
        blockers,
        rollout,
        changes: report.components.iter().map(change_row).collect(),
        baseline: report.history.baseline.clone(),
    }
}
