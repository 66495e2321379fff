//! Component ownership and uses, on the bundled example and on an in-memory shaped project.

use super::*;
use crate::imports::{graph, parse};

/// The bundled example's whole import graph, parsed fresh.
fn example_graph(config: &Config) -> graph::Graph {
    graph::Graph::build(
        &config.project.root,
        graph::python_files(&config.project.root),
        None,
    )
}

#[test]
fn the_bundled_example_declares_exactly_the_components_it_imports() {
    let config = crate::testutil::registry();
    let graph = example_graph(&config);
    let owners = Owners::new(&config, graph.clone());
    for component in &config.components {
        let mut used: Vec<String> = owners
            .uses(component)
            .into_iter()
            .map(|u| u.component)
            .collect();
        let mut declared = component.depends_on.clone();
        used.sort();
        declared.sort();
        assert_eq!(used, declared, "{}", component.name);
        assert!(owners.unresolved(component).is_empty());
    }
    let player = config.component("player-experience").unwrap();
    assert_eq!(
        owners.uses(player)[0],
        Use {
            component: "neo4j".into(),
            file: "src/components/player_experience/api.py".into(),
            line: 10
        }
    );
}

fn shaped_config() -> Config {
    let components = r#"
[components.agent-orchestration]
display_name = "Agent Orchestration"
group = "Core Infrastructure"
source = "src/components/agent_orchestration_component.py"
tests = ["tests/agent_orchestration"]
[components.reporting]
display_name = "Reporting"
group = "Core Infrastructure"
source = "src/components/reporting_component.py"
depends_on = ["agent-orchestration", "billing"]
[components.billing]
display_name = "Billing"
group = "Core Infrastructure"
source = "src/components/billing"
"#;
    let text = crate::config::test_registry_head(&["Core Infrastructure"]) + components;
    crate::config::parse(&text, &std::env::temp_dir().join("xtask.toml")).unwrap()
}

fn shaped_graph() -> graph::Graph {
    let files = [
        // A components package that imports every component (a common convenience).
        (
            "src/components/__init__.py",
            "from . import agent_orchestration_component, billing, reporting_component\n",
        ),
        (
            "src/components/agent_orchestration_component.py",
            "from agent_orchestration import Orchestrator\nfrom components import agent_orchestration_component\n",
        ),
        (
            "src/agent_orchestration/__init__.py",
            "from .core import Orchestrator\n",
        ),
        (
            "src/agent_orchestration/core.py",
            "from shared.text import slug\nimport importlib\nplugin = importlib.import_module(NAME)\n",
        ),
        (
            "src/shared/text.py",
            "from components.billing import rates\n",
        ),
        ("src/components/billing/__init__.py", ""),
        ("src/components/billing/rates.py", ""),
        (
            "src/components/reporting_component.py",
            "\"\"\"Reports.\"\"\"\n\nfrom agent_orchestration.core import Orchestrator\n",
        ),
        (
            "tests/agent_orchestration/test_core.py",
            "from components import reporting_component\n",
        ),
    ];
    graph::Graph::from_parsed(
        files
            .iter()
            .map(|(path, text)| ((*path).to_owned(), parse::parse_file(text)))
            .collect(),
        &[],
    )
}

#[test]
fn a_thin_module_owns_the_package_it_wraps_and_shared_code_counts_for_its_users() {
    let config = shaped_config();
    let graph = shaped_graph();
    let owners = Owners::new(&config, graph.clone());
    let owner = |path: &str| owners.owner(path).map(|c| c.name.as_str());
    assert_eq!(
        owner("src/agent_orchestration/core.py"),
        Some("agent-orchestration")
    );
    assert_eq!(owner("src/components/billing/rates.py"), Some("billing"));
    assert_eq!(owner("src/shared/text.py"), None);
    // Test modules are not the component's code, even under a folder named like its package.
    assert_eq!(owner("tests/agent_orchestration/test_core.py"), None);

    let agent = config.component("agent-orchestration").unwrap();
    let code = owners.code(agent);
    assert!(code.contains(&"src/shared/text.py".to_owned()), "{code:?}");
    assert!(!code.iter().any(|f| f.starts_with("tests/")), "{code:?}");
    // The wrapped package reaches billing through a shared helper: a real dependency.
    assert_eq!(
        owners.uses(agent),
        vec![Use {
            component: "billing".into(),
            file: "src/shared/text.py".into(),
            line: 1
        }]
    );
    assert_eq!(
        owners.unresolved(agent),
        vec!["src/agent_orchestration/core.py:3"]
    );

    let reporting = config.component("reporting").unwrap();
    assert_eq!(
        owners.uses(reporting),
        vec![Use {
            component: "agent-orchestration".into(),
            file: "src/components/reporting_component.py".into(),
            line: 3
        }]
    );
    assert!(owners.uses(config.component("billing").unwrap()).is_empty());
}

#[test]
fn owners_by_folder_lookup_equal_the_innermost_declared_source() {
    // The owner table is built by hash lookups of folder prefixes; it must name the same
    // component as taking the longest declared source that owns the path, for graph files and
    // for paths outside the graph, nested sources included.
    let config = crate::testutil::registry();
    let graph = example_graph(&config);
    let owners = Owners::new(&config, graph.clone());
    let mut paths: Vec<String> = graph.files().to_vec();
    paths.extend(
        config
            .components
            .iter()
            .map(|c| format!("{}/new.py", c.source)),
    );
    paths.extend(config.components.iter().map(|c| c.source.clone()));
    let mut declared = 0;
    for path in &paths {
        let scanned = config
            .components
            .iter()
            .filter(|c| c.owns(path))
            .max_by_key(|c| c.source.len());
        if let Some(expected) = scanned {
            declared += 1;
            assert_eq!(
                owners.owner(path).map(|c| &c.name),
                Some(&expected.name),
                "{path}"
            );
        }
    }
    assert!(declared > config.components.len(), "{declared}");
}
