//! Shared code a component reaches (`src/shared/textutil.py`, imported by carbon and neo4j)
//! is checked with each component that reaches it: its lint findings are theirs and coverage
//! measures it with them. Registered as a component of its own, it is that component's code
//! and a dependency of those that import it, and no longer theirs.

use crate::support::Sandbox;

const TEXTUTIL: &str = r#""""Text helpers shared by components."""

import os


def shout(text: str) -> str:
    """Loud text."""
    if not text:
        return "!"
    return text.upper() + "!"


def whisper(text: str) -> str:
    """Quiet text."""
    return text.lower()
"#;

/// A function that reaches the shared helpers, appended to a component module.
const USES_TEXTUTIL: &str = r#"

def shouted(text: str) -> str:
    """Loud text, through the shared helpers."""
    from shared.textutil import shout

    return shout(text)
"#;

/// The sandbox with `src/shared` imported by carbon and neo4j.
fn with_shared_package() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write("src/shared/__init__.py", "");
    sandbox.write("src/shared/textutil.py", TEXTUTIL);
    for module in ["carbon_component.py", "neo4j_component.py"] {
        let path = format!("src/components/{module}");
        let text = sandbox.read(&path);
        sandbox.write(&path, &format!("{text}{USES_TEXTUTIL}"));
    }
    sandbox.commit_all("a shared package");
    sandbox
}

/// The (file, code) of every finding of `step` in a promotion report.
fn findings(report: &serde_json::Value, step: &str) -> Vec<(String, String)> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == step)
        .flat_map(|s| s["findings"].as_array().unwrap().iter())
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_owned(),
                f["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn unused_import_in_textutil(report: &serde_json::Value) -> bool {
    findings(report, "ruff-check")
        .iter()
        .any(|(file, code)| file == "src/shared/textutil.py" && code == "F401")
}

/// Lines (and branches) coverage counted for `component`'s tests step.
fn coverage_total(report: &serde_json::Value) -> u64 {
    let step = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "pytest")
        .unwrap_or_else(|| panic!("{report}"));
    step["coverage"]["total"]
        .as_u64()
        .unwrap_or_else(|| panic!("{step}"))
}

#[test]
fn shared_code_imported_by_two_components_is_linted_and_covered_with_each() {
    let plain = Sandbox::new();
    let run = plain.xtask(&["promote", "carbon", "--phase", "4"]);
    assert!(run.code == 0 || run.code == 1, "{}", run.all());
    let carbon_alone = coverage_total(&plain.report("carbon"));

    let sandbox = with_shared_package();
    for component in ["carbon", "neo4j"] {
        let run = sandbox.xtask(&["promote", component, "--phase", "4"]);
        assert_eq!(run.code, 1, "{}", run.all());
        let report = sandbox.report(component);
        assert!(
            unused_import_in_textutil(&report),
            "{component}'s lint finds the shared file's F401: {}",
            run.all()
        );
        assert!(
            run.stdout.contains("src/shared/textutil.py"),
            "{}",
            run.all()
        );
    }
    // Coverage measures the shared file with carbon: its lines count (none ran: the tests
    // never call `shouted`), on top of carbon's own and the function added to it.
    let carbon = sandbox.report("carbon");
    let pytest = carbon["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "pytest")
        .unwrap();
    let command = pytest["command"].to_string();
    assert!(command.contains("--cov=src/shared"), "{command}");
    // textutil.py: 8 statements and 2 branches; `shouted`: 3 statements.
    assert!(
        coverage_total(&carbon) >= carbon_alone + 8 + 3,
        "{} vs {carbon_alone} without the shared package",
        coverage_total(&carbon)
    );
    // A component that does not reach it is not charged with it.
    let run = sandbox.xtask(&["promote", "docker", "--phase", "1"]);
    assert!(run.code == 0 || run.code == 1, "{}", run.all());
    assert!(!unused_import_in_textutil(&sandbox.report("docker")));
}

#[test]
fn a_shared_package_registered_as_a_component_is_its_own_code_and_a_dependency() {
    let sandbox = with_shared_package();
    let config = sandbox.config_text().replacen(
        "[components.carbon]\n",
        "[components.shared]\ndisplay_name = \"Shared\"\ngroup = \"Core Infrastructure\"\nsource = \"src/shared\"\n\n[components.carbon]\ndepends_on = [\"shared\"]\n",
        1,
    );
    sandbox.set_config(&config);
    let run = sandbox.xtask(&["promote", "shared", "--phase", "1"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(unused_import_in_textutil(&sandbox.report("shared")));

    let run = sandbox.xtask(&["promote", "carbon", "--phase", "4"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let carbon = sandbox.report("carbon");
    assert!(
        !unused_import_in_textutil(&carbon),
        "the shared component's file is no longer carbon's: {}",
        run.all()
    );
    // carbon declared it: a dependency below the target stage, named.
    let dependencies = carbon["quality_gates"]["dependencies"].to_string();
    assert!(dependencies.contains("shared"), "{dependencies}");
    // neo4j imports it without declaring it: the dependencies gate says so.
    let run = sandbox.xtask(&["promote", "neo4j", "--phase", "4"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let neo4j = sandbox.report("neo4j");
    assert!(!unused_import_in_textutil(&neo4j));
    assert!(
        neo4j["blockers"].to_string().contains("shared"),
        "{}",
        run.all()
    );
}
