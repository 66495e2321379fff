//! Graph construction and closures on small in-memory projects.

use super::*;
use crate::imports::parse;

fn graph(files: &[(&str, &str)]) -> Graph {
    graph_with(files, &[])
}

fn graph_with(files: &[(&str, &str)], extra: &[&str]) -> Graph {
    Graph::from_parsed(
        files
            .iter()
            .map(|(path, text)| ((*path).to_owned(), parse::parse_file(text)))
            .collect(),
        &extra.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>(),
    )
}

fn closure(graph: &Graph, start: &str) -> Vec<String> {
    graph.closure(&[start.to_owned()]).into_iter().collect()
}

/// The users' shape: a thin component module wrapping a package outside `src/components/`,
/// tests in their own folder with a conftest and a helper package, a namespace package.
fn shaped() -> Graph {
    graph(&[
        ("src/components/__init__.py", ""),
        (
            "src/components/agent_orchestration_component.py",
            "from agent_orchestration import Orchestrator\n",
        ),
        (
            "src/agent_orchestration/__init__.py",
            "from .core import Orchestrator\n",
        ),
        (
            "src/agent_orchestration/core.py",
            "from agent_orchestration.tools import registry\nfrom . import policies\n",
        ),
        ("src/agent_orchestration/policies.py", "import os\n"),
        ("src/agent_orchestration/tools/__init__.py", ""),
        (
            "src/agent_orchestration/tools/registry.py",
            "def f():\n    import shared_ns.util\n",
        ),
        ("src/agent_orchestration/deep/workers/pool.py", ""),
        ("src/shared_ns/util.py", ""),
        ("src/unrelated/thing.py", ""),
        (
            "tests/agent_orchestration/conftest.py",
            "from helpers.fakes import FakeLLM\n",
        ),
        ("tests/agent_orchestration/helpers/__init__.py", ""),
        ("tests/agent_orchestration/helpers/fakes.py", ""),
        (
            "tests/agent_orchestration/test_pool.py",
            "from agent_orchestration.deep.workers.pool import Pool\n",
        ),
        ("tests/conftest.py", ""),
        ("tests/test_unrelated.py", "import unrelated.thing\n"),
    ])
}

#[test]
fn a_thin_component_module_reaches_the_wrapped_package_and_its_imports() {
    let graph = shaped();
    let reached = closure(&graph, "src/components/agent_orchestration_component.py");
    for expected in [
        "src/components/__init__.py",
        "src/agent_orchestration/__init__.py",
        "src/agent_orchestration/core.py",
        "src/agent_orchestration/policies.py",
        "src/agent_orchestration/tools/__init__.py",
        "src/agent_orchestration/tools/registry.py",
        // A namespace package (no __init__.py), imported inside a function.
        "src/shared_ns/util.py",
    ] {
        assert!(
            reached.contains(&expected.to_owned()),
            "{expected}: {reached:?}"
        );
    }
    assert!(
        !reached
            .iter()
            .any(|f| f.contains("unrelated") || f.contains("deep"))
    );
}

#[test]
fn tests_reach_their_conftest_chain_helper_packages_and_deep_modules() {
    let graph = shaped();
    let reached = closure(&graph, "tests/agent_orchestration/test_pool.py");
    for expected in [
        "tests/agent_orchestration/conftest.py",
        "tests/conftest.py",
        // Bare `helpers` resolves through the folder pytest puts on sys.path.
        "tests/agent_orchestration/helpers/__init__.py",
        "tests/agent_orchestration/helpers/fakes.py",
        "src/agent_orchestration/deep/workers/pool.py",
        // Importing a submodule runs every enclosing package's __init__.py.
        "src/agent_orchestration/__init__.py",
        "src/agent_orchestration/core.py",
    ] {
        assert!(
            reached.contains(&expected.to_owned()),
            "{expected}: {reached:?}"
        );
    }
    assert!(!reached.contains(&"tests/test_unrelated.py".to_owned()));
    assert!(!reached.contains(&"src/unrelated/thing.py".to_owned()));
}

#[test]
fn edges_carry_lines_and_kinds() {
    let graph = shaped();
    assert_eq!(
        graph.imports_of("src/agent_orchestration/core.py"),
        vec![
            // `from . import policies` names the package itself as well.
            ("src/agent_orchestration/__init__.py", 2),
            ("src/agent_orchestration/policies.py", 2),
            ("src/agent_orchestration/tools/__init__.py", 1),
            ("src/agent_orchestration/tools/registry.py", 1)
        ]
    );
    let edges = graph.edges_of("tests/agent_orchestration/conftest.py");
    assert!(
        edges.contains(&("tests/conftest.py", 0, EdgeKind::Conftest)),
        "{edges:?}"
    );
    // A helper module is not a test: conftests do not load for it.
    assert!(
        graph
            .edges_of("tests/agent_orchestration/helpers/fakes.py")
            .iter()
            .all(|(_, _, kind)| *kind == EdgeKind::Package)
    );
}

#[test]
fn flat_layout_packages_in_tests_and_relative_imports_resolve() {
    let graph = graph(&[
        ("pkg/__init__.py", ""),
        ("pkg/a.py", "from .sub import b\nfrom .. import outside\n"),
        ("pkg/sub/__init__.py", ""),
        ("pkg/sub/b.py", "from ..a import x\n"),
        ("tests/__init__.py", ""),
        ("tests/helpers/__init__.py", ""),
        ("tests/helpers/db.py", ""),
        (
            "tests/test_a.py",
            "from tests.helpers import db\nimport pkg.a\n",
        ),
    ]);
    assert_eq!(
        graph.imports_of("pkg/a.py"),
        vec![("pkg/sub/__init__.py", 1), ("pkg/sub/b.py", 1)]
    );
    assert_eq!(graph.imports_of("pkg/sub/b.py"), vec![("pkg/a.py", 1)]);
    let reached = closure(&graph, "tests/test_a.py");
    assert!(
        reached.contains(&"tests/helpers/db.py".to_owned()),
        "{reached:?}"
    );
    assert!(reached.contains(&"pkg/sub/b.py".to_owned()), "{reached:?}");
    // `from .. import outside` climbs above the top package: nothing there, but a file
    // `outside.py` at the root would be read.
    assert!(
        graph
            .missing_of(&["pkg/a.py".to_owned()])
            .contains("outside.py")
    );
}

#[test]
fn a_deleted_or_new_module_is_a_missing_path_of_its_importers() {
    let graph = shaped();
    let graph2 = super::Graph::from_parsed(
        vec![
            ("src/pkg/__init__.py".to_owned(), parse::parse_file("")),
            (
                "src/pkg/user.py".to_owned(),
                parse::parse_file("from pkg import gone\nimport pkg.also_gone\nimport numpy\n"),
            ),
        ],
        &[],
    );
    let missing = graph2.missing_of(&["src/pkg/user.py".to_owned()]);
    assert!(missing.contains("src/pkg/gone.py"), "{missing:?}");
    assert!(
        missing.contains("src/pkg/also_gone/__init__.py"),
        "{missing:?}"
    );
    // Third-party imports are not first-party paths.
    assert!(!missing.iter().any(|m| m.contains("numpy")), "{missing:?}");
    assert!(
        graph
            .missing_of(&["src/agent_orchestration/core.py".to_owned()])
            .is_empty()
    );
}

#[test]
fn pythonpath_roots_and_ambiguous_names_link_to_every_candidate() {
    let graph = graph_with(
        &[
            ("lib/common/__init__.py", ""),
            ("tests/unit/test_x.py", "import common\nimport helper\n"),
            ("tests/unit/helper.py", ""),
            ("tests/other/helper.py", ""),
            ("tests/other/test_y.py", "import helper\n"),
        ],
        &["lib"],
    );
    let targets: Vec<&str> = graph
        .imports_of("tests/unit/test_x.py")
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert_eq!(
        targets,
        vec![
            "lib/common/__init__.py",
            "tests/other/helper.py",
            "tests/unit/helper.py"
        ]
    );
}

#[test]
fn closure_where_stops_at_refused_edges() {
    let graph = shaped();
    let reached = graph.closure_where(
        &["src/components/agent_orchestration_component.py".to_owned()],
        |_, to, _| !to.starts_with("src/agent_orchestration/tools/"),
    );
    assert!(reached.contains("src/agent_orchestration/core.py"));
    assert!(!reached.contains("src/agent_orchestration/tools/registry.py"));
    assert!(!reached.contains("src/shared_ns/util.py"));
}

#[test]
fn python_files_skip_environments_caches_and_hidden_folders() {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "src/a.py",
        "src/b.pyi",
        "src/__pycache__/a.cpython-312.pyc",
        ".venv/lib/x.py",
        "venv/pyvenv.cfg",
        "venv/lib/y.py",
        "notes.txt",
    ] {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }
    assert_eq!(python_files(dir.path()), vec!["src/a.py", "src/b.pyi"]);
}

#[test]
fn the_parse_cache_is_reused_by_digest_and_never_stale() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("project");
    let cache = dir.path().join("cache/imports.json");
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("pkg/__init__.py", "");
    write("pkg/a.py", "from pkg import b\n");
    write("pkg/b.py", "");
    let build = || Graph::build(&root, python_files(&root), Some(&cache));
    let first = build();
    assert_eq!(
        first.imports_of("pkg/a.py"),
        vec![("pkg/__init__.py", 1), ("pkg/b.py", 1)]
    );
    let stored: HashMap<String, Parsed> =
        serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    // Two files are empty: one digest for both.
    assert_eq!(stored.len(), 2);
    // Same content, new import: the digest differs, so the file is parsed again.
    write("pkg/a.py", "from pkg import c\n");
    write("pkg/c.py", "");
    let second = build();
    assert_eq!(
        second.imports_of("pkg/a.py"),
        vec![("pkg/__init__.py", 1), ("pkg/c.py", 1)]
    );
    // A cache file that is not JSON is ignored, then replaced.
    std::fs::write(&cache, "not json").unwrap();
    assert_eq!(
        build().imports_of("pkg/a.py"),
        vec![("pkg/__init__.py", 1), ("pkg/c.py", 1)]
    );
    assert!(
        serde_json::from_slice::<HashMap<String, Parsed>>(&std::fs::read(&cache).unwrap()).is_ok()
    );
}
