//! `promote --integration` on the real engine: the component's services come up in a project of
//! their own, its tests marked `integration` reach them, and the services are torn down (their
//! containers, networks and volumes) after a passing run, a failing run and Ctrl-C alike.

use std::time::{Duration, Instant};

use super::engine::{Engine, Variant};
use super::{interrupt, sandbox};
use crate::support::{Sandbox, assert_valid_json};

const TEST_FILE: &str = "tests/test_carbon_integration.py";

/// A test module that reaches the `db` service at the address xtask exports, and skips itself
/// when run without it (the ordinary pytest step). `body` is the second test's body.
fn test_module(body: &str) -> String {
    format!(
        r#""""Carbon against the `db` compose service: run by `cargo xtask promote --integration`."""

import os
import pathlib
import time
import urllib.request

import pytest

HOST = os.environ.get("XTASK_SERVICE_DB_HOST")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(HOST is None, reason="needs the db service: cargo xtask promote --integration"),
]


def fetch() -> str:
    with urllib.request.urlopen(f"http://{{HOST}}/", timeout=5) as response:
        return response.read().decode().strip()


def test_the_service_answers() -> None:
    assert fetch() == "db-v1"


def test_second() -> None:
{body}
"#
    )
}

/// carbon with `services = ["db"]` and the integration module in its tests; `db` is a busybox
/// web server with a healthcheck.
fn integration_sandbox(engine: &mut Engine, body: &str) -> (Sandbox, String) {
    integration_sandbox_with(engine, body, Variant::Healthy("db-v1"))
}

fn integration_sandbox_with(engine: &mut Engine, body: &str, db: Variant) -> (Sandbox, String) {
    engine.build("db", "v1", db);
    // A named volume too: the teardown must remove it and prove it.
    let compose = format!(
        "services:\n  db:\n    image: {}\n    volumes:\n      - data:/data\nvolumes:\n  data: {{}}\n",
        engine.image("db", "v1")
    );
    let sandbox = sandbox(engine, &compose, "services = [\"db\"]");
    let config = sandbox.config_text().replace(
        "tests = [\"tests/test_carbon_component.py\"]",
        &format!("tests = [\"tests/test_carbon_component.py\", \"{TEST_FILE}\"]"),
    );
    sandbox.set_config(&config);
    sandbox.write(TEST_FILE, &test_module(body));
    let project = format!("{}-it-carbon", engine.project);
    engine.other_projects.push(project.clone());
    (sandbox, project)
}

fn assert_torn_down(engine: &Engine, project: &str) {
    assert!(
        engine.containers_of(project, None).is_empty(),
        "containers of {project} are left: {:?}",
        engine.containers_of(project, None)
    );
    assert!(
        engine.networks_of(project).is_empty(),
        "networks of {project} are left"
    );
    assert!(
        engine.volumes_of(project).is_empty(),
        "volumes of {project} are left: {:?}",
        engine.volumes_of(project)
    );
}

#[test]
fn integration_tests_reach_their_services_and_the_services_are_torn_down() {
    let mut engine = Engine::new();
    let (sandbox, project) =
        integration_sandbox(&mut engine, "    assert fetch().startswith(\"db\")");
    let run = sandbox.xtask(&["promote", "carbon", "--integration"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let report = sandbox.report("carbon");
    assert_valid_json(
        "promotion-report.schema.json",
        &sandbox.report_path("carbon", "promotion.json"),
    );
    let integration = &report["integration"];
    assert_eq!(integration["status"], "passed", "{integration:#}");
    assert_eq!(integration["tests"]["passed"], 2);
    assert_eq!(integration["services_healthy"], true);
    assert_eq!(integration["project_name"], project.as_str());
    assert_eq!(integration["teardown"]["removed"], true);
    assert!(
        integration["teardown"]["message"]
            .as_str()
            .unwrap()
            .contains("volume"),
        "{integration:#}"
    );
    assert_eq!(report["quality_gates"]["integration"]["passed"], true);
    assert_eq!(report["promotable"], true);
    // The ordinary pytest step ran the module too, and it skipped itself there.
    let pytest = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "pytest")
        .unwrap();
    assert_eq!(pytest["tests"]["skipped"], 2, "{pytest:#}");
    assert_torn_down(&engine, &project);
}

#[test]
fn integration_services_are_torn_down_after_a_failing_test_run() {
    let mut engine = Engine::new();
    let (sandbox, project) = integration_sandbox(&mut engine, "    assert fetch() == \"db-v2\"");
    let run = sandbox.xtask(&["promote", "carbon", "--integration"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let report = sandbox.report("carbon");
    assert_valid_json(
        "promotion-report.schema.json",
        &sandbox.report_path("carbon", "promotion.json"),
    );
    let integration = &report["integration"];
    assert_eq!(integration["status"], "failed", "{integration:#}");
    // One test reached the service and passed, the other failed on what it got back.
    assert_eq!(integration["tests"]["passed"], 1);
    assert_eq!(integration["tests"]["failed"], 1);
    assert!(
        integration["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("db-v2"),
        "{integration:#}"
    );
    assert_eq!(integration["teardown"]["removed"], true);
    assert_eq!(report["quality_gates"]["integration"]["passed"], false);
    assert_eq!(report["promotable"], false);
    assert_torn_down(&engine, &project);
}

#[test]
fn an_interrupted_integration_run_still_tears_its_services_down() {
    let mut engine = Engine::new();
    let marker = tempfile::NamedTempFile::new().unwrap();
    let marker_path = marker.path().display().to_string();
    std::fs::remove_file(marker.path()).unwrap();
    let body =
        format!("    pathlib.Path({marker_path:?}).write_text(fetch())\n    time.sleep(120)");
    let (sandbox, project) = integration_sandbox(&mut engine, &body);
    let child = sandbox
        .command()
        .args(["promote", "carbon", "--integration"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(240);
    while !marker.path().exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(marker.path().exists(), "the integration test never started");
    assert!(
        !engine.containers_of(&project, None).is_empty(),
        "the service runs while the tests do"
    );
    interrupt(child.id());
    let output = child.wait_with_output().unwrap();
    let all = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(130), "{all}");
    assert_torn_down(&engine, &project);
    let report = sandbox.report("carbon");
    assert_eq!(report["integration"]["error"]["kind"], "interrupted");
    assert_eq!(report["integration"]["teardown"]["removed"], true);
    assert_eq!(report["promotable"], false);
}

#[test]
fn services_that_never_become_healthy_fail_the_gate_with_their_logs_and_are_torn_down() {
    let mut engine = Engine::new();
    let (sandbox, project) = integration_sandbox_with(
        &mut engine,
        "    assert fetch() == \"db-v1\"",
        Variant::FailingHealthcheck,
    );
    let run = sandbox.xtask(&["promote", "carbon", "--integration"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let integration = &sandbox.report("carbon")["integration"];
    assert_eq!(integration["services_healthy"], false, "{integration:#}");
    assert!(
        integration.get("tests").is_none(),
        "no test ran against a sick service"
    );
    assert!(
        integration["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("/healthz")),
        "{integration:#}"
    );
    assert_eq!(integration["teardown"]["removed"], true);
    assert_torn_down(&engine, &project);
}
