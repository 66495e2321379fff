//! `init` with the real binary: on a temp monorepo built here, on a copy of the example
//! (compared with the hand-written registry), refusing to overwrite, and a generated registry
//! that drives a real promotion.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::{Run, Sandbox, xtask_bin};

fn init(root: &Path, extra: &[&str]) -> Run {
    let output = std::process::Command::new(xtask_bin())
        .arg("init")
        .arg("--root")
        .arg(root)
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .expect("xtask runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// name -> (source, tests, depends_on as a set) of a registry text.
pub fn components(text: &str) -> BTreeMap<String, (String, Vec<String>, BTreeSet<String>)> {
    let table: toml::Table = toml::from_str(text).unwrap();
    let strings = |value: Option<&toml::Value>| -> Vec<String> {
        value
            .and_then(|v| v.as_array())
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    table["components"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(name, c)| {
            (
                name.clone(),
                (
                    c["source"].as_str().unwrap().to_owned(),
                    strings(c.get("tests")),
                    strings(c.get("depends_on")).into_iter().collect(),
                ),
            )
        })
        .collect()
}

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn init_writes_a_registry_for_a_temp_monorepo_and_never_overwrites_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "src/components/__init__.py", "");
    write(root, "src/components/cache_component.py", "import json\n");
    write(
        root,
        "docs/components/cache/MATURITY.md",
        "# Cache — Maturity\n**Current Stage**: Production\n",
    );
    write(
        root,
        "src/components/scoring/__init__.py",
        "from .model import score\n",
    );
    write(
        root,
        "src/components/scoring/model.py",
        "from components.cache_component import get\n",
    );
    write(
        root,
        "src/components/scoring/README.md",
        "# Scoring\n**Functional Group**: AI/Agent Systems\n",
    );
    write(
        root,
        "tests/test_cache_component.py",
        "def test_x():\n    pass\n",
    );
    write(root, "tests/test_scoring.py", "def test_y():\n    pass\n");

    let run = init(root, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("2 components from src/components"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr
            .contains("no file names the functional group of cache"),
        "{}",
        run.all()
    );
    let text = std::fs::read_to_string(root.join("xtask.toml")).unwrap();
    let found = components(&text);
    assert_eq!(
        found["scoring"],
        (
            "src/components/scoring".to_owned(),
            vec!["tests/test_scoring.py".to_owned()],
            BTreeSet::from(["cache".to_owned()])
        )
    );
    assert_eq!(found["cache"].1, vec!["tests/test_cache_component.py"]);
    assert!(text.contains("# Stage: Production (from docs/components/cache/MATURITY.md)"));
    assert!(text.contains("group = \"AI/Agent Systems\""));

    // It is a registry the other commands accept: the docs phase runs on it, reading the
    // README init found.
    let output = std::process::Command::new(xtask_bin())
        .args(["--config", root.join("xtask.toml").to_str().unwrap()])
        .args(["promote", "scoring", "--phase", "3"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("lacks the sections Overview, Usage, API, Testing"),
        "{stdout}{stderr}"
    );

    // An existing registry is kept unless --force.
    std::fs::write(root.join("xtask.toml"), "# mine\n").unwrap();
    let refused = init(root, &[]);
    assert_eq!(refused.code, 2, "{}", refused.all());
    assert!(refused.stderr.contains("pass --force"), "{}", refused.all());
    assert_eq!(
        std::fs::read_to_string(root.join("xtask.toml")).unwrap(),
        "# mine\n"
    );
    let forced = init(root, &["--force"]);
    assert_eq!(forced.code, 0, "{}", forced.all());
    assert_eq!(
        std::fs::read_to_string(root.join("xtask.toml")).unwrap(),
        text
    );
}

#[test]
fn init_on_the_example_finds_the_registrys_components_and_their_imported_dependencies() {
    let sandbox = Sandbox::new();
    let project = sandbox.project();
    let run = init(&project, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let inferred = components(&std::fs::read_to_string(project.join("xtask.toml")).unwrap());
    let registry = components(&sandbox.config_text());
    assert_eq!(
        inferred.keys().collect::<Vec<_>>(),
        registry.keys().collect::<Vec<_>>(),
        "the same twelve components"
    );
    let mut differences = Vec::new();
    for (name, (source, tests, depends_on)) in &registry {
        let (found_source, found_tests, found_deps) = &inferred[name];
        assert_eq!(found_source, source, "{name}");
        assert_eq!(found_tests, tests, "{name}");
        if found_deps != depends_on {
            differences.push((
                name.as_str(),
                found_deps
                    .difference(depends_on)
                    .cloned()
                    .collect::<Vec<_>>(),
                depends_on
                    .difference(found_deps)
                    .cloned()
                    .collect::<Vec<_>>(),
            ));
        }
    }
    // Every edge matches the imports exactly (the registry lists player-experience's direct
    // imports of neo4j and narrative-arc-orchestrator, which the dependencies gate requires),
    // and the registry's comment is right: therapeutic-systems does not import gameplay-loop.
    assert_eq!(differences, vec![]);
}

#[test]
fn a_registry_written_by_init_drives_a_real_promotion() {
    let sandbox = Sandbox::new();
    let project = sandbox.project();
    let run = init(&project, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let config = project.join("xtask.toml");
    // Tools see only what the registry passes; the sandbox's sources reach them through
    // PYTHONPATH (the shared venv's editable install points at the original example).
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[env]\npass = [\"PYTHONPATH\"]\n");
    std::fs::write(&config, text).unwrap();
    let output = sandbox
        .command()
        .args(["--config", config.to_str().unwrap()])
        .args(["promote", "carbon", "--phase", "all"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("promotable to Staging"), "{stdout}");
    assert!(project.join("reports/carbon/promotion.json").is_file());
}
