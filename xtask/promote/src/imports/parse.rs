//! Python import statements, read with a real Python parser (tree-sitter-python) without running
//! Python: `import a.b as c`, `from a.b import (c, d)`, relative `from ..x import y`, imports in
//! functions, `if TYPE_CHECKING:` blocks and try/except (all count), `importlib.import_module`
//! and `__import__` called with a string literal, and `pytest_plugins` lists. Pure.

use std::cell::RefCell;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use tree_sitter::{Node, Parser, Query, QueryCursor, StreamingIterator};

/// One import of a module, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Import {
    /// Leading dots of a relative import (0 for an absolute one).
    pub level: usize,
    /// The dotted module after the dots; empty for `from . import x`.
    pub module: String,
    /// The names of a `from` import (`*` included); empty for a plain `import`.
    pub names: Vec<String>,
    /// 1-based line of the statement or call.
    pub line: usize,
}

/// Everything `parse_file` learns from one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parsed {
    pub imports: Vec<Import>,
    /// Lines of `importlib.import_module(...)` / `__import__(...)` calls whose module is not a
    /// string literal: imports nobody can resolve without running the code.
    pub dynamic: Vec<usize>,
}

/// The nodes that can import, found by tree-sitter's query engine (in C) rather than by
/// walking every node in Rust: the walk was the cost, about 1.5 MB/s in a debug build.
const QUERY: &str = r#"
(import_statement) @node
(import_from_statement) @node
(call function: (identifier) @name (#any-of? @name "__import__" "import_module")) @node
(call function: (attribute attribute: (identifier) @name (#eq? @name "import_module"))) @node
(assignment left: (identifier) @name (#eq? @name "pytest_plugins")) @node
"#;

fn language() -> tree_sitter::Language {
    tree_sitter_python::LANGUAGE.into()
}

fn query() -> &'static Query {
    static QUERY_CELL: OnceLock<Query> = OnceLock::new();
    QUERY_CELL.get_or_init(|| {
        Query::new(&language(), QUERY).expect("the import query matches the bundled grammar")
    })
}

thread_local! {
    static PARSER: RefCell<Option<(Parser, QueryCursor)>> = const { RefCell::new(None) };
}

/// Every import in `source`, in order. Syntax errors do not stop it: tree-sitter recovers and
/// the statements it could read still count.
pub fn parse(source: &str) -> Vec<Import> {
    parse_file(source).imports
}

/// Imports and unresolvable dynamic imports of one file.
pub fn parse_file(source: &str) -> Parsed {
    let query = query();
    let node_index = query
        .capture_index_for_name("node")
        .expect("the query captures @node");
    let bytes = source.as_bytes();
    let mut parsed = Parsed::default();
    PARSER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let (parser, cursor) = slot.get_or_insert_with(|| {
            let mut parser = Parser::new();
            parser
                .set_language(&language())
                .expect("the bundled Python grammar matches the tree-sitter version");
            (parser, QueryCursor::new())
        });
        let Some(tree) = parser.parse(source, None) else {
            return;
        };
        let mut matches = cursor.matches(query, tree.root_node(), bytes);
        while let Some(found) = matches.next() {
            let Some(node) = found
                .captures
                .iter()
                .find(|c| c.index == node_index)
                .map(|c| c.node)
            else {
                continue;
            };
            match node.kind() {
                "import_statement" => plain_import(node, bytes, &mut parsed),
                "import_from_statement" => from_import(node, bytes, &mut parsed),
                "call" => call(node, bytes, &mut parsed),
                "assignment" => pytest_plugins(node, bytes, &mut parsed),
                _ => {}
            }
        }
    });
    parsed.imports.sort_by_key(|i| i.line);
    parsed.dynamic.sort_unstable();
    parsed
}

fn text<'a>(node: Node, bytes: &'a [u8]) -> &'a str {
    node.utf8_text(bytes).unwrap_or("")
}

fn line(node: Node) -> usize {
    node.start_position().row + 1
}

/// The dotted name of a `dotted_name` or the imported name of an `aliased_import`.
fn imported_name(node: Node, bytes: &[u8]) -> Option<String> {
    let name = match node.kind() {
        "aliased_import" => node.child_by_field_name("name")?,
        "dotted_name" => node,
        _ => return None,
    };
    // Rebuilt from the identifiers so `a . b` and line continuations read as `a.b`.
    let mut cursor = name.walk();
    let parts: Vec<&str> = name
        .named_children(&mut cursor)
        .map(|part| text(part, bytes))
        .collect();
    (!parts.is_empty()).then(|| parts.join("."))
}

fn plain_import(node: Node, bytes: &[u8], parsed: &mut Parsed) {
    let mut cursor = node.walk();
    for name in node.children_by_field_name("name", &mut cursor) {
        if let Some(module) = imported_name(name, bytes) {
            parsed.imports.push(Import {
                level: 0,
                module,
                names: Vec::new(),
                line: line(node),
            });
        }
    }
}

fn from_import(node: Node, bytes: &[u8], parsed: &mut Parsed) {
    let Some(source) = node.child_by_field_name("module_name") else {
        return;
    };
    let (level, module) = match source.kind() {
        "relative_import" => {
            let mut level = 0;
            let mut module = String::new();
            let mut cursor = source.walk();
            for part in source.named_children(&mut cursor) {
                match part.kind() {
                    "import_prefix" => level = text(part, bytes).matches('.').count(),
                    "dotted_name" => module = imported_name(part, bytes).unwrap_or_default(),
                    _ => {}
                }
            }
            (level, module)
        }
        _ => (0, imported_name(source, bytes).unwrap_or_default()),
    };
    if level == 0 && module.is_empty() {
        return;
    }
    let mut names: Vec<String> = {
        let mut cursor = node.walk();
        node.children_by_field_name("name", &mut cursor)
            .filter_map(|name| imported_name(name, bytes))
            .collect()
    };
    let mut cursor = node.walk();
    if node
        .named_children(&mut cursor)
        .any(|child| child.kind() == "wildcard_import")
    {
        names.push("*".to_owned());
    }
    parsed.imports.push(Import {
        level,
        module,
        names,
        line: line(node),
    });
}

/// The value of a plain string literal (no interpolation, no concatenation), else `None`.
fn literal(node: Node, bytes: &[u8]) -> Option<String> {
    if node.kind() != "string" {
        return None;
    }
    let mut value = String::new();
    let mut cursor = node.walk();
    for part in node.named_children(&mut cursor) {
        match part.kind() {
            "string_start" => {
                // Byte and f-strings are not module names we can read.
                let prefix = text(part, bytes).to_ascii_lowercase();
                if prefix.contains('f') || prefix.contains('b') {
                    return None;
                }
            }
            "string_content" => value.push_str(text(part, bytes)),
            "string_end" => {}
            _ => return None,
        }
    }
    Some(value)
}

fn is_dotted_name(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_alphanumeric() || c == '_')
        })
}

/// `importlib.import_module("a.b")`, `import_module("a.b")` and `__import__("a.b")`.
fn call(node: Node, bytes: &[u8], parsed: &mut Parsed) {
    let Some(function) = node.child_by_field_name("function") else {
        return;
    };
    let callee = text(function, bytes);
    let is_import = match function.kind() {
        "identifier" => callee == "__import__" || callee == "import_module",
        "attribute" => function
            .child_by_field_name("attribute")
            .is_some_and(|a| text(a, bytes) == "import_module"),
        _ => false,
    };
    if !is_import {
        return;
    }
    let first = node.child_by_field_name("arguments").and_then(|arguments| {
        let mut cursor = arguments.walk();
        arguments.named_children(&mut cursor).next()
    });
    // `import_module(".x", package)` is relative to a package only known at run time.
    named_import(
        parsed,
        first.and_then(|argument| literal(argument, bytes)),
        line(node),
    );
}

/// An import of the module named by a string: followed when it is a literal dotted name,
/// noted as dynamic otherwise.
fn named_import(parsed: &mut Parsed, name: Option<String>, line: usize) {
    match name {
        Some(module) if is_dotted_name(&module) => parsed.imports.push(Import {
            level: 0,
            module,
            names: Vec::new(),
            line,
        }),
        _ => parsed.dynamic.push(line),
    }
}

/// `pytest_plugins = ["pkg.fixtures", ...]` (or one string) in a conftest: pytest imports each.
fn pytest_plugins(node: Node, bytes: &[u8], parsed: &mut Parsed) {
    let (Some(left), Some(right)) = (
        node.child_by_field_name("left"),
        node.child_by_field_name("right"),
    ) else {
        return;
    };
    if left.kind() != "identifier" || text(left, bytes) != "pytest_plugins" {
        return;
    }
    let values: Vec<Node> = match right.kind() {
        "string" => vec![right],
        "list" | "tuple" => {
            let mut cursor = right.walk();
            right.named_children(&mut cursor).collect()
        }
        _ => Vec::new(),
    };
    for value in values {
        named_import(parsed, literal(value, bytes), line(value));
    }
}

/// The absolute modules an import may refer to, for a file whose package is `package`
/// (`components.llm` for `components/llm/client.py` and for `components/llm/__init__.py`).
/// `from a import b` may mean module `a.b` or name `b` in `a`, so both are given.
pub fn resolve(import: &Import, package: &str) -> Vec<String> {
    let base = if import.level == 0 {
        import.module.clone()
    } else {
        let mut parts: Vec<&str> = package.split('.').filter(|p| !p.is_empty()).collect();
        // One dot is the package itself; each further dot goes one package up.
        for _ in 1..import.level {
            if parts.pop().is_none() {
                return Vec::new();
            }
        }
        let mut base = parts.join(".");
        if !import.module.is_empty() {
            if !base.is_empty() {
                base.push('.');
            }
            base.push_str(&import.module);
        }
        base
    };
    let mut modules = Vec::new();
    if !base.is_empty() {
        modules.push(base.clone());
    }
    for name in import.names.iter().filter(|n| *n != "*") {
        modules.push(if base.is_empty() {
            name.clone()
        } else {
            format!("{base}.{name}")
        });
    }
    modules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modules(source: &str, package: &str) -> Vec<String> {
        parse(source)
            .iter()
            .flat_map(|i| resolve(i, package))
            .collect()
    }

    #[test]
    fn plain_and_from_imports() {
        let source = "import os\nimport components.llm.client as c, json\nfrom components.model_management import (\n    ModelRegistry,  # the registry\n    Provider as P,\n)\nfrom collections.abc import Callable\n";
        let imports = parse(source);
        assert_eq!(imports.len(), 5);
        assert_eq!(imports[1].module, "components.llm.client");
        assert_eq!(imports[1].line, 2);
        assert_eq!(imports[2].module, "json");
        assert_eq!(imports[3].names, vec!["ModelRegistry", "Provider"]);
        assert_eq!(imports[3].level, 0);
        assert_eq!(imports[3].line, 3);
    }

    #[test]
    fn relative_imports_resolve_against_the_package() {
        let package = "components.narrative_arc_orchestrator";
        assert_eq!(
            modules("from ..llm import LLMClient\n", package),
            vec!["components.llm", "components.llm.LLMClient"]
        );
        // `from . import arcs` imports the package itself too (its __init__ runs).
        assert_eq!(
            modules("from . import arcs\n", package),
            vec![
                "components.narrative_arc_orchestrator",
                "components.narrative_arc_orchestrator.arcs"
            ]
        );
        assert_eq!(
            modules("from .. import neo4j_component\n", package),
            vec!["components", "components.neo4j_component"]
        );
        assert_eq!(parse("from ...a.b import c\n")[0].level, 3);
        assert!(
            modules("from .... import x\n", package).is_empty(),
            "above the top"
        );
    }

    #[test]
    fn strings_comments_and_continuations_are_handled() {
        let source = "\"\"\"Docs.\n\nimport not_a_dependency\nfrom fake import thing\n\"\"\"\n# import commented_out\nx = 1  # from nowhere import y\nfrom components.llm \\\n    import LLMClient\ndef f():\n    import components.carbon_component; import json\nif TYPE_CHECKING:\n    from components.neo4j_component import GraphStore\ntext = '''\nimport hidden\n'''\ntry:\n    import fast_json\nexcept ImportError:\n    fast_json = None\ns = \"from x import y\"\n";
        let found: Vec<(String, usize)> = parse(source)
            .into_iter()
            .map(|i| (i.module, i.line))
            .collect();
        assert_eq!(
            found,
            vec![
                ("components.llm".to_owned(), 8),
                ("components.carbon_component".to_owned(), 11),
                ("json".to_owned(), 11),
                ("components.neo4j_component".to_owned(), 13),
                ("fast_json".to_owned(), 18),
            ]
        );
    }

    #[test]
    fn star_imports_keep_the_module_only() {
        assert_eq!(
            modules("from components.llm.prompts import *\n", "x"),
            vec!["components.llm.prompts"]
        );
        assert_eq!(parse("from a import *\n")[0].names, vec!["*".to_owned()]);
    }

    #[test]
    fn literal_dynamic_imports_count_and_the_rest_are_noted() {
        let source = "import importlib\nplugin = importlib.import_module(\"agent_orchestration.plugins.echo\")\nlegacy = __import__('legacy.tools')\nname = 'x'\nother = importlib.import_module(name)\nmore = importlib.import_module(f\"pkg.{name}\")\nrel = importlib.import_module('.sub', __package__)\n";
        let parsed = parse_file(source);
        let found: Vec<(&str, usize)> = parsed
            .imports
            .iter()
            .map(|i| (i.module.as_str(), i.line))
            .collect();
        assert_eq!(
            found,
            vec![
                ("importlib", 1),
                ("agent_orchestration.plugins.echo", 2),
                ("legacy.tools", 3)
            ]
        );
        assert_eq!(parsed.dynamic, vec![5, 6, 7]);
    }

    #[test]
    fn pytest_plugins_in_a_conftest_are_imports() {
        let parsed =
            parse_file("pytest_plugins = [\"tests.fixtures.db\",\n    'tests.fixtures.llm']\n");
        let found: Vec<&str> = parsed.imports.iter().map(|i| i.module.as_str()).collect();
        assert_eq!(found, vec!["tests.fixtures.db", "tests.fixtures.llm"]);
        assert_eq!(parsed.imports[1].line, 2);
        assert_eq!(
            parse("pytest_plugins = 'one.plugin'\n")[0].module,
            "one.plugin"
        );
    }

    #[test]
    fn a_syntax_error_keeps_what_could_be_read() {
        let found: Vec<String> = parse("import a.b\ndef broken(:\n    pass\nfrom c import d\n")
            .into_iter()
            .map(|i| i.module)
            .collect();
        assert!(found.contains(&"a.b".to_owned()), "{found:?}");
        assert!(found.contains(&"c".to_owned()), "{found:?}");
    }

    #[test]
    fn future_imports_are_not_dependencies() {
        assert!(parse("from __future__ import annotations\n").is_empty());
    }
}
