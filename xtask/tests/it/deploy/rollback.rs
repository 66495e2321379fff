//! Rollbacks on the real engine go to the last proven state, image and configuration, taken
//! from the history: not to whatever runs, even unhealthy. A rollback that cannot be proven
//! names what runs and gives commands that restore without a registry; Ctrl-C during one lets
//! it finish, be proven, and exits 130.

use std::process::Command;

use super::engine::{Engine, Variant, compose_cli, run_ok};
use super::{SERVICE, deploy, interrupt, running_v1, sandbox, spawn_deploy, wait_for};

#[test]
fn an_unhealthy_running_service_is_not_the_rollback_target() {
    let engine = Engine::new();
    let (sandbox, v1) = running_v1(&engine, SERVICE);
    // v1 deployed by xtask: the proven state.
    let run = deploy(&sandbox);
    assert_eq!(run.code, 0, "{}", run.all());
    // Then someone starts a sick image by hand.
    let sick = engine.build("web", "sick", Variant::FailingHealthcheck);
    engine.retag("web", "sick", "current");
    engine.compose(&sandbox, &["up", "-d"], &["web"], 1);
    engine.wait_until("web", |c| {
        c.len() == 1 && c[0].image == sick && c[0].health.as_deref() == Some("unhealthy")
    });
    engine.build("web", "exits", Variant::ExitsAtOnce);
    engine.retag("web", "exits", "current");

    let run = deploy(&sandbox);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("is not healthy now"), "{}", run.all());
    assert!(
        run.stderr.contains("not its last proven state"),
        "{}",
        run.all()
    );
    assert_eq!(
        engine.healthy("web").image,
        v1,
        "the proven image, not the sick one"
    );
    let deployment = &sandbox.report("carbon")["deployment"];
    assert_eq!(deployment["previous_image_id"], sick.as_str());
    assert_eq!(deployment["restore_to"]["image_id"], v1.as_str());
    assert_eq!(deployment["rollback"]["proven"], true);
    assert!(
        deployment["notes"][0]
            .as_str()
            .unwrap()
            .contains("is not healthy now"),
        "{deployment:#}"
    );
}

#[test]
fn a_configuration_only_change_is_rolled_back_to_the_proven_configuration() {
    let engine = Engine::new();
    let v1 = engine.build("web", "v1", Variant::Healthy("v1"));
    engine.retag("web", "v1", "current");
    let compose = |command: &str| {
        format!(
            "services:\n  web:\n    image: {}\n    command: {command}\n",
            engine.image("web", "current")
        )
    };
    let serve = r#"["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]"#;
    let sandbox = sandbox(&engine, &compose(serve), SERVICE);
    engine.start(&sandbox, &["web"]);
    let run = deploy(&sandbox);
    assert_eq!(run.code, 0, "{}", run.all());

    // The same image with a command that fails: only the configuration changed.
    sandbox.write(
        "docker-compose.staging.yml",
        &compose(r#"["/bin/busybox", "sh", "-c", "exit 4"]"#),
    );
    let run = deploy(&sandbox);
    assert_eq!(run.code, 1, "{}", run.all());
    let web = engine.healthy("web");
    assert_eq!(web.image, v1);
    assert!(
        engine.command_of(&web.id).contains("httpd"),
        "{}",
        engine.command_of(&web.id)
    );
    let deployment = &sandbox.report("carbon")["deployment"];
    assert!(
        deployment["failure"]
            .as_str()
            .unwrap()
            .contains("exited with code 4"),
        "{deployment:#}"
    );
    let rollback = &deployment["rollback"];
    assert_eq!(rollback["proven"], true, "{deployment:#}");
    assert!(
        rollback["message"]
            .as_str()
            .unwrap()
            .contains("its recorded configuration"),
        "{deployment:#}"
    );
}

#[test]
fn a_failed_rollback_names_what_runs_and_its_hint_restores_without_a_registry() {
    let engine = Engine::new();
    let v1 = engine.build("web", "v1", Variant::Healthy("v1"));
    engine.retag("web", "v1", "current");
    let compose = format!(
        "services:\n  web:\n    image: {}\n    volumes:\n      - ./data:/data\n",
        engine.image("web", "current")
    );
    // Healthy while `data/ok` exists: a state outside the images that both depend on.
    let probe = r#"health_probe = ["/bin/busybox", "test", "-e", "/data/ok"]"#;
    let sandbox = sandbox(&engine, &compose, &format!("{SERVICE}\n{probe}"));
    engine.set_deadlines(&sandbox, "health_timeout = 5\nsettle_seconds = 2\n");
    sandbox.write("data/ok", "");
    engine.start(&sandbox, &["web"]);
    let run = deploy(&sandbox);
    assert_eq!(run.code, 0, "{}", run.all());

    std::fs::remove_file(sandbox.path("data/ok")).unwrap();
    engine.build("web", "v2", Variant::Healthy("v2"));
    engine.retag("web", "v2", "current");
    let run = deploy(&sandbox);
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(run.stderr.contains("the rollback failed"), "{}", run.all());
    let short = &v1[..19];
    assert!(
        run.stderr.contains(&format!("now running: 1 × {short}")),
        "{}",
        run.all()
    );
    let deployment = &sandbox.report("carbon")["deployment"];
    assert_eq!(deployment["outcome"], "rollback-failed");
    assert!(
        deployment["rollback"]["running"]
            .as_str()
            .unwrap()
            .starts_with(&format!("1 × {short}")),
        "{deployment:#}"
    );
    // The hint's own command, pasted: it restores v1 from the restore file, with no registry.
    let restore = run
        .stderr
        .split('`')
        .find(|part| part.contains("--force-recreate"))
        .expect("a restore command in the hint")
        .to_owned();
    assert!(restore.contains(".xtask/deploy/restore/"), "{restore}");
    assert!(!run.stderr.contains("docker tag"), "{}", run.all());
    sandbox.write("data/ok", "");
    let words: Vec<&str> = restore.split_whitespace().collect();
    assert_eq!(&words[..compose_cli().len()], compose_cli());
    run_ok(Command::new(words[0]).args(&words[1..]));
    engine.wait_until("web", |c| {
        c.len() == 1 && c[0].image == v1 && c[0].status == "running"
    });
}

#[test]
fn ctrl_c_during_a_rollback_lets_it_finish_proven_and_exits_130() {
    let engine = Engine::new();
    let (sandbox, v1) = running_v1(&engine, SERVICE);
    engine.set_deadlines(&sandbox, "health_timeout = 30\nsettle_seconds = 6\n");
    let before = engine.healthy("web").id;
    engine.build("web", "exits", Variant::ExitsAtOnce);
    engine.retag("web", "exits", "current");

    let child = spawn_deploy(&sandbox);
    // The rollback has recreated v1: it is proving it now.
    engine.wait_until("web", |c| c.iter().any(|c| c.image == v1 && c.id != before));
    interrupt(child.id());
    let (code, all) = wait_for(child);
    assert_eq!(code, Some(130), "{all}");
    assert_eq!(engine.healthy("web").image, v1, "{all}");
    let deployment = &sandbox.report("carbon")["deployment"];
    assert_eq!(deployment["outcome"], "rolled-back", "{deployment:#}");
    assert_eq!(deployment["interrupted"], true, "{deployment:#}");
    assert_eq!(deployment["rollback"]["proven"], true, "{deployment:#}");
    assert_eq!(
        deployment["rollback"]["settle"]["held"], true,
        "{deployment:#}"
    );
}
