//! Phase 5 against the real Docker engine, with images built here `FROM scratch` (no registry):
//! a healthy deploy, rollbacks proven on the engine, refusals that change nothing, the lock, and
//! integration services that are always torn down. Every case asserts the engine's real state
//! afterwards: image IDs of running containers, health, and neighbours' container IDs.

mod drill;
mod engine;
mod integration;
mod probe;
mod recovery;
mod refusals;
mod rollback;
mod settle;

use std::time::{Duration, Instant};

use crate::support::{Run, Sandbox, assert_valid_json, junitparser_counts};
use engine::{Engine, Variant};

fn sandbox(engine: &Engine, compose: &str, carbon_keys: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    engine.configure(&sandbox, carbon_keys);
    sandbox.write("docker-compose.staging.yml", compose);
    sandbox
}

fn deploy(sandbox: &Sandbox) -> Run {
    sandbox.xtask(&["promote", "carbon", "--phase", "5"])
}

/// `web:current` = v1, running and healthy next to `other`; returns v1's image ID.
fn running_v1(engine: &Engine, carbon_keys: &str) -> (Sandbox, String) {
    let v1 = engine.build("web", "v1", Variant::Healthy("v1"));
    engine.build("other", "v1", Variant::Healthy("other"));
    engine.retag("web", "v1", "current");
    let sandbox = sandbox(engine, &engine.default_compose(), carbon_keys);
    engine.start(&sandbox, &["web", "other"]);
    (sandbox, v1)
}

fn record(sandbox: &Sandbox) -> Option<serde_json::Value> {
    let path = sandbox.report_path("carbon", "deployment.json");
    path.exists().then(|| {
        assert_valid_json("deployment-record.schema.json", &path);
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    })
}

fn last_deployment(sandbox: &Sandbox) -> serde_json::Value {
    finished(sandbox).last().expect("a finished deploy").clone()
}

/// The finished entries of the history (each attempt also has an intent, `started`).
fn finished(sandbox: &Sandbox) -> Vec<serde_json::Value> {
    record(sandbox).map_or_else(Vec::new, |record| {
        record["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["outcome"] != "started")
            .cloned()
            .collect()
    })
}

/// A deploy running in the background, its output piped.
fn spawn_deploy(sandbox: &Sandbox) -> std::process::Child {
    sandbox
        .command()
        .args(["promote", "carbon", "--phase", "5"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The exit code and both streams of a finished background run.
fn wait_for(child: std::process::Child) -> (Option<i32>, String) {
    let output = child.wait_with_output().unwrap();
    let all = format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), all)
}

const SERVICE: &str = "service = \"web\"";

#[test]
fn a_healthy_deploy_of_a_new_image_replaces_only_its_service() {
    let engine = Engine::new();
    let (sandbox, v1) = running_v1(&engine, SERVICE);
    let other = engine.healthy("other");
    let v2 = engine.build("web", "v2", Variant::Healthy("v2"));
    engine.retag("web", "v2", "current");

    let run = deploy(&sandbox);
    assert_eq!(run.code, 0, "{}", run.all());

    let web = engine.healthy("web");
    assert_eq!(web.image, v2, "the new image runs");
    assert_eq!(
        engine.healthy("other").id,
        other.id,
        "the neighbour was not touched"
    );
    let report = sandbox.report("carbon");
    assert_valid_json(
        "promotion-report.schema.json",
        &sandbox.report_path("carbon", "promotion.json"),
    );
    let deployment = &report["deployment"];
    assert_eq!(deployment["outcome"], "deployed");
    assert_eq!(deployment["service"], "web");
    assert_eq!(deployment["previous_image_id"], v1.as_str());
    assert_eq!(deployment["image_id"], v2.as_str());
    assert_eq!(deployment["running_image_id"], v2.as_str());
    assert!(deployment["time_to_healthy_ms"].as_u64().is_some());
    // Healthy once is not enough: the settle window held, sample after sample.
    assert_eq!(deployment["settle"]["held"], true, "{deployment:#}");
    let samples = deployment["settle"]["samples"].as_array().unwrap();
    assert!(samples.len() >= 3, "{deployment:#}");
    assert!(
        samples
            .iter()
            .all(|s| s["healthy"] == 1 && s["restarts"] == 0)
    );
    assert!(run.stdout.contains("window held"), "{}", run.all());
    assert_eq!(report["quality_gates"]["deployment"]["passed"], true);
    assert_eq!(report["promotable"], true);
    assert!(run.stdout.contains("Deployment"), "{}", run.all());
    // The deployment date the observation period counts from.
    let entry = last_deployment(&sandbox);
    assert_eq!(entry["outcome"], "deployed");
    assert_eq!(entry["environment"], "staging");
    assert_eq!(entry["finished_at"], deployment["finished_at"]);

    // Once in Staging, a new version is a redeploy: no promotion, every other gate still holds.
    let maturity = "docs/components/carbon/MATURITY.md";
    let text = sandbox.read(maturity).replace(
        "**Current Stage**: Development",
        "**Current Stage**: Staging",
    );
    sandbox.write(maturity, &text);
    let v3 = engine.build("web", "v3", Variant::Healthy("v3"));
    engine.retag("web", "v3", "current");
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "5", "--target", "staging"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(engine.healthy("web").image, v3);
    assert_eq!(engine.healthy("other").id, other.id);
    let report = sandbox.report("carbon");
    assert!(report["quality_gates"].get("stage").is_none(), "{report:#}");
    assert_eq!(report["quality_gates"]["coverage"]["passed"], true);
    assert_eq!(finished(&sandbox).len(), 2);
    // Each attempt recorded its intent first.
    assert_eq!(
        record(&sandbox).unwrap()["deployments"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn an_image_whose_healthcheck_fails_is_rolled_back_and_the_rollback_proven() {
    let engine = Engine::new();
    let (sandbox, v1) = running_v1(&engine, SERVICE);
    let other = engine.healthy("other");
    let bad = engine.build("web", "bad", Variant::FailingHealthcheck);
    engine.retag("web", "bad", "current");

    let run = deploy(&sandbox);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("deploy failed, rolled back"),
        "{}",
        run.all()
    );

    let web = engine.healthy("web");
    assert_eq!(web.image, v1, "the recorded image runs again");
    assert_eq!(engine.healthy("other").id, other.id);
    let report = sandbox.report("carbon");
    assert_valid_json(
        "promotion-report.schema.json",
        &sandbox.report_path("carbon", "promotion.json"),
    );
    let deployment = &report["deployment"];
    assert_eq!(deployment["outcome"], "rolled-back");
    assert_eq!(deployment["image_id"], bad.as_str());
    assert_eq!(deployment["running_image_id"], v1.as_str());
    assert_eq!(deployment["rollback"]["proven"], true);
    let failure = deployment["failure"].as_str().unwrap();
    assert!(failure.contains("healthcheck"), "{failure}");
    // The failing container's own log lines: busybox httpd -vv logs the requested URLs.
    let logs: Vec<&str> = deployment["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(logs.iter().any(|l| l.contains("/healthz")), "{logs:?}");
    assert_eq!(report["quality_gates"]["deployment"]["passed"], false);
    assert_eq!(report["promotable"], false);
    assert!(
        report["blockers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["gate"] == "deployment")
    );
    assert_eq!(last_deployment(&sandbox)["outcome"], "rolled-back");
    // JUnit carries the failed deployment gate like any other.
    let (_, failures, _) = junitparser_counts(&sandbox.report_path("carbon", "junit.xml"));
    assert_eq!(failures, 1, "the deployment gate");
    let summary = std::fs::read_to_string(sandbox.report_path("carbon", "summary.md")).unwrap();
    assert!(summary.contains("## Deployment"), "{summary}");
    assert!(summary.contains("/healthz"), "{summary}");
}

#[test]
fn a_container_that_exits_at_once_fails_and_is_rolled_back() {
    let engine = Engine::new();
    let (sandbox, v1) = running_v1(&engine, SERVICE);
    let other = engine.healthy("other");
    engine.build("web", "exits", Variant::ExitsAtOnce);
    engine.retag("web", "exits", "current");

    let started = Instant::now();
    let run = deploy(&sandbox);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "an exit must not wait out the deadline"
    );

    assert_eq!(engine.healthy("web").image, v1);
    assert_eq!(engine.healthy("other").id, other.id);
    let deployment = &sandbox.report("carbon")["deployment"];
    assert_eq!(deployment["outcome"], "rolled-back");
    assert_eq!(deployment["rollback"]["proven"], true);
    let failure = deployment["failure"].as_str().unwrap();
    assert!(failure.contains("exited with code 3"), "{failure}");
    assert!(
        deployment["logs"].as_array().unwrap().iter().any(|l| l
            .as_str()
            .unwrap()
            .contains("fatal: no configuration found")),
        "{deployment:#}"
    );
}

#[test]
fn a_failed_first_deploy_removes_the_new_container_again() {
    let engine = Engine::new();
    engine.build("other", "v1", Variant::Healthy("other"));
    engine.build("web", "exits", Variant::ExitsAtOnce);
    engine.retag("web", "exits", "current");
    let sandbox = sandbox(&engine, &engine.default_compose(), SERVICE);
    engine.start(&sandbox, &["other"]);
    let other = engine.healthy("other");

    let run = deploy(&sandbox);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        engine.containers("web").is_empty(),
        "{:?}",
        engine.containers("web")
    );
    assert_eq!(engine.healthy("other").id, other.id);
    let deployment = &sandbox.report("carbon")["deployment"];
    assert_eq!(deployment["previous_image_id"], serde_json::Value::Null);
    assert_eq!(deployment["running_image_id"], serde_json::Value::Null);
    assert_eq!(deployment["rollback"]["proven"], true);
}

#[test]
fn a_service_without_healthcheck_is_refused_unless_the_component_has_a_probe() {
    let engine = Engine::new();
    let v1 = engine.build("web", "v1", Variant::NoHealthcheck("v1"));
    engine.build("other", "v1", Variant::Healthy("other"));
    engine.retag("web", "v1", "current");
    let sandbox = sandbox(&engine, &engine.default_compose(), SERVICE);
    engine.start(&sandbox, &["web", "other"]);
    let before = engine.containers("web");
    let v2 = engine.build("web", "v2", Variant::NoHealthcheck("v2"));
    engine.retag("web", "v2", "current");

    let run = deploy(&sandbox);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("has no healthcheck"), "{}", run.all());
    assert!(run.stderr.contains("health_probe"), "{}", run.all());
    assert_eq!(engine.containers("web"), before, "nothing changed");
    assert_eq!(before[0].image, v1);
    assert!(record(&sandbox).is_none());

    // The component's own probe, run inside the container, is what proves health then.
    let probe = "health_probe = [\"/bin/busybox\", \"wget\", \"-q\", \"-O\", \"/dev/null\", \"http://127.0.0.1/\"]";
    let config = sandbox
        .config_text()
        .replace(SERVICE, &format!("{SERVICE}\n{probe}"));
    sandbox.set_config(&config);
    let run = deploy(&sandbox);
    assert_eq!(run.code, 0, "{}", run.all());
    let web = engine.containers("web");
    assert_eq!(web.len(), 1);
    assert_eq!(web[0].image, v2);
    assert_eq!(web[0].status, "running");
    assert_eq!(
        sandbox.report("carbon")["deployment"]["health"],
        "health-probe"
    );
}

#[test]
fn a_second_deploy_of_the_same_service_is_refused_by_the_lock() {
    let engine = Engine::new();
    let (sandbox, _v1) = running_v1(&engine, SERVICE);
    let slow = engine.build("web", "slow", Variant::Slow("slow", 6));
    engine.retag("web", "slow", "current");

    let first = spawn_deploy(&sandbox);
    // Once the slow image's container exists, the first deploy is waiting for it to be healthy.
    engine.wait_until("web", |c| c.iter().any(|c| c.image == slow));
    let second = deploy(&sandbox);
    let (first_code, first_all) = wait_for(first);

    assert_eq!(second.code, 3, "{}", second.all());
    assert!(
        second.stderr.contains("is already running"),
        "{}",
        second.all()
    );
    assert_eq!(first_code, Some(0), "{first_all}");
    assert_eq!(engine.healthy("web").image, slow);
    assert_eq!(finished(&sandbox).len(), 1, "only the first deploy ran");
}

#[test]
fn an_invalid_compose_file_is_a_usage_error_before_anything_changes() {
    let engine = Engine::new();
    let (sandbox, v1) = running_v1(&engine, SERVICE);
    let before = engine.containers("web");
    let v2 = engine.build("web", "v2", Variant::Healthy("v2"));
    engine.retag("web", "v2", "current");
    let broken = engine.default_compose().replace(
        "  other:\n",
        "  other:\n    restart: sometimes-maybe\n    imagee: x\n",
    );
    sandbox.write("docker-compose.staging.yml", &broken);

    let run = deploy(&sandbox);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("compose rejects"), "{}", run.all());
    assert_eq!(engine.containers("web"), before);
    assert_eq!(before[0].image, v1);
    assert_ne!(v1, v2);
    assert!(record(&sandbox).is_none());
    assert!(!sandbox.report_path("carbon", "promotion.json").exists());
}

#[test]
fn a_component_that_fails_validation_is_not_deployed() {
    let engine = Engine::new();
    let (sandbox, v1) = running_v1(&engine, "");
    let config = sandbox.config_text().replace(
        "[components.narrative-arc-orchestrator]\n",
        &format!("[components.narrative-arc-orchestrator]\n{SERVICE}\n"),
    );
    sandbox.set_config(&config);
    let before = engine.containers("web");
    engine.build("web", "v2", Variant::Healthy("v2"));
    engine.retag("web", "v2", "current");

    let run = sandbox.xtask(&["promote", "narrative-arc-orchestrator", "--phase", "5"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("not deploying"), "{}", run.all());
    assert_eq!(engine.containers("web"), before);
    assert_eq!(before[0].image, v1);
    let report = sandbox.report("narrative-arc-orchestrator");
    assert_eq!(report["promotable"], false);
    assert!(report.get("deployment").is_none());
}

#[test]
fn an_interrupted_deploy_is_rolled_back() {
    let engine = Engine::new();
    let (sandbox, v1) = running_v1(&engine, SERVICE);
    let slow = engine.build("web", "slow", Variant::Slow("slow", 25));
    engine.retag("web", "slow", "current");

    let child = spawn_deploy(&sandbox);
    engine.wait_until("web", |c| c.iter().any(|c| c.image == slow));
    interrupt(child.id());
    let (code, all) = wait_for(child);
    assert_eq!(code, Some(130), "{all}");
    assert_eq!(engine.healthy("web").image, v1, "{all}");
    let deployment = &sandbox.report("carbon")["deployment"];
    assert_eq!(deployment["interrupted"], true);
    assert_eq!(deployment["outcome"], "rolled-back");
    assert_eq!(deployment["rollback"]["proven"], true);
}

#[test]
fn no_reachable_engine_or_compose_is_an_infrastructure_error() {
    let engine = Engine::new();
    let mut sandbox = sandbox(&engine, &engine.default_compose(), SERVICE);
    sandbox.env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let run = deploy(&sandbox);
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stderr.contains("no Docker engine is reachable"),
        "{}",
        run.all()
    );

    let mut sandbox = self::sandbox(&engine, &engine.default_compose(), SERVICE);
    let empty = sandbox.root().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    sandbox.env("PATH", empty.to_str().unwrap());
    let run = deploy(&sandbox);
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stderr.contains("docker CLI was not found"),
        "{}",
        run.all()
    );
}

#[test]
fn deploy_refuses_what_it_cannot_know_with_usage_errors() {
    let engine = Engine::new();
    let sandbox = sandbox(&engine, &engine.default_compose(), "");
    // carbon names no service.
    let run = deploy(&sandbox);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("add `service = "), "{}", run.all());
    // Two components at once.
    let run = sandbox.xtask(&["promote", "carbon", "neo4j", "--phase", "5"]);
    assert_eq!(run.code, 2, "{}", run.all());
    // No environment for the target.
    let run = sandbox.xtask(&[
        "promote",
        "carbon",
        "--phase",
        "5",
        "--target",
        "production",
    ]);
    assert_eq!(run.code, 2, "{}", run.all());
    // A service the compose file does not define.
    let config = sandbox.config_text().replace(
        "[components.carbon]\n",
        "[components.carbon]\nservice = \"api\"\n",
    );
    sandbox.set_config(&config);
    let run = deploy(&sandbox);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("`api` is not defined"), "{}", run.all());
}

pub(crate) fn interrupt(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_deployed_component_is_recorded_only_after_a_healthy_deploy() {
    let engine = Engine::new();
    let (sandbox, _v1) = running_v1(&engine, SERVICE);
    let v2 = engine.build("web", "v2", Variant::Healthy("v2"));
    engine.retag("web", "v2", "current");
    let maturity = "docs/components/carbon/MATURITY.md";
    let before = sandbox.read(maturity);

    // Every gate passes, but carbon deploys as `web` and has never been deployed to Staging.
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "all", "--record"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("has no successful deploy to Staging"),
        "{}",
        run.all()
    );
    assert_eq!(
        sandbox.read(maturity),
        before,
        "nothing recorded without a deploy"
    );

    let run = sandbox.xtask(&["promote", "carbon", "--phase", "5", "--record"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("Recorded"), "{}", run.all());
    let after = sandbox.read(maturity);
    assert!(after.contains("Staging"), "{after}");
    assert!(
        after.contains(&v2[..19]),
        "the deployed image is in the record: {after}"
    );
    assert!(
        after.starts_with(&before[..before.find("**Current Stage**").unwrap()]),
        "user prose before the stage line is kept"
    );
}
