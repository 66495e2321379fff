//! The files a step reads, and their content digests: the raw material of cache keys.
//!
//! Inputs are walked fresh on every run (files appear, vanish and get renamed) but each file is
//! hashed at most once per run, and not at all when the persistent stat memo vouches for it
//! (`digest_memo`). Output that tools write into the tree (`__pycache__`, tool
//! caches, coverage data) is never an input: otherwise a tool's own run would look like a
//! change and its result could never be stored.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::digest_memo::DigestMemo;
use crate::config::{Component, Config, SourceKind};

/// Config files that change how some tool behaves, looked for at the project root.
pub const CONFIG_FILES: &[&str] = &[
    "pyproject.toml",
    "ruff.toml",
    ".ruff.toml",
    "pyrightconfig.json",
    ".bandit",
    "setup.cfg",
    "uv.lock",
    "tox.ini",
    "pytest.ini",
    ".coveragerc",
    "conftest.py",
];

/// Folder and file names that tools write; never inputs.
const GENERATED: &[&str] = &[
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".hypothesis",
    ".coverage",
    "htmlcov",
];

fn is_generated(name: &str) -> bool {
    GENERATED.contains(&name)
        || name.ends_with(".pyc")
        || name.ends_with(".egg-info")
        || name.starts_with(".coverage.")
        || name.starts_with(".xtask-tmp-")
}

pub type FileDigest = [u8; 32];

/// Per-run memo of file walks and digests; shared by every step of the run.
pub struct InputIndex {
    root: PathBuf,
    /// By path relative to the root: a lookup allocates nothing.
    digests: Mutex<HashMap<String, Option<FileDigest>>>,
    walks: Mutex<HashMap<String, std::sync::Arc<OnceLock<Vec<String>>>>>,
    configs: OnceLock<Vec<String>>,
    /// Digest of each component's whole source tree, by source path.
    trees: Mutex<HashMap<String, String>>,
    /// Digests by stat across runs; saved when the index is dropped.
    memo: DigestMemo,
    /// The plain files directly in a folder, by folder: every component with tests there
    /// looks for helpers beside them.
    listings: Mutex<HashMap<String, std::sync::Arc<Vec<String>>>>,
}

impl InputIndex {
    pub fn new(root: &Path) -> Self {
        InputIndex {
            root: root.to_path_buf(),
            digests: Mutex::new(HashMap::new()),
            walks: Mutex::new(HashMap::new()),
            configs: OnceLock::new(),
            trees: Mutex::new(HashMap::new()),
            memo: DigestMemo::in_memory(),
            listings: Mutex::new(HashMap::new()),
        }
    }

    /// Uses (and at the end of the run updates) the stat memo stored at `file`.
    pub fn with_memo(mut self, file: Option<PathBuf>) -> Self {
        if let Some(file) = file {
            self.memo = DigestMemo::open(&file);
        }
        self
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
        if let Some(known) = self
            .digests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(relative)
        {
            return *known;
        }
        let digest = self.hash_file(&self.root.join(relative));
        self.digests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(relative.to_owned(), digest);
        digest
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
        if let Some(known) = self
            .trees
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(relative)
        {
            return known.clone();
        }
        let files = self.files_under(relative);
        let digest = tree_digest_of(files.iter().map(|f| (f.as_str(), self.digest(f))));
        self.trees
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(relative.to_owned(), digest.clone());
        digest
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

    fn hash_file(&self, path: &Path) -> Option<FileDigest> {
        self.memo.digest(path)
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

/// `config::unix` without its allocation per path component, for the plain relative paths a
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
        _ => crate::config::unix(rel),
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
    pub configs: Vec<String>,
}

impl StepInputs {
    /// Every file the step reads directly (dependencies are checked as trees).
    pub fn files(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .sources
            .iter()
            .chain(&self.tests)
            .chain(&self.packages)
            .chain(&self.configs)
            .cloned()
            .collect();
        all.sort();
        all.dedup();
        all
    }
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
            CONFIG_FILES
                .iter()
                .filter(|name| index.root().join(name).is_file())
                .map(|name| (*name).to_owned())
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

/// Lowercase hex; by table rather than `format!`, since a warm run hexes every input digest of
/// every key.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }

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
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn walked_paths_read_like_config_paths() {
        for path in ["src/a.py", "a.py", "src/./a.py", "src//a.py"] {
            assert_eq!(
                relative_text(Path::new(path)),
                crate::config::unix(Path::new(path))
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
