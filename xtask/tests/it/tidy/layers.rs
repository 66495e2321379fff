//! The layers of `xtask/promote/src`, bottom to top, and the rule that imports point down: a
//! module may use its own layer and the layers below it, never one above, and no two modules
//! reach each other through a chain of imports (zero cycles). The imports are read from the
//! source text (`use crate::..`, `use super::..`, a child module's name, and `crate::..` /
//! `super::..` paths written inline), with comments, strings and `#[cfg(test)]` code left out:
//! tests may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};

use super::{code_only, sources, without_tests};

/// The layers, bottom first. An entry is a top-level module (`engine`) or, where one file of a
/// module sits higher than the rest, that file (`maturity/record`: it writes a proven report
/// into MATURITY.md, so it stands beside the report); the longest entry that prefixes a module
/// decides its layer. `""` is the crate root (`lib.rs`).
pub const LAYERS: &[(&str, &[&str])] = &[
    (
        "vocabulary and plumbing",
        &[
            "vocab",
            "digest",
            "process",
            "fsutil",
            "errors",
            "signals",
            "edge_env",
            "plural",
            "input_file",
            "scratch",
            "markdown",
            "ui",
            "git",
            "http",
        ],
    ),
    // The tool table and its parsers need nothing but the vocabulary: config checks pins
    // against the table, so the table sits under the config.
    ("tools", &["tools"]),
    (
        "config",
        &["config", "write_guard", "readme", "remote_cache"],
    ),
    ("plan and toolchain", &["plan", "toolchain"]),
    (
        "engine",
        &["engine", "cache", "imports", "events", "progress"],
    ),
    ("gates", &["gates", "maturity", "evidence"]),
    ("deploy", &["deploy"]),
    ("report", &["report", "render", "assess", "maturity/record"]),
    (
        "status, requests, generated files",
        &[
            "status",
            "request",
            "github",
            "affected",
            "init",
            "generated",
            "workflows",
            "bench",
            "ratchet",
            "records",
        ],
    ),
    // The flags' clap structs, which the commands receive.
    ("cli", &["cli"]),
    ("commands", &["commands"]),
    ("crate root", &[""]),
];

/// A module's path from the file that holds it: `engine/mod.rs` and `engine.rs` are `engine`,
/// `lib.rs` is the root `""`.
fn module_of(file: &str) -> String {
    let stem = file.strip_suffix(".rs").unwrap_or(file);
    let stem = stem.strip_suffix("/mod").unwrap_or(stem);
    if stem == "lib" {
        String::new()
    } else {
        stem.to_owned()
    }
}

fn parent_of(module: &str) -> &str {
    module.rfind('/').map_or("", |i| &module[..i])
}

/// Whether `ancestor` is `module` or contains it.
fn within(module: &str, ancestor: &str) -> bool {
    ancestor.is_empty() || module == ancestor || module.starts_with(&format!("{ancestor}/"))
}

/// The files declared `#[cfg(test)] mod name;` by their parent: test code as a whole.
fn test_only_modules(files: &BTreeMap<String, String>) -> BTreeSet<String> {
    let declaration = regex::Regex::new(
        r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([a-z]+\))?\s+)?mod\s+([a-z_0-9]+)\s*;",
    )
    .unwrap();
    let mut found = BTreeSet::new();
    for (file, text) in files {
        let module = module_of(file);
        for caps in declaration.captures_iter(&code_only(text)) {
            let child = &caps[1];
            found.insert(if module.is_empty() {
                child.to_owned()
            } else {
                format!("{module}/{child}")
            });
        }
    }
    // A test module's own children are tests too.
    let modules: Vec<String> = files.keys().map(|f| module_of(f)).collect();
    modules
        .into_iter()
        .filter(|m| found.iter().any(|t| within(m, t)))
        .collect()
}

/// `a::{b, c::{d, e}}` as `a::b`, `a::c::d`, `a::c::e` (spaces removed first).
fn expand(tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else {
        return vec![tree.to_owned()];
    };
    let Some(inner) = tree[open + 1..].strip_suffix('}') else {
        return vec![tree.to_owned()];
    };
    let prefix = &tree[..open];
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{prefix}{p}")))
        .collect()
}

/// The module a path written in `module` names: `crate::a::b::Item` is the longest of `a/b`,
/// `a` that exists; `super::` climbs from `module`; a first segment that is a child of
/// `module` is that child. `None` for paths outside the crate (std, other crates).
fn resolve(path: &str, module: &str, modules: &BTreeSet<String>) -> Option<String> {
    let segments: Vec<&str> = path.split("::").map(str::trim).collect();
    let (mut base, rest): (String, &[&str]) = match segments.first() {
        Some(&"crate") => (String::new(), &segments[1..]),
        Some(&"super") | Some(&"self") => {
            let mut base = module.to_owned();
            let mut at = 0;
            while let Some(&segment) = segments.get(at) {
                match segment {
                    "super" => base = parent_of(&base).to_owned(),
                    "self" => {}
                    _ => break,
                }
                at += 1;
            }
            (base, &segments[at..])
        }
        Some(first) => {
            let child = if module.is_empty() {
                (*first).to_owned()
            } else {
                format!("{module}/{first}")
            };
            if !modules.contains(&child) {
                return None;
            }
            (module.to_owned(), &segments[..])
        }
        None => return None,
    };
    let mut best = None;
    for segment in rest {
        base = if base.is_empty() {
            (*segment).to_owned()
        } else {
            format!("{base}/{segment}")
        };
        if modules.contains(&base) {
            best = Some(base.clone());
        } else {
            break;
        }
    }
    best
}

/// Every module each non-test module imports, other than itself and its ancestors (a child
/// may use what its parent declares: the parent is its namespace).
pub fn imports(files: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = files.keys().map(|f| module_of(f)).collect();
    let tests = test_only_modules(files);
    let use_item = regex::Regex::new(r"\buse\s+([^;]*);").unwrap();
    let alias = regex::Regex::new(r"\s+as\s+[A-Za-z_][A-Za-z0-9_]*").unwrap();
    let inline =
        regex::Regex::new(r"(?:^|[^:A-Za-z0-9_])((?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")
            .unwrap();
    let mut graph = BTreeMap::new();
    for (file, text) in files {
        let module = module_of(file);
        if tests.contains(&module) {
            continue;
        }
        let code = without_tests(&code_only(text));
        let mut paths: Vec<String> = use_item
            .captures_iter(&code)
            .map(|caps| {
                alias
                    .replace_all(&caps[1], "")
                    .split_whitespace()
                    .collect::<String>()
            })
            .flat_map(|tree| expand(&tree))
            .collect();
        paths.extend(inline.captures_iter(&code).map(|caps| caps[1].to_owned()));
        let targets: BTreeSet<String> = paths
            .iter()
            .filter_map(|p| resolve(p, &module, &modules))
            .filter(|target| !within(&module, target))
            .collect();
        graph.insert(module, targets);
    }
    graph
}

/// The layer of `module`: the index of the longest entry that contains it.
fn layer_of(module: &str) -> Option<(usize, &'static str)> {
    LAYERS
        .iter()
        .enumerate()
        .flat_map(|(index, (_, entries))| entries.iter().map(move |e| (index, *e)))
        .filter(|(_, entry)| {
            if entry.is_empty() {
                module.is_empty()
            } else {
                within(module, entry)
            }
        })
        .max_by_key(|(_, entry)| entry.len())
}

/// Imports that point up the layers, and modules no layer holds, as messages.
pub fn upward(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut found = Vec::new();
    for (module, targets) in graph {
        let Some((from, _)) = layer_of(module) else {
            found.push(format!("`{module}` is in no layer: add it to LAYERS"));
            continue;
        };
        for target in targets {
            match layer_of(target) {
                Some((to, _)) if to > from => found.push(format!(
                    "`{module}` ({}) uses `{target}` ({}), a higher layer",
                    LAYERS[from].0, LAYERS[to].0
                )),
                _ => {}
            }
        }
    }
    found
}

/// The import cycles: every strongly connected group of more than one module (Tarjan).
pub fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, node: &'g str) {
            let at = self.index.len();
            self.index.insert(node, at);
            self.low.insert(node, at);
            self.stack.push(node);
            self.on_stack.insert(node);
            let graph = self.graph;
            for next in graph.get(node).into_iter().flatten() {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut group = Vec::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    group.push(member.to_owned());
                    if member == node {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.found.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !walk.index.contains_key(node.as_str()) {
            walk.visit(node);
        }
    }
    walk.found
}

fn real_tree() -> BTreeMap<String, String> {
    sources().into_iter().collect()
}

#[test]
fn imports_point_down_the_layers() {
    let graph = imports(&real_tree());
    // The reading is not vacuous: the crate's modules import each other hundreds of times.
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    assert!(edges > 300, "only {edges} imports read");
    let found = upward(&graph);
    assert!(found.is_empty(), "\n{}\n", found.join("\n"));
}

#[test]
fn no_module_imports_itself_through_others() {
    let found = cycles(&imports(&real_tree()));
    let lines: Vec<String> = found.iter().map(|c| c.join(" <-> ")).collect();
    assert!(found.is_empty(), "import cycles:\n{}\n", lines.join("\n"));
}

#[test]
fn the_layer_table_names_only_modules_that_exist() {
    let modules: BTreeSet<String> = real_tree().keys().map(|f| module_of(f)).collect();
    for (_, entries) in LAYERS {
        for entry in *entries {
            assert!(
                modules.contains(*entry),
                "LAYERS names `{entry}`, which is not a module"
            );
        }
    }
}

fn tree(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(f, t)| ((*f).to_owned(), (*t).to_owned()))
        .collect()
}

#[test]
fn an_import_pointing_up_is_flagged_and_one_pointing_down_is_not() {
    let files = tree(&[
        ("lib.rs", "//! r\nmod vocab;\nmod engine;\n"),
        ("vocab.rs", "//! v\nuse crate::engine::run;\n"),
        (
            "engine/mod.rs",
            "//! e\npub mod run;\nuse crate::vocab::Stage;\n",
        ),
        ("engine/run.rs", "//! r\n"),
    ]);
    let found = upward(&imports(&files));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("`vocab`") && found[0].contains("`engine/run`"));
}

#[test]
fn inline_paths_grouped_uses_and_super_count_as_imports() {
    let files = tree(&[
        ("lib.rs", "//! r\n"),
        (
            "vocab.rs",
            "//! v\nfn f() { let x = crate::gates::decide(); }\n",
        ),
        (
            "tools/mod.rs",
            "//! t\nuse crate::{digest, engine::{run::{a, b}}};\n",
        ),
        ("tools/bandit.rs", "//! b\nuse super::super::config::X;\n"),
        ("gates.rs", "//! g\n"),
        ("engine/mod.rs", "//! e\n"),
        ("engine/run.rs", "//! r\n"),
        ("digest.rs", "//! d\n"),
        ("config.rs", "//! c\n"),
    ]);
    let graph = imports(&files);
    assert_eq!(graph["vocab"], BTreeSet::from(["gates".to_owned()]));
    assert_eq!(
        graph["tools"],
        BTreeSet::from(["digest".to_owned(), "engine/run".to_owned()])
    );
    assert_eq!(graph["tools/bandit"], BTreeSet::from(["config".to_owned()]));
    assert_eq!(upward(&graph).len(), 3);
}

#[test]
fn a_cycle_is_found_and_a_child_using_its_parent_is_none() {
    let files = tree(&[
        ("lib.rs", "//! r\n"),
        (
            "deploy/mod.rs",
            "//! d\nmod gate;\nmod run;\nuse gate::fact;\n",
        ),
        (
            "deploy/gate.rs",
            "//! g\nuse super::run::Run;\nuse super::Shared;\n",
        ),
        ("deploy/run.rs", "//! r\nfn f() { super::gate::fact(); }\n"),
    ]);
    let found = cycles(&imports(&files));
    assert_eq!(
        found,
        vec![vec!["deploy/gate".to_owned(), "deploy/run".to_owned()]]
    );
}

#[test]
fn test_code_comments_and_strings_import_nothing() {
    let files = tree(&[
        ("lib.rs", "//! r\n#[cfg(test)]\nmod testutil;\n"),
        ("testutil.rs", "//! t\nuse crate::commands::x;\n"),
        (
            "vocab.rs",
            "//! v\n// use crate::commands::x;\nconst S: &str = \"crate::commands::x\";\n#[cfg(test)]\nmod tests {\n    use crate::commands::x;\n}\n",
        ),
        ("commands.rs", "//! c\n"),
    ]);
    let graph = imports(&files);
    assert!(!graph.contains_key("testutil"));
    assert!(graph["vocab"].is_empty(), "{graph:?}");
}

#[test]
fn a_module_in_no_layer_is_flagged() {
    let files = tree(&[("lib.rs", "//! r\n"), ("newthing.rs", "//! n\n")]);
    let found = upward(&imports(&files));
    assert_eq!(found, vec!["`newthing` is in no layer: add it to LAYERS"]);
}
