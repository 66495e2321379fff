//! The status history, `reports/history/status.jsonl`: one line per `status` run with each
//! component's stage, coverage and counts, so the report can show the change since last week
//! and how long each component has been in its stage. Pure: parsing, choosing the baseline,
//! and the line to append.
//!
//! The baseline is the newest run at least 6½ days older than now, so a weekly job that runs a
//! little early still compares with the previous week; when there is none (a young history),
//! it is the newest earlier run.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::model::StatusReport;
use crate::vocab::Stage;

/// Where the history lives, relative to the reports folder.
pub const FILE: &str = "history/status.jsonl";

/// How old a run must be to count as last week's.
pub fn baseline_age() -> Duration {
    Duration::days(6) + Duration::hours(12)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryLine {
    /// RFC 3339, UTC.
    pub at: String,
    pub components: BTreeMap<String, Snapshot>,
}

/// One component in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub stage: Stage,
    pub coverage: Option<f64>,
    pub lint: Option<u64>,
    pub types: Option<u64>,
    pub security: Option<u64>,
}

/// A history line with its time read.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub at: NaiveDateTime,
    pub line: HistoryLine,
}

/// The runs of a history file, oldest first, and how many lines could not be read (a
/// truncated last line after a crash, a hand edit, bytes that are not UTF-8); those are
/// skipped, never fatal.
pub fn parse(bytes: &[u8]) -> (Vec<Run>, usize) {
    let mut runs = Vec::new();
    let mut skipped = 0;
    let lines = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty());
    for line in lines {
        let parsed = serde_json::from_slice::<HistoryLine>(line)
            .ok()
            .and_then(|line| {
                DateTime::parse_from_rfc3339(&line.at).ok().map(|at| Run {
                    at: at.naive_utc(),
                    line,
                })
            });
        match parsed {
            Some(run) => runs.push(run),
            None => skipped += 1,
        }
    }
    runs.sort_by_key(|run| run.at);
    (runs, skipped)
}

/// The run to compare with: the newest one at least `baseline_age` old, else the newest one
/// before `now`.
pub fn baseline(runs: &[Run], now: NaiveDateTime) -> Option<&Run> {
    let mut earlier = runs.iter().filter(|run| run.at < now);
    earlier
        .clone()
        .rfind(|run| now - run.at >= baseline_age())
        .or_else(|| earlier.next_back())
}

/// Since when the runs before `now` have shown `name` in `stage` without a break: the time
/// of the first run of the latest unbroken stretch. `None` when the last run shows another
/// stage or does not know the component.
pub fn in_stage_since(
    runs: &[Run],
    name: &str,
    stage: Stage,
    now: NaiveDateTime,
) -> Option<NaiveDateTime> {
    let mut since = None;
    for run in runs.iter().filter(|run| run.at < now).rev() {
        match run.line.components.get(name) {
            Some(snapshot) if snapshot.stage == stage => since = Some(run.at),
            _ => break,
        }
    }
    since
}

/// The line this run appends.
pub fn line_for(report: &StatusReport) -> HistoryLine {
    HistoryLine {
        at: report.generated_at.clone(),
        components: report
            .components
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    Snapshot {
                        stage: c.stage,
                        coverage: c.coverage,
                        lint: c.lint,
                        types: c.types,
                        security: c.security,
                    },
                )
            })
            .collect(),
    }
}

/// One JSON line, with its newline: what a single append writes.
pub fn render_line(line: &HistoryLine) -> String {
    // Strings, numbers and maps with string keys always serialize.
    let mut text = serde_json::to_string(line).unwrap_or_default();
    text.push('\n');
    text
}

/// What to append after `last_byte` (the file's last byte; `None` for an empty or new file):
/// the line, after a newline that ends a fragment a crash or a full disk left, so the new
/// line never joins it.
pub fn append_bytes(last_byte: Option<u8>, line: &str) -> String {
    match last_byte {
        Some(byte) if byte != b'\n' => format!("\n{line}"),
        _ => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    fn line(day: u32, hour: u32, stage: Stage, coverage: f64) -> String {
        format!(
            r#"{{"at":"2026-11-{day:02}T{hour:02}:00:00Z","components":{{"carbon":{{"stage":"{}","coverage":{coverage},"lint":0,"types":0,"security":0}}}}}}"#,
            stage.id()
        )
    }

    #[test]
    fn the_baseline_is_last_weeks_run_even_when_this_one_is_early() {
        let text = [
            line(1, 10, Stage::Development, 50.0),
            line(7, 10, Stage::Development, 55.0),
            line(14, 10, Stage::Development, 60.0),
            line(20, 9, Stage::Development, 65.0),
        ]
        .join("\n");
        let (runs, skipped) = parse(text.as_bytes());
        assert_eq!((runs.len(), skipped), (4, 0));
        // Monday 09:00, a week after the 14th's 10:00 run minus an hour: still last week's.
        let chosen = baseline(&runs, at(21, 9)).unwrap();
        assert_eq!(chosen.at, at(14, 10));
        // Six days after the 14th, the 7th is the newest run old enough.
        assert_eq!(baseline(&runs, at(20, 10)).unwrap().at, at(7, 10));
    }

    #[test]
    fn a_young_history_compares_with_the_previous_run() {
        let (runs, _) = parse(
            [
                line(20, 9, Stage::Development, 65.0),
                line(21, 8, Stage::Staging, 70.0),
            ]
            .join("\n")
            .as_bytes(),
        );
        assert_eq!(baseline(&runs, at(21, 9)).unwrap().at, at(21, 8));
        assert!(baseline(&[], at(21, 9)).is_none());
        // Runs from "the future" (a skewed clock) are never the baseline.
        assert_eq!(baseline(&runs, at(20, 10)).unwrap().at, at(20, 9));
    }

    #[test]
    fn broken_lines_are_skipped_and_counted() {
        let text = format!(
            "{}\n{{\"at\": \"nope\"\n\n{}\n{{\"truncated",
            line(2, 0, Stage::Development, 1.0),
            line(1, 0, Stage::Development, 2.0)
        );
        let (runs, skipped) = parse(text.as_bytes());
        assert_eq!(skipped, 2);
        assert_eq!(
            runs.iter().map(|r| r.at).collect::<Vec<_>>(),
            vec![at(1, 0), at(2, 0)]
        );
    }

    #[test]
    fn a_line_that_is_not_utf8_is_skipped_and_the_rest_are_read() {
        let mut bytes = line(1, 0, Stage::Development, 1.0).into_bytes();
        bytes.extend_from_slice(b"\n{\"at\":\"\xff\"}\n");
        bytes.extend_from_slice(line(2, 0, Stage::Staging, 2.0).as_bytes());
        let (runs, skipped) = parse(&bytes);
        assert_eq!((runs.len(), skipped), (2, 1));
    }

    #[test]
    fn an_append_after_a_fragment_starts_a_new_line() {
        let fragment = "{\"at\":\"2026-11-0";
        let appended = format!(
            "{fragment}{}",
            append_bytes(
                fragment.bytes().last(),
                &render_line(&parse(line(3, 4, Stage::Staging, 1.0).as_bytes()).0[0].line)
            )
        );
        let (runs, skipped) = parse(appended.as_bytes());
        assert_eq!((runs.len(), skipped), (1, 1));
        assert_eq!(append_bytes(Some(b'\n'), "x\n"), "x\n");
        assert_eq!(append_bytes(None, "x\n"), "x\n");
    }

    #[test]
    fn time_in_stage_starts_at_the_first_run_of_the_latest_stretch() {
        let (runs, _) = parse(
            [
                line(1, 0, Stage::Staging, 70.0),
                line(8, 0, Stage::Development, 60.0),
                line(15, 0, Stage::Staging, 71.0),
                line(20, 0, Stage::Staging, 72.0),
            ]
            .join("\n")
            .as_bytes(),
        );
        assert_eq!(
            in_stage_since(&runs, "carbon", Stage::Staging, at(21, 0)),
            Some(at(15, 0))
        );
        assert_eq!(
            in_stage_since(&runs, "carbon", Stage::Development, at(21, 0)),
            None
        );
        assert_eq!(
            in_stage_since(&runs, "docker", Stage::Staging, at(21, 0)),
            None
        );
    }

    #[test]
    fn lines_round_trip() {
        let (runs, _) = parse(line(3, 4, Stage::Production, 81.5).as_bytes());
        let text = render_line(&runs[0].line);
        assert!(text.ends_with('\n') && !text[..text.len() - 1].contains('\n'));
        assert_eq!(parse(text.as_bytes()).0, runs);
    }
}
