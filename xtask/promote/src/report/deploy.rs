//! Pure renderings of the deployment and integration sections: for the terminal (after the
//! gates) and for `summary.md`. Only the reports' own renderers call these; they live in
//! `report/` so that `deploy/` never depends on the reports.

use std::fmt::Write;

use console::style;

use super::markdown::cell;
use crate::deploy::integration::IntegrationRun;
use crate::deploy::model::{Deployment, Outcome, short_id};

fn image(id: &Option<String>) -> String {
    id.as_deref().map_or("none".to_owned(), short_id)
}

/// Log lines shown in the terminal; the report keeps all it captured.
const LOG_LINES_SHOWN: usize = 20;

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
    let _ = writeln!(
        out,
        "  image      {} (before: {}, now running: {})",
        image(&deployment.image_id),
        image(&deployment.previous_image_id),
        image(&deployment.running_image_id)
    );
    if let Some(ms) = deployment.time_to_healthy_ms {
        let _ = writeln!(out, "  healthy in {:.1}s", ms as f64 / 1000.0);
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
    let rows = [
        ("Outcome", outcome.to_owned()),
        (
            "Service",
            format!("{} ({})", deployment.service, deployment.project_name),
        ),
        ("Environment", deployment.environment.to_string()),
        ("Image", image(&deployment.image_id)),
        ("Previous image", image(&deployment.previous_image_id)),
        ("Running now", image(&deployment.running_image_id)),
        (
            "Time to healthy",
            deployment.time_to_healthy_ms.map_or("—".to_owned(), |ms| {
                format!("{:.1} s", ms as f64 / 1000.0)
            }),
        ),
        (
            "Failure",
            deployment.failure.clone().unwrap_or_else(|| "—".to_owned()),
        ),
        (
            "Rollback",
            deployment.rollback.as_ref().map_or("—".to_owned(), |r| {
                format!(
                    "{} ({})",
                    r.message,
                    if r.proven { "proven" } else { "not proven" }
                )
            }),
        ),
    ];
    for (label, value) in rows {
        let _ = writeln!(out, "| {label} | {} |", cell(&value));
    }
    out.push('\n');
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
        out.push_str(&super::markdown::finding_item(finding));
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
    use crate::stage::Stage;

    fn rolled_back() -> Deployment {
        let mut d = sample(Stage::Staging, Outcome::RolledBack, 7);
        d.previous_image_id = Some(format!("sha256:{}", "ab".repeat(32)));
        d.running_image_id = d.previous_image_id.clone();
        d.time_to_healthy_ms = None;
        d.failure = Some(
            "the healthcheck of container tta-staging_carbon_1 failed 2 times in a row".into(),
        );
        d.logs = vec![
            "carbon_1  | [::ffff:127.0.0.1]:54738: url:/healthz".into(),
            "carbon_1  | [::ffff:127.0.0.1]:54738: response:404".into(),
        ];
        d.rollback = Some(Rollback {
            proven: true,
            message: "carbon runs sha256:abababababab again and is healthy".into(),
            time_to_healthy_ms: Some(2100),
        });
        d
    }

    #[test]
    fn deployed_text_and_markdown() {
        console::set_colors_enabled(false);
        let d = sample(Stage::Staging, Outcome::Deployed, 3);
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
