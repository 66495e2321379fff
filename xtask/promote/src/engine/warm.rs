//! The warm-run record: a shortcut past every key, lookup and read-set check when nothing
//! changed. A run whose every step was answered by the cache (or stored, or decided from the
//! config alone) leaves its answers with a fingerprint of everything they were computed from:
//! every file and folder under the project, the reads outside it (traced by the file-access
//! observer, or hashed for a key), the ignore files above it, and the run's identity
//! (xtask.toml, the tools and interpreter, the tools' environment, the steps asked, this
//! binary). The next run with the same identity walks the project once; when the fingerprint is
//! the same, every key and every read set would come out the same as before, so the recorded
//! answers stand. Files the recorded run only wrote (a log its tests append to), which no step
//! read nor listed the folder of, are left out: what they hold cannot change an answer.
//!
//! This holds for the reason the stat memo does: a file whose (device, inode, size, mtime,
//! ctime) are unchanged has its bytes, with git's racy rule (a file stamped within two seconds
//! of the walk is compared by content instead). Folders in the project are compared by their
//! entries, so no folder mtime is trusted there; a folder listed outside it is compared by its
//! stat, which changes whenever an entry is added, removed or renamed.

use crate::digest::Digest;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::digest_memo::Stat;
use super::inputs;
use super::stat_at::{self, Found, Kind};
use super::{Results, RunContext, StepId};
use crate::tools::result::StepResult;

/// The records' folder in the cache folder.
pub const DIR: &str = crate::cache::WARM_DIR;
/// The first part of every identity: a new meaning of the record changes every name.
const MAGIC: &str = "xtask-warm v2";
/// Records kept, one per identity (command and environment): the newest ones.
const KEEP: usize = 8;

/// What the input walk itself reads in each folder above the project (the ignore files of
/// parent folders apply to it); what the tools read above it is in their traces.
const ABOVE_ROOT: &[&str] = &[".gitignore", ".ignore", ".git"];

/// What one entry of the project was when walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    File(Stat),
    /// A folder, compared by its entries (walked), not its stat.
    Dir,
    /// A folder not walked into (`.git`, a virtual environment): present, and nothing more;
    /// what a run reads in it is checked as a read outside the walk.
    Opaque,
    /// A symbolic link, by the stat of what it points to.
    Link(Option<Stat>),
    Other,
}

/// One walk of the project.
pub struct Walk {
    started_ns: i128,
    /// Root-relative, in a canonical order (folders by path, each one's entries by name).
    entries: Vec<(String, Seen)>,
}

impl Walk {
    /// Every entry under `root` except tool output (`__pycache__`, …) and xtask's own folders
    /// (`own`, root-relative); `.git` and virtual environments are noted, not walked.
    pub fn take(root: &Path, own: &[String]) -> Walk {
        let started_ns = now_ns();
        // Folders go through one queue that every core takes from (one big package would
        // otherwise keep one core busy while the other waits); each folder's entries come back
        // as one chunk, and the chunks in folder order make the order canonical.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let queue = Mutex::new((vec![String::new()], 0usize));
        let ready = std::sync::Condvar::new();
        let mut chunks: Vec<(String, Vec<(String, Seen)>)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| scope.spawn(|| walk_worker(root, own, &queue, &ready)))
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        chunks.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Walk {
            started_ns,
            entries: chunks.into_iter().flat_map(|(_, found)| found).collect(),
        }
    }

    /// The entries by path, for the questions a record asks of the walk once.
    fn by_path(&self) -> WalkIndex<'_> {
        WalkIndex(
            self.entries
                .iter()
                .map(|(path, seen)| (path.as_str(), *seen))
                .collect(),
        )
    }

    /// Files stamped so recently that a rewrite could leave their stat unchanged, except the
    /// run's own `outputs` (sorted), which are left out.
    fn racy(&self, outputs: &[String]) -> Vec<&str> {
        self.entries
            .iter()
            .filter_map(|(path, seen)| match seen {
                Seen::File(stat)
                    if stat.is_racy(self.started_ns)
                        && outputs.binary_search_by(|o| o.as_str().cmp(path)).is_err() =>
                {
                    Some(path.as_str())
                }
                _ => None,
            })
            .collect()
    }

    /// The fingerprint: every entry with its kind and stat, except the stat of the files in
    /// `racy` (sorted), which are compared by content, and the run's own `outputs` (sorted),
    /// which no step read or listed the folder of: whether they are there cannot change an
    /// answer.
    fn digest(&self, racy: &[String], outputs: &[String]) -> Digest {
        let mut hasher = Sha256::new();
        for (path, seen) in &self.entries {
            if matches!(seen, Seen::File(_))
                && outputs.binary_search_by(|o| o.as_str().cmp(path)).is_ok()
            {
                continue;
            }
            hasher.update((path.len() as u64).to_le_bytes());
            hasher.update(path.as_bytes());
            match seen {
                Seen::File(stat) => {
                    if racy.binary_search_by(|r| r.as_str().cmp(path)).is_ok() {
                        hasher.update(b"r");
                    } else {
                        hasher.update(b"f");
                        hash_stat(&mut hasher, stat);
                    }
                }
                Seen::Dir => hasher.update(b"d"),
                Seen::Opaque => hasher.update(b"o"),
                Seen::Link(target) => {
                    hasher.update(b"l");
                    if let Some(stat) = target {
                        hash_stat(&mut hasher, stat);
                    }
                }
                Seen::Other => hasher.update(b"?"),
            }
        }
        Digest::from(<[u8; 32]>::from(hasher.finalize()))
    }
}

/// A walk's entries by path.
struct WalkIndex<'w>(std::collections::HashMap<&'w str, Seen>);

impl WalkIndex<'_> {
    fn contains(&self, path: &str) -> bool {
        self.0.contains_key(path)
    }

    /// Whether `path` is inside a folder the walk did not enter.
    fn under_opaque(&self, path: &str) -> bool {
        path.match_indices('/')
            .filter_map(|(end, _)| path.get(..end))
            .any(|folder| matches!(self.0.get(folder), Some(Seen::Opaque | Seen::Link(_))))
    }
}

/// Takes folders from `queue` (pending, busy) until none is left and no one is reading one
/// (which could add more); returns each folder read with its entries.
fn walk_worker(
    root: &Path,
    own: &[String],
    queue: &Mutex<(Vec<String>, usize)>,
    ready: &std::sync::Condvar,
) -> Vec<(String, Vec<(String, Seen)>)> {
    let mut chunks = Vec::new();
    loop {
        let folder = {
            let mut state = queue.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(folder) = state.0.pop() {
                    state.1 += 1;
                    break Some(folder);
                }
                if state.1 == 0 {
                    break None;
                }
                state = ready.wait(state).unwrap_or_else(|e| e.into_inner());
            }
        };
        let Some(folder) = folder else {
            ready.notify_all();
            return chunks;
        };
        let mut found = Vec::new();
        let mut folders = Vec::new();
        read_folder(root, own, &folder, &mut found, &mut folders);
        chunks.push((folder, found));
        let mut state = queue.lock().unwrap_or_else(|e| e.into_inner());
        state.0.extend(folders);
        state.1 -= 1;
        drop(state);
        ready.notify_all();
    }
}

fn hash_stat(hasher: &mut Sha256, stat: &Stat) {
    for field in stat_fields(stat) {
        hasher.update(field.to_le_bytes());
    }
}

fn read_folder(
    root: &Path,
    own: &[String],
    folder: &str,
    entries: &mut Vec<(String, Seen)>,
    folders: &mut Vec<String>,
) {
    let Ok(listing) = std::fs::read_dir(root.join(folder)) else {
        return;
    };
    let mut listing: Vec<(String, std::fs::DirEntry)> = listing
        .flatten()
        .map(|entry| (entry.file_name().to_string_lossy().into_owned(), entry))
        .collect();
    listing.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (name, entry) in listing {
        let path = if folder.is_empty() {
            name.clone()
        } else {
            format!("{folder}/{name}")
        };
        if own.contains(&path) {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            entries.push((path, Seen::Other));
            continue;
        };
        let seen = if kind.is_dir() {
            if name == ".git" || inputs::is_virtual_env(&entry.path()) {
                Seen::Opaque
            } else {
                folders.push(path.clone());
                Seen::Dir
            }
        } else if kind.is_file() {
            // DirEntry::metadata is an fstatat beside the open folder: no path walk.
            match entry.metadata() {
                Ok(metadata) => Seen::File(Stat::of(&metadata)),
                Err(_) => Seen::Other,
            }
        } else if kind.is_symlink() {
            Seen::Link(std::fs::metadata(entry.path()).ok().map(|m| Stat::of(&m)))
        } else {
            Seen::Other
        };
        entries.push((path, seen));
    }
}

fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// A path outside the walk, as the run saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Probe {
    Absent,
    /// Only that it is a folder (an ancestor pytest looked at, say).
    Folder,
    /// A folder whose entries matter, by its stat; with a digest of its entries' names when
    /// the stat was racy.
    Listing([i64; 5], Option<Digest>),
    /// A file by its stat; with its digest when the stat was racy.
    File([i64; 5], Option<Digest>),
}

fn stat_fields(stat: &Stat) -> [i64; 5] {
    [
        stat.dev as i64,
        stat.ino as i64,
        stat.size as i64,
        stat.mtime_ns as i64,
        stat.ctime_ns as i64,
    ]
}

/// What a run answered, and what it was computed from.
/// Read from a file in the cache folder: every digest in it is parsed as one (`Digest`), and
/// no path in it is ever written to.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    tree: Digest,
    /// Files of the walk compared by content: path -> digest.
    racy: BTreeMap<String, Digest>,
    /// Absolute paths outside the walk, as they were.
    outside: Vec<(PathBuf, Probe)>,
    /// Project files the run only wrote and no step read or listed (root-relative, sorted):
    /// left out of the fingerprint.
    outputs: Vec<String>,
    results: Vec<(String, StepResult)>,
    /// Derived facts of the run (the import graph's per-component uses), by name.
    facts: BTreeMap<String, serde_json::Value>,
}

/// The record of one command: loaded at the start of its engine run, written at its end.
#[derive(Default)]
pub struct WarmRun {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    file: Option<PathBuf>,
    /// The walk taken when the engine run started; the fingerprint a new record gets.
    walk: Option<Walk>,
    /// The facts of the record this run's answers came from, when they did.
    answered_facts: Option<BTreeMap<String, serde_json::Value>>,
    /// Whether the run's answers can be recorded (every step settled without a fresh verdict
    /// left unstored) and what they are.
    results: Option<Results>,
    facts: BTreeMap<String, serde_json::Value>,
    /// The outside paths of the record a run was answered from: a run answered from a record
    /// computes no key and reads no read set, so its new record names them again.
    carried: Vec<(PathBuf, bool)>,
    /// A second engine run in one command is not recorded (it would need its own identity).
    runs: usize,
    /// Project files the tools of this run wrote (root-relative); with those of the record
    /// the run was answered from.
    outputs: std::collections::BTreeSet<String>,
}

impl WarmRun {
    /// The recorded answers for `requests` when nothing they were computed from changed; else
    /// `None`, and the walk is kept so the run's answers can be recorded at its end.
    pub fn answer(&self, ctx: &RunContext<'_>, requests: &[StepId]) -> Option<Results> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.runs += 1;
        let cache = ctx.cache?;
        if ctx.refresh {
            // `--no-cache` gives fresher verdicts than any record holds, for any command: none
            // may answer again. This run records its own answers if they all settle.
            forget(cache.dir());
        }
        if !ctx.step_env.is_empty() || state.runs > 1 {
            return None;
        }
        let file = cache
            .dir()
            .join(DIR)
            .join(identity(ctx, requests, cache.dir()).to_string());
        let walk = Walk::take(&ctx.config.project.root, ctx.locator.own_folders());
        let record = read(&file)
            .filter(|_| !ctx.refresh)
            .filter(|record| still_holds(ctx, &walk, record));
        state.file = Some(file);
        let Some(Record {
            racy,
            outside,
            results,
            facts,
            outputs,
            ..
        }) = record
        else {
            state.walk = Some(walk);
            return None;
        };
        let results: Results = results
            .into_iter()
            .map(|(component, result)| ((component, result.name), result))
            .collect();
        state.outputs.extend(outputs);
        // Racy files were compared by content; a record taken now may trust their stat.
        if !racy.is_empty() {
            state.carried = outside
                .into_iter()
                .map(|(path, probe)| (path, matches!(probe, Probe::Listing(..))))
                .collect();
            state.walk = Some(walk);
            state.results = Some(results.clone());
            state.facts = facts.clone();
        }
        state.answered_facts = Some(facts);
        Some(results)
    }

    /// Marks this run's `results` as recordable: every step was a hit, stored, or decided from
    /// the config.
    pub fn settled(&self, results: &Results) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.runs == 1 && state.walk.is_some() {
            // A verdict stored this run is a hit from now on, and reads as one.
            let answers = results
                .iter()
                .map(|(id, result)| {
                    let mut result = result.clone();
                    if result.cacheable() {
                        result.cached = true;
                        result.duration_ms = 0;
                    }
                    (id.clone(), result)
                })
                .collect();
            state.results = Some(answers);
        }
    }

    /// Notes what a tool wrote (absolute paths): those in the project are its outputs.
    pub fn outputs<'p>(
        &self,
        locator: &super::observe::Locator,
        paths: impl Iterator<Item = &'p Path>,
    ) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for path in paths {
            if let Some(portable) = locator.portable(path)
                && super::observe::in_project(&portable)
            {
                state.outputs.insert(portable);
            }
        }
    }

    /// Takes back `settled`: an answer of this run turned out wrong (`cache audit`'s sample
    /// found a hit that fresh runs contradict), so the run is not recorded.
    pub fn unsettle(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).results = None;
    }

    /// A fact derived from the project (the same tree and config give the same value): the
    /// recorded one when the run was answered from the record, else `compute`d and recorded.
    pub fn fact<T: Serialize + serde::de::DeserializeOwned>(
        &self,
        name: &str,
        compute: impl FnOnce() -> T,
    ) -> T {
        let known = {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state
                .answered_facts
                .as_ref()
                .and_then(|facts| facts.get(name))
                .and_then(|value| serde_json::from_value(value.clone()).ok())
        };
        let value = known.unwrap_or_else(compute);
        if let Ok(json) = serde_json::to_value(&value) {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.facts.insert(name.to_owned(), json);
        }
        value
    }

    /// Writes the record of this run when its answers can be recorded; best effort (a record
    /// that cannot be written only makes the next run slower). Nothing after an interrupt.
    pub fn save(&self, ctx: &RunContext<'_>) {
        if crate::process::interrupted() {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (Some(file), Some(walk), Some(results)) =
            (state.file.clone(), state.walk.take(), state.results.take())
        else {
            return;
        };
        let facts = std::mem::take(&mut state.facts);
        let outputs = std::mem::take(&mut state.outputs);
        let Some(record) = build(ctx, &walk, results, facts, &state.carried, outputs) else {
            return;
        };
        write_record(&file, &record);
    }
}

/// Removes every record in the cache folder `cache_dir`: a fresher verdict (`--no-cache`, an
/// audit's eviction) may contradict an answer any of them holds.
pub fn forget(cache_dir: &Path) {
    let _ = std::fs::remove_dir_all(cache_dir.join(DIR));
}

/// The record's name: everything besides the files that the answers depend on.
fn identity(ctx: &RunContext<'_>, requests: &[StepId], cache_dir: &Path) -> Digest {
    let mut hasher = Sha256::new();
    let mut text = |part: &str| {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    };
    text(MAGIC);
    text(&crate::cache::SCHEMA_VERSION.to_string());
    text(env!("CARGO_PKG_VERSION"));
    // A rebuilt binary may read things differently.
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| std::fs::metadata(exe).ok())
        .map(|m| format!("{:?}", stat_fields(&Stat::of(&m))))
        .unwrap_or_default();
    text(&binary);
    text(&std::fs::read_to_string(&ctx.config.path).unwrap_or_default());
    text(&ctx.config.project.root.display().to_string());
    text(&cache_dir.display().to_string());
    text(&format!("{:?}", crate::edge_env::get().home));
    text(&ctx.toolchain.python.display().to_string());
    text(&ctx.toolchain.python_identity);
    text(&format!("{:?}", ctx.env.keyed));
    text(&format!("{:?}", ctx.tool_configs));
    let mut tools: Vec<crate::tools::Tool> = requests.iter().map(|(_, k)| k.tool()).collect();
    tools.sort_by_key(|t| t.name());
    tools.dedup();
    for tool in tools {
        let resolved = ctx.toolchain.resolve(tool, ctx.config.timeouts.of(tool));
        text(&format!("{resolved:?}"));
    }
    for (component, kind) in requests {
        text(component);
        text(kind.id());
    }
    Digest::from(<[u8; 32]>::from(hasher.finalize()))
}

/// Whether `record` still describes the project as `walk` found it, and everything outside.
fn still_holds(ctx: &RunContext<'_>, walk: &Walk, record: &Record) -> bool {
    let racy: Vec<String> = record.racy.keys().cloned().collect();
    if walk.digest(&racy, &record.outputs) != record.tree {
        return false;
    }
    let root = &ctx.config.project.root;
    record.racy.iter().all(|(path, digest)| {
        ctx.index
            .outside_digest(&root.join(path))
            .is_some_and(|d| Digest::from(d) == *digest)
    }) && {
        let paths: Vec<&Path> = record
            .outside
            .iter()
            .map(|(path, _)| path.as_path())
            .collect();
        let now = stat_at::stat_all(&paths);
        record
            .outside
            .iter()
            .zip(now)
            .all(|((path, probe), found)| holds(ctx, path, probe, found))
    }
}

/// Whether `path`, whose stat is `found` now (`None`: it cannot be stat'ed), is still as
/// `recorded`.
fn holds(ctx: &RunContext<'_>, path: &Path, recorded: &Probe, found: Option<Found>) -> bool {
    match (recorded, found) {
        (Probe::Absent, None) => true,
        (Probe::Folder, Some(m)) => m.kind == Kind::Folder,
        (Probe::Listing(fields, None), Some(m)) => {
            m.kind == Kind::Folder && stat_fields(&m.stat) == *fields
        }
        (Probe::Listing(_, Some(names)), Some(m)) => {
            m.kind == Kind::Folder && listing_digest(path).as_ref() == Some(names)
        }
        (Probe::File(fields, None), Some(m)) => {
            m.kind != Kind::Folder && stat_fields(&m.stat) == *fields
        }
        // Racy when recorded: its content decides. Only a regular file is read (a record
        // naming a FIFO or a device must not block or run forever).
        (Probe::File(_, Some(digest)), Some(m)) => {
            m.kind == Kind::File
                && ctx
                    .index
                    .outside_digest(path)
                    .is_some_and(|d| Digest::from(d) == *digest)
        }
        _ => false,
    }
}

/// `path` as it is now, for a record taken at `taken_ns`: a folder as a listing when
/// `listing`; what changed within the racy window by content (a file's bytes, a folder's
/// names); `None` when that content cannot be read.
fn probe_now(ctx: &RunContext<'_>, path: &Path, listing: bool, taken_ns: i128) -> Option<Probe> {
    let Ok(metadata) = std::fs::metadata(path) else {
        return Some(Probe::Absent);
    };
    let stat = Stat::of(&metadata);
    if metadata.is_dir() {
        return match listing {
            true if stat.is_racy(taken_ns) => Some(Probe::Listing(
                stat_fields(&stat),
                Some(listing_digest(path)?),
            )),
            true => Some(Probe::Listing(stat_fields(&stat), None)),
            false => Some(Probe::Folder),
        };
    }
    let digest = if stat.is_racy(taken_ns) {
        Some(Digest::from(ctx.index.outside_digest(path)?))
    } else {
        None
    };
    Some(Probe::File(stat_fields(&stat), digest))
}

/// A digest of the names in a folder, sorted.
fn listing_digest(folder: &Path) -> Option<Digest> {
    let mut names: Vec<Vec<u8>> = std::fs::read_dir(folder)
        .ok()?
        .flatten()
        .map(|e| e.file_name().into_encoded_bytes())
        .collect();
    names.sort();
    Digest::parse(&super::observe::names_digest(&names)).ok()
}

/// The record of a run that walked `walk` and answered `results`; `None` when something it
/// read cannot be fingerprinted.
fn build(
    ctx: &RunContext<'_>,
    walk: &Walk,
    results: Results,
    facts: BTreeMap<String, serde_json::Value>,
    carried: &[(PathBuf, bool)],
    outputs: std::collections::BTreeSet<String>,
) -> Option<Record> {
    let root = &ctx.config.project.root;
    // Only what no step read, nor listed the folder of: a file one step wrote and another read
    // is an input, and so is its name in a listed folder.
    let entries = ctx.index.read_entries();
    let read: std::collections::HashSet<&str> = entries
        .iter()
        .filter_map(|entry| entry.split_once(' ').map(|(_, p)| p))
        .collect();
    let listed: std::collections::HashSet<&str> = entries
        .iter()
        .filter_map(|entry| entry.strip_prefix("l "))
        .collect();
    let outputs: Vec<String> = outputs
        .into_iter()
        .filter(|o| {
            let parent = o.rsplit_once('/').map_or(".", |(p, _)| p);
            !read.contains(o.as_str()) && !listed.contains(parent)
        })
        .collect();
    let mut racy = BTreeMap::new();
    for path in walk.racy(&outputs) {
        let digest = ctx.index.outside_digest(&root.join(path))?;
        racy.insert(path.to_owned(), Digest::from(digest));
    }
    let racy_paths: Vec<String> = racy.keys().cloned().collect();
    let walked = walk.by_path();
    let mut outside: BTreeMap<PathBuf, Probe> = BTreeMap::new();
    let mut note = |path: PathBuf, listing: bool| -> Option<()> {
        if let std::collections::btree_map::Entry::Vacant(slot) = outside.entry(path) {
            let probe = probe_now(ctx, slot.key(), listing, walk.started_ns)?;
            slot.insert(probe);
        }
        Some(())
    };
    // A project path the walk does not vouch for: its parent folder's entries too, when it is
    // in a folder the walk did not enter (a new file beside it must show).
    let mut note_path = |rel: &str, listing: bool| -> Option<()> {
        let path = ctx.locator.resolve(rel);
        let inside = super::observe::in_project(rel);
        if inside && (rel == "." || (walked.contains(rel) && !walked.under_opaque(rel))) {
            return Some(());
        }
        note(path.clone(), listing)?;
        if inside
            && walked.under_opaque(rel)
            && let Some(parent) = path.parent()
        {
            note(parent.to_path_buf(), true)?;
        }
        Some(())
    };
    // What the observed tools read, and every file a key hashed.
    for entry in ctx.index.read_entries() {
        let (kind, portable) = entry.split_once(' ')?;
        note_path(portable, kind == "l")?;
    }
    for rel in ctx.index.hashed_files() {
        note_path(&rel, false)?;
    }
    for (path, listing) in carried {
        note(path.clone(), *listing)?;
    }
    // Above the project: the ignore files the input walk reads, and git's exclude file.
    for ancestor in root.ancestors().skip(1) {
        for name in ABOVE_ROOT {
            note(ancestor.join(name), false)?;
        }
    }
    note(root.join(".git/info/exclude"), false)?;
    Some(Record {
        tree: walk.digest(&racy_paths, &outputs),
        racy,
        outside: outside.into_iter().collect(),
        outputs,
        results: results
            .into_iter()
            .map(|((component, _), result)| (component, result))
            .collect(),
        facts,
    })
}

fn read(file: &Path) -> Option<Record> {
    parse(&std::fs::read(file).ok()?)
}

/// Whether `bytes` are a usable record (for `cache verify`).
pub fn is_record(bytes: &[u8]) -> bool {
    parse(bytes).is_some()
}

/// A record from the bytes of its file, whatever they are: `None` unless they are a framed,
/// well-typed record.
fn parse(bytes: &[u8]) -> Option<Record> {
    serde_json::from_slice(crate::cache::unframe(bytes).ok()?).ok()
}

fn write_record(file: &Path, record: &Record) {
    let Ok(body) = serde_json::to_vec(record) else {
        return;
    };
    let framed = crate::cache::frame(&body);
    if crate::fsutil::write_atomic_regenerable(file, &framed).is_err() {
        return;
    }
    prune(file.parent().unwrap_or(file));
}

/// Keeps the newest `KEEP` records.
fn prune(folder: &Path) {
    let Ok(listing) = std::fs::read_dir(folder) else {
        return;
    };
    let mut records: Vec<(std::time::SystemTime, PathBuf)> = listing
        .flatten()
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if records.len() <= KEEP {
        return;
    }
    records.sort();
    for (_, path) in records.iter().take(records.len() - KEEP) {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testutil::write_file as write;

    fn fingerprint(root: &Path) -> Digest {
        Walk::take(root, &[".xtask".to_owned()]).digest(&[], &[])
    }

    #[test]
    fn every_change_under_the_project_changes_the_fingerprint_and_xtask_s_own_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for n in 0..40 {
            write(root, &format!("src/pkg{}/m{n}.py", n % 7), "x = 1\n");
        }
        write(root, "tests/test_a.py", "def test(): pass\n");
        let base = fingerprint(root);
        assert_eq!(base, fingerprint(root), "a walk is repeatable");

        // xtask's own folder, and what is inside .git and a venv are not seen.
        write(root, ".xtask/tmp/1/junit.xml", "");
        assert_eq!(base, fingerprint(root));
        // Bytecode is a file like any other: a run may read it.
        write(root, "src/pkg1/__pycache__/m1.cpython-311.pyc", "");
        assert_ne!(base, fingerprint(root));
        let base = fingerprint(root);
        std::fs::create_dir_all(root.join(".git/objects")).unwrap();
        let with_git = fingerprint(root);
        write(root, ".git/objects/ab", "");
        write(root, ".venv/pyvenv.cfg", "");
        let with_venv = fingerprint(root);
        write(root, ".venv/lib/site.py", "");
        assert_eq!(with_venv, fingerprint(root));
        assert_ne!(base, with_git, "a .git folder appearing is seen");
        assert_ne!(with_git, with_venv, "a venv appearing is seen");
        let base = with_venv;

        // An edit, a new file, a removal, a rename, a new empty folder: each is seen.
        let edited = {
            std::thread::sleep(std::time::Duration::from_millis(30));
            write(root, "src/pkg3/m3.py", "x = 2\n");
            fingerprint(root)
        };
        assert_ne!(base, edited);
        write(root, "src/pkg3/new.py", "");
        let added = fingerprint(root);
        assert_ne!(edited, added);
        std::fs::rename(
            root.join("src/pkg3/new.py"),
            root.join("src/pkg3/renamed.py"),
        )
        .unwrap();
        let renamed = fingerprint(root);
        assert_ne!(added, renamed);
        std::fs::remove_file(root.join("src/pkg3/renamed.py")).unwrap();
        assert_eq!(
            edited,
            fingerprint(root),
            "back to the same entries and stats"
        );
        std::fs::create_dir_all(root.join("src/pkg3/empty")).unwrap();
        assert_ne!(edited, fingerprint(root));
    }

    #[test]
    fn the_run_s_own_outputs_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "src/a.py", "x = 1\n");
        write(root, ".metrics/today.jsonl", "{}\n");
        let outputs = vec![".metrics/today.jsonl".to_owned()];
        let before = Walk::take(root, &[]).digest(&[], &outputs);
        std::thread::sleep(std::time::Duration::from_millis(30));
        write(root, ".metrics/today.jsonl", "{}\n{}\n");
        assert_eq!(before, Walk::take(root, &[]).digest(&[], &outputs));
        std::fs::remove_file(root.join(".metrics/today.jsonl")).unwrap();
        assert_eq!(before, Walk::take(root, &[]).digest(&[], &outputs));
        write(root, ".metrics/tomorrow.jsonl", "{}\n");
        assert_ne!(before, Walk::take(root, &[]).digest(&[], &outputs));
    }

    #[test]
    fn racy_files_are_left_to_their_content() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "a.py", "x = 1\n");
        write(root, "b.py", "y = 1\n");
        let walk = Walk::take(root, &[]);
        // Just written: both are within the racy window of the walk.
        let racy: Vec<String> = walk.racy(&[]).into_iter().map(str::to_owned).collect();
        assert_eq!(racy, vec!["a.py", "b.py"]);
        let before = walk.digest(&racy, &[]);
        // Rewritten with the same bytes: the stat changes, the fingerprint without the racy
        // files' stats does not (their content is compared on its own).
        std::thread::sleep(std::time::Duration::from_millis(30));
        write(root, "a.py", "x = 1\n");
        assert_eq!(before, Walk::take(root, &[]).digest(&racy, &[]));
        assert_ne!(
            walk.digest(&[], &[]),
            Walk::take(root, &[]).digest(&[], &[])
        );
    }

    #[test]
    fn paths_in_folders_not_walked_are_known() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "src/a.py", "");
        write(root, "env/pyvenv.cfg", "");
        write(root, "env/lib/x.py", "");
        let walk = Walk::take(root, &[]);
        let walked = walk.by_path();
        assert!(walked.contains("src/a.py"));
        assert!(!walked.under_opaque("src/a.py"));
        assert!(!walked.contains("env/lib/x.py"));
        assert!(walked.under_opaque("env/lib/x.py"));
    }

    #[test]
    fn a_damaged_record_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("warm").join("id");
        let record = Record {
            tree: Digest::of(b"t"),
            racy: BTreeMap::new(),
            outside: vec![(PathBuf::from("/etc/hosts"), Probe::Absent)],
            outputs: Vec::new(),
            results: Vec::new(),
            facts: BTreeMap::new(),
        };
        write_record(&file, &record);
        assert!(read(&file).is_some());
        let mut bytes = std::fs::read(&file).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 1;
        std::fs::write(&file, bytes).unwrap();
        assert!(read(&file).is_none());
    }

    #[test]
    fn a_record_whose_digests_are_not_digests_reads_as_none() {
        let good = Digest::of(b"t").to_hex();
        let record = |tree: &str| {
            let json = format!(
                r#"{{"tree":"{tree}","racy":{{}},"outside":[],"outputs":[],"results":[],"facts":{{}}}}"#
            );
            crate::cache::frame(json.as_bytes())
        };
        assert!(parse(&record(&good)).is_some());
        for bad in ["../../x", "/etc/passwd", "t", &good.to_ascii_uppercase()] {
            assert!(parse(&record(bad)).is_none(), "{bad}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 64,
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// A record file of any bytes (framed or not) never panics the reader.
        #[test]
        fn arbitrary_record_bytes_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            json in "\\PC{0,200}",
        ) {
            let _ = parse(&bytes);
            let _ = parse(&crate::cache::frame(&bytes));
            let _ = parse(&crate::cache::frame(json.as_bytes()));
        }
    }
}
