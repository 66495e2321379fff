//! The result cache: one file per step result, named by the step's key, written atomically and
//! carrying its own digest so that a torn, truncated or tampered entry reads as a miss.
//!
//! Layout: `<dir>/entries/<aa>/<key>.json` and `<dir>/stats.jsonl` (one line per run). An entry
//! is `xtask-cache v1 <sha256 of payload>\n<payload>`. A hit touches the entry's mtime (when it is
//! more than an hour old), which is what least-recently-used eviction sorts by.
//!
//! The storage primitive is `read_entry`/`write_entry` (key -> opaque bytes). On top of it, steps
//! whose reads are observed use a two-level lookup, as ccache's manifests do: the declared key
//! names a manifest of read sets, each naming the result computed from those reads.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::digest::Digest;
use crate::fsutil;
use crate::remote_cache::RemoteStore;
use crate::tools::result::StepResult;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// An entry used again within this long keeps its mtime: eviction order is by the hour, and a
/// hit needs no write.
const TOUCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// A file's bytes and its mtime, from one open (the mtime by `fstat` of the same file).
fn read_with_mtime(path: &Path) -> std::io::Result<(Vec<u8>, Option<SystemTime>)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let metadata = file.metadata()?;
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.read_to_end(&mut bytes)?;
    Ok((bytes, metadata.modified().ok()))
}

/// Bump when the meaning of a key or the shape of a payload changes: old entries then miss.
pub const SCHEMA_VERSION: u32 = 3;

const MAGIC: &str = "xtask-cache v1";

/// The parts of the cache folder the engine's records own (warm-run records, flaky marks, the
/// audit log), named here so that `clean` and `verify` do not reach up into the engine.
pub const WARM_DIR: &str = "warm";
pub const FLAKY_DIR: &str = "flaky";
pub const AUDIT_LOG: &str = "audit.jsonl";

pub enum Lookup {
    Hit(Box<StepResult>),
    Miss,
    /// The entry exists but cannot be trusted; it is a miss, and the caller says why.
    Corrupt(String),
}

#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunStats {
    pub hits: u64,
    pub misses: u64,
    pub stored: u64,
    /// The run was answered by the warm-run record (`engine::warm`), with no lookup; logged
    /// as `"record": true`.
    #[serde(rename = "record", default)]
    pub from_record: bool,
}

pub struct Cache {
    dir: PathBuf,
    max_bytes: u64,
    /// First write error only: a read-only cache warns once, not once per step.
    write_warning: Mutex<Option<String>>,
    stats: Mutex<RunStats>,
    /// The shared remote cache under this one, if `[cache.remote]` is set.
    remote: Option<RemoteStore>,
    /// Entries this run read or wrote: the size cap never evicts them at its end, so a
    /// project whose one run needs more than the cap keeps what the next run asks for,
    /// instead of evicting it and running every tool again.
    used: Mutex<std::collections::HashSet<PathBuf>>,
}

impl Cache {
    pub fn open(dir: &Path, max_bytes: u64) -> Cache {
        Cache {
            dir: dir.to_path_buf(),
            max_bytes,
            write_warning: Mutex::new(None),
            stats: Mutex::new(RunStats::default()),
            remote: None,
            used: Mutex::default(),
        }
    }

    /// Puts a remote cache under this one: local misses ask it, local stores go to it.
    pub fn with_remote(mut self, remote: Option<RemoteStore>) -> Cache {
        self.remote = remote;
        self
    }

    /// Remote hook: fetches, in parallel, the remote entries of `keys` that have no local
    /// entry, so that `get` finds them without a round trip. Returns the run's one warning
    /// about the remote, if it had a problem.
    pub fn prefetch(&self, keys: &[Digest]) -> Option<String> {
        let remote = self.remote.as_ref()?;
        // Round one: the results of declared keys and the manifests of observed steps (a step's
        // kind decides which it has; asking for both costs one request more per key).
        let declared: Vec<Digest> = keys
            .iter()
            .flat_map(|key| [*key, manifest_key(key)])
            .collect();
        self.prefetch_missing(remote, declared);
        // Round two: the results the manifests fetched in round one name.
        let named: Vec<Digest> = keys
            .iter()
            .flat_map(|key| self.manifest(key).sets.into_iter().map(|set| set.result))
            .collect();
        self.prefetch_missing(remote, named);
        remote.take_warning()
    }

    fn prefetch_missing(&self, remote: &RemoteStore, keys: Vec<Digest>) {
        let missing: Vec<Digest> = keys
            .into_iter()
            .filter(|key| !self.entry_path(key).exists())
            .collect();
        if !missing.is_empty() {
            // Verified entries go straight to the local cache (best effort): a run holds no
            // more remote bytes in memory than the requests in flight.
            remote.prefetch(&missing, |key, bytes| {
                fsutil::write_atomic_regenerable(&self.entry_path(key), bytes).is_ok()
            });
        }
    }

    /// Remote hook: sends the entries stored this run to the remote; returns the run's one
    /// warning about the remote if it had a problem not yet reported.
    pub fn flush_remote(&self) -> Option<String> {
        let remote = self.remote.as_ref()?;
        remote.flush();
        remote.take_warning()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entries_dir(&self) -> PathBuf {
        self.dir.join("entries")
    }

    /// `entries/<first two hex digits>/<64 hex digits>.json`: built from a `Digest` alone, so no
    /// key can name a path outside the entries folder.
    fn entry_path(&self, key: &Digest) -> PathBuf {
        let hex = key.to_hex();
        self.entries_dir()
            .join(hex.get(..2).unwrap_or_default())
            .join(format!("{hex}.json"))
    }

    /// The bytes stored under `key`, touching the entry for LRU eviction; `None` when absent.
    /// With `write_entry`, the storage primitive `get` and `put` are built on.
    pub fn read_entry(&self, key: &Digest) -> Option<Vec<u8>> {
        let path = self.entry_path(key);
        let Ok((bytes, modified)) = read_with_mtime(&path) else {
            // Remote hook: a local miss asks the remote; its verified bytes are kept locally
            // (best effort) and used like a local entry.
            let bytes = self.remote.as_ref()?.get(key)?;
            let _ = fsutil::write_atomic_regenerable(&path, &bytes);
            self.used(path);
            return Some(bytes);
        };
        self.used(path.clone());
        // Recency for eviction, refreshed at most once per `TOUCH_INTERVAL`: a warm run then
        // costs no write per hit. Failure (read-only cache) only weakens LRU order.
        let stale = modified
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .is_none_or(|age| age >= TOUCH_INTERVAL);
        if stale && let Ok(file) = std::fs::File::options().write(true).open(&path) {
            let _ = file.set_modified(SystemTime::now());
        }
        Some(bytes)
    }

    fn used(&self, entry: PathBuf) {
        self.used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(entry);
    }

    /// Stores `bytes` under `key`, atomically.
    pub fn write_entry(&self, key: &Digest, bytes: &[u8]) -> Result<()> {
        let path = self.entry_path(key);
        fsutil::write_atomic_regenerable(&path, bytes)?;
        self.used(path);
        // Remote hook: queue the same bytes for the remote (sent by `flush_remote`).
        if let Some(remote) = &self.remote {
            remote.put(key, bytes);
        }
        Ok(())
    }

    pub fn get(&self, key: &Digest) -> Lookup {
        let Some(bytes) = self.read_entry(key) else {
            self.count(|s| s.misses += 1);
            return Lookup::Miss;
        };
        match decode(&bytes) {
            Ok(result) => {
                self.count(|s| s.hits += 1);
                Lookup::Hit(Box::new(result))
            }
            Err(reason) => {
                self.count(|s| s.misses += 1);
                Lookup::Corrupt(format!(
                    "cache entry {} is unusable ({reason})",
                    self.entry_path(key).display()
                ))
            }
        }
    }

    /// Stores a verdict; returns a warning the first time the cache cannot be written.
    pub fn put(&self, key: &Digest, result: &StepResult) -> Option<String> {
        debug_assert!(result.cacheable());
        // Entries carry their digest: a torn entry after a power loss reads as a miss.
        let written = encode(result).and_then(|bytes| self.write_entry(key, &bytes));
        self.stored(written)
    }

    fn stored(&self, written: Result<()>) -> Option<String> {
        match written {
            Ok(()) => {
                self.count(|s| s.stored += 1);
                None
            }
            Err(error) => {
                let mut warned = self.write_warning.lock().unwrap_or_else(|e| e.into_inner());
                if warned.is_some() {
                    return None;
                }
                let message = format!(
                    "results are not cached: cannot write to {} ({error:#}); set XTASK_CACHE_DIR to a writable folder",
                    self.dir.display()
                );
                *warned = Some(message.clone());
                Some(message)
            }
        }
    }

    /// The read sets recorded under a declared key, newest first, as they are stored; empty
    /// when there is none, an error when there is one that cannot be trusted.
    fn read_manifest(&self, declared: &Digest) -> Result<Vec<u8>, String> {
        let Some(bytes) = self.read_entry(&manifest_key(declared)) else {
            return Ok(Vec::new());
        };
        unframe(&bytes).map(<[u8]>::to_vec)
    }

    /// The read sets recorded under a declared key, newest first (a damaged one reads empty).
    pub fn manifest(&self, declared: &Digest) -> Manifest {
        self.read_manifest(declared)
            .and_then(|payload| Manifest::decode(&payload))
            .unwrap_or_default()
    }

    /// Two-level lookup for steps whose reads were observed: the declared key finds the
    /// manifest; the first read set for which `unchanged` holds names the result. A read set
    /// with any changed read never answers. Read sets are checked as borrowed (entry, state)
    /// pairs of the stored bytes, in entry order: a warm run allocates nothing per read.
    pub fn get_observed(
        &self,
        declared: &Digest,
        unchanged: impl Fn(&[(&str, &str)]) -> bool,
    ) -> Lookup {
        let found = self.read_manifest(declared).and_then(|payload| {
            let view = ManifestView::parse(&payload)?;
            Ok(view
                .sets
                .iter()
                .find(|set| unchanged(&set.reads))
                .map(|set| set.result))
        });
        match found {
            Ok(Some(result)) => self.get(&result),
            Ok(None) => {
                self.count(|s| s.misses += 1);
                Lookup::Miss
            }
            Err(reason) => {
                self.count(|s| s.misses += 1);
                Lookup::Corrupt(format!(
                    "cache entry {} is unusable ({reason})",
                    self.entry_path(&manifest_key(declared)).display()
                ))
            }
        }
    }

    /// Stores a verdict with the reads it was computed from, adding the read set to the
    /// declared key's manifest (newest first, at most `MANIFEST_SETS`).
    pub fn put_observed(
        &self,
        declared: &Digest,
        reads: &ReadSet,
        result: &StepResult,
    ) -> Option<String> {
        let result_key = observed_result_key(declared, reads);
        if let Some(warning) = self.put(&result_key, result) {
            return Some(warning);
        }
        let mut manifest = self.manifest(declared);
        manifest.sets.retain(|set| set.result != result_key);
        manifest.sets.insert(
            0,
            ManifestSet {
                reads: reads.clone(),
                result: result_key,
            },
        );
        manifest.sets.truncate(MANIFEST_SETS);
        let written = self.write_entry(&manifest_key(declared), &frame(&manifest.encode()));
        match written {
            Ok(()) => None,
            Err(error) => self.stored(Err(error)),
        }
    }

    /// Keeps only the read sets of `declared`'s manifest for which `keep` holds, removing the
    /// results of the others: how `cache audit` evicts a wrong answer and a `--no-cache` run
    /// drops the answers its fresher verdict supersedes. Local only; best effort.
    pub fn retain_sets(&self, declared: &Digest, keep: impl Fn(&ManifestSet) -> bool) {
        let mut manifest = self.manifest(declared);
        let before = manifest.sets.len();
        let (kept, dropped): (Vec<ManifestSet>, Vec<ManifestSet>) =
            manifest.sets.drain(..).partition(|set| keep(set));
        if kept.len() == before {
            return;
        }
        manifest.sets = kept;
        let _ = fsutil::write_atomic_regenerable(
            &self.entry_path(&manifest_key(declared)),
            &frame(&manifest.encode()),
        );
        for set in dropped {
            if manifest.sets.iter().all(|kept| kept.result != set.result) {
                self.remove_entry(&set.result);
            }
        }
    }

    /// Removes the local entry under `key`; returns whether there was one.
    pub fn remove_entry(&self, key: &Digest) -> bool {
        std::fs::remove_file(self.entry_path(key)).is_ok()
    }

    /// Remembers what the newest key of a (component, step) was made of, for `cache explain`.
    /// Kept beside the entries, not among them: it explains this checkout's runs, so it is
    /// neither shared nor evicted with results.
    pub fn put_last(&self, component: &str, step: &str, record: &serde_json::Value) {
        if let Ok(payload) = serde_json::to_vec(record) {
            // Best effort: without it, `cache explain` can only say "no entry yet".
            let _ = fsutil::write_atomic_regenerable(
                &self.last_path(component, step),
                &frame(&payload),
            );
        }
    }

    /// The record `put_last` wrote, if any.
    pub fn last(&self, component: &str, step: &str) -> Option<serde_json::Value> {
        let bytes = std::fs::read(self.last_path(component, step)).ok()?;
        serde_json::from_slice(unframe(&bytes).ok()?).ok()
    }

    fn last_path(&self, component: &str, step: &str) -> PathBuf {
        self.dir
            .join("explain")
            .join(format!("{}.json", last_key(component, step)))
    }

    fn count(&self, update: impl FnOnce(&mut RunStats)) {
        update(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Counts a hit served without a lookup (the warm-run record's answers).
    pub fn count_hit(&self) {
        self.count(|s| {
            s.hits += 1;
            s.from_record = true;
        });
    }

    pub fn run_stats(&self) -> RunStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends this run's hit counts to the stats log and enforces the size cap. Both are best
    /// effort: a cache that cannot be maintained still served this run.
    pub fn finish_run(&self) {
        let stats = self.run_stats();
        if stats.hits + stats.misses == 0 {
            return;
        }
        let mut fields = serde_json::Map::new();
        fields.insert(
            "at".into(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
                .into(),
        );
        fields.insert("hits".into(), stats.hits.into());
        fields.insert("misses".into(), stats.misses.into());
        fields.insert("stored".into(), stats.stored.into());
        if stats.from_record {
            fields.insert("record".into(), true.into());
        }
        if let Some(remote) = &self.remote {
            fields.insert("remote".into(), serde_json::json!(remote.stats()));
        }
        let line = serde_json::Value::Object(fields);
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("stats.jsonl"))
        {
            // One short line per write: O_APPEND keeps concurrent runs' lines whole.
            let _ = file.write_all(format!("{line}\n").as_bytes());
        }
        if stats.stored > 0 {
            let used = std::mem::take(&mut *self.used.lock().unwrap_or_else(|e| e.into_inner()));
            let _ = self.evict_to(self.max_bytes, &used);
        }
    }

    /// Every entry file with its size and last use.
    fn entries(&self) -> Vec<(PathBuf, u64, SystemTime)> {
        let mut entries = Vec::new();
        let Ok(shards) = std::fs::read_dir(self.entries_dir()) else {
            return entries;
        };
        for shard in shards.flatten() {
            let Ok(files) = std::fs::read_dir(shard.path()) else {
                continue;
            };
            for file in files.flatten() {
                let name = file.file_name();
                if !name.to_string_lossy().ends_with(".json") {
                    continue;
                }
                if let Ok(metadata) = file.metadata() {
                    entries.push((
                        file.path(),
                        metadata.len(),
                        metadata.modified().unwrap_or(UNIX_EPOCH),
                    ));
                }
            }
        }
        entries
    }

    /// Deletes least recently used entries until the cache holds at most `max_bytes`, never
    /// removing those in `keep` (the ones the run used): they stay even when they alone are
    /// over `max_bytes`.
    fn evict_to(&self, max_bytes: u64, keep: &std::collections::HashSet<PathBuf>) -> Result<u64> {
        let mut entries = self.entries();
        let mut total: u64 = entries.iter().map(|(_, size, _)| size).sum();
        entries.retain(|(path, _, _)| !keep.contains(path));
        entries.sort_by_key(|(_, _, used)| *used);
        let mut removed = 0;
        for (path, size, _) in entries {
            if total <= max_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= size;
                removed += 1;
            }
        }
        Ok(removed)
    }

    pub fn summary(&self) -> CacheSummary {
        let entries = self.entries();
        let history: Vec<RunStats> = std::fs::read_to_string(self.dir.join("stats.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        let recent = history
            .get(history.len().saturating_sub(20)..)
            .unwrap_or_default();
        let hits: u64 = recent.iter().map(|s| s.hits).sum();
        let lookups: u64 = recent.iter().map(|s| s.hits + s.misses).sum();
        CacheSummary {
            dir: self.dir.clone(),
            entries: entries.len() as u64,
            bytes: entries.iter().map(|(_, size, _)| size).sum(),
            max_bytes: self.max_bytes,
            recent_runs: recent.len() as u64,
            recent_hit_rate: (lookups > 0).then(|| hits as f64 / lookups as f64),
        }
    }

    /// Removes every entry and the stats log.
    pub fn clean(&self) -> Result<u64> {
        let count = self.entries().len() as u64;
        if self.entries_dir().exists() {
            std::fs::remove_dir_all(self.entries_dir())
                .with_context(|| format!("failed to remove {}", self.entries_dir().display()))?;
        }
        let _ = std::fs::remove_file(self.dir.join("stats.jsonl"));
        let _ = std::fs::remove_dir_all(self.dir.join("explain"));
        let _ = std::fs::remove_dir_all(self.dir.join(WARM_DIR));
        // Flaky marks and the audit log go too: `clean` starts the cache over.
        let _ = std::fs::remove_dir_all(self.dir.join(FLAKY_DIR));
        let _ = std::fs::remove_file(self.dir.join(AUDIT_LOG));
        Ok(count)
    }

    /// Rechecks every file under `entries/`: named `<aa>/<digest>.json` by a key, framed with a
    /// digest that matches, holding a verdict or a manifest whose result keys are digests.
    /// Returns the number checked and the bad ones with why, removed when `repair`.
    /// `is_warm_record` is the engine's reading of a warm-run record (`engine::warm::is_record`),
    /// passed in so that storage does not reach up into the engine.
    pub fn verify(
        &self,
        repair: bool,
        is_warm_record: fn(&[u8]) -> bool,
    ) -> (u64, Vec<(PathBuf, String)>) {
        let mut bad = Vec::new();
        let warm = self.warm_files();
        let files: Vec<PathBuf> = self.entry_files().into_iter().chain(warm.clone()).collect();
        for path in &files {
            let outcome = if warm.contains(path) {
                check_warm_record(path, is_warm_record)
            } else {
                entry_name_is_a_digest(path).and_then(|()| {
                    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
                    check_entry(&bytes)
                })
            };
            if let Err(reason) = outcome {
                if repair {
                    let _ = std::fs::remove_file(path);
                }
                bad.push((path.clone(), reason));
            }
        }
        (files.len() as u64, bad)
    }

    /// The warm-run records (`engine::warm`), except the temp files of writes.
    fn warm_files(&self) -> Vec<PathBuf> {
        let folder = self.dir.join(WARM_DIR);
        let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|file| {
                !file
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".xtask-tmp-")
            })
            .map(|file| file.path())
            .collect();
        files.sort();
        files
    }

    /// Every file in the entries folder and its shards, whatever its name, except the temp files
    /// of writes (`remove_orphaned_temp_files` takes those).
    fn entry_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut folders = vec![self.entries_dir()];
        while let Some(folder) = folders.pop() {
            let Ok(listing) = std::fs::read_dir(&folder) else {
                continue;
            };
            for file in listing.flatten() {
                let Ok(kind) = file.file_type() else { continue };
                if kind.is_dir() {
                    folders.push(file.path());
                } else if !file
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".xtask-tmp-")
                {
                    files.push(file.path());
                }
            }
        }
        files.sort();
        files
    }
}

/// Whether `path` is where `Cache::entry_path` would put some key.
fn entry_name_is_a_digest(path: &Path) -> Result<(), String> {
    let named = path
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_suffix(".json"))
        .and_then(|stem| Digest::parse(stem).ok());
    let shard = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|name| name.to_str());
    match named {
        Some(key) if shard == key.to_hex().get(..2) => Ok(()),
        _ => Err("not named by a digest".to_owned()),
    }
}

/// Whether `path` is a warm-run record a run would use: named by a digest, framed, typed.
fn check_warm_record(path: &Path, is_warm_record: fn(&[u8]) -> bool) -> Result<(), String> {
    let named = path
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| Digest::parse(name).is_ok());
    if !named {
        return Err("not named by a digest".to_owned());
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    match is_warm_record(&bytes) {
        true => Ok(()),
        false => Err("not a warm-run record".to_owned()),
    }
}

/// Whether `bytes` are an entry a lookup would use: a verdict, or a manifest whose every result
/// key is a digest.
fn check_entry(bytes: &[u8]) -> Result<(), String> {
    let payload = unframe(bytes)?;
    if payload.starts_with(MANIFEST_MAGIC) {
        ManifestView::parse(payload).map(|_| ())
    } else {
        decode(bytes).map(|_| ())
    }
}

impl Cache {
    /// Removes the temp files of atomic writes that a killed run left in the cache (0-byte or
    /// partial `.xtask-tmp-*` files), when older than `age`: a live write holds its temp file
    /// for milliseconds, so an old one has no writer. Returns the files removed.
    pub fn remove_orphaned_temp_files(&self, age: std::time::Duration) -> Vec<PathBuf> {
        let cutoff = SystemTime::now().checked_sub(age).unwrap_or(UNIX_EPOCH);
        let mut removed = Vec::new();
        let mut folders = vec![self.dir.clone()];
        while let Some(folder) = folders.pop() {
            let Ok(files) = std::fs::read_dir(&folder) else {
                continue;
            };
            for file in files.flatten() {
                let Ok(metadata) = file.metadata() else {
                    continue;
                };
                if metadata.is_dir() {
                    folders.push(file.path());
                } else if file
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".xtask-tmp-")
                    && metadata.modified().is_ok_and(|m| m < cutoff)
                    && std::fs::remove_file(file.path()).is_ok()
                {
                    removed.push(file.path());
                }
            }
        }
        removed
    }
}

/// How old a temp file in the cache must be to count as orphaned.
pub const ORPHAN_AGE: std::time::Duration = std::time::Duration::from_secs(600);

#[derive(Debug, Serialize)]
pub struct CacheSummary {
    pub dir: PathBuf,
    pub entries: u64,
    pub bytes: u64,
    pub max_bytes: u64,
    pub recent_runs: u64,
    pub recent_hit_rate: Option<f64>,
}

/// At most this many read sets per declared key: a step whose reads keep changing (say, tests
/// that read the clock's folder) must not grow its manifest without bound.
const MANIFEST_SETS: usize = 8;

/// Reads observed while a step ran (see `engine::observe`).
pub type ReadSet = std::collections::BTreeMap<String, String>;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub sets: Vec<ManifestSet>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ManifestSet {
    pub reads: ReadSet,
    pub result: Digest,
}

/// First bytes of a manifest payload; bump with its layout.
const MANIFEST_MAGIC: &[u8] = b"xtask-manifest v2\n";

/// A manifest payload is `MANIFEST_MAGIC`, then per set: its result key, its number of reads,
/// and each read's entry and state; every string length-prefixed (u32, little-endian). Binary
/// rather than JSON: a warm run reads one manifest per observed step, and JSON parsing with a
/// `String` per read was most of checking a read set.
impl Manifest {
    /// A manifest payload, owned; see `ManifestView::parse`.
    fn decode(payload: &[u8]) -> Result<Manifest, String> {
        let sets = ManifestView::parse(payload)?.sets;
        Ok(Manifest {
            sets: sets
                .into_iter()
                .map(|set| ManifestSet {
                    reads: set
                        .reads
                        .iter()
                        .map(|(entry, state)| ((*entry).to_owned(), (*state).to_owned()))
                        .collect(),
                    result: set.result,
                })
                .collect(),
        })
    }

    fn encode(&self) -> Vec<u8> {
        fn put(out: &mut Vec<u8>, text: &str) {
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        let mut out = MANIFEST_MAGIC.to_vec();
        for set in &self.sets {
            put(&mut out, &set.result.to_hex());
            out.extend_from_slice(&(set.reads.len() as u32).to_le_bytes());
            for (entry, state) in &set.reads {
                put(&mut out, entry);
                put(&mut out, state);
            }
        }
        out
    }
}

/// A manifest read in place: its strings borrow the payload.
struct ManifestView<'b> {
    sets: Vec<SetView<'b>>,
}

struct SetView<'b> {
    /// Parsed where it is read: a result key that is not a digest (an absolute path, `../`,
    /// a non-ASCII character) makes the whole manifest unusable, and never becomes a path.
    result: Digest,
    reads: Vec<(&'b str, &'b str)>,
}

impl<'b> ManifestView<'b> {
    /// An empty payload is an empty manifest (none stored yet). Never panics, whatever the bytes.
    fn parse(payload: &'b [u8]) -> Result<ManifestView<'b>, String> {
        let mut sets = Vec::new();
        if payload.is_empty() {
            return Ok(ManifestView { sets });
        }
        let mut rest = payload
            .strip_prefix(MANIFEST_MAGIC)
            .ok_or("invalid manifest: unknown format")?;
        fn take<'b>(rest: &mut &'b [u8], n: usize) -> Result<&'b [u8], String> {
            if rest.len() < n {
                return Err("invalid manifest: truncated".to_owned());
            }
            let (head, tail) = rest.split_at(n);
            *rest = tail;
            Ok(head)
        }
        fn number(rest: &mut &[u8]) -> Result<usize, String> {
            let (bytes, tail) = rest
                .split_first_chunk::<4>()
                .ok_or("invalid manifest: truncated")?;
            *rest = tail;
            Ok(u32::from_le_bytes(*bytes) as usize)
        }
        fn text<'b>(rest: &mut &'b [u8]) -> Result<&'b str, String> {
            let len = number(rest)?;
            std::str::from_utf8(take(rest, len)?)
                .map_err(|_| "invalid manifest: not UTF-8".to_owned())
        }
        while !rest.is_empty() {
            let result = Digest::parse(text(&mut rest)?)
                .map_err(|_| "invalid manifest: a result key is not a digest".to_owned())?;
            let count = number(&mut rest)?;
            // Each read takes at least 8 bytes: a bogus count cannot make us allocate much.
            let mut reads = Vec::with_capacity(count.min(rest.len() / 8));
            for _ in 0..count {
                reads.push((text(&mut rest)?, text(&mut rest)?));
            }
            sets.push(SetView { result, reads });
        }
        Ok(ManifestView { sets })
    }
}

// Keys are derived from the hex text of the declared key, as they were when keys were text:
// entries written before keys became a type keep their names.
fn manifest_key(declared: &Digest) -> Digest {
    Digest::of_parts(&[b"manifest", declared.to_hex().as_bytes()])
}

fn observed_result_key(declared: &Digest, reads: &ReadSet) -> Digest {
    let reads = serde_json::to_vec(reads).unwrap_or_default();
    Digest::of_parts(&[b"result", declared.to_hex().as_bytes(), &reads])
}

fn last_key(component: &str, step: &str) -> Digest {
    Digest::of_parts(&[b"last", component.as_bytes(), step.as_bytes()])
}

/// `MAGIC <sha256 of payload>\n<payload>`: entries, and the warm-run records beside them.
pub(crate) fn frame(payload: &[u8]) -> Vec<u8> {
    let digest = Digest::of(payload);
    let mut bytes = format!("{MAGIC} {digest}\n").into_bytes();
    bytes.extend_from_slice(payload);
    bytes
}

/// The payload of a framed entry whose digest matches; never panics, whatever the bytes.
pub(crate) fn unframe(bytes: &[u8]) -> Result<&[u8], String> {
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("no header line")?;
    let (header, payload) = bytes.split_at(newline);
    let payload = payload.get(1..).unwrap_or_default();
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    let digest = header
        .strip_prefix(MAGIC)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or("unknown header")?;
    let digest = Digest::parse(digest).map_err(|_| "the header's digest is not a digest")?;
    if Digest::of(payload) != digest {
        return Err("digest mismatch".to_owned());
    }
    Ok(payload)
}

/// For this repository's integration tests: rewrites every stored result of the step named
/// `step` in the cache folder `dir` to the opposite verdict (passed <-> failed) through the
/// entries' own encoding and framing, so the entry checks and only a fresh run can tell.
/// Returns how many were rewritten.
#[doc(hidden)]
pub fn flip_stored_verdicts(dir: &Path, step: &str) -> usize {
    use crate::tools::result::StepOutcome;
    let mut flipped = 0;
    for (path, _, _) in Cache::open(dir, u64::MAX).entries() {
        let Ok(mut result) = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| decode(&b))
        else {
            continue;
        };
        if result.name.id() != step {
            continue;
        }
        // A test run's verdict is its counts': one test moves between passed and failed.
        match &mut result.outcome {
            StepOutcome::Verdict { passed, .. } => *passed = !*passed,
            StepOutcome::TestRun { counts, .. } if counts.failed + counts.errors > 0 => {
                counts.passed += counts.failed + counts.errors;
                (counts.failed, counts.errors) = (0, 0);
            }
            StepOutcome::TestRun { counts, .. } => {
                counts.failed += 1;
                counts.passed = counts.passed.saturating_sub(1);
            }
            StepOutcome::Error(_) => continue,
        }
        if let Ok(bytes) = encode(&result)
            && fsutil::write_atomic_regenerable(&path, &bytes).is_ok()
        {
            flipped += 1;
        }
    }
    flipped
}

fn encode(result: &StepResult) -> Result<Vec<u8>> {
    let mut stored = result.clone();
    stored.cached = false;
    stored.not_cached = None;
    let payload = serde_json::to_vec(&stored).context("failed to serialise a cache entry")?;
    Ok(frame(&payload))
}

fn decode(bytes: &[u8]) -> Result<StepResult, String> {
    let payload = unframe(bytes)?;
    let mut result: StepResult =
        serde_json::from_slice(payload).map_err(|e| format!("invalid payload: {e}"))?;
    if !result.cacheable() {
        return Err("entry holds an error, which is never cached".to_owned());
    }
    result.cached = true;
    Ok(result)
}

#[cfg(test)]
mod hostile;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_removes_orphaned_temp_files_but_not_a_fresh_one() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), u64::MAX);
        let shard = dir.path().join("entries").join("ab");
        std::fs::create_dir_all(&shard).unwrap();
        let old = shard.join(".xtask-tmp-left");
        let fresh = shard.join(".xtask-tmp-writing");
        let entry = shard.join("ab12.json");
        for file in [&old, &fresh, &entry] {
            std::fs::write(file, b"").unwrap();
        }
        // The file a killed run left an hour ago.
        let hour_ago = SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(hour_ago)
            .unwrap();
        let removed = cache.remove_orphaned_temp_files(ORPHAN_AGE);
        assert_eq!(removed, vec![old.clone()]);
        assert!(!old.exists() && fresh.exists() && entry.exists());
    }
    use crate::tools::StepKind;

    fn result() -> StepResult {
        StepResult::verdict(
            StepKind::RuffCheck,
            "0.17.5",
            vec!["ruff".into(), "check".into()],
            true,
            vec![],
            12,
        )
    }

    fn key(text: &str) -> Digest {
        Digest::of(text.as_bytes())
    }

    static KEY: std::sync::LazyLock<Digest> = std::sync::LazyLock::new(|| key("declared"));

    #[test]
    fn round_trips_and_marks_hits_as_cached() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), u64::MAX);
        assert!(matches!(cache.get(&KEY), Lookup::Miss));
        assert!(cache.put(&KEY, &result()).is_none());
        let Lookup::Hit(hit) = cache.get(&KEY) else {
            panic!("expected a hit")
        };
        assert!(hit.cached);
        assert_eq!(
            StepResult {
                cached: false,
                ..*hit
            },
            result()
        );
        assert_eq!(
            cache.run_stats(),
            RunStats {
                hits: 1,
                misses: 1,
                stored: 1,
                from_record: false,
            }
        );
    }

    #[test]
    fn damaged_entries_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), u64::MAX);
        cache.put(&KEY, &result());
        let path = cache.entry_path(&KEY);
        let good = std::fs::read(&path).unwrap();

        let mut flipped = good.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 0x20;
        for bad in [
            flipped,
            Vec::new(),
            b"{not json".to_vec(),
            good[..good.len() / 2].to_vec(),
        ] {
            std::fs::write(&path, &bad).unwrap();
            assert!(matches!(cache.get(&KEY), Lookup::Corrupt(_)));
        }
        let (checked, broken) = cache.verify(true, crate::engine::warm::is_record);
        assert_eq!((checked, broken.len()), (1, 1));
        assert!(!path.exists());
    }

    /// Well framed, but a step object whose parts disagree: read as neither half.
    #[test]
    fn an_entry_whose_status_and_counts_disagree_is_a_corrupt_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), u64::MAX);
        let tests = StepResult::test_run(
            StepKind::Pytest,
            "9.2.0",
            vec!["python".into()],
            crate::tools::pytest::TestCounts {
                total: 2,
                passed: 1,
                failed: 1,
                ..Default::default()
            },
            None,
            vec![],
            40,
        );
        cache.put(&KEY, &tests);
        let path = cache.entry_path(&KEY);
        let good: serde_json::Value =
            serde_json::from_slice(unframe(&std::fs::read(&path).unwrap()).unwrap()).unwrap();
        assert_eq!(good["status"], "failed");
        assert!(matches!(cache.get(&KEY), Lookup::Hit(_)));
        let mut lies = Vec::new();
        for (field, value) in [
            ("status", serde_json::json!("passed")),
            ("tool", serde_json::json!("ruff")),
            ("tests", serde_json::Value::Null),
            (
                "error",
                serde_json::json!({"kind": "crashed", "message": "x"}),
            ),
        ] {
            let mut lie = good.clone();
            lie[field] = value;
            lies.push(lie);
        }
        for lie in lies {
            std::fs::write(&path, frame(&serde_json::to_vec(&lie).unwrap())).unwrap();
            assert!(
                matches!(cache.get(&KEY), Lookup::Corrupt(_)),
                "read as an answer: {lie}"
            );
        }
    }

    fn reads(pairs: &[(&str, &str)]) -> ReadSet {
        pairs
            .iter()
            .map(|(e, s)| ((*e).to_owned(), (*s).to_owned()))
            .collect()
    }

    #[test]
    fn observed_entries_answer_only_for_a_matching_read_set() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), u64::MAX);
        let old = reads(&[("f a.py", "f:01"), ("l src", "l:02")]);
        let new = reads(&[("f a.py", "f:03"), ("l src", "l:02"), ("f b.py", "-")]);
        assert!(cache.put_observed(&KEY, &old, &result()).is_none());
        let mut second = result();
        second.duration_ms = 99;
        assert!(cache.put_observed(&KEY, &new, &second).is_none());
        // Newest first, each set whole and in entry order.
        let manifest = cache.manifest(&KEY);
        assert_eq!(manifest.sets.len(), 2);
        assert_eq!(manifest.sets[0].reads, new);
        assert_eq!(manifest.sets[1].reads, old);
        let current = |state: &'static str| {
            move |set: &[(&str, &str)]| set.iter().all(|(e, s)| *e != "f a.py" || *s == state)
        };
        let Lookup::Hit(hit) = cache.get_observed(&KEY, current("f:01")) else {
            panic!("expected the older set to answer")
        };
        assert_eq!(hit.duration_ms, 12);
        let Lookup::Hit(hit) = cache.get_observed(&KEY, current("f:03")) else {
            panic!("expected the newer set to answer")
        };
        assert_eq!(hit.duration_ms, 99);
        assert!(matches!(
            cache.get_observed(&KEY, current("f:04")),
            Lookup::Miss
        ));
        assert!(matches!(
            cache.get_observed(&key("other"), |_| true),
            Lookup::Miss
        ));
    }

    #[test]
    fn retained_sets_keep_their_results_and_dropped_ones_lose_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), u64::MAX);
        let old = reads(&[("f a.py", "f:01")]);
        let new = reads(&[("f a.py", "f:01"), ("f b.py", "f:02")]);
        cache.put_observed(&KEY, &old, &result());
        cache.put_observed(&KEY, &new, &result());
        let (old_result, new_result) = (
            observed_result_key(&KEY, &old),
            observed_result_key(&KEY, &new),
        );
        cache.retain_sets(&KEY, |set| set.reads == new);
        let manifest = cache.manifest(&KEY);
        assert_eq!(manifest.sets.len(), 1);
        assert_eq!(manifest.sets[0].result, new_result);
        assert!(!cache.entry_path(&old_result).exists());
        assert!(matches!(cache.get(&new_result), Lookup::Hit(_)));
        // Nothing to drop: nothing is written.
        cache.retain_sets(&KEY, |_| true);
        assert_eq!(cache.manifest(&KEY).sets.len(), 1);
        assert!(cache.remove_entry(&new_result));
        assert!(!cache.remove_entry(&new_result));
    }

    #[test]
    fn a_damaged_manifest_is_a_corrupt_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), u64::MAX);
        cache.put_observed(&KEY, &reads(&[("f a.py", "f:01")]), &result());
        let path = cache.entry_path(&manifest_key(&KEY));
        let good = unframe(&std::fs::read(&path).unwrap()).unwrap().to_vec();
        // Well framed (the digest matches) but cut inside a read, or of another format.
        for payload in [&good[..good.len() - 2], b"{\"sets\": []}".as_slice()] {
            std::fs::write(&path, frame(payload)).unwrap();
            assert!(matches!(
                cache.get_observed(&KEY, |_| true),
                Lookup::Corrupt(_)
            ));
            assert_eq!(cache.manifest(&KEY), Manifest::default());
        }
    }

    #[test]
    fn eviction_drops_least_recently_used_first() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), u64::MAX);
        let [a1, a2, a3] = [key("a1"), key("a2"), key("a3")];
        for key in [&a1, &a2, &a3] {
            cache.put(key, &result());
        }
        let old = SystemTime::now() - std::time::Duration::from_secs(7200);
        for key in [&a1, &a3] {
            std::fs::File::options()
                .write(true)
                .open(cache.entry_path(key))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        // A hit refreshes aa03, so aa01 is the oldest.
        assert!(matches!(cache.get(&a3), Lookup::Hit(_)));
        let size = std::fs::metadata(cache.entry_path(&a2)).unwrap().len();
        cache.evict_to(size * 2, &Default::default()).unwrap();
        assert!(!cache.entry_path(&a1).exists());
        assert!(cache.entry_path(&a2).exists() && cache.entry_path(&a3).exists());
    }

    #[test]
    fn the_cap_never_evicts_what_the_run_used() {
        let dir = tempfile::tempdir().unwrap();
        let (old, used, stored) = (key("aa01"), key("aa02"), key("aa03"));
        Cache::open(dir.path(), u64::MAX).put(&old, &result());
        Cache::open(dir.path(), u64::MAX).put(&used, &result());
        let size = std::fs::metadata(Cache::open(dir.path(), 0).entry_path(&old))
            .unwrap()
            .len();
        // A run with room for one entry that reads one and stores another keeps both, and
        // evicts the one it did not use.
        let run = Cache::open(dir.path(), size);
        assert!(matches!(run.get(&used), Lookup::Hit(_)));
        assert!(run.put(&stored, &result()).is_none());
        run.finish_run();
        assert!(!run.entry_path(&old).exists());
        assert!(run.entry_path(&used).exists() && run.entry_path(&stored).exists());
    }

    #[test]
    fn a_read_only_cache_warns_once() {
        let dir = tempfile::tempdir().unwrap();
        let blocked = dir.path().join("file-not-folder");
        std::fs::write(&blocked, b"").unwrap();
        let cache = Cache::open(&blocked, u64::MAX);
        assert!(cache.put(&KEY, &result()).is_some());
        assert!(cache.put(&key("other"), &result()).is_none());
    }
}
