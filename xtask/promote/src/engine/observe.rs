//! Read sets from traces: every tool runs under the file-access observer (`engine::trace`),
//! and what its process tree did to each path becomes, after the run, a read set: portable
//! path -> state. A cache entry is served only while every read in its set still has the state
//! it had (see `cache::Cache::get_observed`).
//!
//! What is an input is decided by what the run did, in order, never by where a path is: a
//! path the run first changed (created, wrote, removed) is its output (pytest's `tmp_path`,
//! coverage data, a log a test appends to); a path it first read, probed or listed is an input.
//! A read file is an input by content; a probe keeps the answer it got (absent, a folder, a
//! file, which is then keyed by content unless the run itself wrote it later); a listing is
//! keyed by the names in the folder. Every input is checked again after the run: one that
//! changed while the tool ran, by someone other than the run, stores nothing.
//!
//! Entries: `f <path>` content (`-`, `d`, `f:<digest>`, `o`), `e <path>` existence (`-`, `d`,
//! `F`, `o`), `l <path>` listing (`-`, `l:<digest>`), `k <path>` a link's target
//! (`-`, `k:<target>`), `p <path>` a resolved path (`-`, `p:<path>`).
//!
//! Paths carry no checkout location: files in the project are root-relative, files under the
//! project's ancestors are `../`-relative (config discovery walks up; a sibling checkout), files
//! under HOME start with `~/`, the state folder is `$STATE/`, anything else is absolute (`/usr/lib/…`; a shared cache still matches when both
//! machines have the same files). The kernel's own file systems (`/proc`, `/sys`, `/dev`) hold
//! the machine's state, not files, and are not inputs; nor is the fresh folder xtask made for
//! the run (it holds only what the run wrote).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::fast_hash;
use super::inputs::InputIndex;
use super::trace::{Access, Trace};
use crate::digest::hex;

/// How a capture error starts when the run can never be cached (a program the observer cannot
/// follow), as `cache explain` says it.
pub const NOT_CACHEABLE: &str = "not cacheable: ";

/// What a run did to one path, from its trace, in order.
#[derive(Debug, Default, Clone)]
struct Use {
    /// The first access changed it: the run's output, never an input.
    output: bool,
    /// Opened for reading (or executed) first: the stamp then, `?` when unknown.
    read: Option<String>,
    /// The first probe's answer.
    probe: Option<String>,
    /// The first listing's answer (`d:<mtime_ns>`).
    listing: Option<String>,
    link: Option<String>,
    resolved: Option<String>,
    /// Changed by the run after it was observed.
    written: bool,
}

/// One tool process tree's trace, summarised per path once: every member of a batch captures
/// its read set from the same summary.
pub struct Summary {
    uses: Vec<(PathBuf, Use)>,
    unfollowable: Option<String>,
    /// Each use's portable name (`None`: not a file of the world, or the run's own scratch),
    /// made once for every member of a batch.
    names: std::sync::OnceLock<Vec<Option<String>>>,
    /// Folders the run changed an entry of.
    written_in: std::collections::HashSet<PathBuf, fast_hash::FastHash>,
    /// The uses split by the batch member whose source holds them, made once.
    partition: std::sync::OnceLock<Partition>,
}

/// A batch's uses by owner: each member captures the shared ones, its own and those it
/// reaches, so a batch of N members costs N times its members' share, not N times the trace.
#[derive(Default)]
struct Partition {
    /// Uses that belong to no member (configs, the interpreter's files, files outside).
    shared: Vec<usize>,
    /// By member source: the uses inside it.
    owned: std::collections::HashMap<String, Vec<usize>, fast_hash::FastHash>,
    /// By portable name: every named use.
    by_name: std::collections::HashMap<String, usize, fast_hash::FastHash>,
}

impl Summary {
    pub fn of(trace: &Trace) -> Summary {
        let mut at: std::collections::HashMap<&Path, usize, fast_hash::FastHash> =
            std::collections::HashMap::default();
        let mut uses: Vec<(PathBuf, Use)> = Vec::new();
        for (access, path) in &trace.accesses {
            let index = *at.entry(path.as_path()).or_insert_with(|| {
                uses.push((path.clone(), Use::default()));
                uses.len() - 1
            });
            let Some((_, known)) = uses.get_mut(index) else {
                continue;
            };
            let fresh = known.read.is_none()
                && known.probe.is_none()
                && known.listing.is_none()
                && known.link.is_none()
                && known.resolved.is_none()
                && !known.output;
            if known.output {
                continue;
            }
            match access {
                Access::Write | Access::Create if fresh => known.output = true,
                Access::Write | Access::Create => known.written = true,
                Access::Read(stamp) if stamp == "d" => {
                    known.probe.get_or_insert_with(|| "d".to_owned());
                }
                Access::Read(stamp) => {
                    known.read.get_or_insert_with(|| stamp.clone());
                }
                Access::Start | Access::Exec(_) => {
                    known.read.get_or_insert_with(|| "?".to_owned());
                }
                Access::Probe(answer) => {
                    known.probe.get_or_insert_with(|| answer.clone());
                }
                Access::Listing(answer) => {
                    known.listing.get_or_insert_with(|| answer.clone());
                }
                Access::Link(target) => {
                    known.link.get_or_insert_with(|| target.clone());
                }
                Access::Resolved(result) => {
                    known.resolved.get_or_insert_with(|| result.clone());
                }
                Access::Unfollowable(_) => {}
            }
        }
        let written_in = uses
            .iter()
            .filter(|(_, u)| u.output || u.written)
            .filter_map(|(p, _)| p.parent().map(Path::to_path_buf))
            .collect();
        Summary {
            uses,
            unfollowable: trace.unfollowable(),
            names: std::sync::OnceLock::new(),
            written_in,
            partition: std::sync::OnceLock::new(),
        }
    }

    /// The uses split by the member of `members` (source paths) that holds them.
    fn partition(&self, names: &[Option<String>], members: &[String]) -> &Partition {
        self.partition.get_or_init(|| {
            let sources: std::collections::HashSet<&str, fast_hash::FastHash> =
                members.iter().map(String::as_str).collect();
            let mut partition = Partition::default();
            for (at, name) in names.iter().enumerate() {
                let Some(name) = name else { continue };
                partition.by_name.insert(name.clone(), at);
                let owner = in_project(name)
                    .then(|| {
                        name.match_indices('/')
                            .filter_map(|(end, _)| name.get(..end))
                            .chain(std::iter::once(name.as_str()))
                            .find(|prefix| sources.contains(prefix))
                    })
                    .flatten();
                match owner {
                    Some(source) => partition
                        .owned
                        .entry(source.to_owned())
                        .or_default()
                        .push(at),
                    None => partition.shared.push(at),
                }
            }
            partition
        })
    }

    /// Whether the run itself changed an entry directly inside `folder`.
    fn wrote_in(&self, folder: &Path) -> bool {
        self.written_in.contains(folder)
    }

    /// Each use's portable name, made on first call.
    fn names(&self, locator: &Locator, scratch: Option<&Path>) -> &[Option<String>] {
        self.names.get_or_init(|| {
            self.uses
                .iter()
                .map(|(path, used)| {
                    if used.output || scratch.is_some_and(|s| path.starts_with(s)) {
                        None
                    } else {
                        locator.portable(path)
                    }
                })
                .collect()
        })
    }

    /// Why this run cannot be cached, if it cannot.
    pub fn unfollowable(&self) -> Option<&str> {
        self.unfollowable.as_deref()
    }

    /// The paths the run changed before (or without) reading them, absolute.
    pub fn outputs(&self) -> impl Iterator<Item = &Path> {
        self.uses
            .iter()
            .filter(|(_, u)| u.output || u.written)
            .map(|(p, _)| p.as_path())
    }
}

/// Maps absolute paths to portable names and back.
pub struct Locator {
    root: PathBuf,
    /// The root as the tools see it after symlinks (tempdirs on macOS, bind mounts).
    real_root: PathBuf,
    home: Option<PathBuf>,
    /// Root-relative folders xtask itself writes (state, reports, cache): a listing of their
    /// parent does not count them.
    own: Vec<String>,
    /// xtask's state folder (the tool venv, the observer, an empty user-config folder): named
    /// `$STATE/…`, so another checkout reads the same names.
    state: Option<PathBuf>,
}

/// How paths under the state folder start in read sets.
const STATE: &str = "$STATE";

/// File systems that hold the kernel's and the machine's state rather than files.
const PSEUDO: &[&str] = &["/proc", "/sys", "/dev"];

impl Locator {
    /// `own_dirs` are xtask's own folders, the state folder first.
    pub fn new(root: &Path, own_dirs: &[PathBuf]) -> Self {
        let real_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let own = own_dirs
            .iter()
            .filter_map(|d| {
                d.strip_prefix(root)
                    .ok()
                    .or_else(|| d.strip_prefix(&real_root).ok())
            })
            .map(crate::fsutil::unix)
            .filter(|d| !d.is_empty())
            .collect();
        Locator {
            root: root.to_path_buf(),
            real_root,
            home: crate::edge_env::get().home.clone(),
            own,
            state: own_dirs.first().map(|s| lexical(s)),
        }
    }

    fn relative(&self, path: &Path) -> Option<String> {
        path.strip_prefix(&self.root)
            .or_else(|_| path.strip_prefix(&self.real_root))
            .ok()
            .map(crate::fsutil::unix)
    }

    /// The portable name of `path` (absolute, possibly with `..`), or `None` when it is no
    /// file at all (the kernel's pseudo file systems).
    pub fn portable(&self, path: &Path) -> Option<String> {
        let path = lexical(path);
        if PSEUDO.iter().any(|p| path.starts_with(p)) {
            return None;
        }
        if let Some(state) = &self.state
            && let Ok(rest) = path.strip_prefix(state)
        {
            return Some(format!("{STATE}/{}", crate::fsutil::unix(rest)));
        }
        if let Some(rel) = self.relative(&path) {
            return Some(if rel.is_empty() { ".".to_owned() } else { rel });
        }
        // Under an ancestor of the root (config discovery walking up, a sibling checkout,
        // the repository's `.git`): relative to the root, up to the nearest such ancestor that
        // is neither the file system's root nor HOME or above it (the user's files are named
        // from HOME, whatever depth the checkout is at).
        let home = self.home.as_deref();
        for (depth, ancestor) in self.real_root.ancestors().skip(1).enumerate() {
            if ancestor.parent().is_none() || home.is_some_and(|h| h.starts_with(ancestor)) {
                break;
            }
            if let Ok(rest) = path.strip_prefix(ancestor) {
                let up = "../".repeat(depth + 1);
                let rest = crate::fsutil::unix(rest);
                return Some(if rest.is_empty() {
                    up.trim_end_matches('/').to_owned()
                } else {
                    format!("{up}{rest}")
                });
            }
        }
        if let Some(home) = home
            && let Ok(rest) = path.strip_prefix(home)
        {
            return Some(format!("~/{}", crate::fsutil::unix(rest)));
        }
        Some(path.display().to_string())
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
        if let Some(rest) = portable.strip_prefix("$STATE/")
            && let Some(state) = &self.state
        {
            return state.join(rest);
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

/// `path` with `.` and `..` components folded, as the tools' own path handling does.
fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    if !path
        .components()
        .any(|c| matches!(c, Component::CurDir | Component::ParentDir))
    {
        return path.to_path_buf();
    }
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Portable read -> its state (see the module's header).
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
    match kind {
        "l" => listing_state(locator, &path),
        "k" => match std::fs::read_link(&path) {
            Ok(target) => format!("k:{}", portable_target(locator, &target)),
            Err(_) => "-".to_owned(),
        },
        "p" => match std::fs::canonicalize(&path) {
            Ok(resolved) => format!("p:{}", portable_target(locator, &resolved)),
            Err(_) => "-".to_owned(),
        },
        "e" => match std::fs::metadata(&path) {
            Err(_) => "-".to_owned(),
            Ok(m) if m.is_dir() => "d".to_owned(),
            Ok(m) if m.is_file() => "F".to_owned(),
            Ok(_) => "o".to_owned(),
        },
        _ => match std::fs::metadata(&path) {
            Err(_) => "-".to_owned(),
            Ok(m) if m.is_dir() => "d".to_owned(),
            Ok(m) if !m.is_file() => "o".to_owned(),
            Ok(_) => {
                // Outside the project: by the stat memo too, which is sound for any file.
                let digest = if in_project(portable) {
                    index.digest(portable)
                } else {
                    index.outside_digest(&path)
                };
                match digest {
                    Some(d) => format!("f:{}", hex(&d)),
                    None => "unreadable".to_owned(),
                }
            }
        },
    }
}

/// A link target or resolved path, portable when absolute (it may name the checkout).
fn portable_target(locator: &Locator, target: &Path) -> String {
    if target.is_absolute() {
        locator
            .portable(target)
            .unwrap_or_else(|| target.display().to_string())
    } else {
        target.display().to_string()
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
        // xtask's own folders appear beside the sources after the first run.
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

/// Whether a portable name is a path inside the project (not absolute, under HOME, in the
/// state folder or above).
pub fn in_project(portable: &str) -> bool {
    !(portable.starts_with('/')
        || portable.starts_with("~/")
        || portable.starts_with("$STATE/")
        || portable == ".."
        || portable.starts_with("../"))
}

/// Which member of a batch a read set is for.
pub struct Member<'a> {
    /// Every member's source (one entry for a run of one component).
    pub members: &'a [String],
    /// This member's source.
    pub own: &'a str,
    /// Files of other members that this member's imports reach (type checkers only).
    pub reached: &'a [String],
}

/// The current `mtime_ns:size:ino` of a file, as the observer stamps it.
fn stamp_now(path: &Path) -> Option<String> {
    let m = std::fs::metadata(path).ok()?;
    let ns = i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec());
    Some(format!("{ns}:{}:{}", m.len(), m.ino()))
}

/// The current mtime of a folder, as a listing answer.
fn listing_now(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => format!(
            "d:{}",
            i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec())
        ),
        _ => "-".to_owned(),
    }
}

/// Where a run's read sets are made: reads under `scratch` (this process's fresh folders) are
/// never inputs.
pub struct Capture<'a> {
    pub locator: &'a Locator,
    pub index: &'a InputIndex,
    pub scratch: Option<&'a Path>,
}

impl Capture<'_> {
    /// The read set of `summary` for one member: the uses no member holds, those in its own
    /// source, and those of other members' sources that it reaches (a type checker reads the
    /// files its imports name). Fails, naming the input, when something the run read, probed
    /// or listed changed while the tool ran, other than by the run itself.
    pub fn read_set(&self, summary: &Summary, member: &Member<'_>) -> Result<ReadSet, String> {
        if let Some(why) = summary.unfollowable() {
            return Err(format!("{NOT_CACHEABLE}{why}"));
        }
        let mut set = ReadSet::new();
        let changed = |portable: &str| Err(format!("{portable} changed while the tool ran"));
        let names = summary.names(self.locator, self.scratch);
        let partition = summary.partition(names, member.members);
        let own = partition
            .owned
            .get(member.own)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let reached = member
            .reached
            .iter()
            .filter_map(|name| partition.by_name.get(name).copied());
        let mut uses: Vec<usize> = partition
            .shared
            .iter()
            .chain(own)
            .copied()
            .chain(reached)
            .collect();
        uses.sort_unstable();
        uses.dedup();
        for at in uses {
            let (Some((path, used)), Some(Some(portable))) = (summary.uses.get(at), names.get(at))
            else {
                continue;
            };
            let portable = portable.as_str();
            if let Some(stamp) = &used.read {
                if stamp != "?" && stamp_now(path).as_deref() != Some(stamp.as_str()) {
                    return changed(portable);
                }
                self.put(&mut set, "f", portable);
            } else if let Some(answer) = &used.probe {
                let probed_file = answer.strip_prefix("f:");
                let file = probed_file.is_some();
                if !used.written
                    && let Some(stamp) = probed_file
                    && stamp_now(path).as_deref() != Some(stamp)
                {
                    return changed(portable);
                }
                let entry = if file && !used.written { "f" } else { "e" };
                let state = self.put(&mut set, entry, portable);
                // A probe keeps the answer it got; one the run's own writes changed is kept
                // as it was, one changed by someone else stores nothing.
                let expected = match answer.as_str() {
                    "-" => Some("-"),
                    "d" => Some("d"),
                    _ if file && entry == "e" => Some("F"),
                    _ => None,
                };
                if let Some(expected) = expected
                    && state != expected
                {
                    if !used.written {
                        return changed(portable);
                    }
                    set.insert(format!("{entry} {portable}"), expected.to_owned());
                }
            }
            if let Some(answer) = &used.listing {
                if !used.written && listing_now(path) != *answer && !summary.wrote_in(path) {
                    return changed(portable);
                }
                self.put(&mut set, "l", portable);
            }
            if let Some(target) = &used.link {
                let now = std::fs::read_link(path).map(|t| t.display().to_string());
                if !used.written && now.as_deref().unwrap_or("-") != target {
                    return changed(portable);
                }
                self.put(&mut set, "k", portable);
            }
            if used.resolved.is_some() {
                self.put(&mut set, "p", portable);
            }
        }
        Ok(set)
    }

    /// Puts the current state of `kind portable` into `set`; returns it.
    fn put(&self, set: &mut ReadSet, kind: &str, portable: &str) -> String {
        let entry = format!("{kind} {portable}");
        let now = state(self.locator, self.index, &entry);
        set.insert(entry, now.clone());
        now
    }
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
    let place = where_it_is(path);
    match (kind, before, now) {
        ("l", _, "-") => format!("folder {path} was removed (it was listed){place}"),
        ("l", "-", _) => format!("folder {path} appeared (it was listed){place}"),
        ("l", _, _) => {
            format!("folder {path} has other entries (a file added or removed there){place}")
        }
        ("k" | "p", _, _) => format!("link {path} points elsewhere now{place}"),
        (_, "-", _) => format!("{path} was added (the tool looked for it){place}"),
        (_, _, "-") => format!("{path} was removed{place}"),
        ("e", _, _) => format!("{path} is another kind of file now (the tool probed it){place}"),
        _ => format!("file {path} changed{place}"),
    }
}

/// Where a read outside the project was, for people.
fn where_it_is(path: &str) -> &'static str {
    if in_project(path) {
        ""
    } else if path.starts_with("~/") {
        " (under HOME, outside the project)"
    } else {
        " (outside the project)"
    }
}

#[cfg(test)]
mod tests;
