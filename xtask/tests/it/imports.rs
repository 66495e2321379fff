//! The dependencies gate against the import graph, end to end on the shaped fixture monorepo:
//! a component module that reaches another component through the package it wraps is a use; an
//! undeclared use blocks with its `file:line` and the fix, a declared dependency never imported
//! is only a warning.

use crate::shaped_fixture::Shaped;

fn dependencies_gate(shaped: &Shaped) -> (serde_json::Value, Vec<serde_json::Value>) {
    let path = shaped.path("reports/reporting/promotion.json");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let blockers = report["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["gate"] == "dependencies")
        .cloned()
        .collect();
    (report["quality_gates"]["dependencies"].clone(), blockers)
}

#[test]
fn an_undeclared_import_of_a_wrapped_package_blocks_and_an_unused_declaration_warns() {
    let shaped = Shaped::new();
    // reporting imports agent_orchestration.core, the package agent-orchestration wraps, and
    // declares it: the only blocker is the dependency's stage.
    let run = shaped.xtask(&["promote", "reporting", "--phase", "all"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let (gate, blockers) = dependencies_gate(&shaped);
    assert_eq!(gate["summary"], "1 of 1 below Staging", "{}", run.all());
    assert_eq!(blockers.len(), 1, "{blockers:?}");

    let registry = std::fs::read_to_string(shaped.path("xtask.toml")).unwrap();
    let declared = "depends_on = [\"agent-orchestration\"]";
    assert!(registry.contains(declared));
    std::fs::write(
        shaped.path("xtask.toml"),
        registry.replace(declared, "depends_on = [\"billing\"]"),
    )
    .unwrap();
    let run = shaped.xtask(&["promote", "reporting", "--phase", "all"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let (gate, blockers) = dependencies_gate(&shaped);
    assert_eq!(gate["passed"], false);
    assert_eq!(
        gate["summary"],
        "1 of 1 below Staging; imports agent-orchestration undeclared; warning: declared but never imported: billing"
    );
    let undeclared: Vec<&serde_json::Value> = blockers
        .iter()
        .filter(|b| b["message"].as_str().unwrap().contains("imports"))
        .collect();
    assert_eq!(undeclared.len(), 1, "{blockers:?}");
    assert_eq!(
        undeclared[0]["message"],
        "src/components/reporting_component.py:3 imports agent-orchestration, which reporting does not declare as a dependency"
    );
    assert_eq!(
        undeclared[0]["fix"],
        "declare it in xtask.toml: depends_on = [\"billing\", \"agent-orchestration\"] under [components.reporting]"
    );
    assert!(
        run.stdout.contains("reporting_component.py:3"),
        "{}",
        run.all()
    );
}
