//! Pure renderings of the deployment and integration sections: for the terminal (after the
//! gates) and for `summary.md`. Only the reports' own renderers call these; they live in
//! `report/` so that `deploy/` never depends on the reports.

use std::fmt::Write;

use console::style;

use crate::deploy::integration::IntegrationRun;
use crate::deploy::model::{Deployment, Outcome, ProvenState, Sample, Settle, short_id};
use crate::markdown::text as cell;

fn image(id: &Option<String>) -> String {
    id.as_deref().map_or("none".to_owned(), short_id)
}

/// Log lines shown in the terminal; the report keeps all it captured.
const LOG_LINES_SHOWN: usize = 20;
/// Settle samples per line in the terminal.
const SAMPLES_PER_LINE: usize = 5;

/// One settle sample, short: `+1.0s 2/2 healthy`, with restarts and the problem when any.
fn sample_text(sample: &Sample) -> String {
    let mut text = format!(
        "+{:.1}s {}/{} healthy",
        sample.at_ms as f64 / 1000.0,
        sample.healthy,
        sample.expected
    );
    if sample.running != sample.expected {
        text.push_str(&format!(", {} running", sample.running));
    }
    if sample.restarts > 0 {
        text.push_str(&format!(", {} restarts", sample.restarts));
    }
    if let Some(problem) = &sample.problem {
        text.push_str(&format!(": {problem}"));
    }
    text
}

/// `30s window held: 31 samples` or `… broke at sample 5`.
fn settle_summary(settle: &Settle) -> String {
    format!(
        "{}s window {}: {} samples",
        settle.seconds,
        if settle.held { "held" } else { "BROKE" },
        settle.samples.len()
    )
}

fn settle_lines(out: &mut String, label: &str, settle: &Settle) {
    let _ = writeln!(out, "  {label:<10} {}", settle_summary(settle));
    for chunk in settle.samples.chunks(SAMPLES_PER_LINE) {
        let line: Vec<String> = chunk.iter().map(sample_text).collect();
        let _ = writeln!(out, "             {}", line.join(" · "));
    }
}

fn proven_text(state: &Option<ProvenState>) -> String {
    match state {
        None => "removal (nothing ran before, nothing proven)".to_owned(),
        Some(state) => format!(
            "{} × {}{}",
            state.replicas,
            short_id(&state.image_id),
            match state.proven_at {
                Some(at) => format!(
                    ", proven {}",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                None => ", what ran before (never proven)".to_owned(),
            }
        ),
    }
}

pub fn deployment_text(deployment: &Deployment) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n{}", style("Deployment").bold().underlined());
    let outcome = match deployment.outcome {
        Outcome::Deployed => style("deployed".to_owned()).green().bold(),
        Outcome::RolledBack => style("rolled back".to_owned()).yellow().bold(),
        Outcome::RollbackFailed => style("ROLLBACK FAILED".to_owned()).red().bold(),
    };
    let _ = writeln!(
        out,
        "  {outcome}: service {} in {} (project {}, {})",
        deployment.service, deployment.environment, deployment.project_name, deployment.compose
    );
    for note in &deployment.notes {
        let _ = writeln!(out, "  note       {note}");
    }
    let _ = writeln!(
        out,
        "  image      {} × {} (before: {}, now running: {})",
        deployment.replicas,
        image(&deployment.image_id),
        image(&deployment.previous_image_id),
        image(&deployment.running_image_id)
    );
    let _ = writeln!(out, "  restores   {}", proven_text(&deployment.restore_to));
    if let Some(ms) = deployment.time_to_healthy_ms {
        let _ = writeln!(
            out,
            "  healthy in {:.1}s after `up` returned",
            ms as f64 / 1000.0
        );
    }
    if let Some(settle) = &deployment.settle {
        settle_lines(&mut out, "settle", settle);
    }
    if let Some(failure) = &deployment.failure {
        let _ = writeln!(
            out,
            "  failure    {}",
            failure.lines().next().unwrap_or_default()
        );
    }
    if let Some(rollback) = &deployment.rollback {
        let _ = writeln!(
            out,
            "  rollback   {} ({})",
            rollback.message,
            if rollback.proven {
                "proven"
            } else {
                "NOT proven"
            }
        );
        if let Some(settle) = &rollback.settle {
            settle_lines(&mut out, "", settle);
        }
        if let Some(running) = &rollback.running {
            let _ = writeln!(out, "  running    {running}");
        }
    }
    if !deployment.logs.is_empty() {
        let _ = writeln!(out, "  last log lines of {}:", deployment.service);
        let shown = &deployment.logs[deployment.logs.len().saturating_sub(LOG_LINES_SHOWN)..];
        for line in shown {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

pub fn deployment_markdown(deployment: &Deployment) -> String {
    let mut out = String::from("## Deployment\n\n| | |\n|---|---|\n");
    let outcome = match deployment.outcome {
        Outcome::Deployed => "✅ deployed",
        Outcome::RolledBack => "↩️ deploy failed, rolled back",
        Outcome::RollbackFailed => "❌ deploy failed, rollback failed",
    };
    let dash = || "—".to_owned();
    let rows = [
        ("Outcome", outcome.to_owned()),
        (
            "Service",
            format!("{} ({})", deployment.service, deployment.project_name),
        ),
        ("Environment", deployment.environment.to_string()),
        (
            "Notes",
            if deployment.notes.is_empty() {
                dash()
            } else {
                deployment.notes.join("; ")
            },
        ),
        (
            "Image",
            format!("{} × {}", deployment.replicas, image(&deployment.image_id)),
        ),
        ("Previous image", image(&deployment.previous_image_id)),
        ("Running now", image(&deployment.running_image_id)),
        ("Restores on failure", proven_text(&deployment.restore_to)),
        (
            "Time to healthy",
            deployment.time_to_healthy_ms.map_or_else(dash, |ms| {
                format!("{:.1} s after `up` returned", ms as f64 / 1000.0)
            }),
        ),
        (
            "Settle window",
            deployment.settle.as_ref().map_or_else(dash, settle_summary),
        ),
        ("Failure", deployment.failure.clone().unwrap_or_else(dash)),
        (
            "Rollback",
            deployment.rollback.as_ref().map_or_else(dash, |r| {
                format!(
                    "{} ({}); running: {}",
                    r.message,
                    if r.proven { "proven" } else { "not proven" },
                    r.running.as_deref().unwrap_or("unknown")
                )
            }),
        ),
    ];
    for (label, value) in rows {
        let _ = writeln!(out, "| {label} | {} |", cell(&value));
    }
    out.push('\n');
    let windows = [
        ("the deploy", deployment.settle.as_ref()),
        (
            "the rollback",
            deployment.rollback.as_ref().and_then(|r| r.settle.as_ref()),
        ),
    ];
    for (whose, settle) in windows {
        let Some(settle) = settle else { continue };
        let _ = writeln!(
            out,
            "<details><summary>settle window of {whose}: {}</summary>\n\n| at | running | healthy | restarts | problem |\n|---|---|---|---|---|",
            settle_summary(settle)
        );
        for sample in &settle.samples {
            let _ = writeln!(
                out,
                "| +{:.1} s | {}/{} | {}/{} | {} | {} |",
                sample.at_ms as f64 / 1000.0,
                sample.running,
                sample.expected,
                sample.healthy,
                sample.expected,
                sample.restarts,
                cell(sample.problem.as_deref().unwrap_or("—"))
            );
        }
        out.push_str("\n</details>\n\n");
    }
    if !deployment.logs.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>last {} log lines of {}</summary>\n\n```text",
            deployment.logs.len(),
            deployment.service
        );
        for line in &deployment.logs {
            let _ = writeln!(out, "{}", line.replace("```", "'''"));
        }
        out.push_str("```\n\n</details>\n\n");
    }
    out
}

pub fn integration_text(run: &IntegrationRun) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n{}", style("Integration").bold().underlined());
    if !run.services.is_empty() {
        let _ = writeln!(
            out,
            "  services   {} in project {} ({})",
            run.services.join(", "),
            run.project_name.as_deref().unwrap_or("?"),
            if run.services_healthy {
                "healthy"
            } else {
                "NOT healthy"
            }
        );
    }
    match (&run.error, run.tests) {
        (Some(error), _) => {
            let _ = writeln!(
                out,
                "  tests      error: {}",
                error.message.lines().next().unwrap_or_default()
            );
        }
        (None, Some(tests)) => {
            let _ = writeln!(
                out,
                "  tests      {} passed, {} failed, {} skipped",
                tests.passed,
                tests.failed + tests.errors,
                tests.skipped
            );
        }
        (None, None) => {
            let _ = writeln!(out, "  tests      not run");
        }
    }
    for finding in &run.findings {
        let _ = writeln!(
            out,
            "    {} {} {}",
            finding.location(),
            finding.code,
            finding.message
        );
    }
    for line in &run.logs {
        let _ = writeln!(out, "    | {line}");
    }
    if let Some(teardown) = &run.teardown {
        let _ = writeln!(out, "  teardown   {}", teardown.message);
    }
    out
}

pub fn integration_markdown(run: &IntegrationRun) -> String {
    let mut out = String::from("## Integration\n\n");
    if !run.services.is_empty() {
        let _ = writeln!(
            out,
            "Services {} in project `{}`: {}.\n",
            run.services.join(", "),
            run.project_name.as_deref().unwrap_or("?"),
            if run.services_healthy {
                "healthy"
            } else {
                "**not healthy**"
            }
        );
    }
    match (&run.error, run.tests) {
        (Some(error), _) => {
            let _ = writeln!(out, "Tests: error: {}\n", cell(&error.message));
        }
        (None, Some(tests)) => {
            let _ = writeln!(
                out,
                "Tests: {} passed, {} failed, {} skipped.\n",
                tests.passed,
                tests.failed + tests.errors,
                tests.skipped
            );
        }
        (None, None) => out.push_str("Tests: not run.\n\n"),
    }
    for finding in &run.findings {
        out.push_str(&super::finding_item::render(finding));
    }
    if !run.findings.is_empty() {
        out.push('\n');
    }
    if let Some(teardown) = &run.teardown {
        let _ = writeln!(out, "Teardown: {}\n", cell(&teardown.message));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::model::{Rollback, tests::sample};
    use crate::vocab::Stage;

    fn rolled_back() -> Deployment {
        let mut d = sample(Stage::Staging, Outcome::RolledBack, 7);
        d.previous_image_id = Some(format!("sha256:{}", "ab".repeat(32)));
        d.running_image_id = d.previous_image_id.clone();
        d.time_to_healthy_ms = None;
        d.logs = vec![
            "carbon_1  | [::ffff:127.0.0.1]:54738: url:/healthz".into(),
            "carbon_1  | [::ffff:127.0.0.1]:54738: response:404".into(),
        ];
        d.restore_to = Some(ProvenState {
            image_id: format!("sha256:{}", "ab".repeat(32)),
            replicas: 1,
            config_digest: None,
            proven_at: Some(d.started_at - chrono::Duration::days(1)),
        });
        d.time_to_healthy_ms = Some(1200);
        d.notes = vec!["carbon is not healthy now, before this deploy: the healthcheck of container tta-staging_carbon_1 failed 3 times in a row".into()];
        d.settle = Some(Settle {
            seconds: 10,
            held: false,
            samples: vec![
                sample_at(0, None),
                sample_at(1000, None),
                sample_at(
                    2010,
                    Some("container tta-staging_carbon_1 exited with code 5"),
                ),
            ],
        });
        d.failure = Some("healthy, then not within the 10s settle window: at +2.0s container tta-staging_carbon_1 exited with code 5".into());
        d.rollback = Some(Rollback {
            proven: true,
            message: "carbon runs 1 × sha256:abababababab with its recorded configuration again, healthy for the 10s settle window".into(),
            time_to_healthy_ms: Some(2100),
            settle: Some(Settle {
                seconds: 10,
                held: true,
                samples: (0..11).map(|i| sample_at(i * 1000, None)).collect(),
            }),
            running: Some("1 × sha256:abababababab (healthy)".into()),
        });
        d
    }

    fn sample_at(at_ms: u64, problem: Option<&str>) -> Sample {
        Sample {
            at_ms,
            expected: 1,
            running: if problem.is_some() { 0 } else { 1 },
            healthy: if problem.is_some() { 0 } else { 1 },
            restarts: 0,
            problem: problem.map(str::to_owned),
        }
    }

    #[test]
    fn deployed_text_and_markdown() {
        console::set_colors_enabled(false);
        let mut d = sample(Stage::Staging, Outcome::Deployed, 3);
        d.replicas = 2;
        d.settle = Some(Settle {
            seconds: 3,
            held: true,
            samples: (0..4)
                .map(|i| Sample {
                    expected: 2,
                    running: 2,
                    healthy: 2,
                    ..sample_at(i * 1000, None)
                })
                .collect(),
        });
        insta::assert_snapshot!(format!(
            "{}\n---\n{}",
            deployment_text(&d),
            deployment_markdown(&d)
        ));
    }

    #[test]
    fn rolled_back_text_and_markdown_show_the_logs() {
        console::set_colors_enabled(false);
        let d = rolled_back();
        insta::assert_snapshot!(format!(
            "{}\n---\n{}",
            deployment_text(&d),
            deployment_markdown(&d)
        ));
    }
}
