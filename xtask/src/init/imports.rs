//! Python import statements, read from source text without running Python: `import a.b as c`,
//! `from a.b import (c, d)`, relative `from ..x import y`, across parenthesised and
//! backslash-continued lines, ignoring comments and triple-quoted strings. Pure.

/// One `import` or `from ... import` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Leading dots of a relative import (0 for an absolute one).
    pub level: usize,
    /// The dotted module after the dots; empty for `from . import x`.
    pub module: String,
    /// The names of a `from` import (`*` included); empty for a plain `import`.
    pub names: Vec<String>,
}

/// Logical lines of Python source: comments dropped, triple-quoted strings blanked,
/// parenthesised and backslash-continued lines joined.
fn logical_lines(source: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut depth: i32 = 0;
    let mut in_triple: Option<&str> = None;
    for raw in source.lines() {
        let mut line = String::new();
        let mut rest = raw;
        // Blank out triple-quoted strings, which may span lines and hold example code.
        loop {
            match in_triple {
                Some(quote) => match rest.find(quote) {
                    Some(end) => {
                        rest = &rest[end + 3..];
                        in_triple = None;
                    }
                    None => break,
                },
                None => {
                    let next = ["\"\"\"", "'''"]
                        .iter()
                        .filter_map(|q| rest.find(q).map(|i| (i, *q)))
                        .min();
                    match next {
                        Some((start, quote)) => {
                            line.push_str(&rest[..start]);
                            line.push_str("\"\"");
                            rest = &rest[start + 3..];
                            in_triple = Some(quote);
                        }
                        None => {
                            line.push_str(rest);
                            break;
                        }
                    }
                }
            }
        }
        let code = match line.find('#') {
            Some(hash) => &line[..hash],
            None => line.as_str(),
        };
        depth += code.matches('(').count() as i32 - code.matches(')').count() as i32;
        let continued = code.trim_end().ends_with('\\');
        current.push_str(code.trim_end().trim_end_matches('\\'));
        current.push(' ');
        if depth <= 0 && !continued && in_triple.is_none() {
            lines.push(std::mem::take(&mut current));
            depth = 0;
        }
    }
    if !current.trim().is_empty() {
        lines.push(current);
    }
    lines
}

/// Every import statement in `source`, in order (indented ones too: imports inside functions
/// and `if TYPE_CHECKING:` blocks are dependencies as well).
pub fn parse(source: &str) -> Vec<Import> {
    let mut imports = Vec::new();
    for line in logical_lines(source) {
        for statement in line.split(';') {
            let statement = statement.trim();
            if let Some(rest) = statement.strip_prefix("import ") {
                for part in rest.split(',') {
                    let module = part.split_whitespace().next().unwrap_or("");
                    if is_dotted_name(module) {
                        imports.push(Import {
                            level: 0,
                            module: module.to_owned(),
                            names: Vec::new(),
                        });
                    }
                }
            } else if let Some(rest) = statement.strip_prefix("from ") {
                let Some((source_part, names_part)) = rest.split_once(" import ") else {
                    continue;
                };
                let source_part = source_part.trim();
                let level = source_part.chars().take_while(|&c| c == '.').count();
                let module = source_part[level..].trim();
                // `from . import x` has no module; anything else needs a valid dotted one.
                if !(is_dotted_name(module) || module.is_empty() && level > 0) {
                    continue;
                }
                let names = names_part
                    .replace(['(', ')'], " ")
                    .split(',')
                    .filter_map(|n| n.split_whitespace().next())
                    .filter(|n| *n == "*" || is_dotted_name(n))
                    .map(str::to_owned)
                    .collect();
                imports.push(Import {
                    level,
                    module: module.to_owned(),
                    names,
                });
            }
        }
    }
    imports
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
        assert_eq!(imports[3].names, vec!["ModelRegistry", "Provider"]);
        assert_eq!(imports[3].level, 0);
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
        assert!(
            modules("from .... import x\n", package).is_empty(),
            "above the top"
        );
    }

    #[test]
    fn strings_comments_and_continuations_are_handled() {
        let source = "\"\"\"Docs.\n\nimport not_a_dependency\nfrom fake import thing\n\"\"\"\n# import commented_out\nx = 1  # from nowhere import y\nfrom components.llm \\\n    import LLMClient\ndef f():\n    import components.carbon_component; import json\nif TYPE_CHECKING:\n    from components.neo4j_component import GraphStore\ntext = '''\nimport hidden\n'''\n";
        let found: Vec<String> = parse(source).into_iter().map(|i| i.module).collect();
        assert_eq!(
            found,
            vec![
                "components.llm",
                "components.carbon_component",
                "json",
                "components.neo4j_component"
            ]
        );
    }

    #[test]
    fn star_imports_keep_the_module_only() {
        assert_eq!(
            modules("from components.llm.prompts import *\n", "x"),
            vec!["components.llm.prompts"]
        );
    }
}
