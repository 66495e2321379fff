//! What `cache audit` leaves in the cache folder: a flaky mark per (component, step) whose fresh
//! runs disagreed on unchanged inputs (`<cache>/flaky/<name>`, framed like entries), and one line
//! per audit in `<cache>/audit.jsonl` for `cache stats`. A mark holds while the step's declared
//! key is the one it was taken with and, for an observed step, while the reads of the entry it
//! replaced are unchanged: a change to the step's inputs lifts it.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cache::{ReadSet, frame, unframe};
use crate::digest::Digest;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The marks' folder in the cache folder.
pub const FLAKY_DIR: &str = crate::cache::FLAKY_DIR;
/// The audit log in the cache folder.
pub const LOG: &str = crate::cache::AUDIT_LOG;
/// A mark file larger than this is not ours: it is ignored, never parsed.
const MAX_MARK_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlakyMark {
    pub component: String,
    pub step: String,
    /// The declared key the step had when its fresh runs disagreed.
    pub key: crate::digest::Digest,
    /// For an observed step, the reads of the entry that was evicted.
    #[serde(default)]
    pub reads: Option<ReadSet>,
    /// What the fresh runs said, for people.
    pub why: String,
    /// When, in UTC (RFC 3339).
    pub at: String,
}

/// Every mark in a cache folder, by (component, step id).
#[derive(Debug, Default)]
pub struct Marks(HashMap<(String, String), FlakyMark>);

impl Marks {
    /// The marks under `cache_dir`; a damaged or foreign file is left out (a miss, as for
    /// entries), so a bad mark can only make a step run fresh, never answer.
    pub fn load(cache_dir: &Path) -> Marks {
        let mut marks = HashMap::new();
        let Ok(listing) = std::fs::read_dir(cache_dir.join(FLAKY_DIR)) else {
            return Marks(marks);
        };
        for entry in listing.flatten() {
            let small = entry
                .metadata()
                .is_ok_and(|m| m.is_file() && m.len() <= MAX_MARK_BYTES);
            let Some(mark) = small
                .then(|| std::fs::read(entry.path()).ok())
                .flatten()
                .and_then(|bytes| serde_json::from_slice::<FlakyMark>(unframe(&bytes).ok()?).ok())
            else {
                continue;
            };
            // A file whose name is not its own mark's (copied or renamed) is not trusted.
            if entry.file_name().to_string_lossy() == file_name(&mark.component, &mark.step) {
                marks.insert((mark.component.clone(), mark.step.clone()), mark);
            }
        }
        Marks(marks)
    }

    pub fn get(&self, component: &str, step: &str) -> Option<&FlakyMark> {
        self.0.get(&(component.to_owned(), step.to_owned()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Every mark, ordered by component and step.
    pub fn iter(&self) -> impl Iterator<Item = &FlakyMark> {
        let mut marks: Vec<&FlakyMark> = self.0.values().collect();
        marks.sort_by(|a, b| (&a.component, &a.step).cmp(&(&b.component, &b.step)));
        marks.into_iter()
    }
}

/// Writes `mark` (atomically), replacing the step's earlier one.
pub fn write(cache_dir: &Path, mark: &FlakyMark) -> Result<()> {
    let payload = serde_json::to_vec(mark).context("failed to serialise a flaky mark")?;
    crate::fsutil::write_atomic_regenerable(
        &path(cache_dir, &mark.component, &mark.step),
        &frame(&payload),
    )
}

fn path(cache_dir: &Path, component: &str, step: &str) -> PathBuf {
    cache_dir.join(FLAKY_DIR).join(file_name(component, step))
}

/// Named by a digest: component names never become paths.
fn file_name(component: &str, step: &str) -> String {
    Digest::of_parts(&[b"flaky", component.as_bytes(), step.as_bytes()]).to_string()
}

/// One audit's counts, as a line of the audit log.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Hits re-run fresh.
    pub audited: u64,
    /// Whose fresh verdict was the cached one.
    pub agreed: u64,
    /// Whose fresh runs agreed with each other and not with the cache: evicted.
    pub mismatches: u64,
    /// Whose fresh runs disagreed with each other: evicted and marked flaky.
    pub flaky: u64,
    /// Not judged: a fresh run gave no verdict, or the inputs changed meanwhile.
    pub unjudged: u64,
}

/// Appends `tally` to the audit log (best effort: the audit's verdict is what it printed).
pub fn log(cache_dir: &Path, tally: &Tally, sampled_by_run: bool) {
    if tally.audited == 0 {
        return;
    }
    let Ok(mut line) = serde_json::to_value(tally) else {
        return;
    };
    line["at"] = serde_json::json!(chrono::Utc::now().timestamp());
    if sampled_by_run {
        line["sample"] = serde_json::json!(true);
    }
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(cache_dir.join(LOG))
    {
        // One short line per write: O_APPEND keeps concurrent runs' lines whole.
        let _ = file.write_all(format!("{line}\n").as_bytes());
    }
}

/// The counts of the last `last` audits in the log, and how many there were.
pub fn summarize(cache_dir: &Path, last: usize) -> (usize, Tally) {
    let text = std::fs::read_to_string(cache_dir.join(LOG)).unwrap_or_default();
    let lines: Vec<Tally> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let recent = &lines[lines.len().saturating_sub(last)..];
    let mut sum = Tally::default();
    for t in recent {
        sum.audited += t.audited;
        sum.agreed += t.agreed;
        sum.mismatches += t.mismatches;
        sum.flaky += t.flaky;
        sum.unjudged += t.unjudged;
    }
    (recent.len(), sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark() -> FlakyMark {
        FlakyMark {
            component: "carbon".into(),
            step: "pytest".into(),
            key: crate::digest::Digest::of(b"ab"),
            reads: Some(ReadSet::from([("f a.py".to_owned(), "f:01".to_owned())])),
            why: "status: passed (first fresh run) vs failed (second fresh run)".into(),
            at: "2026-12-07T05:00:00Z".into(),
        }
    }

    #[test]
    fn marks_round_trip_and_damaged_or_moved_ones_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &mark()).unwrap();
        let mut other = mark();
        other.component = "neo4j".into();
        write(dir.path(), &other).unwrap();
        let marks = Marks::load(dir.path());
        assert_eq!(marks.len(), 2);
        assert_eq!(marks.get("carbon", "pytest"), Some(&mark()));
        assert_eq!(marks.get("carbon", "bandit"), None);

        // Damaged: a flipped byte fails the frame's digest.
        let file = path(dir.path(), "neo4j", "pytest");
        let mut bytes = std::fs::read(&file).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 1;
        std::fs::write(&file, bytes).unwrap();
        // Moved: carbon's mark under another step's name.
        std::fs::copy(
            path(dir.path(), "carbon", "pytest"),
            path(dir.path(), "carbon", "bandit"),
        )
        .unwrap();
        let marks = Marks::load(dir.path());
        assert_eq!(marks.len(), 1);
        assert!(marks.get("carbon", "pytest").is_some());
    }

    #[test]
    fn the_log_sums_the_last_audits() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(summarize(dir.path(), 20), (0, Tally::default()));
        let one = Tally {
            audited: 3,
            agreed: 2,
            mismatches: 1,
            ..Tally::default()
        };
        log(dir.path(), &one, false);
        log(dir.path(), &Tally::default(), true);
        log(
            dir.path(),
            &Tally {
                audited: 1,
                flaky: 1,
                ..Tally::default()
            },
            true,
        );
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(LOG))
            .unwrap()
            .write_all(b"not json\n")
            .unwrap();
        let (runs, sum) = summarize(dir.path(), 20);
        assert_eq!(runs, 2);
        assert_eq!(
            (sum.audited, sum.agreed, sum.mismatches, sum.flaky),
            (4, 2, 1, 1)
        );
        assert_eq!(summarize(dir.path(), 1).1.audited, 1);
    }
}
