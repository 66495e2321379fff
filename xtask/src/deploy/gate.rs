//! Pure: a deploy or an integration run as a quality gate of the promotion report (with a
//! blocker that says what to do when it failed), and folding them into the report. A failed
//! deploy makes the component not promotable, like any other failed gate.

use std::time::Duration;

use serde_json::json;

use super::integration::IntegrationRun;
use super::model::{Deployment, Outcome, short_id};
use crate::engine::result::ErrorKind;
use crate::gates::{Blocker, GateResult};
use crate::report::PromotionReport;

pub const DEPLOYMENT_GATE: &str = "deployment";
pub const INTEGRATION_GATE: &str = "integration";

/// What a person can do when the rollback failed, as commands to paste. `image` is the image
/// reference the compose file gives the service.
pub fn recovery_hint(compose: &str, service: &str, previous: Option<&str>, image: &str) -> String {
    match previous {
        Some(previous) => format!(
            "restore the previous image by hand: `docker tag {previous} {image}` then `{compose} up -d --no-deps {service}`; check it with `{compose} ps {service}` and `{compose} logs {service}`"
        ),
        None => format!(
            "the service did not run before this deploy: remove what is left with `{compose} rm -s -f {service}`"
        ),
    }
}

pub fn deployment_gate(
    deployment: &Deployment,
    timeout: Duration,
    retry: &str,
    recovery: &str,
) -> (GateResult, Option<Blocker>) {
    let service = &deployment.service;
    let image = |id: &Option<String>| id.as_deref().map_or("no image".to_owned(), short_id);
    match deployment.outcome {
        Outcome::Deployed => {
            let seconds = deployment.time_to_healthy_ms.unwrap_or(0) as f64 / 1000.0;
            (
                GateResult {
                    passed: true,
                    measured: json!((seconds * 10.0).round() / 10.0),
                    threshold: json!(timeout.as_secs()),
                    unit: "seconds to healthy".to_owned(),
                    summary: format!(
                        "{service} healthy on {} in {seconds:.1}s",
                        image(&deployment.running_image_id)
                    ),
                },
                None,
            )
        }
        Outcome::RolledBack | Outcome::RollbackFailed => {
            let failure = deployment.failure.clone().unwrap_or_default();
            let proof = deployment
                .rollback
                .as_ref()
                .map(|r| r.message.clone())
                .unwrap_or_default();
            let rolled_back = deployment.outcome == Outcome::RolledBack;
            let summary = if rolled_back {
                format!(
                    "deploy failed, rolled back to {}",
                    image(&deployment.previous_image_id)
                )
            } else {
                format!("deploy failed and the rollback failed: {service} may be down")
            };
            let blocker = Blocker {
                gate: DEPLOYMENT_GATE.to_owned(),
                message: if rolled_back {
                    format!("deploy of {service} failed: {failure} (rolled back: {proof})")
                } else {
                    format!("deploy of {service} failed: {failure}; the rollback failed: {proof}")
                },
                fix: if rolled_back {
                    format!(
                        "read the service's last log lines under `deployment.logs` in promotion.json, fix the image, then run `{retry}`"
                    )
                } else {
                    recovery.to_owned()
                },
            };
            (
                GateResult {
                    passed: false,
                    measured: json!(summary.clone()),
                    threshold: json!("healthy"),
                    unit: "outcome".to_owned(),
                    summary,
                },
                Some(blocker),
            )
        }
    }
}

pub fn integration_gate(run: &IntegrationRun, retry: &str) -> (GateResult, Option<Blocker>) {
    let counts = run.tests.unwrap_or_default();
    let measured = format!(
        "{} passed, {} failed",
        counts.passed,
        counts.failed + counts.errors
    );
    if run.passed() {
        return (
            GateResult {
                passed: true,
                measured: json!(counts.failed + counts.errors),
                threshold: json!(0),
                unit: "failed tests".to_owned(),
                summary: format!(
                    "{measured}{}",
                    if run.services.is_empty() {
                        String::new()
                    } else {
                        format!(" against {}", run.services.join(", "))
                    }
                ),
            },
            None,
        );
    }
    let (summary, message, fix) = if let Some(error) = &run.error {
        let fix = match error.kind {
            ErrorKind::Interrupted => format!("run `{retry}` again"),
            ErrorKind::NoTests => "mark the tests that need the services with @pytest.mark.integration and list their files under `tests`".to_owned(),
            _ => format!("run `{}` from the project root to see the failure", run.command.join(" ")),
        };
        (
            "integration tests errored".to_owned(),
            format!(
                "integration tests could not give a verdict: {}",
                error.message
            ),
            fix,
        )
    } else if !run.services_healthy {
        (
            "services not healthy".to_owned(),
            run.findings
                .first()
                .map(|f| f.message.clone())
                .unwrap_or_else(|| "the integration services did not become healthy".to_owned()),
            "read the services' last log lines under `integration.logs` in promotion.json, fix them, then run the command again".to_owned(),
        )
    } else if run.status != crate::engine::result::StepStatus::Passed {
        (
            measured.clone(),
            format!("{} integration tests failed", counts.failed + counts.errors),
            format!("fix the failing tests listed above, then run `{retry}`"),
        )
    } else {
        let teardown = run
            .teardown
            .as_ref()
            .map(|t| t.message.clone())
            .unwrap_or_default();
        (
            "services left behind".to_owned(),
            teardown.clone(),
            teardown,
        )
    };
    (
        GateResult {
            passed: false,
            measured: json!(measured),
            threshold: json!(0),
            unit: "failed tests".to_owned(),
            summary,
        },
        Some(Blocker {
            gate: INTEGRATION_GATE.to_owned(),
            message,
            fix,
        }),
    )
}

/// Adds a gate (after the others) and its blocker, and re-decides `passed` and `promotable`.
pub fn add_gate(report: &mut PromotionReport, id: &str, gate: (GateResult, Option<Blocker>)) {
    let (result, blocker) = gate;
    report.quality_gates.insert(id.to_owned(), result);
    if let Some(blocker) = blocker {
        report.blockers.push(blocker);
    }
    report.passed = report.quality_gates.values().all(|g| g.passed);
    report.promotable = report.passed && report.phases.contains(&4);
}

/// A redeploy to the stage the component is already in (a fix shipped to Staging, say) is not
/// a promotion, so the stage gate does not apply; every other gate still does.
pub fn allow_redeploy(report: &mut PromotionReport) {
    if report.from_stage != report.to_stage {
        return;
    }
    let stage = crate::plan::GateKind::Stage.id();
    report.quality_gates.shift_remove(stage);
    report.blockers.retain(|b| b.gate != stage);
    report.passed = report.quality_gates.values().all(|g| g.passed);
    report.promotable = report.passed && report.phases.contains(&4);
}

/// Folds an integration run into its report; returns the exit code it calls for.
pub fn add_integration(report: &mut PromotionReport, run: IntegrationRun, retry: &str) -> u8 {
    add_gate(report, INTEGRATION_GATE, integration_gate(&run, retry));
    let code = run.exit_code();
    report.integration = Some(run);
    code
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;

    use super::*;
    use crate::report::model::{REPORT_SCHEMA_VERSION, RunSummary};
    use crate::stage::Stage;

    fn gate(passed: bool) -> GateResult {
        GateResult {
            passed,
            measured: json!(0),
            threshold: json!(0),
            unit: String::new(),
            summary: String::new(),
        }
    }

    fn report(from: Stage, to: Stage) -> PromotionReport {
        let mut quality_gates = IndexMap::new();
        quality_gates.insert("stage".to_owned(), gate(from.next() == Some(to)));
        quality_gates.insert("lint".to_owned(), gate(true));
        PromotionReport {
            schema_version: REPORT_SCHEMA_VERSION,
            component: "carbon".into(),
            display_name: "Carbon".into(),
            group: "Core Infrastructure".into(),
            from_stage: from,
            to_stage: to,
            phases: vec![4, 5],
            promotable: false,
            passed: false,
            generated_at: String::new(),
            quality_gates,
            blockers: vec![Blocker {
                gate: "stage".into(),
                message: "already there".into(),
                fix: "none".into(),
            }],
            steps: vec![],
            summary: RunSummary {
                steps: 0,
                cached_steps: 0,
                findings: 0,
                coverage: None,
            },
            deployment: None,
            integration: None,
        }
    }

    #[test]
    fn a_redeploy_drops_only_the_stage_gate() {
        let mut redeploy = report(Stage::Staging, Stage::Staging);
        allow_redeploy(&mut redeploy);
        assert!(!redeploy.quality_gates.contains_key("stage"));
        assert!(redeploy.blockers.is_empty());
        assert!(redeploy.promotable);
        // A skipped stage stays refused.
        let mut skip = report(Stage::Development, Stage::Production);
        allow_redeploy(&mut skip);
        assert!(skip.quality_gates.contains_key("stage"));
        assert!(!skip.promotable);
    }

    #[test]
    fn a_failed_deploy_makes_the_report_not_promotable() {
        let mut promotion = report(Stage::Development, Stage::Staging);
        promotion.blockers.clear();
        promotion.passed = true;
        promotion.promotable = true;
        let mut deployment =
            crate::deploy::model::tests::sample(Stage::Staging, Outcome::RolledBack, 1);
        deployment.failure = Some("container web exited with code 3".into());
        let (result, blocker) =
            deployment_gate(&deployment, Duration::from_secs(120), "retry", "recover");
        assert!(!result.passed);
        let blocker = blocker.unwrap();
        assert!(blocker.message.contains("exited with code 3"));
        assert!(blocker.fix.contains("retry"));
        add_gate(&mut promotion, DEPLOYMENT_GATE, (result, Some(blocker)));
        assert!(!promotion.passed && !promotion.promotable);
        assert_eq!(
            promotion.quality_gates.keys().last().unwrap(),
            DEPLOYMENT_GATE
        );
        // A rollback that failed points at the recovery, not at a retry.
        deployment.outcome = Outcome::RollbackFailed;
        let (_, blocker) =
            deployment_gate(&deployment, Duration::from_secs(120), "retry", "recover");
        assert_eq!(blocker.unwrap().fix, "recover");
    }

    #[test]
    fn recovery_hints_are_commands() {
        let hint = recovery_hint(
            "docker-compose -f /r/c.yml -p tta",
            "web",
            Some("sha256:ab"),
            "tta/web:staging",
        );
        assert_eq!(
            hint,
            "restore the previous image by hand: `docker tag sha256:ab tta/web:staging` then `docker-compose -f /r/c.yml -p tta up -d --no-deps web`; check it with `docker-compose -f /r/c.yml -p tta ps web` and `docker-compose -f /r/c.yml -p tta logs web`"
        );
        assert!(recovery_hint("dc", "web", None, "x").contains("`dc rm -s -f web`"));
    }
}
