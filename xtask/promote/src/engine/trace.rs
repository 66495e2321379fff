//! The file-access observer: a shared library built from `observer/trace.c` by `build.rs`,
//! embedded here, written to the state folder under its digest at first use, and preloaded
//! (`LD_PRELOAD`) into every tool run. It records each file-system access of the tool's whole
//! process tree (children, forked workers, threads, C libraries) into one trace file, one line
//! per access; `parse` reads that file back.
//!
//! What it cannot follow it says: a static or setuid program never loads the preload, so its
//! run is not cacheable (`Trace::unfollowable`), and the program xtask starts is checked here
//! the same way before it runs.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// The observer library, as built for this binary.
static LIBRARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libxtask_trace.so"));

/// The variable naming the trace file; the library writes nothing without it.
pub const TRACE_VAR: &str = "XTASK_TRACE_FILE";

/// The trace file's name inside a run's own folder.
pub const TRACE_FILE: &str = "xtask-trace.tsv";

/// Changes whenever the observer does: what is observed is part of what a key means.
pub fn observer_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| crate::digest::hex(&Sha256::digest(LIBRARY))[..16].to_owned())
}

/// The library's path under `state_dir`, written there (atomically, under its digest) on first
/// use; the same path for every run of this binary.
pub fn library(state_dir: &Path) -> Result<PathBuf, String> {
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    INSTALLED.get_or_init(|| install(state_dir)).clone()
}

fn install(state_dir: &Path) -> Result<PathBuf, String> {
    let path = state_dir
        .join("observer")
        .join(format!("xtask-trace-{}.so", observer_id()));
    if std::fs::read(&path).is_ok_and(|bytes| bytes == LIBRARY) {
        return Ok(path);
    }
    crate::fsutil::write_atomic_regenerable(&path, LIBRARY).map_err(|e| {
        format!(
            "failed to write the file-access observer to {}: {e:#}",
            path.display()
        )
    })?;
    Ok(path)
}

/// One access as the observer recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// A process started (the program it runs is read).
    Start,
    /// Opened for reading; the file's `mtime_ns:size:ino` then, or `d` for a folder.
    Read(String),
    /// Probed (stat, access, a failed open): `-` absent, `d` folder, `f:<stamp>` file, `e`
    /// exists, `o` other, `?` an error other than absence.
    Probe(String),
    /// Listed; `d:<mtime_ns>` of the folder then, or `-`.
    Listing(String),
    /// A symbolic link read: its target, or `-`.
    Link(String),
    /// Resolved by realpath: the result, or `-`.
    Resolved(String),
    /// Written, removed, renamed, made: the run's own output.
    Write,
    /// Created by an open (it did not exist before).
    Create,
    /// About to be executed: `ok`, or why the observer cannot follow it.
    Exec(String),
    /// Something the observer cannot follow, and why.
    Unfollowable(String),
}

/// A trace: every access in the order the processes wrote them.
#[derive(Debug, Default)]
pub struct Trace {
    pub accesses: Vec<(Access, PathBuf)>,
    /// Whether any process of the tree started under the observer.
    pub started: bool,
}

impl Trace {
    /// The first reason the run cannot be trusted as fully observed, if any.
    pub fn unfollowable(&self) -> Option<String> {
        if !self.started {
            return Some("the tool never started under the file-access observer".to_owned());
        }
        self.accesses
            .iter()
            .find_map(|(access, path)| match access {
                Access::Unfollowable(why) => Some(why.clone()),
                Access::Exec(why) if why != "ok" => Some(format!("{} is {why}", path.display())),
                _ => None,
            })
    }
}

/// Reads a trace file's bytes. A line that does not parse (a record cut by a crash) makes the
/// run unfollowable rather than being dropped.
pub fn parse(bytes: &[u8]) -> Trace {
    use std::os::unix::ffi::OsStrExt;
    let mut trace = Trace::default();
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let mut fields = line.splitn(3, |b| *b == b'\t');
        let (Some(kind), Some(answer), Some(path)) = (fields.next(), fields.next(), fields.next())
        else {
            trace.accesses.push((
                Access::Unfollowable("a trace record that does not parse".to_owned()),
                PathBuf::from("-"),
            ));
            continue;
        };
        let answer = String::from_utf8_lossy(answer).into_owned();
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(path));
        let access = match kind {
            b"i" => {
                trace.started = true;
                Access::Start
            }
            b"r" => Access::Read(answer),
            b"s" => Access::Probe(answer),
            b"l" => Access::Listing(answer),
            b"k" => Access::Link(answer),
            b"p" => Access::Resolved(answer),
            b"w" => Access::Write,
            b"c" => Access::Create,
            b"x" => Access::Exec(answer),
            b"!" => Access::Unfollowable(answer),
            _ => Access::Unfollowable("a trace record of an unknown kind".to_owned()),
        };
        trace.accesses.push((access, path));
    }
    trace
}

/// Why the observer cannot follow `program` (a static or setuid binary, or a script whose
/// interpreter is one), or `None` when it can.
pub fn unfollowable_program(program: &Path) -> Option<String> {
    program_check(program, 0)
}

fn program_check(program: &Path, depth: usize) -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let file = std::fs::File::open(program).ok()?;
    let metadata = file.metadata().ok()?;
    if metadata.permissions().mode() & 0o6000 != 0 {
        return Some(format!(
            "{} is a setuid or setgid program, which drops LD_PRELOAD",
            program.display()
        ));
    }
    let mut head = Vec::with_capacity(4096);
    file.take(4096).read_to_end(&mut head).ok()?;
    if let Some(rest) = head.strip_prefix(b"#!") {
        let line = rest.split(|b| *b == b'\n').next().unwrap_or_default();
        let text = String::from_utf8_lossy(line);
        let interpreter = text.split_whitespace().next()?;
        return if depth < 4 && interpreter.starts_with('/') {
            program_check(Path::new(interpreter), depth + 1)
        } else {
            None
        };
    }
    match elf_is_dynamic(&head) {
        Some(false) => Some(format!(
            "{} is a statically linked program, which never loads LD_PRELOAD",
            program.display()
        )),
        _ => None,
    }
}

/// Whether a 64-bit little-endian ELF image (its first bytes) names a program interpreter;
/// `None` when it is not such an image.
fn elf_is_dynamic(head: &[u8]) -> Option<bool> {
    if head.len() < 64 || &head[..4] != b"\x7fELF" || head[4] != 2 || head[5] != 1 {
        return None;
    }
    let word = |at: usize| -> Option<u64> {
        head.get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("eight bytes")))
    };
    let half = |at: usize| -> Option<u16> {
        head.get(at..at + 2)
            .map(|b| u16::from_le_bytes(b.try_into().expect("two bytes")))
    };
    let phoff = usize::try_from(word(32)?).ok()?;
    let entry_size = usize::from(half(54)?);
    let entries = usize::from(half(56)?);
    const PT_INTERP: u32 = 3;
    for n in 0..entries {
        let at = phoff.checked_add(n.checked_mul(entry_size)?)?;
        let kind = head.get(at..at + 4)?;
        if u32::from_le_bytes(kind.try_into().expect("four bytes")) == PT_INTERP {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests;
