//! A persistent stat memo: (device, inode, size, mtime, ctime) -> content digest, so a warm run
//! stats unchanged input files instead of reading and hashing them again.
//!
//! The memo is sound the way git's index is: an entry is trusted only when every stat field of
//! the file equals the recorded one *and* the recorded timestamps are not racy. A timestamp is
//! racy when it is not strictly older, by more than the coarsest filesystem timestamp
//! granularity, than the moment the file was hashed and than the memo file's own write time:
//! a file rewritten within the same timestamp tick as its hashing could keep all its stat fields
//! and yet hold other bytes. Such entries are never stored, so the file is hashed again on the
//! next run, when its timestamps have aged. Changing a file's bytes sets its ctime to the current
//! time, which no user can set back, so restoring the size and mtime (`touch -d`, `set_times`)
//! does not fool the memo either.
//!
//! The file is written atomically (temp file and rename) and carries a sha256 of its content: a
//! torn, truncated or tampered memo is ignored and rebuilt, never read as a wrong digest. Two
//! runs that save at the same time each merge the memo on disk with their own entries; the last
//! rename wins and every version that can win holds only valid entries. Its size is bounded by
//! keeping the most recently seen `MAX_ENTRIES` entries.

use super::fast_hash::Map as HashMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::digest::FileDigest;
use crate::fsutil;

/// First bytes of a memo file; bump the version when the layout changes (older files are then
/// ignored, not misread).
const MAGIC: &[u8] = b"xtask-digest-memo v1\n";

/// Timestamps this close to the hashing time (or later) are racy. Two seconds is the coarsest
/// granularity of a common filesystem (FAT); it also covers the kernel's coarse clock, which
/// stamps files up to a tick behind the wall clock we read.
pub const RACY_WINDOW_NS: i128 = 2_000_000_000;

/// The memo's file name in the cache folder.
pub const FILE_NAME: &str = "digest-memo";

/// Upper bound on remembered files: a few times the largest monorepo we measure, and a memo of
/// at most ~15 MiB.
pub const MAX_ENTRIES: usize = 100_000;

/// The stat fields that must all match for a memo entry to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl Stat {
    pub fn of(metadata: &std::fs::Metadata) -> Stat {
        Stat {
            dev: metadata.dev(),
            ino: metadata.ino(),
            size: metadata.size(),
            mtime_ns: i128::from(metadata.mtime()) * 1_000_000_000
                + i128::from(metadata.mtime_nsec()),
            ctime_ns: i128::from(metadata.ctime()) * 1_000_000_000
                + i128::from(metadata.ctime_nsec()),
        }
    }

    /// Whether a file with this stat, hashed at `hashed_at_ns`, could still have been rewritten
    /// afterwards without any stat field changing.
    /// The fields that identify a file's bytes, as stored in a warm-run record.
    pub fn fields(&self) -> [i64; 5] {
        [
            self.dev as i64,
            self.ino as i64,
            self.size as i64,
            self.mtime_ns as i64,
            self.ctime_ns as i64,
        ]
    }

    pub fn is_racy(&self, hashed_at_ns: i128) -> bool {
        self.mtime_ns.max(self.ctime_ns) + RACY_WINDOW_NS >= hashed_at_ns
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    stat: Stat,
    digest: FileDigest,
    /// Seconds since the epoch when a run last used the entry; the eviction order.
    seen: u64,
}

/// Paths as bytes: hashing a `Path` walks its components, and a warm run looks up every input.
type Key = Box<[u8]>;

fn key(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

/// An entry read from disk, and whether this run confirmed it (only those count as seen now).
struct Loaded {
    entry: Entry,
    used: AtomicBool,
}

/// The memo of one run: what was on disk when the run started, plus what this run hashed.
/// Saved when dropped if the run hashed anything new.
pub struct DigestMemo {
    /// Where the memo lives; `None` keeps it in memory for this run only.
    file: Option<PathBuf>,
    loaded: HashMap<Key, Loaded>,
    /// Entries this run hashed: always kept by a save, with the loaded ones it confirmed.
    current: Mutex<HashMap<Key, Entry>>,
    started: u64,
}

pub(super) fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

impl DigestMemo {
    /// A memo that lives only as long as this run.
    pub fn in_memory() -> DigestMemo {
        DigestMemo::with_entries(None, HashMap::default())
    }

    /// The memo stored at `file`; missing, unreadable or corrupt reads as empty.
    pub fn open(file: &Path) -> DigestMemo {
        let loaded = read(
            file,
            |_| true,
            |entry| Loaded {
                entry,
                used: AtomicBool::new(false),
            },
        )
        .unwrap_or_default();
        DigestMemo::with_entries(Some(file.to_path_buf()), loaded)
    }

    fn with_entries(file: Option<PathBuf>, loaded: HashMap<Key, Loaded>) -> DigestMemo {
        DigestMemo {
            file,
            loaded,
            current: Mutex::new(HashMap::default()),
            started: (now_ns() / 1_000_000_000) as u64,
        }
    }

    /// The sha256 of the file's bytes: from the memo when its stat is unchanged and not racy,
    /// else read and hashed (and remembered when its stat is not racy). `None` when the file
    /// cannot be read.
    pub fn digest(&self, path: &Path) -> Option<FileDigest> {
        if let Ok(metadata) = std::fs::metadata(path) {
            let stat = Stat::of(&metadata);
            if let Some(digest) = self.lookup(path, &stat) {
                return Some(digest);
            }
        }
        // The clock is read before the file: a rewrite after this moment stamps the file at
        // least this late (less the coarse clock's lag, which the racy window covers).
        let hashed_at = now_ns();
        let mut file = std::fs::File::open(path).ok()?;
        // fstat of the open file: the stat and the bytes are of the same inode, even when the
        // path is renamed over meanwhile.
        let stat = Stat::of(&file.metadata().ok()?);
        let mut bytes = Vec::with_capacity(stat.size as usize);
        file.read_to_end(&mut bytes).ok()?;
        let digest: FileDigest = Sha256::digest(&bytes).into();
        if !stat.is_racy(hashed_at) {
            self.remember(path, stat, digest);
        }
        Some(digest)
    }

    fn lookup(&self, path: &Path, stat: &Stat) -> Option<FileDigest> {
        if let Some(loaded) = self.loaded.get(key(path))
            && loaded.entry.stat == *stat
        {
            loaded.used.store(true, Ordering::Relaxed);
            return Some(loaded.entry.digest);
        }
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let entry = current.get(key(path)).filter(|e| e.stat == *stat)?;
        Some(entry.digest)
    }

    fn remember(&self, path: &Path, stat: Stat, digest: FileDigest) {
        let entry = Entry {
            stat,
            digest,
            seen: self.started,
        };
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key(path).into(), entry);
    }

    /// Writes the memo when this run hashed something it did not hold. Merges with the file as
    /// it is now, so entries another run saved meanwhile survive. Best effort: a memo that
    /// cannot be written only makes the next run slower.
    pub fn save(&self) {
        let Some(file) = &self.file else { return };
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.is_empty() {
            return;
        }
        // Only what another run saved meanwhile is read back: the entries held here are not
        // copied again (at 100,000 entries each copy of the memo is some 20 MB).
        let others: HashMap<Key, Entry> = read(
            file,
            |key| !self.loaded.contains_key(key) && !current.contains_key(key),
            |entry| entry,
        )
        .unwrap_or_default();
        let held = self.loaded.iter().map(|(path, loaded)| {
            let seen = if loaded.used.load(Ordering::Relaxed) {
                self.started
            } else {
                loaded.entry.seen
            };
            (
                &**path,
                Entry {
                    seen,
                    ..loaded.entry
                },
            )
        });
        let all = held
            .filter(|(path, _)| !current.contains_key(*path))
            .chain(current.iter().map(|(path, entry)| (&**path, *entry)))
            .chain(others.iter().map(|(path, entry)| (&**path, *entry)));
        let count = self.loaded.len() + current.len() + others.len()
            - self
                .loaded
                .keys()
                .filter(|k| current.contains_key(*k))
                .count();
        let bytes = if count > MAX_ENTRIES {
            let mut entries: Vec<(&[u8], Entry)> = all.collect();
            entries.sort_by_key(|(_, entry)| std::cmp::Reverse(entry.seen));
            entries.truncate(MAX_ENTRIES);
            encode(entries.len(), entries.into_iter())
        } else {
            encode(count, all)
        };
        current.clear();
        let _ = fsutil::write_atomic_regenerable(file, &bytes);
    }
}

impl Drop for DigestMemo {
    fn drop(&mut self) {
        self.save();
    }
}

/// The memo file of `count` entries.
fn encode<'a>(count: usize, entries: impl Iterator<Item = (&'a [u8], Entry)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 8 + count * 160 + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(count as u64).to_le_bytes());
    for (path, entry) in entries {
        out.extend_from_slice(&(path.len() as u32).to_le_bytes());
        out.extend_from_slice(path);
        out.extend_from_slice(&entry.stat.dev.to_le_bytes());
        out.extend_from_slice(&entry.stat.ino.to_le_bytes());
        out.extend_from_slice(&entry.stat.size.to_le_bytes());
        out.extend_from_slice(&entry.stat.mtime_ns.to_le_bytes());
        out.extend_from_slice(&entry.stat.ctime_ns.to_le_bytes());
        out.extend_from_slice(&entry.digest);
        out.extend_from_slice(&entry.seen.to_le_bytes());
    }
    let checksum = Sha256::digest(&out);
    out.extend_from_slice(&checksum);
    out
}

/// The memo's entries, or `None` when the file is missing or not a whole, intact memo. Entries
/// that are racy against the memo's own write time are dropped (git's rule; it only matters
/// when the clock that stamped the memo and the one we read disagree).
/// Only the entries whose path `wanted` accepts are kept.
fn read<T>(
    file: &Path,
    wanted: impl Fn(&[u8]) -> bool,
    wrap: impl Fn(Entry) -> T,
) -> Option<HashMap<Key, T>> {
    let bytes = std::fs::read(file).ok()?;
    let written = Stat::of(&std::fs::metadata(file).ok()?).mtime_ns;
    let (body, checksum) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
    if Sha256::digest(body).as_slice() != checksum {
        return None;
    }
    let mut reader = Reader {
        bytes: body.strip_prefix(MAGIC)?,
    };
    let count = reader.u64()?;
    let mut entries = HashMap::with_capacity_and_hasher(
        count.min(MAX_ENTRIES as u64) as usize,
        Default::default(),
    );
    for _ in 0..count {
        let length = reader.u32()? as usize;
        let path = reader.take(length)?;
        let stat = Stat {
            dev: reader.u64()?,
            ino: reader.u64()?,
            size: reader.u64()?,
            mtime_ns: reader.i128()?,
            ctime_ns: reader.i128()?,
        };
        let digest: FileDigest = reader.take(32)?.try_into().ok()?;
        let seen = reader.u64()?;
        if !stat.is_racy(written) && wanted(path) {
            entries.insert(path.into(), wrap(Entry { stat, digest, seen }));
        }
    }
    reader.bytes.is_empty().then_some(entries)
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.bytes.split_at_checked(n)?;
        self.bytes = tail;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn i128(&mut self) -> Option<i128> {
        Some(i128::from_le_bytes(self.take(16)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::time::Duration;

    fn sha(bytes: &[u8]) -> FileDigest {
        Sha256::digest(bytes).into()
    }

    /// Sets a file's mtime back by `by`.
    fn age(path: &Path, by: Duration) {
        let when = SystemTime::now() - by;
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    #[test]
    fn racy_timestamps_are_within_the_window_or_later() {
        let stat = |m: i128, c: i128| Stat {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns: m,
            ctime_ns: c,
        };
        let now = 100 * 1_000_000_000;
        assert!(!stat(now - RACY_WINDOW_NS - 1, now - RACY_WINDOW_NS - 1).is_racy(now));
        assert!(stat(now - RACY_WINDOW_NS, now - 3 * RACY_WINDOW_NS).is_racy(now));
        assert!(stat(now - 3 * RACY_WINDOW_NS, now - RACY_WINDOW_NS).is_racy(now));
        assert!(stat(now + 5, now - 3 * RACY_WINDOW_NS).is_racy(now));
    }

    #[test]
    fn a_freshly_written_file_is_hashed_but_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.py");
        std::fs::write(&file, "one").unwrap();
        let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
        let memo = DigestMemo::in_memory();
        assert_eq!(memo.digest(&file), Some(sha(b"one")));
        // Its timestamps are as new as the hashing: racy, so nothing is remembered, and a
        // rewrite in the same clock tick, same size and mtime put back, is still seen.
        assert!(memo.current.lock().unwrap().is_empty());
        std::fs::write(&file, "two").unwrap();
        File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_eq!(memo.digest(&file), Some(sha(b"two")));
        assert_eq!(memo.digest(&dir.path().join("missing.py")), None);
    }

    /// Writes a memo file whose one entry says `path`, at `stat`, holds `claimed`. The memo is
    /// stamped an hour ahead so that the entry is not racy against it however new `stat` is:
    /// the tests then see the stat comparison alone.
    fn memo_claiming(memo_file: &Path, path: &Path, claimed: &[u8], stat: Stat) {
        let entry = Entry {
            stat,
            digest: sha(claimed),
            seen: 1,
        };
        std::fs::write(memo_file, encode(1, std::iter::once((key(path), entry)))).unwrap();
        File::options()
            .write(true)
            .open(memo_file)
            .unwrap()
            .set_modified(SystemTime::now() + Duration::from_secs(3600))
            .unwrap();
    }

    fn stat_of(path: &Path) -> Stat {
        Stat::of(&std::fs::metadata(path).unwrap())
    }

    /// The stat of `path` as if it had last changed long ago, so an entry for it is not racy.
    fn old_stat(path: &Path) -> Stat {
        let stat = stat_of(path);
        Stat {
            mtime_ns: stat.mtime_ns - 10 * RACY_WINDOW_NS,
            ctime_ns: stat.ctime_ns - 10 * RACY_WINDOW_NS,
            ..stat
        }
    }

    #[test]
    fn an_entry_is_trusted_only_while_every_stat_field_matches() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.py");
        let memo_file = dir.path().join("memo");
        std::fs::write(&file, "one").unwrap();
        let stat = stat_of(&file);
        // An entry with exactly the current stat is served without reading the file: the
        // claimed digest comes back although the bytes differ, which proves the memo answered.
        memo_claiming(&memo_file, &file, b"claimed", stat);
        assert_eq!(
            DigestMemo::open(&memo_file).digest(&file),
            Some(sha(b"claimed"))
        );
        // Any single stat field that differs makes it a miss, and the bytes are hashed.
        let variations = [
            Stat {
                dev: stat.dev + 1,
                ..stat
            },
            Stat {
                ino: stat.ino + 1,
                ..stat
            },
            Stat {
                size: stat.size + 1,
                ..stat
            },
            Stat {
                mtime_ns: stat.mtime_ns - 1,
                ..stat
            },
            Stat {
                ctime_ns: stat.ctime_ns - 1,
                ..stat
            },
        ];
        for changed in variations {
            memo_claiming(&memo_file, &file, b"claimed", changed);
            let memo = DigestMemo::open(&memo_file);
            assert_eq!(memo.loaded.len(), 1, "the entry itself is valid");
            assert_eq!(memo.digest(&file), Some(sha(b"one")), "{changed:?}");
        }
    }

    #[test]
    fn same_size_rewrite_with_restored_mtime_is_caught_by_ctime() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.py");
        let memo_file = dir.path().join("memo");
        std::fs::write(&file, "one").unwrap();
        let before = stat_of(&file);
        memo_claiming(&memo_file, &file, b"one", before);
        // Later than the kernel's coarse clock tick, the file is rewritten in place (same
        // inode), with the same size and its mtime restored exactly.
        std::thread::sleep(Duration::from_millis(50));
        std::fs::write(&file, "two").unwrap();
        File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(UNIX_EPOCH + Duration::from_nanos(before.mtime_ns as u64))
            .unwrap();
        let after = stat_of(&file);
        assert_eq!(
            (after.dev, after.ino, after.size, after.mtime_ns),
            (before.dev, before.ino, before.size, before.mtime_ns)
        );
        assert_ne!(after.ctime_ns, before.ctime_ns);
        assert_eq!(
            DigestMemo::open(&memo_file).digest(&file),
            Some(sha(b"two"))
        );
    }

    #[test]
    fn saved_entries_come_back_and_serve_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.py");
        let memo_file = dir.path().join("cache/digest-memo");
        std::fs::write(&file, "one").unwrap();
        // The file's timestamps are "now": make the entry old enough by hand, save, reload.
        let memo = DigestMemo::open(&memo_file);
        memo.remember(&file, old_stat(&file), sha(b"one"));
        drop(memo);
        let loaded = read(&memo_file, |_| true, |e| e).unwrap();
        assert_eq!(loaded[key(&file)].stat, old_stat(&file));
        assert_eq!(loaded[key(&file)].digest, sha(b"one"));
        // A run that hashed nothing new leaves the file alone.
        let written = std::fs::metadata(&memo_file).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        DigestMemo::open(&memo_file).save();
        assert_eq!(
            std::fs::metadata(&memo_file).unwrap().modified().unwrap(),
            written
        );
    }

    #[test]
    fn concurrent_saves_merge_and_keep_only_valid_entries() {
        let dir = tempfile::tempdir().unwrap();
        let memo_file = dir.path().join("memo");
        let (a, b) = (dir.path().join("a.py"), dir.path().join("b.py"));
        for path in [&a, &b] {
            std::fs::write(path, path.to_string_lossy().as_bytes()).unwrap();
        }
        let first = DigestMemo::open(&memo_file);
        let second = DigestMemo::open(&memo_file);
        first.remember(&a, old_stat(&a), sha(a.to_string_lossy().as_bytes()));
        second.remember(&b, old_stat(&b), sha(b.to_string_lossy().as_bytes()));
        first.save();
        second.save();
        let merged = read(&memo_file, |_| true, |e| e).unwrap();
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[key(&a)].digest, sha(a.to_string_lossy().as_bytes()));
        assert_eq!(merged[key(&b)].digest, sha(b.to_string_lossy().as_bytes()));
    }

    #[test]
    fn a_damaged_memo_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.py");
        let memo_file = dir.path().join("memo");
        std::fs::write(&file, "one").unwrap();
        memo_claiming(&memo_file, &file, b"claimed", stat_of(&file));
        let good = std::fs::read(&memo_file).unwrap();
        assert_eq!(
            DigestMemo::open(&memo_file).digest(&file),
            Some(sha(b"claimed"))
        );
        // Flip a byte of the digest, cut it short, garbage, empty, or another version.
        let digest_at = good.len() - 32 - 8 - 32;
        let mut flipped = good.clone();
        flipped[digest_at] ^= 1;
        let mut other_version = good.clone();
        other_version[MAGIC.len() - 2] = b'9';
        for bad in [
            flipped,
            good[..good.len() - 1].to_vec(),
            b"not a memo".to_vec(),
            Vec::new(),
            other_version,
        ] {
            std::fs::write(&memo_file, &bad).unwrap();
            assert!(read(&memo_file, |_| true, |e| e).is_none());
            assert_eq!(
                DigestMemo::open(&memo_file).digest(&file),
                Some(sha(b"one"))
            );
        }
    }

    #[test]
    fn entries_racy_against_the_memo_write_time_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.py");
        let memo_file = dir.path().join("memo");
        std::fs::write(&file, "one").unwrap();
        memo_claiming(&memo_file, &file, b"claimed", stat_of(&file));
        assert_eq!(read(&memo_file, |_| true, |e| e).map(|m| m.len()), Some(1));
        // A memo stamped before the entry's timestamps cannot vouch for it.
        age(&memo_file, Duration::from_secs(3600));
        assert_eq!(read(&memo_file, |_| true, |e| e).map(|m| m.len()), Some(0));
        assert_eq!(
            DigestMemo::open(&memo_file).digest(&file),
            Some(sha(b"one"))
        );
    }

    #[test]
    fn the_memo_keeps_the_most_recently_seen_entries() {
        let dir = tempfile::tempdir().unwrap();
        let memo_file = dir.path().join("memo");
        let stat = Stat {
            dev: 1,
            ino: 1,
            size: 1,
            mtime_ns: 0,
            ctime_ns: 0,
        };
        let entries: Vec<(Key, Entry)> = (0..MAX_ENTRIES as u64 + 10)
            .map(|i| {
                (
                    format!("/f{i}").into_bytes().into(),
                    Entry {
                        stat,
                        digest: [0; 32],
                        seen: i,
                    },
                )
            })
            .collect();
        std::fs::write(
            &memo_file,
            encode(entries.len(), entries.iter().map(|(k, e)| (&**k, *e))),
        )
        .unwrap();
        let memo = DigestMemo::open(&memo_file);
        memo.remember(Path::new("/new"), stat, [1; 32]);
        memo.save();
        let kept = read(&memo_file, |_| true, |e| e).unwrap();
        assert_eq!(kept.len(), MAX_ENTRIES);
        assert!(kept.contains_key(b"/new".as_slice()));
        // Eleven too many: the eleven least recently seen go.
        assert!(!kept.contains_key(b"/f0".as_slice()) && !kept.contains_key(b"/f10".as_slice()));
        assert!(kept.contains_key(b"/f11".as_slice()));
    }
}
