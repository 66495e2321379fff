//! `affected` on a sandbox git repository with real commits, and `cache key` for CI.

use crate::shaped_fixture::{SKILLS, Shaped};
use crate::support::Sandbox;

fn matrix(run: &crate::support::Run) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("not a JSON matrix ({e}):\n{}", run.all()));
    value["component"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_committed_change_affects_its_component_and_its_dependents_only() {
    let sandbox = Sandbox::new();
    let path = "src/components/narrative_arc_orchestrator/arcs.py";
    let text = sandbox.read(path);
    sandbox.write(path, &format!("{text}\n# a change\n"));
    sandbox.commit_all("change the arcs");

    let run = sandbox.xtask(&["affected", "--base", "HEAD~1", "--head", "HEAD"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        matrix(&run),
        [
            "narrative-arc-orchestrator",
            "narrative-coherence",
            "therapeutic-systems",
            "gameplay-loop",
            "character-arc-manager",
            "player-experience"
        ]
    );
    assert!(
        run.stderr.contains(
            "narrative-arc-orchestrator: examples/tta/src/components/narrative_arc_orchestrator/arcs.py changed"
        ),
        "{}",
        run.all()
    );
    // Without --head it compares with the working tree, which has nothing new.
    let clean = sandbox.xtask(&["affected", "--base", "HEAD"]);
    assert_eq!(matrix(&clean), Vec::<String>::new(), "{}", clean.all());
}

#[test]
fn the_working_tree_counts_untracked_files_and_shared_configs_affect_all() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "src/components/carbon_component.py",
        "\"\"\"Carbon.\"\"\"\n",
    );
    let run = sandbox.xtask(&["affected", "--base", "HEAD"]);
    assert_eq!(matrix(&run), ["carbon"], "{}", run.all());

    sandbox.write("tests/test_new_docker_helper.py", "");
    sandbox.write("tests/helper_for_docker.py", "");
    let run = sandbox.xtask(&["affected", "--base", "HEAD"]);
    // A helper beside the tests is read by every component whose tests live there.
    assert!(matrix(&run).len() > 1, "{}", run.all());

    let sandbox = Sandbox::new();
    let pyproject = sandbox.read("pyproject.toml");
    sandbox.write("pyproject.toml", &format!("{pyproject}\n# tweak\n"));
    sandbox.commit_all("tweak pyproject");
    let run = sandbox.xtask(&["affected", "--base", "HEAD~1", "--head", "HEAD"]);
    assert_eq!(matrix(&run).len(), 12, "{}", run.all());
}

#[test]
fn no_base_commit_means_every_component_and_a_bad_revision_is_refused() {
    let sandbox = Sandbox::new();
    let zeros = "0".repeat(40);
    let run = sandbox.xtask(&["affected", "--base", &zeros, "--head", "HEAD"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(matrix(&run).len(), 12);

    let run = sandbox.xtask(&["affected", "--base", "1234567890abcdef", "--head", "HEAD"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(matrix(&run).len(), 12);
    assert!(run.stderr.contains("is not a commit in this checkout"));

    let marker = sandbox.root().join("written-by-git");
    let option = format!("--output={}", marker.display());
    let run = sandbox.xtask(&["affected", &format!("--base={option}")]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("is not a git revision"),
        "{}",
        run.all()
    );
    assert!(!marker.exists());
}

#[test]
fn in_github_actions_the_matrix_and_count_become_step_outputs() {
    let mut sandbox = Sandbox::new();
    let output = sandbox.root().join("github-output.txt");
    std::fs::write(&output, "").unwrap();
    sandbox.env("GITHUB_ACTIONS", "true");
    sandbox.env("GITHUB_OUTPUT", output.to_str().unwrap());
    sandbox.write("docs/components/neo4j/README.md", "# Neo4j\n");
    let run = sandbox.xtask(&["affected", "--base", "HEAD"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let text = std::fs::read_to_string(&output).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("matrix<<ghadelimiter_"), "{text}");
    let names: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    let expected: Vec<String> = matrix(&run);
    assert_eq!(names["component"], serde_json::json!(expected));
    assert!(expected.contains(&"neo4j".to_owned()) && !expected.contains(&"carbon".to_owned()));
    assert_eq!(lines[2], &lines[0]["matrix<<".len()..]);
    assert!(lines[3].starts_with("count<<"));
    assert_eq!(lines[4], expected.len().to_string());
}

#[test]
fn cache_keys_change_with_the_components_inputs_and_not_otherwise() {
    let sandbox = Sandbox::new();
    let key = |component: &str| {
        let run = sandbox.xtask(&["cache", "key", "--component", component]);
        assert_eq!(run.code, 0, "{}", run.all());
        run.stdout
    };
    let carbon = key("carbon");
    let llm = key("llm");
    assert!(carbon.starts_with("key=xtask-"), "{carbon}");
    assert!(carbon.contains("-carbon-") && carbon.contains("restore-key=xtask-"));
    let text = sandbox.read("src/components/llm/client.py");
    sandbox.write("src/components/llm/client.py", &format!("{text}\n# x\n"));
    assert_eq!(key("carbon"), carbon, "carbon does not read llm");
    assert_ne!(key("llm"), llm);
    let unknown = sandbox.xtask(&["cache", "key", "--component", "nope"]);
    assert_eq!(unknown.code, 2, "{}", unknown.all());
}

#[test]
fn a_change_to_code_the_shared_conftest_imports_affects_every_component() {
    // tests/conftest.py imports components.llm: every component's tests run llm's code.
    let sandbox = Sandbox::new();
    let path = "src/components/llm/client.py";
    let text = sandbox.read(path);
    sandbox.write(path, &format!("{text}\n# a change\n"));
    sandbox.commit_all("change llm");
    let run = sandbox.xtask(&["affected", "--base", "HEAD~1", "--head", "HEAD"]);
    assert_eq!(matrix(&run).len(), 12, "{}", run.all());
    assert!(
        run.stderr
            .contains("carbon: examples/tta/src/components/llm/client.py changed"),
        "{}",
        run.all()
    );
}

/// `affected` for the last commit of a shaped monorepo.
fn shaped_affected(shaped: &Shaped, message: &str) -> Vec<String> {
    shaped.commit_all(message);
    let run = shaped.xtask(&["affected", "--base", "HEAD~1", "--head", "HEAD"]);
    assert_eq!(run.code, 0, "{}", run.all());
    matrix(&run)
}

#[test]
fn shaped_a_commit_of_52_files_in_a_wrapped_package_affects_its_component_and_dependents() {
    // The users' case: 52 files of src/agent_orchestration/, a package outside
    // src/components/ that a thin component module wraps, gave no component at all.
    let shaped = Shaped::new();
    for n in 0..SKILLS {
        shaped.touch(&format!("src/agent_orchestration/skills/skill_{n:02}.py"));
    }
    shaped.touch("src/agent_orchestration/core.py");
    shaped.touch("src/agent_orchestration/planning/steps.py");
    assert_eq!(
        shaped_affected(&shaped, "52 files"),
        ["agent-orchestration", "reporting"]
    );
}

#[test]
fn shaped_one_deep_module_and_one_test_helper_each_affect_the_component() {
    let shaped = Shaped::new();
    shaped.touch("src/agent_orchestration/planning/steps.py");
    assert_eq!(
        shaped_affected(&shaped, "deep module"),
        ["agent-orchestration", "reporting"]
    );
    // A helper package beside the tests, imported by bare name from their conftest.
    shaped.touch("tests/agent_orchestration/helpers/fakes.py");
    assert_eq!(
        shaped_affected(&shaped, "test helper"),
        ["agent-orchestration", "reporting"]
    );
    // A module of the namespace package the narrative component wraps.
    shaped.touch("src/narrative/engine.py");
    assert_eq!(shaped_affected(&shaped, "namespace package"), ["narrative"]);
}

#[test]
fn shaped_a_file_nothing_imports_affects_nothing() {
    let shaped = Shaped::new();
    shaped.touch("src/unrelated_scripts/report.py");
    assert_eq!(shaped_affected(&shaped, "unrelated"), Vec::<String>::new());
    shaped.touch("src/billing/ledger.py");
    assert_eq!(shaped_affected(&shaped, "billing"), ["billing"]);
}

#[test]
fn shaped_a_module_a_conftest_imports_affects_the_tests_it_loads_for() {
    // Only tests/agent_orchestration/conftest.py imports narrative.arcs: no source does,
    // and no registry entry says so.
    let shaped = Shaped::new();
    shaped.touch("src/narrative/arcs.py");
    assert_eq!(
        shaped_affected(&shaped, "arcs"),
        ["agent-orchestration", "reporting"]
    );
}

#[test]
fn shaped_a_deleted_module_still_imported_affects_its_importers() {
    let shaped = Shaped::new();
    shaped.remove("src/agent_orchestration/tools.py");
    assert_eq!(
        shaped_affected(&shaped, "delete tools"),
        ["agent-orchestration", "reporting"]
    );
    // A new module where an import looks for one changes what that import finds.
    shaped.write(
        "src/agent_orchestration/tools.py",
        "def names():\n    return []\n",
    );
    assert_eq!(
        shaped_affected(&shaped, "restore tools"),
        ["agent-orchestration", "reporting"]
    );
}
