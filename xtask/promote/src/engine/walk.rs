//! The warm-run record's walk of the project: every entry with its kind and stat, folder by
//! folder on every core, and the fingerprint of it all. A warm run only needs the
//! fingerprint, so each folder is hashed where it is read and nothing else is kept (memory
//! stays flat at 100,000 files); a run that will write a record keeps the entries, by name.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Condvar, Mutex};

use sha2::{Digest as _, Sha256};

use super::digest_memo::{Stat, now_ns};
use super::inputs;
use crate::digest::Digest;

/// What one entry of the project was when walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seen {
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

/// One folder's entries, by name in byte order.
type Entries = Vec<(Box<str>, Seen)>;

/// Project files (root-relative) a fingerprint treats apart: `racy` ones are compared by
/// content elsewhere, so only their name counts; a run's own `outputs` are left out.
#[derive(Default)]
pub(super) struct Apart<'p> {
    racy: HashSet<(&'p str, &'p str)>,
    outputs: HashSet<(&'p str, &'p str)>,
}

impl<'p> Apart<'p> {
    pub fn new(
        racy: impl IntoIterator<Item = &'p str>,
        outputs: impl IntoIterator<Item = &'p str>,
    ) -> Apart<'p> {
        Apart {
            racy: racy.into_iter().map(split).collect(),
            outputs: outputs.into_iter().map(split).collect(),
        }
    }
}

/// (folder, name) of a root-relative path; the root is "".
fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() {
        name.to_owned()
    } else {
        format!("{folder}/{name}")
    }
}

/// One walk of the project, its entries kept.
pub struct Walk {
    pub(super) started_ns: i128,
    /// Root-relative folders in path order ("" is the root), each with its entries.
    folders: Vec<(String, Entries)>,
}

impl Walk {
    /// Every entry under `root` except xtask's own folders (`own`, root-relative); `.git` and
    /// virtual environments are noted, not walked.
    pub fn take(root: &Path, own: &[String]) -> Walk {
        let started_ns = now_ns();
        Walk {
            started_ns,
            folders: walk_folders(root, own, |_, entries| entries),
        }
    }

    /// The fingerprint of the project under `root` as `take(..).digest(apart)` would give it,
    /// computed folder by folder as the walk goes, keeping none of the entries.
    pub fn fingerprint(root: &Path, own: &[String], apart: &Apart<'_>) -> Digest {
        combine(walk_folders(root, own, |folder, entries| {
            folder_digest(folder, &entries, apart)
        }))
    }

    /// The fingerprint: every entry with its kind and stat, except the stat of the `racy`
    /// files, which are compared by content, and the run's own `outputs`, which no step read
    /// or listed the folder of: whether they are there cannot change an answer.
    pub fn digest(&self, apart: &Apart<'_>) -> Digest {
        combine(
            self.folders
                .iter()
                .map(|(folder, entries)| (folder.as_str(), folder_digest(folder, entries, apart))),
        )
    }

    /// Files stamped so recently before the walk that a rewrite could have left their stat
    /// unchanged, except the run's own `outputs`; and of those, only the ones still racy when
    /// stat'ed again at `now_ns` (or changed since the walk): a file whose stat is the walk's
    /// and older than the racy window now cannot be rewritten without its stat changing, so
    /// from now on its stat names its bytes, as the stat memo's rule has it. (A long cold run
    /// over files written just before it then leaves no racy file for the next run to read.)
    pub fn racy(&self, root: &Path, outputs: &Apart<'_>, now_ns: i128) -> Vec<String> {
        self.entries()
            .filter_map(|(folder, name, seen)| match seen {
                Seen::File(stat)
                    if stat.is_racy(self.started_ns)
                        && !outputs.outputs.contains(&(folder, name)) =>
                {
                    let path = join(folder, name);
                    let settled = std::fs::symlink_metadata(root.join(&path))
                        .ok()
                        .filter(std::fs::Metadata::is_file)
                        .map(|m| Stat::of(&m))
                        .is_some_and(|now| now == *stat && !now.is_racy(now_ns));
                    (!settled).then_some(path)
                }
                _ => None,
            })
            .collect()
    }

    /// What the walk found at `path` (root-relative), by two binary searches: folders are in
    /// path order and each one's entries in name order.
    fn find(&self, path: &str) -> Option<&Seen> {
        let (folder, name) = split(path);
        let at = self
            .folders
            .binary_search_by(|(f, _)| f.as_str().cmp(folder))
            .ok()?;
        let entries = &self.folders.get(at)?.1;
        let at = entries.binary_search_by(|(n, _)| (**n).cmp(name)).ok()?;
        entries.get(at).map(|(_, seen)| seen)
    }

    pub fn contains(&self, path: &str) -> bool {
        self.find(path).is_some()
    }

    /// Whether `path` is inside a folder the walk did not enter.
    pub fn under_opaque(&self, path: &str) -> bool {
        path.match_indices('/')
            .filter_map(|(end, _)| path.get(..end))
            .any(|folder| matches!(self.find(folder), Some(Seen::Opaque | Seen::Link(_))))
    }

    fn entries(&self) -> impl Iterator<Item = (&str, &str, &Seen)> {
        self.folders.iter().flat_map(|(folder, entries)| {
            entries
                .iter()
                .map(move |(name, seen)| (folder.as_str(), &**name, seen))
        })
    }
}

/// One folder's part of the fingerprint.
fn folder_digest(folder: &str, entries: &Entries, apart: &Apart<'_>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for (name, seen) in entries {
        let key = (folder, &**name);
        if matches!(seen, Seen::File(_)) && apart.outputs.contains(&key) {
            continue;
        }
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        match seen {
            Seen::File(stat) => {
                if apart.racy.contains(&key) {
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
    <[u8; 32]>::from(hasher.finalize())
}

/// The fingerprint of every folder's part, in path order.
fn combine<S: AsRef<str>>(folders: impl IntoIterator<Item = (S, [u8; 32])>) -> Digest {
    let mut hasher = Sha256::new();
    for (folder, digest) in folders {
        let folder = folder.as_ref();
        hasher.update((folder.len() as u64).to_le_bytes());
        hasher.update(folder.as_bytes());
        hasher.update(digest);
    }
    Digest::from(<[u8; 32]>::from(hasher.finalize()))
}

fn hash_stat(hasher: &mut Sha256, stat: &Stat) {
    for field in stat.fields() {
        hasher.update(field.to_le_bytes());
    }
}

/// Reads every folder under `root` on every core and gives each one's entries to `each`;
/// returns what it made of them, in folder path order (canonical whatever the scheduling).
fn walk_folders<T: Send>(
    root: &Path,
    own: &[String],
    each: impl Fn(&str, Entries) -> T + Sync,
) -> Vec<(String, T)> {
    // Folders go through one queue that every core takes from (one big package would
    // otherwise keep one core busy while the other waits).
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let queue = Queue {
        state: Mutex::new((vec![String::new()], 0)),
        ready: Condvar::new(),
    };
    let mut done: Vec<(String, T)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while let Some(folder) = queue.take() {
                        let mut folders = Vec::new();
                        let entries = read_folder(root, own, &folder, &mut folders);
                        let made = each(&folder, entries);
                        done.push((folder, made));
                        queue.finished(folders);
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    done.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    done
}

/// Folders to read, and how many are being read (each can add more).
struct Queue {
    state: Mutex<(Vec<String>, usize)>,
    ready: Condvar,
}

impl Queue {
    /// The next folder; `None` when none is left and none is being read.
    fn take(&self) -> Option<String> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(folder) = state.0.pop() {
                state.1 += 1;
                return Some(folder);
            }
            if state.1 == 0 {
                drop(state);
                self.ready.notify_all();
                return None;
            }
            state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// One folder read, with the folders found in it.
    fn finished(&self, found: Vec<String>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0.extend(found);
        state.1 -= 1;
        drop(state);
        self.ready.notify_all();
    }
}

/// The entries of `folder` (root-relative) by name, adding the folders to walk to `folders`.
fn read_folder(root: &Path, own: &[String], folder: &str, folders: &mut Vec<String>) -> Entries {
    let Ok(listing) = std::fs::read_dir(root.join(folder)) else {
        return Vec::new();
    };
    let mut listing: Vec<(Box<str>, std::fs::DirEntry)> = listing
        .flatten()
        .map(|entry| (entry.file_name().to_string_lossy().into(), entry))
        .collect();
    listing.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut entries = Vec::with_capacity(listing.len());
    for (name, entry) in listing {
        if own.iter().any(|o| split(o) == (folder, &*name)) {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            entries.push((name, Seen::Other));
            continue;
        };
        let seen = if kind.is_dir() {
            if &*name == ".git" || inputs::is_virtual_env(&entry.path()) {
                Seen::Opaque
            } else {
                folders.push(join(folder, &name));
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
        entries.push((name, seen));
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testutil::write_file as write;

    fn fingerprint(root: &Path) -> Digest {
        Walk::take(root, &[".xtask".to_owned()]).digest(&Apart::default())
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
        let outputs = Apart::new([], [".metrics/today.jsonl"]);
        let before = Walk::take(root, &[]).digest(&outputs);
        std::thread::sleep(std::time::Duration::from_millis(30));
        write(root, ".metrics/today.jsonl", "{}\n{}\n");
        assert_eq!(before, Walk::take(root, &[]).digest(&outputs));
        std::fs::remove_file(root.join(".metrics/today.jsonl")).unwrap();
        assert_eq!(before, Walk::take(root, &[]).digest(&outputs));
        write(root, ".metrics/tomorrow.jsonl", "{}\n");
        assert_ne!(before, Walk::take(root, &[]).digest(&outputs));
    }

    #[test]
    fn racy_files_are_left_to_their_content() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "a.py", "x = 1\n");
        write(root, "b.py", "y = 1\n");
        let walk = Walk::take(root, &[]);
        // Just written: both are within the racy window of the walk, and still are now.
        let racy = walk.racy(root, &Apart::default(), now_ns());
        assert_eq!(racy, vec!["a.py", "b.py"]);
        // Seen again past the window with the walk's stat: the stat names the bytes.
        let later = walk.started_ns + 3 * super::super::digest_memo::RACY_WINDOW_NS;
        assert!(walk.racy(root, &Apart::default(), later).is_empty());
        assert_eq!(
            walk.racy(root, &Apart::new([], ["b.py"]), now_ns()),
            vec!["a.py"],
            "an output is left out"
        );
        let racy = Apart::new(racy.iter().map(String::as_str), []);
        let before = walk.digest(&racy);
        // Rewritten with the same bytes: the stat changes, the fingerprint without the racy
        // files' stats does not (their content is compared on its own).
        std::thread::sleep(std::time::Duration::from_millis(30));
        write(root, "a.py", "x = 1\n");
        assert_eq!(before, Walk::take(root, &[]).digest(&racy));
        // Rewritten since the walk: racy whenever it is asked.
        let later = walk.started_ns + 3 * super::super::digest_memo::RACY_WINDOW_NS;
        assert_eq!(walk.racy(root, &Apart::default(), later), vec!["a.py"]);
        assert_ne!(
            walk.digest(&Apart::default()),
            Walk::take(root, &[]).digest(&Apart::default())
        );
    }

    #[test]
    fn paths_in_folders_not_walked_are_known() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "src/a.py", "");
        write(root, "env/pyvenv.cfg", "");
        write(root, "env/lib/x.py", "");
        let walked = Walk::take(root, &[]);
        assert!(walked.contains("src/a.py"));
        assert!(walked.contains("src"));
        assert!(walked.contains("env"));
        assert!(!walked.contains("src/b.py"));
        assert!(!walked.contains("lib/a.py"));
        assert!(!walked.under_opaque("src/a.py"));
        assert!(!walked.contains("env/lib/x.py"));
        assert!(walked.under_opaque("env/lib/x.py"));
    }

    #[test]
    fn the_fingerprint_without_the_entries_is_the_fingerprint_of_the_kept_walk() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for n in 0..30 {
            write(
                root,
                &format!("src/p{}/q{}/m{n}.py", n % 4, n % 3),
                "x = 1\n",
            );
        }
        write(root, ".metrics/log.jsonl", "{}\n");
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::os::unix::fs::symlink("src/p1", root.join("link")).unwrap();
        write(root, ".venv/pyvenv.cfg", "");
        let own = [".xtask".to_owned()];
        let walk = Walk::take(root, &own);
        for (racy, outputs) in [
            (vec![], vec![]),
            (vec!["src/p1/q1/m1.py"], vec![]),
            (vec![], vec![".metrics/log.jsonl"]),
            (
                vec!["src/p2/q2/m2.py", "src/p0/q0/m0.py"],
                vec![".metrics/log.jsonl"],
            ),
        ] {
            let apart = Apart::new(racy.clone(), outputs.clone());
            assert_eq!(
                walk.digest(&apart),
                Walk::fingerprint(root, &own, &apart),
                "{racy:?} {outputs:?}"
            );
        }
        assert_ne!(
            walk.digest(&Apart::default()),
            walk.digest(&Apart::new(["src/p1/q1/m1.py"], [])),
            "a racy file's stat is left out"
        );
    }
}
