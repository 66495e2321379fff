//! `summary.md`: the report as GitHub-flavoured Markdown, for the step summary and for people
//! reading the reports folder.

use std::fmt::Write;

use super::PromotionReport;
use crate::markdown::{self, Place};
use crate::plural::count;
use crate::tools::result::StepStatus;

/// Findings listed per step before the rest are summarised.
const FINDINGS_PER_STEP: usize = 25;

/// Table cells and list text use the one escaper (`crate::markdown`).
pub use crate::markdown::text as cell;

pub fn render(report: &PromotionReport) -> String {
    let mut out = String::new();
    let verdict = if report.promotable {
        "✅ promotable"
    } else if report.passed {
        "✅ passed"
    } else {
        "❌ not promotable"
    };
    let cached = if report.summary.steps == 0 {
        String::new()
    } else {
        format!(
            " · {} of {} from cache",
            report.summary.cached_steps,
            count(report.summary.steps, "step")
        )
    };
    let _ = writeln!(
        out,
        "# {} — {} → {}\n\n**{verdict}** · phases {}{cached}\n",
        cell(&report.display_name),
        report.from_stage,
        report.to_stage,
        report
            .phases
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    );

    if !report.quality_gates.is_empty() {
        out.push_str("## Quality gates\n\n| Gate | Result | Measured | Threshold | Summary |\n|---|---|---|---|---|\n");
        for (id, gate) in &report.quality_gates {
            let _ = writeln!(
                out,
                "| {id} | {} | {} | {} | {} |",
                if gate.passed() {
                    "✅ pass"
                } else {
                    "❌ fail"
                },
                cell(&gate.measured_text()),
                cell(&gate.threshold_text()),
                cell(&gate.summary())
            );
        }
        out.push('\n');
    }

    if !report.blockers.is_empty() {
        out.push_str("## Blockers\n\n");
        for blocker in &report.blockers {
            let _ = writeln!(
                out,
                "- **{}**: {}  \n  _fix_: {}",
                blocker.gate,
                markdown::prose(&blocker.message, Place::Line, usize::MAX),
                markdown::prose(&blocker.fix, Place::Line, usize::MAX)
            );
        }
        out.push('\n');
    }

    // Phase 5 and --integration add their sections (see deploy.rs).
    if let Some(deployment) = &report.deployment {
        out.push_str(&super::deploy::deployment_markdown(deployment));
    }
    if let Some(integration) = &report.integration {
        out.push_str(&super::deploy::integration_markdown(integration));
    }

    steps(&mut out, report);
    out
}

/// The steps table and each step's findings; nothing for a run without steps (phase 3).
fn steps(out: &mut String, report: &PromotionReport) {
    if report.steps.is_empty() {
        return;
    }
    out.push_str(
        "## Steps\n\n| Step | Tool | Status | Cached | Findings |\n|---|---|---|---|---|\n",
    );
    for step in &report.steps {
        let status = match step.status() {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::Error => "error",
        };
        let _ = writeln!(
            out,
            "| {} | {} {} | {status} | {} | {} |",
            step.name,
            step.tool().name(),
            cell(&step.version),
            if step.cached { "yes" } else { "no" },
            step.findings().len()
        );
    }
    out.push('\n');

    for step in report.steps.iter().filter(|s| !s.findings().is_empty()) {
        let _ = writeln!(
            out,
            "<details><summary>{} of {}</summary>\n",
            count(step.findings().len(), "finding"),
            step.name
        );
        for finding in step.findings().iter().take(FINDINGS_PER_STEP) {
            out.push_str(&super::finding_item::render(finding));
        }
        if step.findings().len() > FINDINGS_PER_STEP {
            let _ = writeln!(
                out,
                "- … {} more in `promotion.json`",
                step.findings().len() - FINDINGS_PER_STEP
            );
        }
        out.push_str("\n</details>\n\n");
    }
}
