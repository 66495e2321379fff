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
use super::stat_at::{self, Found, Kind};
use super::walk::{Apart, Walk};
use super::{Results, RunContext, StepId};
use crate::tools::result::StepResult;

/// The records' folder in the cache folder.
pub const DIR: &str = crate::cache::WARM_DIR;
/// The first part of every identity: a new meaning of the record changes every name.
const MAGIC: &str = "xtask-warm v3";
/// Records kept, one per identity (command and environment): the newest ones.
const KEEP: usize = 8;

/// What the input walk itself reads in each folder above the project (the ignore files of
/// parent folders apply to it); what the tools read above it is in their traces.
const ABOVE_ROOT: &[&str] = &[".gitignore", ".ignore", ".git"];

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
        let root = &ctx.config.project.root;
        let own = ctx.locator.own_folders();
        let record = read(&file).filter(|_| !ctx.refresh);
        // A record with racy files is written again when it holds (their stat can be trusted
        // now), from the walk that checked it; any other check keeps no entries, and a miss
        // walks again for the record this run will write (before any step runs).
        let mut walk = None;
        let record = record.filter(|record| {
            let apart = Apart::new(
                record.racy.keys().map(String::as_str),
                record.outputs.iter().map(String::as_str),
            );
            let tree = if record.racy.is_empty() {
                Walk::fingerprint(root, own, &apart)
            } else {
                walk.insert(Walk::take(root, own)).digest(&apart)
            };
            tree == record.tree && still_holds(ctx, record)
        });
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
            state.walk = Some(walk.unwrap_or_else(|| Walk::take(root, own)));
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
            state.walk = walk;
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
        .map(|m| format!("{:?}", Stat::of(&m).fields()))
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

/// Whether the racy files and everything outside the project are still as `record` found
/// them (the walk's fingerprint is compared first).
fn still_holds(ctx: &RunContext<'_>, record: &Record) -> bool {
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
            m.kind == Kind::Folder && m.stat.fields() == *fields
        }
        (Probe::Listing(_, Some(names)), Some(m)) => {
            m.kind == Kind::Folder && listing_digest(path).as_ref() == Some(names)
        }
        (Probe::File(fields, None), Some(m)) => {
            m.kind != Kind::Folder && m.stat.fields() == *fields
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
            true if stat.is_racy(taken_ns) => {
                Some(Probe::Listing(stat.fields(), Some(listing_digest(path)?)))
            }
            true => Some(Probe::Listing(stat.fields(), None)),
            false => Some(Probe::Folder),
        };
    }
    let digest = if stat.is_racy(taken_ns) {
        Some(Digest::from(ctx.index.outside_digest(path)?))
    } else {
        None
    };
    Some(Probe::File(stat.fields(), digest))
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
    let now = super::digest_memo::now_ns();
    for path in walk.racy(
        root,
        &Apart::new([], outputs.iter().map(String::as_str)),
        now,
    ) {
        let digest = ctx.index.outside_digest(&root.join(&path))?;
        racy.insert(path, Digest::from(digest));
    }
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
        if inside && (rel == "." || (walk.contains(rel) && !walk.under_opaque(rel))) {
            return Some(());
        }
        note(path.clone(), listing)?;
        if inside
            && walk.under_opaque(rel)
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
        tree: walk.digest(&Apart::new(
            racy.keys().map(String::as_str),
            outputs.iter().map(String::as_str),
        )),
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
