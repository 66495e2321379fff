//! The first-party import graph of a project: every Python file (sources and tests) with an edge
//! to each first-party file it makes Python or pytest run. Three kinds of edge: an import that
//! resolves to a file of the project; the `__init__.py` of every enclosing package (importing
//! `a.b.c` runs `a/__init__.py` and `a/b/__init__.py`); and, for test modules and conftests, every
//! `conftest.py` in their folder and above (pytest loads those before collecting them).
//!
//! Module names are resolved against every folder that can be on `sys.path`: the project root,
//! `src/` (src layout), the `pythonpath` entries of `[tool.pytest.ini_options]`, and the folder
//! pytest's default `prepend` import mode inserts for each test module (its first enclosing
//! folder without an `__init__.py`). Namespace packages need no `__init__.py`. When a name could
//! mean several files, it has an edge to each: a larger closure is never a false pass.
//!
//! `from_parsed` and every query are pure; `build` reads and parses the files.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::parse::{Import, Parsed};
use super::parse_cache::ParseCache;
use crate::digest::FileDigest;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EdgeKind {
    /// An import statement or call.
    Import,
    /// The `__init__.py` of an enclosing package, run when the file is imported.
    Package,
    /// A `conftest.py` pytest loads before a test module or conftest below it.
    Conftest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub to: usize,
    /// 1-based line of the import (0 for the implicit edges).
    pub line: usize,
    pub kind: EdgeKind,
}

/// The graph, with every path relative to the project root and `/`-separated.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    files: Vec<String>,
    position: HashMap<String, usize>,
    edges: Vec<Vec<Edge>>,
    /// Per file: paths its imports would read if they existed (a deleted module, or one not
    /// written yet); adding or deleting one of them changes what the file runs.
    missing: Vec<Vec<String>>,
    /// Per file: lines of dynamic imports whose module is not a literal.
    dynamic: Vec<Vec<usize>>,
    /// The roots that are not only pytest's test folders: the project, `src/`, `pythonpath`.
    source_roots: Vec<String>,
}

/// pytest's default test module names; conftests load for them.
fn is_test_module(name: &str) -> bool {
    (name.starts_with("test_") && name.ends_with(".py")) || name.ends_with("_test.py")
}

fn file_name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    Some(path.rsplit_once('/').map_or("", |(parent, _)| parent))
}

fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() {
        name.to_owned()
    } else {
        format!("{folder}/{name}")
    }
}

fn is_identifier(part: &str) -> bool {
    part.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && part.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// The dotted module `path` is under the import root `root` (a folder prefix ending in `/`,
/// or empty), if it is a Python file there with a valid name.
fn module_of(path: &str, root: &str) -> Option<String> {
    let relative = path.strip_prefix(root)?;
    let stem = relative
        .strip_suffix(".py")
        .or_else(|| relative.strip_suffix(".pyi"))?;
    let stem = match stem.strip_suffix("/__init__") {
        Some(package) => package,
        None if stem == "__init__" => return None,
        None => stem,
    };
    stem.split('/')
        .all(is_identifier)
        .then(|| stem.replace('/', "."))
}

/// The folders module names resolve against, sorted, and the source roots among them (the
/// project, `src/`, `extra_roots`): `(roots, source_roots)`.
fn import_roots(
    files: &[String],
    position: &HashMap<String, usize>,
    extra_roots: &[String],
) -> (Vec<String>, Vec<String>) {
    let has_init = |folder: &str| position.contains_key(&join(folder, "__init__.py"));
    let mut roots: Vec<String> = vec![String::new()];
    if files.iter().any(|f| f.starts_with("src/")) {
        roots.push("src/".to_owned());
    }
    for extra in extra_roots {
        let extra = extra.trim_matches('/');
        if !extra.is_empty() && extra != "." {
            roots.push(format!("{extra}/"));
        }
    }
    let mut source_roots = roots.clone();
    source_roots.sort();
    source_roots.dedup();
    // pytest's `prepend` mode puts a test module's first folder up without an
    // `__init__.py` on sys.path, so its siblings and helper packages import by bare name.
    for file in files {
        let name = file_name(file);
        if !(is_test_module(name) || name == "conftest.py") {
            continue;
        }
        let mut folder = parent(file).unwrap_or("");
        while has_init(folder) {
            match parent(folder) {
                Some(up) => folder = up,
                None => break,
            }
        }
        if !folder.is_empty() {
            roots.push(format!("{folder}/"));
        }
    }
    roots.sort();
    roots.dedup();
    (roots, source_roots)
}

/// Every dotted module name the files can be imported as from `roots`, with the positions of
/// the files it names (several when a `.pyi` sits beside its `.py`, or two roots hold the
/// same name).
fn module_index(files: &[String], roots: &[String]) -> HashMap<String, Vec<usize>> {
    let mut modules: HashMap<String, Vec<usize>> = HashMap::new();
    for (index, file) in files.iter().enumerate() {
        for root in roots {
            if let Some(module) = module_of(file, root) {
                modules.entry(module).or_default().push(index);
            }
        }
    }
    modules
}

/// `targets` as import edges from `line`, onto `out`.
fn push_imports(out: &mut Vec<Edge>, targets: &[usize], line: usize) {
    out.extend(targets.iter().map(|&to| Edge {
        to,
        line,
        kind: EdgeKind::Import,
    }));
}

/// What `from_parsed` resolves a file's edges against.
struct Resolver<'a> {
    position: &'a HashMap<String, usize>,
    modules: &'a HashMap<String, Vec<usize>>,
    /// The first parts of the first-party module names.
    top_level: HashSet<&'a str>,
    roots: &'a [String],
}

impl Resolver<'_> {
    /// The edges of `file` (at `index`), one per target and kind, and the sorted paths its
    /// imports would read if they existed.
    fn file_edges(&self, index: usize, file: &str, parsed: &Parsed) -> (Vec<Edge>, Vec<String>) {
        let mut out: Vec<Edge> = Vec::new();
        let mut wanted: Vec<String> = Vec::new();
        let own_folder = parent(file).unwrap_or("");
        let name = file_name(file);
        // Enclosing packages' `__init__.py`, run on import.
        self.enclosing(
            index,
            own_folder,
            "__init__.py",
            EdgeKind::Package,
            &mut out,
        );
        if is_test_module(name) || name == "conftest.py" {
            self.enclosing(
                index,
                own_folder,
                "conftest.py",
                EdgeKind::Conftest,
                &mut out,
            );
        }
        for import in &parsed.imports {
            if import.level == 0 {
                self.absolute(import, &mut out, &mut wanted);
            } else {
                self.relative(import, own_folder, &mut out, &mut wanted);
            }
        }
        // One edge per target and kind, the first line that makes it.
        out.sort_by_key(|e| (e.to, e.kind, e.line));
        out.dedup_by(|later, first| later.to == first.to && later.kind == first.kind);
        wanted.sort();
        wanted.dedup();
        (out, wanted)
    }

    /// An edge of `kind` to every `marker` file (other than the file at `index` itself) in
    /// `own_folder` and each folder above it.
    fn enclosing(
        &self,
        index: usize,
        own_folder: &str,
        marker: &str,
        kind: EdgeKind,
        out: &mut Vec<Edge>,
    ) {
        let mut folder = Some(own_folder);
        while let Some(current) = folder {
            if let Some(&to) = self.position.get(&join(current, marker))
                && to != index
            {
                out.push(Edge { to, line: 0, kind });
            }
            folder = parent(current);
        }
    }

    /// Resolves an absolute import by module name: edges onto `out`, the files it would read
    /// if they existed onto `wanted`. Names that are not first-party are skipped.
    fn absolute(&self, import: &Import, out: &mut Vec<Edge>, wanted: &mut Vec<String>) {
        let module = &import.module;
        if !self
            .top_level
            .contains(module.split('.').next().unwrap_or(module))
        {
            // Not first-party (the standard library or a distribution).
            return;
        }
        let mut base_found = false;
        // `import a.b.c` runs `a.b.c`; if that is not a file, the deepest module
        // that is (`a.b`, where `c` is a name) is what runs.
        let mut candidate = module.as_str();
        loop {
            if let Some(targets) = self.modules.get(candidate) {
                push_imports(out, targets, import.line);
                base_found = candidate == module;
                break;
            }
            match candidate.rsplit_once('.') {
                Some((up, _)) => candidate = up,
                None => break,
            }
        }
        let mut want = |dotted: &str| {
            for root in self.roots {
                let path = format!("{root}{}", dotted.replace('.', "/"));
                wanted.push(format!("{path}.py"));
                wanted.push(format!("{path}/__init__.py"));
            }
        };
        if !base_found {
            want(module);
        }
        for name in import.names.iter().filter(|n| *n != "*") {
            let dotted = format!("{module}.{name}");
            match self.modules.get(&dotted) {
                Some(targets) => push_imports(out, targets, import.line),
                None => want(&dotted),
            }
        }
    }

    /// Resolves a relative import of a file in `own_folder`: edges onto `out`, the files it
    /// would read if they existed onto `wanted`. One that climbs above the project is skipped.
    fn relative(
        &self,
        import: &Import,
        own_folder: &str,
        out: &mut Vec<Edge>,
        wanted: &mut Vec<String>,
    ) {
        // Relative imports are resolved by folder, whatever the package's name.
        let mut folder = Some(own_folder);
        for _ in 1..import.level {
            folder = folder.and_then(parent);
        }
        let Some(folder) = folder else {
            return;
        };
        let base = if import.module.is_empty() {
            folder.to_owned()
        } else {
            join(folder, &import.module.replace('.', "/"))
        };
        let mut resolve = |path: &str| {
            let targets = self.lookup_path(path);
            if targets.is_empty() {
                wanted.push(format!("{path}.py"));
                wanted.push(format!("{path}/__init__.py"));
            } else {
                push_imports(out, &targets, import.line);
            }
        };
        if !(import.module.is_empty() && folder.is_empty()) {
            resolve(&base);
        }
        for name in import.names.iter().filter(|n| *n != "*") {
            resolve(&join(&base, name));
        }
    }

    /// The files the module at `path` (a folder-relative path without suffix) can be.
    fn lookup_path(&self, path: &str) -> Vec<usize> {
        [".py", ".pyi", "/__init__.py", "/__init__.pyi"]
            .iter()
            .filter_map(|suffix| self.position.get(&format!("{path}{suffix}")).copied())
            .collect()
    }
}

impl Graph {
    /// Reads and parses `files` (relative to `root`), in parallel, and builds the graph. A file
    /// that cannot be read is a node without edges: it may have been deleted since the walk.
    /// With `cache` (a JSON file), the parse of every file whose content digest is there is
    /// reused, and the cache is stored back when something was parsed. A cache that cannot be
    /// read or written only costs time: the digest makes a stale entry impossible.
    #[cfg(test)]
    pub fn build(
        root: &Path,
        files: impl IntoIterator<Item = String>,
        cache: Option<&Path>,
    ) -> Graph {
        let memo = crate::engine::digest_memo::DigestMemo::in_memory();
        let parses = ParseCache::open(cache.map(Path::to_path_buf));
        Graph::build_with(root, files, &parses, &|file| memo.digest(&root.join(file)))
    }

    /// `build`, with each file's digest from `digest` (a run's `InputIndex`, backed by the stat
    /// memo) and parses from `parses`: a warm run then stats the files instead of reading them,
    /// and reads only those whose parse is not cached. `parses` is rewritten to hold exactly
    /// the tree's files when something was parsed or a file went away.
    pub fn build_with(
        root: &Path,
        files: impl IntoIterator<Item = String>,
        parses: &ParseCache,
        digest: &(dyn Fn(&str) -> Option<FileDigest> + Sync),
    ) -> Graph {
        let files: Vec<String> = files.into_iter().collect();
        // (path, digest, parse, parsed now rather than found in the cache)
        let parsed: Vec<(String, String, Parsed, bool)> =
            crate::engine::parallel::map(&files, |file| {
                let (d, parse, now) = parses.parse(root, file, digest(file));
                (file.clone(), d, parse, now)
            });
        // Files with equal bytes (empty `__init__.py`s) share one entry: the cache is rewritten
        // when its set of digests differs, not on every run of a tree with copies.
        let current: HashMap<&str, &Parsed> = parsed
            .iter()
            .map(|(_, digest, parse, _)| (digest.as_str(), parse))
            .collect();
        if parsed.iter().any(|p| p.3) || parses.loaded_len() != current.len() {
            parses.store(&current);
        }
        Graph::from_parsed(
            parsed
                .into_iter()
                .map(|(file, _, parse, _)| (file, parse))
                .collect(),
            &pythonpath(root),
        )
    }

    /// Builds the graph from parsed files; `extra_roots` are further import roots (folders
    /// relative to the project root). Pure.
    pub fn from_parsed(parsed: Vec<(String, Parsed)>, extra_roots: &[String]) -> Graph {
        let mut parsed = parsed;
        parsed.sort_by(|a, b| a.0.cmp(&b.0));
        parsed.dedup_by(|a, b| a.0 == b.0);
        let files: Vec<String> = parsed.iter().map(|(f, _)| f.clone()).collect();
        let position: HashMap<String, usize> = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.clone(), i))
            .collect();
        let (roots, source_roots) = import_roots(&files, &position, extra_roots);
        let modules = module_index(&files, &roots);
        let resolver = Resolver {
            position: &position,
            modules: &modules,
            top_level: modules
                .keys()
                .map(|m| m.split('.').next().unwrap_or(m))
                .collect(),
            roots: &roots,
        };

        let mut edges = Vec::with_capacity(files.len());
        let mut missing = Vec::with_capacity(files.len());
        let mut dynamic = Vec::with_capacity(files.len());
        for (index, (file, parsed)) in parsed.iter().enumerate() {
            let (out, wanted) = resolver.file_edges(index, file, parsed);
            edges.push(out);
            missing.push(wanted);
            dynamic.push(parsed.dynamic.clone());
        }
        Graph {
            files,
            position,
            edges,
            missing,
            dynamic,
            source_roots,
        }
    }

    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// The dotted names `file` can be imported as from the source roots (the project, `src/`,
    /// `pythonpath`), not counting the folders pytest adds for test modules.
    pub fn source_modules_of(&self, file: &str) -> Vec<String> {
        self.source_roots
            .iter()
            .filter_map(|root| module_of(file, root))
            .collect()
    }

    /// The position of `file` in `files()`, if it is in the graph.
    pub fn position_of(&self, file: &str) -> Option<usize> {
        self.position.get(file).copied()
    }

    /// Every file reachable from `starts` (themselves included, even those not in the graph).
    pub fn closure(&self, starts: &[String]) -> BTreeSet<String> {
        self.closure_where(starts, |_, _, _| true)
    }

    /// The closure, following only the edges `follow(from, to, kind)` allows.
    pub fn closure_where(
        &self,
        starts: &[String],
        follow: impl Fn(&str, &str, EdgeKind) -> bool,
    ) -> BTreeSet<String> {
        let mut seen = vec![false; self.files.len()];
        let mut queue: VecDeque<usize> = VecDeque::new();
        let mut result: BTreeSet<String> = BTreeSet::new();
        for start in starts {
            result.insert(start.clone());
            if let Some(&index) = self.position.get(start)
                && !seen[index]
            {
                seen[index] = true;
                queue.push_back(index);
            }
        }
        while let Some(index) = queue.pop_front() {
            for edge in &self.edges[index] {
                if !seen[edge.to] && follow(&self.files[index], &self.files[edge.to], edge.kind) {
                    seen[edge.to] = true;
                    result.insert(self.files[edge.to].clone());
                    queue.push_back(edge.to);
                }
            }
        }
        result
    }

    /// Direct imports of `file`: (imported file, line), one per imported file.
    pub fn imports_of(&self, file: &str) -> Vec<(&str, usize)> {
        self.position
            .get(file)
            .map(|&index| {
                self.edges[index]
                    .iter()
                    .filter(|e| e.kind == EdgeKind::Import)
                    .map(|e| (self.files[e.to].as_str(), e.line))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every edge out of `file` (imports, packages, conftests), as (file, line, kind).
    #[cfg(test)]
    pub fn edges_of(&self, file: &str) -> Vec<(&str, usize, EdgeKind)> {
        self.position
            .get(file)
            .map(|&index| {
                self.edges[index]
                    .iter()
                    .map(|e| (self.files[e.to].as_str(), e.line, e.kind))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Paths the imports of `files` would read if they existed: a deleted module, or one
    /// that a new file would provide.
    pub fn missing_of<'a>(&self, files: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
        files
            .into_iter()
            .filter_map(|f| self.position.get(f))
            .flat_map(|&index| self.missing[index].iter().cloned())
            .collect()
    }

    /// Lines of `file`'s dynamic imports that cannot be resolved without running it.
    pub fn dynamic_of(&self, file: &str) -> &[usize] {
        self.position
            .get(file)
            .map_or(&[], |&index| self.dynamic[index].as_slice())
    }
}

/// Folders, relative to the project, that generated files and environments live in.
fn skipped(name: &str) -> bool {
    matches!(
        name,
        "__pycache__" | "node_modules" | "site-packages" | ".git" | ".xtask"
    )
}

/// Every Python file of the project under `root`, relative and sorted: gitignored files,
/// hidden folders (`.venv`, tool caches) and virtual environments are left out.
pub fn python_files(root: &Path) -> Vec<String> {
    let mut files: Vec<String> = ignore::WalkBuilder::new(root)
        .require_git(false)
        .git_global(false)
        .hidden(true)
        .filter_entry(|entry| {
            let environment = entry.file_type().is_some_and(|t| t.is_dir())
                && crate::engine::inputs::is_virtual_env(entry.path());
            !(environment || skipped(&entry.file_name().to_string_lossy()))
        })
        .build()
        .flatten()
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
        .filter(|e| {
            let name = e.file_name().to_string_lossy();
            name.ends_with(".py") || name.ends_with(".pyi")
        })
        .filter_map(|e| e.path().strip_prefix(root).ok().map(crate::fsutil::unix))
        .collect();
    files.sort();
    files
}

/// `[tool.pytest.ini_options] pythonpath` of the project's pyproject.toml: folders pytest
/// puts on sys.path.
fn pythonpath(root: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(root.join("pyproject.toml")) else {
        return Vec::new();
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let value = table
        .get("tool")
        .and_then(|t| t.get("pytest"))
        .and_then(|t| t.get("ini_options"))
        .and_then(|t| t.get("pythonpath"));
    match value {
        Some(toml::Value::String(one)) => one.split_whitespace().map(str::to_owned).collect(),
        Some(toml::Value::Array(list)) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The parse cache's file name in the cache folder.
pub const PARSE_CACHE: &str = super::parse_cache::FILE_NAME;

/// The graph of the whole project at `root`, built once per process and shared (several
/// components' gates ask for it in one command), with the run's digests (its stat memo) and
/// parse cache, so a warm run reads no unchanged file.
pub fn project(root: &Path, index: &crate::engine::inputs::InputIndex) -> Arc<Graph> {
    static GRAPHS: OnceLock<Mutex<HashMap<PathBuf, Arc<Graph>>>> = OnceLock::new();
    let graphs = GRAPHS.get_or_init(Default::default);
    let mut graphs = graphs.lock().unwrap_or_else(|e| e.into_inner());
    graphs
        .entry(root.to_path_buf())
        .or_insert_with(|| {
            Arc::new(Graph::build_with(
                root,
                python_files(root),
                index.parses(),
                &|file| index.digest(file),
            ))
        })
        .clone()
}

#[cfg(test)]
mod tests;
