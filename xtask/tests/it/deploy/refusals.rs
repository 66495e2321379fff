//! What is refused before the engine is touched: compose files that reach outside the
//! repository or declare a healthcheck that runs nothing (exit 2), and a deployment history
//! that is corrupt, dated in the future or names an image the engine never had (exit 3, with
//! the line). Every case checks that the engine's containers did not change.

use super::engine::{Engine, Variant};
use super::{SERVICE, deploy, running_v1, sandbox};

#[test]
fn compose_files_reaching_outside_the_repository_or_running_no_healthcheck_are_refused() {
    let engine = Engine::new();
    engine.build("web", "v1", Variant::Healthy("v1"));
    engine.retag("web", "v1", "current");
    let image = engine.image("web", "current");
    let outside = tempfile::tempdir().unwrap();
    let secrets = outside.path().join("secrets.env");
    std::fs::write(&secrets, "TOKEN=from-outside\n").unwrap();
    let base = outside.path().join("base.yml");
    std::fs::write(
        &base,
        "services:\n  common:\n    healthcheck:\n      test: [\"CMD\", \"/bin/busybox\", \"true\"]\n",
    )
    .unwrap();
    let cases = [
        (
            format!(
                "services:\n  web:\n    image: {image}\n    healthcheck:\n      test: [\"CMD\"]\n"
            ),
            "runs nothing",
        ),
        (
            format!(
                "services:\n  web:\n    image: {image}\n    env_file: {}\n",
                secrets.display()
            ),
            "outside the repository",
        ),
        (
            format!(
                "services:\n  web:\n    image: {image}\n    extends:\n      file: {}\n      service: common\n",
                base.display()
            ),
            "outside the repository",
        ),
    ];
    let sandbox = sandbox(&engine, &cases[0].0, SERVICE);
    for (compose, needle) in &cases {
        sandbox.write("docker-compose.staging.yml", compose);
        let run = deploy(&sandbox);
        assert_eq!(run.code, 2, "{compose}\n{}", run.all());
        assert!(run.stderr.contains(needle), "{compose}\n{}", run.all());
        assert!(engine.containers("web").is_empty());
    }
    // The compose file itself a symlink to a file outside.
    let elsewhere = outside.path().join("compose.yml");
    std::fs::write(
        &elsewhere,
        format!("services:\n  web:\n    image: {image}\n"),
    )
    .unwrap();
    let path = engine.compose_file(&sandbox);
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
    let run = deploy(&sandbox);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("outside the repository"),
        "{}",
        run.all()
    );
    assert!(engine.containers("web").is_empty());
    assert!(!sandbox.report_path("carbon", "deployment.json").exists());
}

/// A finished deploy of carbon's `web` in the sandbox's environment, as the history holds it.
fn entry(engine: &Engine, finished_at: &str, image: &str) -> serde_json::Value {
    serde_json::json!({
        "attempt": "20260101T000000.000Z-1",
        "component": "carbon",
        "environment": "staging",
        "service": "web",
        "project_name": engine.project,
        "compose_file": "docker-compose.staging.yml",
        "compose": "docker-compose 1.29.2",
        "outcome": "deployed",
        "started_at": "2026-01-01T00:00:00Z",
        "finished_at": finished_at,
        "health": "healthcheck",
        "previous_image_id": null,
        "image_id": image,
        "running_image_id": image,
        "replicas": 1,
        "time_to_healthy_ms": 1000
    })
}

fn history(entries: &[serde_json::Value]) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "schema_version": 2,
        "component": "carbon",
        "deployments": entries,
    }))
    .unwrap()
}

#[test]
fn a_history_that_is_corrupt_future_dated_or_names_an_unknown_image_is_refused_before_up() {
    let engine = Engine::new();
    let (sandbox, v1) = running_v1(&engine, SERVICE);
    let before = engine.containers("web");
    engine.build("web", "v2", Variant::Healthy("v2"));
    engine.retag("web", "v2", "current");
    let file = sandbox.report_path("carbon", "deployment.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let unknown = format!("sha256:{}", "0".repeat(64));
    let cases = [
        (
            "{\"schema_version\": 2, \"component\": \"carbon\", \"deployments\": [".to_owned(),
            "line 1",
        ),
        (
            history(&[
                entry(&engine, "2026-01-01T00:00:05Z", &v1),
                entry(&engine, "2030-01-01T00:00:00Z", &v1),
            ]),
            "2030-01-01T00:00:00Z",
        ),
        (
            history(&[entry(&engine, "2026-01-01T00:00:05Z", &unknown)]),
            "which this Docker engine does not have",
        ),
    ];
    for (text, needle) in &cases {
        std::fs::write(&file, text).unwrap();
        let run = deploy(&sandbox);
        assert_eq!(run.code, 3, "{}", run.all());
        assert!(run.stderr.contains(needle), "{}", run.all());
        assert!(run.stderr.contains("deployment.json"), "{}", run.all());
        assert_eq!(engine.containers("web"), before, "nothing changed");
        assert_eq!(
            &std::fs::read_to_string(&file).unwrap(),
            text,
            "the history is kept as it was"
        );
    }
    // The future entry is named by the line it opens on: the third `{` of the file (the
    // record's, the first entry's, then its own).
    std::fs::write(&file, &cases[1].0).unwrap();
    let run = deploy(&sandbox);
    let entry_line = cases[1]
        .0
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "{")
        .nth(2)
        .unwrap()
        .0
        + 1;
    assert!(
        run.stderr.contains(&format!("line {entry_line}:")),
        "{}",
        run.all()
    );
}
