//! One deploy per service per engine, whichever checkout runs it; and a deploy killed at any
//! point (during `up`, the health wait, the rollback) is finished by the next run, which
//! restores the last proven state first and says so.

use std::time::{Duration, Instant};

use super::engine::{Engine, Variant};
use super::{SERVICE, deploy, finished, record, running_v1, sandbox, spawn_deploy, wait_for};
use crate::support::Sandbox;

#[test]
fn two_checkouts_deploying_one_service_at_once_one_is_refused() {
    let engine = Engine::new();
    let (first_checkout, _v1) = running_v1(&engine, SERVICE);
    // A second clone of the same repository, configured for the same environment.
    let second_checkout = sandbox(&engine, &engine.default_compose(), SERVICE);
    // Slow enough that the second run reaches the lock while the first still holds it.
    let slow = engine.build("web", "slow", Variant::Slow("slow", 30));
    engine.retag("web", "slow", "current");
    // The slow image turns healthy after 30 s: a health timeout of 30 s would race it.
    for checkout in [&first_checkout, &second_checkout] {
        engine.set_deadlines(checkout, "health_timeout = 120\nsettle_seconds = 3\n");
    }

    let first = spawn_deploy(&first_checkout);
    engine.wait_until("web", |c| c.iter().any(|c| c.image == slow));
    let second = deploy(&second_checkout);
    let (first_code, first_all) = wait_for(first);

    assert_eq!(second.code, 3, "{}", second.all());
    assert!(
        second
            .stderr
            .contains("already running on this Docker engine"),
        "{}",
        second.all()
    );
    assert!(
        second
            .stderr
            .contains(&first_checkout.root().display().to_string()),
        "the holder's checkout is named: {}",
        second.all()
    );
    assert_eq!(first_code, Some(0), "{first_all}");
    assert_eq!(engine.healthy("web").image, slow);
    assert!(
        record(&second_checkout).is_none(),
        "the refused run recorded nothing"
    );
    // The lock went with the first deploy: the second checkout may deploy now.
    let again = deploy(&second_checkout);
    assert_eq!(again.code, 0, "{}", again.all());
}

/// Kills a deploy with SIGKILL once `ready` holds, and checks what it left.
fn kill_when(sandbox: &Sandbox, ready: impl Fn() -> bool) {
    let mut child = spawn_deploy(sandbox);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready() {
        assert!(Instant::now() < deadline, "the deploy never got there");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the deploy ended before it could be killed: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Whether the history ends with an intent: an attempt has started and not finished.
fn started(sandbox: &Sandbox) -> bool {
    record(sandbox).is_some_and(|r| {
        r["deployments"]
            .as_array()
            .and_then(|d| d.last())
            .is_some_and(|d| d["outcome"] == "started")
    })
}

/// After a kill: the next deploy (of v1 again) restores v1 first and says so.
fn next_run_recovers(engine: &Engine, sandbox: &Sandbox, v1: &str, killed: usize) {
    engine.retag("web", "v1", "current");
    let run = deploy(sandbox);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("did not finish"), "{}", run.all());
    assert!(
        run.stderr.contains("removed the stale deploy lock"),
        "{}",
        run.all()
    );
    assert_eq!(engine.healthy("web").image, v1);
    let recovered: Vec<serde_json::Value> = finished(sandbox)
        .into_iter()
        .filter(|d| d["recovered"] == true)
        .collect();
    assert_eq!(recovered.len(), killed, "{recovered:#?}");
    let last = recovered.last().unwrap();
    assert_eq!(last["outcome"], "rolled-back", "{last:#}");
    assert_eq!(last["rollback"]["proven"], true, "{last:#}");
    assert_eq!(last["restore_to"]["image_id"], v1);
    assert!(!started(sandbox), "every attempt has its completion");
}

#[test]
fn a_deploy_killed_during_up_the_health_wait_or_the_rollback_is_recovered_by_the_next_run() {
    let engine = Engine::new();
    let (sandbox, v1) = running_v1(&engine, SERVICE);
    let run = deploy(&sandbox);
    assert_eq!(run.code, 0, "v1 proven: {}", run.all());

    // Killed while waiting for a slow image: it keeps running, unproven.
    let slow = engine.build("web", "slow", Variant::Slow("slow", 60));
    engine.retag("web", "slow", "current");
    kill_when(&sandbox, || {
        engine.containers("web").iter().any(|c| c.image == slow)
    });
    assert!(engine.containers("web").iter().any(|c| c.image == slow));
    assert!(started(&sandbox));
    next_run_recovers(&engine, &sandbox, &v1, 1);

    // Killed as soon as its intent is recorded: `up` may or may not have run.
    engine.retag("web", "slow", "current");
    kill_when(&sandbox, || started(&sandbox));
    next_run_recovers(&engine, &sandbox, &v1, 2);

    // Killed during the rollback of an image that exits: the rollback recreated v1.
    let before = engine.healthy("web").id;
    engine.build("web", "exits", Variant::ExitsAtOnce);
    engine.retag("web", "exits", "current");
    kill_when(&sandbox, || {
        engine
            .containers("web")
            .iter()
            .any(|c| c.image == v1 && c.id != before)
    });
    next_run_recovers(&engine, &sandbox, &v1, 3);
}
