//! `affected` on a sandbox git repository with real commits, and `cache key` for CI.

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
fn a_committed_change_to_llm_affects_llm_and_its_dependents_only() {
    let sandbox = Sandbox::new();
    let path = "src/components/llm/client.py";
    let text = sandbox.read(path);
    sandbox.write(path, &format!("{text}\n# a change\n"));
    sandbox.commit_all("change llm");

    let run = sandbox.xtask(&["affected", "--base", "HEAD~1", "--head", "HEAD"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        matrix(&run),
        [
            "llm",
            "agent-orchestration",
            "narrative-arc-orchestrator",
            "narrative-coherence",
            "therapeutic-systems",
            "gameplay-loop",
            "character-arc-manager",
            "player-experience"
        ]
    );
    assert!(
        run.stderr
            .contains("llm: examples/tta/src/components/llm/client.py changed"),
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
