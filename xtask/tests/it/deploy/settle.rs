//! Healthy means stays healthy, on the real engine: an image that turns unhealthy after its
//! first healthy verdict, or whose main process exits then, is rolled back; the deadline runs
//! from the moment `up` returned; every replica counts, before and after a rollback.

use super::engine::{Engine, Variant};
use super::{SERVICE, deploy, finished, running_v1, sandbox};

/// `web` v1 running with a settle window long enough to see a late failure.
fn running_v1_settling(engine: &Engine, seconds: u32) -> (crate::support::Sandbox, String) {
    let (sandbox, v1) = running_v1(engine, SERVICE);
    engine.set_deadlines(
        &sandbox,
        &format!("health_timeout = 30\nsettle_seconds = {seconds}\n"),
    );
    (sandbox, v1)
}

fn assert_rolled_back_in_the_window(
    engine: &Engine,
    sandbox: &crate::support::Sandbox,
    v1: &str,
    needle: &str,
) {
    let deployment = &sandbox.report("carbon")["deployment"];
    assert_eq!(deployment["outcome"], "rolled-back", "{deployment:#}");
    assert!(
        deployment["time_to_healthy_ms"].as_u64().is_some(),
        "it was healthy once: {deployment:#}"
    );
    let settle = &deployment["settle"];
    assert_eq!(settle["held"], false, "{deployment:#}");
    let samples = settle["samples"].as_array().unwrap();
    let last = samples.last().unwrap();
    assert!(
        last["problem"]
            .as_str()
            .unwrap_or_default()
            .contains(needle),
        "{deployment:#}"
    );
    assert!(
        samples[..samples.len() - 1]
            .iter()
            .all(|s| s.get("problem").is_none()),
        "{deployment:#}"
    );
    let failure = deployment["failure"].as_str().unwrap();
    assert!(failure.contains("settle window"), "{failure}");
    assert_eq!(deployment["rollback"]["proven"], true, "{deployment:#}");
    assert_eq!(
        deployment["rollback"]["settle"]["held"], true,
        "{deployment:#}"
    );
    assert_eq!(engine.healthy("web").image, v1);
}

#[test]
fn an_image_that_turns_unhealthy_after_its_first_healthy_verdict_is_rolled_back() {
    let engine = Engine::new();
    let (sandbox, v1) = running_v1_settling(&engine, 12);
    engine.build("web", "flapping", Variant::Flapping(3));
    engine.retag("web", "flapping", "current");

    let run = deploy(&sandbox);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stdout.contains("window BROKE"), "{}", run.all());
    assert_rolled_back_in_the_window(&engine, &sandbox, &v1, "healthcheck");
}

#[test]
fn an_image_whose_main_process_exits_after_turning_healthy_is_rolled_back() {
    let engine = Engine::new();
    let (sandbox, v1) = running_v1_settling(&engine, 12);
    engine.build("web", "quits", Variant::ExitsAfter(3));
    engine.retag("web", "quits", "current");

    let run = deploy(&sandbox);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_rolled_back_in_the_window(&engine, &sandbox, &v1, "exited with code 5");
    let deployment = &sandbox.report("carbon")["deployment"];
    assert!(
        deployment["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("giving up")),
        "{deployment:#}"
    );
}

#[test]
fn the_health_deadline_runs_from_the_moment_up_returned() {
    let engine = Engine::new();
    let (sandbox, _v1) = running_v1(&engine, SERVICE);
    engine.set_deadlines(&sandbox, "health_timeout = 1\nsettle_seconds = 2\n");
    let v2 = engine.build("web", "quick", Variant::QuickHealthy("v2"));
    engine.retag("web", "quick", "current");

    let run = deploy(&sandbox);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(engine.healthy("web").image, v2);
}

#[test]
fn every_replica_is_kept_by_a_deploy_and_restored_by_a_rollback() {
    let engine = Engine::new();
    engine.build("web", "v1", Variant::Healthy("v1"));
    engine.build("other", "v1", Variant::Healthy("other"));
    engine.retag("web", "v1", "current");
    let sandbox = sandbox(&engine, &engine.default_compose(), SERVICE);
    engine.start(&sandbox, &["other"]);
    engine.start_scaled(&sandbox, &["web"], 2);

    let v2 = engine.build("web", "v2", Variant::Healthy("v2"));
    engine.retag("web", "v2", "current");
    let run = deploy(&sandbox);
    assert_eq!(run.code, 0, "{}", run.all());
    let web = engine.containers("web");
    assert_eq!(web.len(), 2, "{web:?}");
    assert!(
        web.iter()
            .all(|c| c.image == v2 && c.health.as_deref() == Some("healthy"))
    );
    let deployment = &sandbox.report("carbon")["deployment"];
    assert_eq!(deployment["replicas"], 2);
    assert!(
        deployment["settle"]["samples"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["healthy"] == 2 && s["expected"] == 2)
    );

    engine.build("web", "exits", Variant::ExitsAtOnce);
    engine.retag("web", "exits", "current");
    let run = deploy(&sandbox);
    assert_eq!(run.code, 1, "{}", run.all());
    let web = engine.containers("web");
    assert_eq!(web.len(), 2, "both replicas are back: {web:?}");
    assert!(
        web.iter().all(|c| c.image == v2
            && c.status == "running"
            && c.health.as_deref() == Some("healthy")),
        "{web:?}"
    );
    let deployment = &sandbox.report("carbon")["deployment"];
    assert_eq!(deployment["restore_to"]["replicas"], 2, "{deployment:#}");
    assert_eq!(deployment["rollback"]["proven"], true, "{deployment:#}");
    assert!(
        deployment["rollback"]["running"]
            .as_str()
            .unwrap()
            .starts_with("2 × "),
        "{deployment:#}"
    );
    assert_eq!(finished(&sandbox).len(), 2);
}
