//! The rollback drill (`--phase 5 --drill`) on the real engine: back to the previous proven
//! image and forward again, each proven; the drill recorded in deployment.json and read by the
//! Production rollback gate; a previous image that is not healthy fails the drill and leaves the
//! starting image running, proven; Ctrl-C in the middle restores the starting image.

use std::os::unix::process::CommandExt;

use super::engine::{Engine, Variant};
use super::{SERVICE, deploy, finished, record, running_v1, wait_for};
use crate::support::Sandbox;

const MATURITY: &str = "docs/components/carbon/MATURITY.md";

fn drill(sandbox: &Sandbox) -> crate::support::Run {
    sandbox.xtask(&["promote", "carbon", "--phase", "5", "--drill"])
}

/// `previous` deployed and proven, then a healthy v2 deployed and proven over it, carbon now
/// in Staging (the environment both went to): ready to drill. Returns the two image IDs.
fn two_proven(engine: &Engine, previous: Variant) -> (Sandbox, String, String) {
    let (sandbox, _) = running_v1(engine, SERVICE);
    let first = engine.build("web", "previous", previous);
    engine.retag("web", "previous", "current");
    let run = deploy(&sandbox);
    assert_eq!(run.code, 0, "{}", run.all());
    let v2 = engine.build("web", "v2", Variant::Healthy("v2"));
    engine.retag("web", "v2", "current");
    let run = deploy(&sandbox);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(engine.healthy("web").image, v2);
    let text = sandbox.read(MATURITY).replace(
        "**Current Stage**: Development",
        "**Current Stage**: Staging",
    );
    sandbox.write(MATURITY, &text);
    (sandbox, first, v2)
}

/// The drill entries of the history, oldest first.
fn drills(sandbox: &Sandbox) -> Vec<serde_json::Value> {
    record(sandbox).map_or_else(Vec::new, |record| {
        record["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"] == "drill")
            .cloned()
            .collect()
    })
}

#[test]
fn a_drill_rolls_back_and_forward_proven_and_the_production_gate_reads_it() {
    let engine = Engine::new();
    let (sandbox, v1, v2) = two_proven(&engine, Variant::Healthy("v1"));
    let other = engine.healthy("other").id;

    let run = drill(&sandbox);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("Drilled"), "{}", run.all());
    // Ends on the image it started from, healthy; the neighbour untouched.
    assert_eq!(engine.healthy("web").image, v2);
    assert_eq!(engine.healthy("other").id, other);
    let drills = drills(&sandbox);
    assert_eq!(drills.len(), 1, "{drills:#?}");
    let entry = &drills[0];
    assert_eq!(entry["outcome"], "passed", "{entry:#}");
    assert_eq!(entry["environment"], "staging");
    assert_eq!(entry["from"]["image_id"], v2.as_str());
    assert_eq!(entry["to"]["image_id"], v1.as_str());
    for (direction, image) in [("back", &v1), ("forward", &v2)] {
        let step = &entry[direction];
        assert_eq!(step["image_id"], image.as_str(), "{entry:#}");
        assert_eq!(step["proof"]["proven"], true, "{entry:#}");
        assert_eq!(step["proof"]["settle"]["held"], true, "{entry:#}");
        assert!(step["proof"]["time_to_healthy_ms"].as_u64().is_some());
        assert!(step["started_at"].as_str() <= step["finished_at"].as_str());
    }
    assert_eq!(entry["running_image_id"], v2.as_str());
    // The intent was recorded first and the drill closes it: no deploy recovers it later.
    let all = record(&sandbox).unwrap()["deployments"].clone();
    let intents = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["attempt"] == entry["attempt"])
        .count();
    assert_eq!(intents, 2, "intent and drill share the attempt: {all:#}");

    // Staging -> Production: the rollback gate finds the drill, passing, in the window.
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "4"]);
    let report = sandbox.report("carbon");
    let gate = &report["quality_gates"]["rollback"];
    assert_eq!(gate["passed"], true, "{}\n{gate:#}", run.all());
    assert_eq!(gate["facts"]["drill"]["passed"], true, "{gate:#}");
    assert!(
        gate["summary"]
            .as_str()
            .unwrap()
            .starts_with("drill passed on "),
        "{gate:#}"
    );
    crate::support::assert_valid_json(
        "promotion-report.schema.json",
        &sandbox.report_path("carbon", "promotion.json"),
    );
}

#[test]
fn a_drill_whose_previous_image_is_unhealthy_fails_and_stays_on_the_current_image() {
    let engine = Engine::new();
    // Healthy for ten seconds after it starts: long enough to be proven by its deploy (3 s
    // window), not through the drill's 15 s one.
    let (sandbox, flapping, v2) = two_proven(&engine, Variant::Flapping(10));
    engine.set_deadlines(&sandbox, "health_timeout = 30\nsettle_seconds = 15\n");

    let run = drill(&sandbox);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("the rollback drill of web failed"),
        "{}",
        run.all()
    );
    // Proven from the engine: v2 runs again, healthy.
    let web = engine.healthy("web");
    assert_eq!(web.image, v2);
    let entry = drills(&sandbox).pop().expect("the drill is recorded");
    assert_eq!(entry["outcome"], "failed", "{entry:#}");
    assert_eq!(entry["back"]["image_id"], flapping.as_str());
    assert_eq!(entry["back"]["proof"]["proven"], false, "{entry:#}");
    assert_eq!(entry["forward"]["proof"]["proven"], true, "{entry:#}");
    assert_eq!(entry["running_image_id"], v2.as_str());
    let failure = entry["failure"].as_str().unwrap();
    assert!(failure.contains("was not proven"), "{failure}");

    // The gate names the failed drill and the command that runs one.
    sandbox.xtask(&["promote", "carbon", "--phase", "4"]);
    let report = sandbox.report("carbon");
    assert_eq!(report["quality_gates"]["rollback"]["passed"], false);
    let blocker = report["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["gate"] == "rollback")
        .cloned()
        .unwrap_or_default();
    assert!(
        blocker["fix"]
            .as_str()
            .unwrap_or_default()
            .contains("--phase 5 --drill"),
        "{blocker:#}"
    );
}

#[test]
fn ctrl_c_in_the_middle_of_a_drill_restores_the_starting_image() {
    let engine = Engine::new();
    let (sandbox, v1, v2) = two_proven(&engine, Variant::Healthy("v1"));
    engine.set_deadlines(&sandbox, "health_timeout = 30\nsettle_seconds = 20\n");

    // Its own process group, as a terminal gives a foreground job: Ctrl-C goes to the group.
    let child = sandbox
        .command()
        .args(["promote", "carbon", "--phase", "5", "--drill"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    // The roll back has put v1 in place: it is proving it now.
    engine.wait_until("web", |c| c.iter().any(|c| c.image == v1));
    let status = std::process::Command::new("kill")
        .args(["-INT", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let (code, all) = wait_for(child);
    assert_eq!(code, Some(130), "{all}");
    assert_eq!(engine.healthy("web").image, v2, "{all}");
    let entry = drills(&sandbox).pop().expect("the drill is recorded");
    assert_eq!(entry["interrupted"], true, "{entry:#}");
    assert_eq!(entry["outcome"], "failed", "{entry:#}");
    assert_eq!(entry["forward"]["proof"]["proven"], true, "{entry:#}");
    assert!(
        entry["failure"]
            .as_str()
            .unwrap()
            .contains("interrupted by Ctrl-C"),
        "{entry:#}"
    );
}

#[test]
fn a_drill_is_refused_without_a_previous_proven_image_or_with_other_flags() {
    let engine = Engine::new();
    let (sandbox, _) = running_v1(&engine, SERVICE);
    let text = sandbox.read(MATURITY).replace(
        "**Current Stage**: Development",
        "**Current Stage**: Staging",
    );
    sandbox.write(MATURITY, &text);
    let before = engine.healthy("web").id;

    let run = drill(&sandbox);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("deploy twice first"), "{}", run.all());
    for args in [
        &["promote", "carbon", "--phase", "4", "--drill"][..],
        &["promote", "carbon", "--phase", "5", "--drill", "--record"][..],
        &[
            "promote",
            "carbon",
            "--phase",
            "5",
            "--drill",
            "--integration",
        ][..],
    ] {
        let run = sandbox.xtask(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.all());
        assert!(run.stderr.contains("--drill"), "{}", run.all());
    }
    assert_eq!(engine.healthy("web").id, before, "nothing was touched");
}

#[test]
fn a_drill_killed_half_way_is_finished_by_the_next_run_on_the_starting_image() {
    let engine = Engine::new();
    let (sandbox, v1, v2) = two_proven(&engine, Variant::Healthy("v1"));
    engine.set_deadlines(&sandbox, "health_timeout = 30\nsettle_seconds = 20\n");
    let mut child = sandbox
        .command()
        .args(["promote", "carbon", "--phase", "5", "--drill"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed outright while it proves the previous image: v1 runs, unproven, no drill entry.
    engine.wait_until("web", |c| c.iter().any(|c| c.image == v1));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(drills(&sandbox).is_empty());

    // The next drill restores the image the killed one started from, then drills.
    let config = sandbox.config_text();
    sandbox.set_config(&config.replace("settle_seconds = 20", "settle_seconds = 3"));
    let run = drill(&sandbox);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("did not finish"), "{}", run.all());
    assert_eq!(engine.healthy("web").image, v2);
    let recovered: Vec<serde_json::Value> = finished(&sandbox)
        .into_iter()
        .filter(|d| d["recovered"] == true)
        .collect();
    assert_eq!(recovered.len(), 1, "{recovered:#?}");
    assert_eq!(recovered[0]["restore_to"]["image_id"], v2.as_str());
    assert_eq!(recovered[0]["rollback"]["proven"], true);
    assert_eq!(drills(&sandbox).pop().unwrap()["outcome"], "passed");
}
