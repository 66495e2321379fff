//! Production evidence end to end: the bundled example's neo4j (in Staging for weeks) taken to a
//! promotable Production report against a real Prometheus (promtool blocks of seven days
//! around now, a rules file, a live target), then the same run against a Prometheus whose
//! series hold a one-hour outage: not promotable, with the figure.

#[path = "../../promote/src/evidence/test_prometheus.rs"]
mod test_prometheus;

use crate::support::{Sandbox, assert_valid_json};
pub(crate) use test_prometheus::TestPrometheus;
use test_prometheus::{Fixture, openmetrics};

const RULES: &str = "groups:\n  - name: tta-staging\n    rules:\n      - alert: Neo4jDown\n        expr: up{job=\"neo4j\"} == 0\n        for: 2m\n";

const COMPOSE: &str =
    "services:\n  neo4j:\n    image: busybox\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n";

const RUNBOOK: &str = "\n## Troubleshooting\n\nA `QueryError` names the parameter that is missing: pass every `$name` in `params`.\n\n## Runbook\n\nDeploy with `cargo xtask promote neo4j --phase 5`; roll back with the command the report prints.\n";

/// Prometheus scraping itself as neo4j's target (instance `neo4j:8000`, so the live `up` series
/// continues the fixture's), over the fixture's blocks.
pub(crate) fn start_prometheus(outage_seconds: i64) -> TestPrometheus {
    let now = chrono::Utc::now().timestamp();
    let fixture = Fixture {
        job: "neo4j",
        outage: Some((2 * 86_400, outage_seconds)),
        gap: None,
        histogram: true,
    };
    TestPrometheus::start_as(
        &openmetrics(now, &[fixture]),
        RULES,
        "neo4j",
        Some("neo4j:8000"),
    )
}

pub(crate) fn sandbox(prometheus: &TestPrometheus) -> Sandbox {
    let mut sandbox = Sandbox::new();
    let config = sandbox
        .config_text()
        .replace(
            "metrics = { job = \"neo4j\" }",
            "metrics = { job = \"neo4j\" }\nservice = \"neo4j\"",
        )
        .replace(
            "scrape_interval_seconds = 15 ",
            &format!("scrape_interval_seconds = {} ", test_prometheus::STEP),
        );
    assert!(config.contains("service = \"neo4j\""));
    assert!(config.contains("scrape_interval_seconds = 300"));
    sandbox.set_config(&format!(
        "{config}\n[environments.staging]\ncompose_file = \"deploy/compose.staging.yml\"\nproject_name = \"tta-staging\"\n"
    ));
    sandbox.write("deploy/compose.staging.yml", COMPOSE);
    let readme = format!(
        "{}{RUNBOOK}",
        sandbox.read("docs/components/neo4j/README.md")
    );
    sandbox.write("docs/components/neo4j/README.md", &readme);
    sandbox.env("TTA_PROMETHEUS_STAGING_URL", &prometheus.url());
    let history = sandbox.report_path("neo4j", "deployment.json");
    std::fs::create_dir_all(history.parent().unwrap()).unwrap();
    std::fs::write(
        &history,
        drill_history(chrono::Utc::now() - chrono::Duration::days(1)),
    )
    .unwrap();
    sandbox
}

/// A deployment history holding one passing rollback drill of neo4j in staging, finished at
/// `at` (as `promote neo4j --phase 5 --drill` writes it; `deploy::drill` runs one for real).
fn drill_history(at: chrono::DateTime<chrono::Utc>) -> String {
    let time = |seconds: i64| {
        (at - chrono::Duration::seconds(seconds)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let image = |digit: char| format!("sha256:{}", digit.to_string().repeat(64));
    let state = |digit: char| serde_json::json!({"image_id": image(digit), "replicas": 1, "proven_at": time(86_400)});
    let step = |digit: char, from: i64, to: i64| {
        serde_json::json!({
            "image_id": image(digit), "replicas": 1, "started_at": time(from), "finished_at": time(to),
            "proof": {"proven": true, "message": "neo4j runs it again, healthy for the 3s settle window", "time_to_healthy_ms": 1200, "running": "1 × healthy"}
        })
    };
    let drill = serde_json::json!({
        "kind": "drill", "attempt": "20260101T000000.000Z-1", "component": "neo4j",
        "environment": "staging", "service": "neo4j", "project_name": "tta-staging",
        "compose_file": "deploy/compose.staging.yml", "compose": "docker-compose 1.29.2",
        "outcome": "passed", "started_at": time(20), "finished_at": time(0), "health": "healthcheck",
        "from": state('b'), "to": state('a'), "back": step('a', 20, 10), "forward": step('b', 10, 0),
        "running_image_id": image('b')
    });
    serde_json::to_string_pretty(&serde_json::json!({
        "schema_version": 3, "component": "neo4j", "deployments": [drill]
    }))
    .unwrap()
}

#[test]
fn a_staging_component_with_evidence_is_promotable_to_production_and_an_outage_blocks_it() {
    let prometheus = start_prometheus(1800);
    let sandbox = sandbox(&prometheus);
    let run = sandbox.xtask(&["promote", "neo4j"]);
    assert_eq!(run.code, 0, "{}\n{}", run.all(), prometheus.log());
    let report = sandbox.report("neo4j");
    assert_eq!(report["to_stage"], "production");
    assert_eq!(report["promotable"], true, "{report:#}");
    let gates = &report["quality_gates"];
    let uptime = gates["uptime"]["measured"].as_f64().unwrap();
    assert!((99.6..99.8).contains(&uptime), "{uptime}");
    assert!(gates["uptime"]["facts"]["worst_hour"]["start"].is_string());
    let p95 = gates["latency"]["measured"].as_f64().unwrap();
    assert!((200.0..300.0).contains(&p95), "{p95}");
    assert_eq!(gates["monitoring"]["measured"], 3);
    assert_eq!(
        gates["monitoring"]["facts"]["alert_rules"]["found"][0],
        "Neo4jDown"
    );
    assert_eq!(gates["docs"]["threshold"], 6);
    assert_valid_json(
        "promotion-report.schema.json",
        &sandbox.report_path("neo4j", "promotion.json"),
    );
    // The request ticks the boxes the evidence shows, with the figure beside them.
    let path = sandbox.root().join("request.md");
    let run = sandbox.xtask(&["issue", "neo4j", "--output", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.all());
    let body = std::fs::read_to_string(path).unwrap();
    assert!(
        body.contains("- [X] Reliability: 7-day uptime in staging ≥99.5% (99.7"),
        "{body}"
    );
    assert!(body.contains("- [X] Performance:"), "{body}");
    assert!(body.contains("- [X] Monitoring:"), "{body}");
    assert!(
        body.contains("- [X] Rollback: Rollback procedure documented and tested (drill passed on "),
        "the drill's date beside the box: {body}"
    );
    assert_eq!(gates["rollback"]["passed"], true, "{report:#}");
    assert_valid_json(
        "deployment-record.schema.json",
        &sandbox.report_path("neo4j", "deployment.json"),
    );
    assert!(
        body.contains("- [ ] Security:"),
        "a person ticks that one: {body}"
    );
    drop(prometheus);

    // One hour down in seven days: 99.40 %, below 99.5 %.
    let prometheus = start_prometheus(3600);
    let mut sandbox = sandbox;
    sandbox.env("TTA_PROMETHEUS_STAGING_URL", &prometheus.url());
    let run = sandbox.xtask(&["promote", "neo4j"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout.contains("99.40% up over 7 days"),
        "{}",
        run.all()
    );
    let report = sandbox.report("neo4j");
    assert_eq!(report["promotable"], false);
    assert_eq!(report["quality_gates"]["uptime"]["passed"], false);
}
