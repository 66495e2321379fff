//! Observed reads: pytest and bandit run under a Python audit hook (`audit_hook.py`) that
//! records every file the process opened, every folder it listed and every path it probed.
//! After the run, that raw list becomes a read set: portable path -> state (file digest, listing
//! digest, absent, folder). A cache entry is served only while every read in its set still has
//! the state it had (see `cache::Cache::lookup_observed`).
//!
//! Paths in a read set carry no checkout location: files in the project are root-relative,
//! files beside the project's ancestors are `../`-relative (config discovery walks up), files
//! under HOME start with `~/`, anything else is absolute (`/etc/…`; a shared cache still
//! matches when both machines have it). Left out: the interpreter's own prefixes (the
//! interpreter identity covers them, by distribution RECORD), the temp folders (scratch),
//! `~/.cache` (derived data), tool output inside the project (`__pycache__`, `.pytest_cache`,
//! …) and xtask's own folders.

use crate::digest::hex;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::inputs::{self, InputIndex};

/// The bootstrap run as `python -c` around the tool's own `-m` entry point.
pub const BOOTSTRAP: &str = include_str!("audit_hook.py");

/// Changes whenever the bootstrap does: what is observed is part of what a key means.
pub fn observer_id() -> String {
    hex(&Sha256::digest(BOOTSTRAP.as_bytes()))[..16].to_owned()
}

/// The read-set file name inside a run's own folder.
pub const READS_FILE: &str = "xtask-reads.tsv";

/// Arguments for the interpreter: the bootstrap, where it writes, then `-m <module> args…`.
/// `argv` must start with `-m <module>`.
pub fn wrap(reads_file: &Path, argv: &[String]) -> Vec<String> {
    let mut out = vec![
        "-c".to_owned(),
        BOOTSTRAP.to_owned(),
        reads_file.display().to_string(),
    ];
    out.extend(argv.iter().cloned());
    out
}

/// One read as the hook reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Opened for reading, or probed with stat: its content (or absence) matters.
    File,
    /// Listed: which names it holds matters.
    Listing,
}

/// One read: what kind, where, and for opened files `mtime_ns:size` when the tool opened it.
pub type RawRead = (Kind, PathBuf, Option<String>);

/// The hook's reads of one tool process, and their portable names, made once: every member
/// of a batch captures its read set from the same reads.
pub struct Raw {
    reads: Vec<RawRead>,
    /// (index into `reads`, entry `f <portable>` or `l <portable>`), the first report of each
    /// distinct read only, for reads that are inputs.
    named: std::sync::OnceLock<Vec<(usize, String)>>,
}

impl Raw {
    /// Each distinct read that is an input, with its entry name, in report order. A tool opens
    /// the same file and lists the same folder many times; the first report is the one checked.
    fn named(&self, locator: &Locator) -> &[(usize, String)] {
        self.named.get_or_init(|| {
            let mut seen: std::collections::HashSet<(Kind, &Path), inputs::FastHash> =
                std::collections::HashSet::default();
            let mut entries: std::collections::HashSet<String, inputs::FastHash> =
                std::collections::HashSet::default();
            let mut named = Vec::new();
            for (at, (kind, path, _)) in self.reads.iter().enumerate() {
                if !seen.insert((*kind, path.as_path())) {
                    continue;
                }
                let Some(portable) = locator.portable(*kind, path) else {
                    continue;
                };
                let entry = match kind {
                    Kind::File => format!("f {portable}"),
                    Kind::Listing => format!("l {portable}"),
                };
                // Two paths with one portable name (a bytecode file and its source).
                if entries.insert(entry.clone()) {
                    named.push((at, entry));
                }
            }
            named
        })
    }
}

/// Parses the hook's output.
pub fn parse(text: &str) -> Raw {
    let reads = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let kind = match fields.next()? {
                "r" | "s" => Kind::File,
                "l" => Kind::Listing,
                _ => return None,
            };
            let path = PathBuf::from(fields.next()?);
            Some((kind, path, fields.next().map(str::to_owned)))
        })
        .collect();
    Raw {
        reads,
        named: std::sync::OnceLock::new(),
    }
}

/// Maps absolute paths to portable names and back.
pub struct Locator {
    root: PathBuf,
    /// The root as the tools see it after symlinks (tempdirs on macOS, bind mounts).
    real_root: PathBuf,
    home: Option<PathBuf>,
    scratch: Vec<PathBuf>,
    /// Root-relative folders xtask itself writes (state, reports, cache): never inputs.
    own: Vec<String>,
    /// The same folders as absolute paths (and after symlinks): with xtask.toml above the
    /// project (`root = "examples/tta"`), the state folder holding each run's scratch is
    /// outside the root, and its per-run names would make every read set differ.
    own_absolute: Vec<PathBuf>,
}

impl Locator {
    pub fn new(root: &Path, own_dirs: &[PathBuf]) -> Self {
        let real_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let scratch = with_canonical(vec![
            std::env::temp_dir(),
            PathBuf::from("/tmp"),
            PathBuf::from("/var/tmp"),
        ]);
        let own = own_dirs
            .iter()
            .filter_map(|d| {
                d.strip_prefix(root)
                    .ok()
                    .or_else(|| d.strip_prefix(&real_root).ok())
            })
            .map(crate::config::unix)
            .filter(|d| !d.is_empty())
            .collect();
        let own_absolute = with_canonical(own_dirs.to_vec());
        Locator {
            root: root.to_path_buf(),
            real_root,
            home: crate::edge_env::get().home.clone(),
            scratch,
            own,
            own_absolute,
        }
    }

    fn relative(&self, path: &Path) -> Option<String> {
        path.strip_prefix(&self.root)
            .or_else(|_| path.strip_prefix(&self.real_root))
            .ok()
            .map(crate::config::unix)
    }

    /// The portable name of `path`, or `None` when the read is not an input.
    pub fn portable(&self, kind: Kind, path: &Path) -> Option<String> {
        if let Some(rel) = self.relative(path) {
            return self.inside(kind, rel);
        }
        if self.own_absolute.iter().any(|own| path.starts_with(own)) {
            return None;
        }
        // Beside an ancestor of the root: config discovery walking up from the project.
        for (depth, ancestor) in self.real_root.ancestors().skip(1).enumerate() {
            let up = "../".repeat(depth + 1);
            if path == ancestor {
                // Listing a parent of the project (rare) says nothing stable about it.
                return (kind == Kind::File).then(|| up.trim_end_matches('/').to_owned());
            }
            if path.parent() == Some(ancestor) {
                let name = path.file_name()?.to_string_lossy();
                // Beside the project's ancestors in a temp folder live other runs' scratch
                // folders (ours, pytest's, tempfile's), which come and go.
                let scratch = self.scratch.iter().any(|s| path.starts_with(s))
                    && ["xtask-", "pytest-of-", "tmp", ".tmp"]
                        .iter()
                        .any(|p| name.starts_with(p));
                return (!scratch).then(|| format!("{up}{name}"));
            }
        }
        if self.scratch.iter().any(|s| path.starts_with(s)) {
            return None;
        }
        if let Some(home) = &self.home
            && let Ok(rest) = path.strip_prefix(home)
        {
            let rest = crate::config::unix(rest);
            // The user's cache folder holds data derived from what is keyed elsewhere
            // (stevedore's entry-point cache, named by a hash of sys.path's absolute folders);
            // keying it would make every checkout's read set differ.
            if rest == ".cache" || rest.starts_with(".cache/") {
                return None;
            }
            return Some(format!("~/{rest}"));
        }
        Some(path.display().to_string())
    }

    /// A root-relative read: tool output is not an input, except that a cached bytecode file
    /// stands for its source.
    fn inside(&self, kind: Kind, rel: String) -> Option<String> {
        if self.own.iter().any(|own| is_under(&rel, own)) {
            return None;
        }
        let parts: Vec<&str> = rel.split('/').collect();
        if let Some(at) = parts.iter().position(|p| *p == "__pycache__") {
            if kind == Kind::Listing || at + 2 != parts.len() {
                return None;
            }
            let module = parts[at + 1].split('.').next()?;
            let mut source: Vec<&str> = parts[..at].to_vec();
            let file = format!("{module}.py");
            source.push(&file);
            return Some(source.join("/"));
        }
        if parts.iter().any(|p| inputs::is_generated(p)) {
            return None;
        }
        Some(if rel.is_empty() { ".".to_owned() } else { rel })
    }

    /// The absolute path a portable name stands for in this checkout.
    pub fn resolve(&self, portable: &str) -> PathBuf {
        if let Some(rest) = portable.strip_prefix("~/")
            && let Some(home) = &self.home
        {
            return home.join(rest);
        }
        if portable.starts_with('/') {
            return PathBuf::from(portable);
        }
        if portable == "." {
            return self.root.clone();
        }
        self.root.join(portable)
    }

    /// xtask's own folders inside the root, root-relative (state, reports, cache).
    pub fn own_folders(&self) -> &[String] {
        &self.own
    }

    fn is_own(&self, rel: &str) -> bool {
        self.own.iter().any(|own| own == rel)
    }
}

/// `paths` and, after them, those that resolve elsewhere through symlinks, as resolved.
fn with_canonical(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    let resolved: Vec<PathBuf> = paths
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    paths.into_iter().chain(resolved).collect()
}

/// Portable read -> its state: `f:<digest>` file, `d` folder, `-` absent, `l:<digest>` listing.
/// Keys start with `f ` or `l ` so a path read both ways is checked both ways.
pub type ReadSet = BTreeMap<String, String>;

/// The current state of one read, computed once per run.
pub fn state(locator: &Locator, index: &InputIndex, entry: &str) -> String {
    index.read_state(entry, || fresh_state(locator, index, entry))
}

fn fresh_state(locator: &Locator, index: &InputIndex, entry: &str) -> String {
    let Some((kind, portable)) = entry.split_once(' ') else {
        return "?".to_owned();
    };
    let path = locator.resolve(portable);
    if kind == "l" {
        return listing_state(locator, &path);
    }
    match std::fs::metadata(&path) {
        Err(_) => "-".to_owned(),
        Ok(m) if m.is_dir() => "d".to_owned(),
        Ok(_) => {
            // Outside the project: by the stat memo too, which is sound for any file.
            let digest = if portable.starts_with('/') || portable.starts_with("~/") {
                index.outside_digest(&path)
            } else {
                index.digest(portable)
            };
            match digest {
                Some(d) => format!("f:{}", hex(&d)),
                None => "unreadable".to_owned(),
            }
        }
    }
}

fn listing_state(locator: &Locator, path: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(path) else {
        return "-".to_owned();
    };
    let prefix = locator.relative(path);
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !inputs::is_generated(name))
        // `relative` names the root itself `.` (as `config::unix` does).
        .filter(|name| match prefix.as_deref() {
            Some("" | ".") => !locator.is_own(name),
            Some(p) => !locator.is_own(&format!("{p}/{name}")),
            None => true,
        })
        .collect();
    names.sort();
    format!("l:{}", names_digest(&names))
}

/// The digest of a folder's entry names, given sorted: each name and a newline.
pub fn names_digest<N: AsRef<[u8]>>(sorted: &[N]) -> String {
    let mut hasher = Sha256::new();
    for name in sorted {
        hasher.update(name.as_ref());
        hasher.update(b"\n");
    }
    hex(&hasher.finalize())
}

/// Whether a portable name is a path inside the project (not absolute, under HOME or above).
pub fn in_project(portable: &str) -> bool {
    !(portable.starts_with('/')
        || portable.starts_with("~/")
        || portable == ".."
        || portable.starts_with("../"))
}

/// Whether `path` is `folder` or inside it (both root-relative).
fn is_under(path: &str, folder: &str) -> bool {
    path.strip_prefix(folder)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The sources of the other members of a batch: what the tool analysed for them is not an
/// input of this member. Found by each folder prefix of a read, so a batch of N members costs
/// a few hash lookups per read rather than N comparisons.
pub struct Foreign<'a> {
    sources: std::collections::HashSet<&'a str, inputs::FastHash>,
}

impl<'a> Foreign<'a> {
    pub fn new(members: &'a [String], own: &str) -> Foreign<'a> {
        Foreign {
            sources: members
                .iter()
                .map(String::as_str)
                .filter(|source| *source != own)
                .collect(),
        }
    }

    /// Whether a root-relative read belongs to this member (to no other member's source).
    pub fn keeps(&self, path: &str) -> bool {
        if self.sources.is_empty() {
            return true;
        }
        let folders = path.match_indices('/').map(|(at, _)| &path[..at]);
        !folders
            .chain(std::iter::once(path))
            .any(|prefix| self.sources.contains(prefix))
    }
}

/// Turns the hook's raw reads into a read set. Fails when a project file the tool opened has
/// another stat now than when it was opened: the verdict may describe the file's old bytes, so
/// it must not be stored under the new ones.
pub fn capture(
    locator: &Locator,
    index: &InputIndex,
    raw: &Raw,
    keep: impl Fn(&str) -> bool,
) -> Result<ReadSet, String> {
    let mut set = ReadSet::new();
    for (at, entry) in raw.named(locator) {
        let (_, path, opened) = &raw.reads[*at];
        let portable = &entry[2..];
        if !keep(portable) {
            continue;
        }
        // Only project files: tools write their own caches elsewhere (stevedore's entry-point
        // cache under ~/.cache) and read them back in the same run.
        if in_project(portable)
            && let Some(opened) = opened
        {
            let now = std::fs::metadata(path)
                .map(|m| {
                    let ns = i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec());
                    format!("{ns}:{}", m.len())
                })
                .unwrap_or_default();
            if now != *opened {
                return Err(format!("{portable} changed while the tool ran"));
            }
        }
        let current = state(locator, index, entry);
        set.insert(entry.clone(), current);
    }
    Ok(set)
}

/// A read set, as stored (`ReadSet`) or as read in place from a manifest.
pub trait Reads {
    fn reads(&self) -> impl Iterator<Item = (&str, &str)>;
}

impl Reads for ReadSet {
    fn reads(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter()
            .map(|(entry, state)| (entry.as_str(), state.as_str()))
    }
}

impl Reads for [(&str, &str)] {
    fn reads(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter().copied()
    }
}

/// The first read whose state differs now, described for a person; `None` when all match.
/// Each state is computed once per run and compared in place.
pub fn first_change(
    locator: &Locator,
    index: &InputIndex,
    set: &(impl Reads + ?Sized),
) -> Option<String> {
    for (entry, recorded) in set.reads() {
        if !index.read_state_is(entry, recorded, || fresh_state(locator, index, entry)) {
            let now = state(locator, index, entry);
            let (kind, path) = entry.split_once(' ').unwrap_or(("f", entry));
            return Some(describe(kind, path, recorded, &now));
        }
    }
    None
}

fn describe(kind: &str, path: &str, before: &str, now: &str) -> String {
    match (kind, before, now) {
        ("l", _, "-") => format!("folder {path} was removed (it was listed)"),
        ("l", "-", _) => format!("folder {path} appeared (it was listed)"),
        ("l", _, _) => format!("folder {path} has other entries (a file added or removed there)"),
        (_, "-", _) => format!("{path} was added (the tool looked for it)"),
        (_, _, "-") => format!("{path} was removed"),
        _ => format!("{path} changed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_names_hold_no_checkout_location() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap().join("proj");
        std::fs::create_dir_all(root.join("src/pkg/__pycache__")).unwrap();
        let locator = Locator::new(&root, &[root.join(".xtask"), root.join("reports")]);
        let p = |kind, rel: &str| locator.portable(kind, &root.join(rel));
        assert_eq!(
            p(Kind::File, "src/pkg/a.py").as_deref(),
            Some("src/pkg/a.py")
        );
        assert_eq!(
            p(Kind::File, "src/pkg/__pycache__/a.cpython-311.pyc").as_deref(),
            Some("src/pkg/a.py")
        );
        assert_eq!(p(Kind::Listing, "src/pkg/__pycache__"), None);
        assert_eq!(p(Kind::File, ".xtask/venv/x.py"), None);
        assert_eq!(p(Kind::File, ".pytest_cache/v"), None);
        assert_eq!(p(Kind::Listing, "").as_deref(), Some("."));
        assert_eq!(
            locator
                .portable(Kind::File, &root.parent().unwrap().join("pytest.ini"))
                .as_deref(),
            Some("../pytest.ini")
        );
        assert_eq!(
            locator
                .portable(Kind::File, Path::new("/etc/hosts"))
                .as_deref(),
            Some("/etc/hosts")
        );
        assert_eq!(locator.resolve("../pytest.ini"), root.join("../pytest.ini"));
    }

    #[test]
    fn own_folders_above_the_project_are_not_inputs() {
        // xtask.toml above the project (the bundled example's layout), outside any temp
        // folder: the paths need not exist, naming is pure.
        let workspace = Path::new("/srv/checkout-of-xtask-test");
        let root = workspace.join("examples/tta");
        let locator = Locator::new(
            &root,
            &[workspace.join(".xtask"), workspace.join("reports")],
        );
        let scratch = workspace.join(".xtask/tmp/4242/pytest-Ab12/.coverage");
        assert_eq!(locator.portable(Kind::File, &scratch), None);
        assert_eq!(
            locator.portable(Kind::Listing, &workspace.join(".xtask")),
            None
        );
        assert_eq!(
            locator.portable(Kind::File, &workspace.join(".xtask")),
            None
        );
        // Beside them, the workspace's own files are still inputs.
        assert_eq!(
            locator
                .portable(Kind::File, &workspace.join("examples/pytest.ini"))
                .as_deref(),
            Some("../pytest.ini")
        );
    }

    #[test]
    fn a_new_file_in_a_listed_folder_is_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/a.py"), "x = 1\n").unwrap();
        let locator = Locator::new(&root, &[]);
        let index = InputIndex::new(&root);
        let raw = parse(&format!(
            "l\t{0}/src\nr\t{0}/src/a.py\ns\t{0}/pytest.toml\n",
            root.display()
        ));
        let set = capture(&locator, &index, &raw, |_| true).unwrap();
        assert_eq!(set.len(), 3);
        assert_eq!(first_change(&locator, &index, &set), None);
        std::fs::write(root.join("src/b.py"), "").unwrap();
        assert!(
            first_change(&locator, &InputIndex::new(&root), &set)
                .unwrap()
                .contains("folder src has other entries")
        );
        std::fs::remove_file(root.join("src/b.py")).unwrap();
        std::fs::write(root.join("pytest.toml"), "").unwrap();
        assert_eq!(
            first_change(&locator, &InputIndex::new(&root), &set).as_deref(),
            Some("pytest.toml was added (the tool looked for it)")
        );
    }

    #[test]
    fn xtask_s_own_folders_appearing_in_the_root_listing_are_no_change() {
        // A project at the workspace root: reports/ and .xtask/ appear beside the sources
        // after the first run, and must not make every observed step miss again.
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join("a.py"), "x = 1\n").unwrap();
        let locator = Locator::new(&root, &[root.join(".xtask"), root.join("reports")]);
        let raw = parse(&format!("l\t{0}\n", root.display()));
        let set = capture(&locator, &InputIndex::new(&root), &raw, |_| true).unwrap();
        assert_eq!(set.len(), 1, "{set:?}");
        std::fs::create_dir_all(root.join(".xtask/cache")).unwrap();
        std::fs::create_dir_all(root.join("reports")).unwrap();
        assert_eq!(first_change(&locator, &InputIndex::new(&root), &set), None);
        std::fs::write(root.join("b.py"), "").unwrap();
        assert!(first_change(&locator, &InputIndex::new(&root), &set).is_some());
    }

    #[test]
    fn a_batch_member_keeps_its_own_reads_and_shared_ones_only() {
        let members: Vec<String> = ["src/a", "src/ab.py", "src/c"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let foreign = Foreign::new(&members, "src/a");
        for own in ["src/a", "src/a/x.py", "src/abc.py", "conftest.py", "src"] {
            assert!(foreign.keeps(own), "{own}");
        }
        for other in ["src/ab.py", "src/c", "src/c/d/e.py"] {
            assert!(!foreign.keeps(other), "{other}");
        }
        assert!(Foreign::new(&[], "src/a").keeps("src/c/d.py"));
        assert!(is_under("a/b", "a") && is_under("a", "a") && !is_under("ab", "a"));
    }

    #[test]
    fn a_file_changed_during_the_run_is_not_captured() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join("a.py"), "x = 1\n").unwrap();
        // Opened when it had another mtime and size than it has now.
        let raw = parse(&format!("r\t{}/a.py\t12:3\n", root.display()));
        let locator = Locator::new(&root, &[]);
        assert!(capture(&locator, &InputIndex::new(&root), &raw, |_| true).is_err());
        let m = std::fs::metadata(root.join("a.py")).unwrap();
        let stamp = format!(
            "{}:{}",
            i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            m.len()
        );
        let raw = parse(&format!("r\t{}/a.py\t{stamp}\n", root.display()));
        assert!(capture(&locator, &InputIndex::new(&root), &raw, |_| true).is_ok());
    }
}
