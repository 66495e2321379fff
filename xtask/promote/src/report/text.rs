//! The terminal rendering of a promotion report: findings grouped by file as
//! `path:line:col code message`, the steps, the gate table, blockers with their fixes, and a
//! closing verdict line. Pure: the caller decides where it goes and whether colour is on.

use std::fmt::Write;

use console::style;

use super::PromotionReport;
use crate::plural::count;
use crate::tools::Finding;
use crate::tools::result::{StepOutcome, StepStatus};

/// How many finding lines to show before summarising the rest (unless verbose).
pub const FINDINGS_SHOWN: usize = 60;

pub fn render(report: &PromotionReport, show_all: bool) -> String {
    let mut out = String::new();
    header(&mut out, report);
    findings(&mut out, report, show_all);
    steps(&mut out, report);
    gates(&mut out, report);

    // Phase 5 and --integration add their sections (see deploy.rs).
    if let Some(integration) = &report.integration {
        out.push_str(&super::deploy::integration_text(integration));
    }
    if let Some(deployment) = &report.deployment {
        out.push_str(&super::deploy::deployment_text(deployment));
    }
    verdict(&mut out, report);
    out
}

fn phases(report: &PromotionReport) -> String {
    report
        .phases
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn header(out: &mut String, report: &PromotionReport) {
    let _ = writeln!(
        out,
        "{} ({}): {} -> {}, phases {}",
        style(&report.component).bold(),
        report.display_name,
        report.from_stage,
        report.to_stage,
        phases(report)
    );
}

/// Every step's findings, sorted by file and position, up to `FINDINGS_SHOWN` unless
/// `show_all`.
fn findings(out: &mut String, report: &PromotionReport, show_all: bool) {
    let mut findings: Vec<(&str, &Finding)> = report
        .steps
        .iter()
        .flat_map(|s| s.findings().iter().map(move |f| (s.name.id(), f)))
        .collect();
    findings.sort_by(|(_, a), (_, b)| {
        (&a.file, a.line, a.column, &a.code).cmp(&(&b.file, b.line, b.column, &b.code))
    });
    if !findings.is_empty() {
        let _ = writeln!(out, "\n{}", style("Findings").bold().underlined());
        let limit = if show_all { usize::MAX } else { FINDINGS_SHOWN };
        let mut last_file: Option<&str> = None;
        for (_, finding) in findings.iter().take(limit) {
            if last_file.is_some_and(|f| f != finding.file) {
                out.push('\n');
            }
            last_file = Some(&finding.file);
            let _ = writeln!(
                out,
                "{} {} {}",
                style(finding.location()).cyan(),
                style(&finding.code).yellow(),
                finding.message
            );
        }
        if findings.len() > limit {
            let _ = writeln!(
                out,
                "... and {} more (all of them are in reports/{}/promotion.json; -v lists them here)",
                findings.len() - limit,
                report.component
            );
        }
    }
}

fn steps(out: &mut String, report: &PromotionReport) {
    // Phase 3 runs no tool: no heading over nothing.
    if report.steps.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{}", style("Steps").bold().underlined());
    for step in &report.steps {
        let mark = match step.status() {
            StepStatus::Passed => style("pass").green(),
            StepStatus::Failed => style("FAIL").red().bold(),
            StepStatus::Error => style("ERROR").red().bold(),
        };
        let detail = match &step.outcome {
            StepOutcome::Error(error) => {
                error.message.lines().next().unwrap_or_default().to_owned()
            }
            StepOutcome::TestRun {
                counts,
                coverage: Some(coverage),
                ..
            } => format!(
                "{}, {} failed, coverage {:.2}%",
                count(counts.total, "test"),
                counts.failed + counts.errors,
                coverage.percent
            ),
            StepOutcome::TestRun {
                counts,
                coverage: None,
                ..
            } => format!("{}, no coverage data", count(counts.total, "test")),
            StepOutcome::Verdict { findings, .. } => count(findings.len(), "finding"),
        };
        let timing = if step.cached {
            style("cached".to_owned()).dim()
        } else {
            style(format!("{:.1}s", step.duration_ms as f64 / 1000.0)).dim()
        };
        let _ = writeln!(
            out,
            "  {:<6} {:<18} {:<10} {:<7} {detail}",
            mark,
            step.name.id(),
            format!("{} {}", step.tool().name(), step.version)
                .chars()
                .take(18)
                .collect::<String>(),
            timing
        );
        if let Some(why) = &step.not_cached {
            let _ = writeln!(
                out,
                "         {}",
                style(format!("not cached: {why}")).dim()
            );
        }
    }
}

/// The gate table, then the blockers with their fixes.
fn gates(out: &mut String, report: &PromotionReport) {
    if !report.quality_gates.is_empty() {
        let _ = writeln!(out, "\n{}", style("Gates").bold().underlined());
        for (id, gate) in &report.quality_gates {
            let mark = if gate.passed() {
                style("pass").green()
            } else {
                style("FAIL").red().bold()
            };
            let _ = writeln!(out, "  {:<6} {:<14} {}", mark, id.id(), gate.summary());
        }
    }

    if !report.blockers.is_empty() {
        let _ = writeln!(out, "\n{}", style("Blockers").bold().underlined());
        for blocker in &report.blockers {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                style("x").red(),
                blocker.gate,
                blocker.message
            );
            let _ = writeln!(out, "    fix: {}", blocker.fix);
        }
    }
}

fn verdict(out: &mut String, report: &PromotionReport) {
    out.push('\n');
    let verdict = if report.promotable {
        style(format!("promotable to {}", report.to_stage))
            .green()
            .bold()
    } else if report.passed {
        style(format!(
            "phase {} passed (run --phase all to decide promotion to {})",
            phases(report),
            report.to_stage
        ))
        .green()
    } else {
        style(format!(
            "not promotable to {}: {}",
            report.to_stage,
            count(report.blockers.len(), "blocker")
        ))
        .red()
        .bold()
    };
    if report.summary.steps == 0 {
        let _ = writeln!(out, "{verdict}");
    } else {
        let _ = writeln!(
            out,
            "{verdict} ({} of {} from cache)",
            report.summary.cached_steps,
            count(report.summary.steps, "step")
        );
    }
}
