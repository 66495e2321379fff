//! `init` on small monorepos written into temp folders: discovery, inference, and a registry
//! that `config::parse` accepts with the same components.

use super::*;
use crate::vocab::Stage;

use crate::testutil::write_file as write;

/// A monorepo like the users': two packages, a module, tests, MATURITY.md files, and a
/// cycle in the imports.
fn monorepo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "pyproject.toml",
        "[project]\nname = \"x\"\nversion = \"0\"\n",
    );
    write(root, "src/components/__init__.py", "");
    write(
        root,
        "src/components/graph_component.py",
        "import itertools\n",
    );
    write(
        root,
        "docs/components/graph/MATURITY.md",
        "# Graph — Maturity\n\n**Current Stage**: Staging\n**Functional Group**: Core Infrastructure\n",
    );
    write(
        root,
        "src/components/story_engine/__init__.py",
        "from .engine import Engine\n",
    );
    write(
        root,
        "src/components/story_engine/engine.py",
        "from components.graph_component import Graph\nfrom ..safety import check\n",
    );
    write(
        root,
        "src/components/story_engine/MATURITY.md",
        "# Story \"Engine\" — Maturity\nStage: development\n",
    );
    write(
        root,
        "src/components/safety/__init__.py",
        "\"\"\"Safety.\n\nimport components.not_real\n\"\"\"\nfrom components.story_engine import Engine\n",
    );
    write(root, "src/components/helpers.py", "# not a component\n");
    write(root, "tests/test_graph_component.py", "");
    write(root, "tests/story_engine/test_turns.py", "");
    write(root, "tests/test_story_engine_extra.py", "");
    dir
}

#[test]
fn discovers_components_tests_stages_and_dependencies() {
    let dir = monorepo();
    let adoption = adopt(dir.path()).unwrap();
    let names: Vec<&str> = adoption
        .repo
        .components
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    // Dependencies first: story-engine needs graph, safety needs story-engine.
    assert_eq!(names, vec!["graph", "story-engine", "safety"]);
    let graph = &adoption.repo.components[0];
    assert_eq!(graph.display_name, "Graph");
    assert_eq!(graph.stage, Some(Stage::Staging));
    assert_eq!(graph.group.as_deref(), Some("Core Infrastructure"));
    assert_eq!(graph.tests, vec!["tests/test_graph_component.py"]);
    assert_eq!(graph.module, "components.graph_component");
    let story = &adoption.repo.components[1];
    assert_eq!(story.display_name, "Story \"Engine\"");
    assert_eq!(story.stage, Some(Stage::Development));
    // A folder named after the component is one entry: pytest collects it whole.
    assert_eq!(story.tests, vec!["tests/story_engine"]);
    assert!(adoption.repo.components[2].maturity_found.is_none());
    // story-engine imports graph and safety; safety imports story-engine: a cycle, broken at
    // the edge that closes it.
    assert_eq!(
        adoption.dependencies,
        vec![
            ("graph".to_owned(), vec![]),
            ("story-engine".to_owned(), vec!["graph".to_owned()]),
            ("safety".to_owned(), vec!["story-engine".to_owned()]),
        ]
    );
    assert_eq!(adoption.dropped.len(), 1);
    assert_eq!(
        (
            adoption.dropped[0].from.as_str(),
            adoption.dropped[0].to.as_str()
        ),
        ("story-engine", "safety")
    );
}

#[test]
fn the_registry_round_trips_through_config_load() {
    let dir = monorepo();
    let adoption = adopt(dir.path()).unwrap();
    let config = crate::config::parse(&adoption.text, &dir.path().join("xtask.toml"))
        .unwrap_or_else(|e| panic!("{e:#}\n{}", adoption.text));
    assert_eq!(config.components.len(), 3);
    for (found, loaded) in adoption.repo.components.iter().zip(&config.components) {
        assert_eq!(found.name, loaded.name);
        assert_eq!(found.display_name, loaded.display_name);
        assert_eq!(found.source, loaded.source);
        assert_eq!(found.tests, loaded.tests);
        assert_eq!(
            config.project_path(&loaded.maturity).is_file(),
            found.maturity_found.is_some(),
            "{}: the registry points at the MATURITY.md that was found",
            found.name
        );
    }
    assert_eq!(
        config.component("story-engine").unwrap().depends_on,
        vec!["graph"]
    );
    assert_eq!(
        config.component("graph").unwrap().group,
        "Core Infrastructure"
    );
    assert_eq!(
        config.component("safety").unwrap().group,
        registry::UNGROUPED
    );
    assert!(config.groups.iter().any(|g| g == registry::UNGROUPED));
    assert!(
        config.project.install,
        "a pyproject without a .venv is installed into the tool venv"
    );
    assert!(
        adoption
            .text
            .contains("# Stage: Staging (from docs/components/graph/MATURITY.md)")
    );
    assert!(
        adoption
            .text
            .contains("closes a cycle (safety -> story-engine -> safety)"),
        "{}",
        adoption.text
    );
}

#[test]
fn a_project_venv_becomes_project_python() {
    let dir = monorepo();
    write(dir.path(), ".venv/bin/python", "");
    let adoption = adopt(dir.path()).unwrap();
    let config = crate::config::parse(&adoption.text, &dir.path().join("xtask.toml")).unwrap();
    assert_eq!(
        config.project.python,
        Some(dir.path().join(".venv/bin/python"))
    );
    assert!(!config.project.install);
}

#[test]
fn a_folder_without_components_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = adopt(dir.path()).unwrap_err();
    assert_eq!(
        crate::errors::exit_code_of(&error),
        crate::errors::exit::USAGE
    );
    assert!(error.to_string().contains("found no components"), "{error}");
}

#[test]
fn the_pins_are_the_ones_this_xtask_is_tested_with() {
    let ours: toml::Table = toml::from_str(include_str!("../../../../xtask.toml")).unwrap();
    let tools = ours["tools"].as_table().unwrap();
    assert_eq!(tools.len(), registry::pins().len());
    for (tool, version) in registry::pins() {
        assert_eq!(tools[tool].as_str(), Some(version), "{tool}");
    }
}
