//! The files a step reads, and their content digests: the raw material of cache keys.
//!
//! Inputs are walked fresh on every run (files appear, vanish and get renamed) but each file is
//! hashed at most once per run, and not at all when the persistent stat memo vouches for it
//! (`digest_memo`). Output that tools write into the tree (`__pycache__`, tool
//! caches, coverage data) is never an input: otherwise a tool's own run would look like a
//! change and its result could never be stored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, RwLock};

use sha2::{Digest, Sha256};

use super::digest_memo::DigestMemo;
use super::fast_hash::Map;
use crate::config::{Component, Config, SourceKind};
use crate::digest::{FileDigest, hex};
use crate::imports::parse_cache::ParseCache;
use crate::tools::table::TOOLS;

/// Files at the project root that define its environment whatever tools run: its
/// dependencies and their lock. With each tool's `config_files`, what `affected` and the CI
/// cache key count (the cache itself reads what the tools read).
const ENVIRONMENT_FILES: &[&str] = &["pyproject.toml", "uv.lock"];

/// Config files at the project root that change how the project or some tool behaves
/// (`ENVIRONMENT_FILES` and the tool table's `config_files`), sorted, each once.
pub fn config_files() -> Vec<&'static str> {
    let mut files: Vec<&'static str> = ENVIRONMENT_FILES
        .iter()
        .chain(TOOLS.iter().flat_map(|tool| tool.config_files))
        .copied()
        .collect();
    files.sort_unstable();
    files.dedup();
    files
}

/// Names Python itself and xtask write into the tree (bytecode, build metadata, an atomic
/// write's temp file); the tools' own are in their rows (`generated`). Never inputs.
pub(crate) fn is_generated(name: &str) -> bool {
    name == "__pycache__"
        || TOOLS
            .iter()
            .flat_map(|tool| tool.generated)
            .any(|generated| generated.matches(name))
        || name.ends_with(".pyc")
        || name.ends_with(".egg-info")
        || name.starts_with(".xtask-tmp-")
}

/// Whether `folder` is a Python virtual environment (it holds `pyvenv.cfg`): its files are the
/// interpreter's, covered by the interpreter identity, and no walk enters it.
pub(crate) fn is_virtual_env(folder: &Path) -> bool {
    folder.join("pyvenv.cfg").is_file()
}

/// Per-run memo of file walks and digests; shared by every step of the run.
pub struct InputIndex {
    root: PathBuf,
    /// By path relative to the root: a lookup allocates nothing. Read-locked: after the first
    /// step every lookup is a read, from several threads.
    digests: RwLock<Map<String, Option<FileDigest>>>,
    walks: Mutex<Map<String, std::sync::Arc<OnceLock<Vec<String>>>>>,
    configs: OnceLock<Vec<String>>,
    /// Digest of each component's whole source tree, by source path.
    trees: RwLock<Map<String, String>>,
    /// First-party files a dotted prefix names, and whether it is a folder, once per run.
    modules: Mutex<Map<String, (Vec<String>, bool)>>,
    /// The modules each file imports, parsed once per run (shared packages are imported by
    /// many components).
    imports: Mutex<Map<String, std::sync::Arc<Vec<String>>>>,
    /// The tools' import roots (`ToolSpec::import_roots`), read from their configs once per run.
    import_roots: OnceLock<Vec<String>>,
    /// The state of each observed read (`observe::state`), once per run.
    read_states: RwLock<Map<String, String>>,
    /// Digests by stat across runs, opened on first use (a run answered by the warm-run record
    /// hashes nothing); saved when the index is dropped.
    memo: OnceLock<DigestMemo>,
    memo_file: Option<PathBuf>,
    /// The plain files directly in a folder, by folder: every component with tests there
    /// looks for helpers beside them.
    listings: Mutex<Map<String, std::sync::Arc<Vec<String>>>>,
    /// Imports of each file by its content digest, across runs (shared with the import graph).
    parses: ParseCache,
}

impl InputIndex {
    pub fn new(root: &Path) -> Self {
        InputIndex {
            root: root.to_path_buf(),
            digests: RwLock::default(),
            walks: Mutex::default(),
            configs: OnceLock::new(),
            trees: RwLock::default(),
            modules: Mutex::default(),
            imports: Mutex::default(),
            import_roots: OnceLock::new(),
            read_states: RwLock::default(),
            memo: OnceLock::new(),
            memo_file: None,
            listings: Mutex::default(),
            parses: ParseCache::open(None),
        }
    }

    /// Uses (and at the end of the run updates) the stat memo stored at `file`.
    pub fn with_memo(mut self, file: Option<PathBuf>) -> Self {
        self.memo_file = file;
        self
    }

    fn memo(&self) -> &DigestMemo {
        self.memo.get_or_init(|| match &self.memo_file {
            Some(file) => DigestMemo::open(file),
            None => DigestMemo::in_memory(),
        })
    }

    /// Uses (and at the end of the run updates) the parse cache stored at `file`.
    pub fn with_parse_cache(mut self, file: Option<PathBuf>) -> Self {
        self.parses = ParseCache::open(file);
        self
    }

    /// The run's parse cache.
    pub fn parses(&self) -> &ParseCache {
        &self.parses
    }

    /// The state of an observed read, computed by `compute` once per run: the same folders
    /// and probes appear in every component's read set.
    pub fn read_state(&self, entry: &str, compute: impl FnOnce() -> String) -> String {
        memoised(&self.read_states, entry, compute)
    }

    /// Whether the state of an observed read is `recorded`, computed by `compute` once per run
    /// and compared without a copy.
    pub fn read_state_is(
        &self,
        entry: &str,
        recorded: &str,
        compute: impl FnOnce() -> String,
    ) -> bool {
        if let Some(known) = self
            .read_states
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(entry)
        {
            return known == recorded;
        }
        self.read_state(entry, compute) == recorded
    }

    /// Every observed read whose state this run computed (`f <path>` or `l <path>`).
    pub fn read_entries(&self) -> Vec<String> {
        let states = self.read_states.read().unwrap_or_else(|e| e.into_inner());
        states.keys().cloned().collect()
    }

    /// Every project file (root-relative, or `../` above it) this run hashed for a key.
    pub fn hashed_files(&self) -> Vec<String> {
        let digests = self.digests.read().unwrap_or_else(|e| e.into_inner());
        digests.keys().cloned().collect()
    }

    /// Files under `relative` (a folder or a single file), relative to the root, sorted.
    /// Honours .gitignore files even outside a git checkout (temp copies).
    pub fn files_under(&self, relative: &str) -> Vec<String> {
        let cell = {
            let mut walks = self.walks.lock().unwrap_or_else(|e| e.into_inner());
            walks.entry(relative.to_owned()).or_default().clone()
        };
        cell.get_or_init(|| walk(&self.root, relative)).clone()
    }

    /// The digest of a file's bytes, once per run; `None` for a file that cannot be read.
    pub fn digest(&self, relative: &str) -> Option<FileDigest> {
        memoised(&self.digests, relative, || {
            self.hash_file(&self.root.join(relative))
        })
    }

    /// The digest read again from disk, bypassing the memo: to notice a file changed while a
    /// tool ran.
    /// The stat memo may answer: a file written since it was hashed has a new ctime.
    pub fn fresh_digest(&self, relative: &str) -> Option<FileDigest> {
        self.hash_file(&self.root.join(relative))
    }

    /// One digest for every file under `relative` (paths and contents): how keys refer to a
    /// dependency, so a key's size grows with the number of dependencies, not of their files.
    pub fn tree_digest(&self, relative: &str) -> String {
        memoised(&self.trees, relative, || {
            let files = self.files_under(relative);
            tree_digest_of(files.iter().map(|f| (f.as_str(), self.digest(f))))
        })
    }

    /// `tree_digest` walked and read again from disk, bypassing every memo.
    pub fn fresh_tree_digest(&self, relative: &str) -> String {
        let files = walk(&self.root, relative);
        tree_digest_of(
            files
                .iter()
                .map(|f| (f.as_str(), self.hash_file(&self.root.join(f)))),
        )
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The digest of a file outside the project (an absolute path), by the stat memo.
    pub fn outside_digest(&self, path: &Path) -> Option<FileDigest> {
        self.hash_file(path)
    }

    fn hash_file(&self, path: &Path) -> Option<FileDigest> {
        self.memo().digest(path)
    }

    /// Names of the plain files directly in `folder`, not generated ones, read once per run.
    fn plain_files_in(&self, folder: &str) -> std::sync::Arc<Vec<String>> {
        let mut listings = self.listings.lock().unwrap_or_else(|e| e.into_inner());
        listings
            .entry(folder.to_owned())
            .or_insert_with(|| {
                let mut names = Vec::new();
                if let Ok(entries) = std::fs::read_dir(self.root.join(folder)) {
                    for entry in entries.flatten() {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        if entry.file_type().is_ok_and(|t| t.is_file()) && !is_generated(&name) {
                            names.push(name);
                        }
                    }
                }
                std::sync::Arc::new(names)
            })
            .clone()
    }
}

/// The value memoised under `key` for this run, computed (outside the lock, so other threads
/// go on reading) when absent. Two threads may compute the same value once each; both are equal.
fn memoised<V: Clone>(map: &RwLock<Map<String, V>>, key: &str, compute: impl FnOnce() -> V) -> V {
    if let Some(known) = map.read().unwrap_or_else(|e| e.into_inner()).get(key) {
        return known.clone();
    }
    let value = compute();
    map.write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key.to_owned(), value.clone());
    value
}

fn tree_digest_of<'a>(files: impl Iterator<Item = (&'a str, Option<FileDigest>)>) -> String {
    let mut hasher = Sha256::new();
    for (path, digest) in files {
        hasher.update(path.as_bytes());
        hasher.update([0]);
        match digest {
            Some(digest) => hasher.update(digest),
            None => hasher.update(b"unreadable"),
        }
        hasher.update([b'\n']);
    }
    hex(&hasher.finalize())
}

fn walk(root: &Path, relative: &str) -> Vec<String> {
    let start = root.join(relative);
    if start.is_file() {
        return vec![relative.to_owned()];
    }
    if !start.is_dir() {
        return Vec::new();
    }
    let mut files = Vec::new();
    let walker = ignore::WalkBuilder::new(&start)
        .hidden(false)
        .require_git(false)
        // The user's global excludes would make keys differ between machines.
        .git_global(false)
        .parents(true)
        .filter_entry(|entry| !is_generated(&entry.file_name().to_string_lossy()))
        .build();
    for entry in walker.flatten() {
        if entry.file_type().is_some_and(|t| t.is_file())
            && let Ok(rel) = entry.path().strip_prefix(root)
        {
            files.push(relative_text(rel));
        }
    }
    files.sort();
    files
}

/// `fsutil::unix` without its allocation per path component, for the plain relative paths a
/// walk yields (one per input file, so it shows in warm runs).
fn relative_text(rel: &Path) -> String {
    match rel.to_str() {
        Some(text)
            if !text
                .split('/')
                .any(|part| part.is_empty() || part == "." || part == "..") =>
        {
            text.to_owned()
        }
        _ => crate::fsutil::unix(rel),
    }
}

/// A test module by pytest's default naming; everything else in a tests folder is a helper.
fn is_test_module(name: &str) -> bool {
    (name.starts_with("test_") && name.ends_with(".py")) || name.ends_with("_test.py")
}

/// What a step of `kind` reads for `component`, by role, each list sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepInputs {
    pub sources: Vec<String>,
    pub tests: Vec<String>,
    /// `__init__.py` files of the packages around the component, run on import.
    pub packages: Vec<String>,
    /// Source paths of the components it depends on (transitively), each hashed as a tree.
    pub dependencies: Vec<String>,
}

/// The component's own code.
pub fn sources(index: &InputIndex, component: &Component) -> Vec<String> {
    index.files_under(&component.source)
}

/// The test modules listed for the component, the helpers beside them (not other components'
/// test modules), and every `conftest.py` and `__init__.py` from their folders up to the root.
pub fn tests(index: &InputIndex, component: &Component) -> Vec<String> {
    let mut files = Vec::new();
    let mut folders = Vec::new();
    for test in &component.tests {
        files.extend(index.files_under(test));
        let folder = if index.root().join(test).is_dir() {
            test.as_str()
        } else {
            test.rsplit_once('/').map_or("", |(parent, _)| parent)
        };
        if !folders.contains(&folder) {
            folders.push(folder);
        }
    }
    for folder in &folders {
        // Helpers next to the tests (fixtures, fakes), but not sibling test modules.
        for name in index.plain_files_in(folder).iter() {
            if !is_test_module(name) {
                files.push(join(folder, name));
            }
        }
        // conftest.py and package markers on the way up change how pytest imports the tests.
        let mut current = *folder;
        loop {
            for marker in ["conftest.py", "__init__.py"] {
                let candidate = join(current, marker);
                if index.root().join(&candidate).is_file() {
                    files.push(candidate);
                }
            }
            if current.is_empty() {
                break;
            }
            current = current.rsplit_once('/').map_or("", |(parent, _)| parent);
        }
    }
    files.sort();
    files.dedup();
    files
}

fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() || folder == "." {
        name.to_owned()
    } else {
        format!("{folder}/{name}")
    }
}

/// Config files present at the project root, looked for once per run.
pub fn configs(index: &InputIndex) -> Vec<String> {
    index
        .configs
        .get_or_init(|| {
            config_files()
                .into_iter()
                .filter(|name| index.root().join(name).is_file())
                .map(str::to_owned)
                .collect()
        })
        .clone()
}

/// The source paths of every component `component` depends on, transitively.
pub fn dependency_sources(config: &Config, component: &Component) -> Vec<String> {
    let mut sources: Vec<String> = config
        .graph
        .transitive_dependencies(&component.name)
        .iter()
        .filter_map(|name| config.component(name))
        .map(|dependency| dependency.source.clone())
        .collect();
    sources.sort();
    sources
}

/// Every file a step that imports `component` reads besides its own: the files of the
/// components it depends on, transitively, and the `__init__.py` files around it.
pub fn dependency_files(index: &InputIndex, config: &Config, component: &Component) -> Vec<String> {
    let mut files: Vec<String> = dependency_sources(config, component)
        .iter()
        .flat_map(|source| index.files_under(source))
        .chain(package_markers(index, component))
        .collect();
    files.sort();
    files.dedup();
    files
}

/// `__init__.py` files of the packages enclosing the component: importing it runs them.
pub fn package_markers(index: &InputIndex, component: &Component) -> Vec<String> {
    let mut markers = Vec::new();
    let mut current = match component.source_kind {
        SourceKind::Module => component.coverage_root(),
        SourceKind::Package => component
            .source
            .rsplit_once('/')
            .map_or("", |(parent, _)| parent),
    };
    while !current.is_empty() {
        let candidate = join(current, "__init__.py");
        if index.root().join(&candidate).is_file() {
            markers.push(candidate);
        }
        current = current.rsplit_once('/').map_or("", |(parent, _)| parent);
    }
    markers
}

/// Folders the tools resolve first-party imports from besides the root and `src/` (every
/// row's `import_roots`, each once): a larger closure costs a batch's split, a smaller one
/// would miss a read.
fn import_roots(index: &InputIndex) -> Vec<String> {
    index
        .import_roots
        .get_or_init(|| {
            let mut folders: Vec<String> = TOOLS
                .iter()
                .filter_map(|tool| tool.import_roots)
                .flat_map(|roots| roots(index.root()))
                .collect();
            folders.sort();
            folders.dedup();
            folders
        })
        .clone()
}

/// First-party files that `component`'s sources import, transitively, outside its own source:
/// what a type checker reads to check it. Modules resolve against the root, `src/` and the
/// tools' import roots. One function, so the import graph of `crate::imports` can replace the
/// parser.
pub fn imported_files(index: &InputIndex, component: &Component) -> Vec<String> {
    let root = index.root();
    let mut bases: Vec<String> = vec![String::new()];
    if root.join("src").is_dir() {
        bases.push("src".to_owned());
    }
    bases.extend(import_roots(index));
    let mut seen: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut queue: Vec<String> = index
        .files_under(&component.source)
        .into_iter()
        .filter(|f| f.ends_with(".py") || f.ends_with(".pyi"))
        .collect();
    let own: std::collections::BTreeSet<String> = queue.iter().cloned().collect();
    while let Some(file) = queue.pop() {
        for module in index.imported_modules(&bases, &file).iter() {
            for candidate in index.module_files(&bases, module) {
                if !own.contains(&candidate) && seen.insert(candidate.clone()) {
                    queue.push(candidate);
                }
            }
        }
    }
    seen.into_iter().collect()
}

/// The dotted package a file belongs to, from the longest base it is under.
fn package_of(bases: &[String], file: &str) -> String {
    let base = bases
        .iter()
        .filter(|b| b.is_empty() || file.starts_with(&format!("{b}/")))
        .max_by_key(|b| b.len())
        .map_or("", String::as_str);
    let rest = if base.is_empty() {
        file
    } else {
        &file[base.len() + 1..]
    };
    let mut parts: Vec<&str> = rest.split('/').collect();
    let last = parts.pop().unwrap_or("");
    if last != "__init__.py" && last != "__init__.pyi" {
        // A module's package is its folder.
    }
    parts.join(".")
}

impl InputIndex {
    /// The absolute module names `file` imports, once per run; parses come from the parse
    /// cache by the file's digest.
    fn imported_modules(&self, bases: &[String], file: &str) -> std::sync::Arc<Vec<String>> {
        if let Some(known) = self
            .imports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(file)
        {
            return known.clone();
        }
        let package = package_of(bases, file);
        // A file that cannot be read has no imports (it parses as empty).
        let (_, parsed, _) = self.parses.parse(&self.root, file, self.digest(file));
        let modules: Vec<String> = parsed
            .imports
            .iter()
            .flat_map(|import| crate::imports::parse::resolve(import, &package))
            .collect();
        let modules = std::sync::Arc::new(modules);
        self.imports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(file.to_owned(), modules.clone());
        modules
    }

    /// The files a dotted module name may load: the module (`.py`, `.pyi`, package
    /// `__init__`) and the `__init__` of every package on the way. Each dotted prefix is
    /// looked up once per run (`from a.b import c, d` asks for `a.b.c` and `a.b.d`), and the
    /// walk stops at the first prefix that is not a folder.
    fn module_files(&self, bases: &[String], module: &str) -> Vec<String> {
        let mut files = Vec::new();
        let mut end = 0;
        loop {
            end = module[end..].find('.').map_or(module.len(), |i| end + i);
            let (found, folder) = self.prefix_files(bases, &module[..end]);
            files.extend(found);
            if !folder || end == module.len() {
                break;
            }
            end += 1;
        }
        files
    }

    /// The files `prefix` (dotted) names under any base, and whether it is a folder there.
    fn prefix_files(&self, bases: &[String], prefix: &str) -> (Vec<String>, bool) {
        if let Some(known) = self
            .modules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(prefix)
        {
            return known.clone();
        }
        let rel = prefix.replace('.', "/");
        let mut files = Vec::new();
        let mut folder = false;
        for base in bases {
            let path = join(base, &rel);
            let full = self.root.join(&path);
            for candidate in [format!("{path}.py"), format!("{path}.pyi")] {
                if self.root.join(&candidate).is_file() {
                    files.push(candidate);
                }
            }
            if full.is_dir() {
                folder = true;
                for candidate in [
                    format!("{path}/__init__.py"),
                    format!("{path}/__init__.pyi"),
                ] {
                    if self.root.join(&candidate).is_file() {
                        files.push(candidate);
                    }
                }
            }
        }
        let known = (files, folder);
        self.modules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(prefix.to_owned(), known.clone());
        known
    }
}

/// Digests of `files` in order; a file that vanished between walk and read gets a marker digest
/// so the key still differs from any state in which it existed.
pub fn digest_list(index: &InputIndex, files: &[String]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|f| {
            let hex = match index.digest(f) {
                Some(d) => hex(&d),
                None => "unreadable".to_owned(),
            };
            (f.clone(), hex)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testutil::write_file as write;

    #[test]
    fn walks_skip_generated_and_ignored_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "src/pkg/a.py", "x = 1");
        write(root, "src/pkg/__pycache__/a.cpython-311.pyc", "");
        write(root, "src/pkg/build/out.py", "");
        write(root, "src/pkg/.gitignore", "build/\n");
        let index = InputIndex::new(root);
        assert_eq!(
            index.files_under("src/pkg"),
            vec!["src/pkg/.gitignore", "src/pkg/a.py"]
        );
        assert_eq!(index.files_under("src/pkg/a.py"), vec!["src/pkg/a.py"]);
        assert!(index.files_under("missing").is_empty());
    }

    #[test]
    fn test_inputs_take_helpers_and_conftests_but_not_other_tests() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "conftest.py", "");
        write(root, "tests/conftest.py", "");
        write(root, "tests/helpers.py", "");
        write(root, "tests/test_a.py", "");
        write(root, "tests/test_b.py", "");
        let index = InputIndex::new(root);
        let component = Component {
            name: "a".into(),
            display_name: "A".into(),
            group: "g".into(),
            source: "src/a.py".into(),
            source_kind: SourceKind::Module,
            tests: vec!["tests/test_a.py".into()],
            depends_on: vec![],
            readme: "README.md".into(),
            maturity: "MATURITY.md".into(),
        };
        assert_eq!(
            tests(&index, &component),
            vec![
                "conftest.py",
                "tests/conftest.py",
                "tests/helpers.py",
                "tests/test_a.py"
            ]
        );
    }

    #[test]
    fn config_files_and_generated_names_come_from_the_tool_rows() {
        // The files the engine listed itself, and mypy's own two (`mypy.ini`, `.mypy.ini`).
        assert_eq!(
            config_files(),
            [
                ".bandit",
                ".coveragerc",
                ".mypy.ini",
                ".ruff.toml",
                "conftest.py",
                "mypy.ini",
                "pyproject.toml",
                "pyrightconfig.json",
                "pytest.ini",
                "ruff.toml",
                "setup.cfg",
                "tox.ini",
                "uv.lock"
            ]
        );
        for name in [
            "__pycache__",
            ".pytest_cache",
            ".ruff_cache",
            ".mypy_cache",
            ".hypothesis",
            ".coverage",
            ".coverage.host.12.345",
            "htmlcov",
            "a.cpython-311.pyc",
            "pkg.egg-info",
            ".xtask-tmp-1",
        ] {
            assert!(is_generated(name), "{name}");
        }
        for name in [".coveragerc", "coverage.py", "ruff.toml", "src", "tests"] {
            assert!(!is_generated(name), "{name}");
        }
    }

    #[test]
    fn walked_paths_read_like_config_paths() {
        for path in ["src/a.py", "a.py", "src/./a.py", "src//a.py"] {
            assert_eq!(
                relative_text(Path::new(path)),
                crate::fsutil::unix(Path::new(path))
            );
        }
    }

    #[test]
    fn digests_are_memoised_but_fresh_digests_see_changes() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.py", "one");
        let index = InputIndex::new(dir.path());
        let first = index.digest("a.py");
        write(dir.path(), "a.py", "two");
        assert_eq!(index.digest("a.py"), first);
        assert_ne!(index.fresh_digest("a.py"), first);
    }
}
