//! Reading MATURITY.md as our users write it: the stage line in its many spellings and the rows
//! of promotion history tables, with date-only rows (theirs) and UTC timestamps (ours). Pure.

use std::ops::Range;
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use regex::Regex;

use crate::vocab::Stage;

/// The markers of the section xtask manages (`managed.rs` writes it; it is read here, with the
/// rest of the file).
pub const BEGIN: &str = "<!-- xtask:maturity:begin";
pub const END: &str = "<!-- xtask:maturity:end -->";
/// Where a file's managed section is: from the start of the begin line to the end of the end
/// marker (its line ending is not part of the section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub range: Range<usize>,
}

/// The managed section, when the file has both markers in order. It starts at the beginning
/// of the begin marker's line, or at the marker itself when the user wrote text before it on
/// that line: a record rewrites only what is ours and keeps that text.
pub fn find(text: &str) -> Option<Section> {
    let begin = text.find(BEGIN)?;
    let before = text.get(..begin)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let ours_from_line_start = before.get(line_start..)?.trim().is_empty();
    let start = if ours_from_line_start {
        line_start
    } else {
        begin
    };
    let end = begin + text.get(begin..)?.find(END)? + END.len();
    Some(Section { range: start..end })
}

fn stage_line() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // `**Current Stage**: Staging`, `Stage: staging`, `- current maturity stage = Staging`.
        Regex::new(
            r"(?im)^[\s>*_\-]*(?:current\s+)?(?:maturity\s+)?stage\s*(?:\*\*|__|\*|_)?\s*[:=\-–—]\s*(?:\*\*|__|`|\*|_)?\s*(development|staging|production)\b",
        )
        .expect("valid regex")
    })
}

/// Where the first stage line is: the byte range of its whole line (without the line ending)
/// and the stage it names.
pub fn find_stage_line(text: &str) -> Option<(std::ops::Range<usize>, Stage)> {
    let captures = stage_line().captures(text)?;
    // The word is on the stage line itself; the match may start earlier, on blank lines.
    let word = captures.get(1)?;
    let stage = word.as_str().parse().ok()?;
    let start = text.get(..word.start())?.rfind('\n').map_or(0, |i| i + 1);
    let end = text
        .get(word.start()..)?
        .find('\n')
        .map_or(text.len(), |i| word.start() + i);
    let end = if text.get(..end)?.ends_with('\r') {
        end - 1
    } else {
        end
    };
    Some((start..end, stage))
}

/// The user's own text after the stage on the stage line (`(since 2025-10-06, owner @ana)`),
/// without the markup that closes the stage (`**`, `` ` ``, `_`) and the blanks around it;
/// `None` when the line ends with the stage. A first record replaces the stage line with the
/// managed section and keeps this text on a line of its own after it.
pub fn stage_line_extra(text: &str) -> Option<&str> {
    let captures = stage_line().captures(text)?;
    let word = captures.get(1)?;
    let rest = text.get(word.end()..)?;
    let line = rest.split('\n').next().unwrap_or_default();
    let extra = line
        .trim_start_matches(|c: char| matches!(c, '*' | '_' | '`') || c.is_whitespace())
        .trim_end();
    (!extra.is_empty()).then_some(extra)
}

/// The byte order mark some editors put first in a file.
pub const BOM: &str = "\u{feff}";

/// `text` without a leading byte order mark, which would otherwise hide a stage line on the
/// first line from the pattern.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix(BOM).unwrap_or(text)
}

/// The 1-based line number of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    crate::input_file::position(text.as_bytes(), offset).0
}

/// Every stage line of the file, with its 1-based line number and the stage it names.
pub fn stage_lines(text: &str) -> Vec<(usize, Stage)> {
    stage_line()
        .captures_iter(text)
        .filter_map(|captures| {
            let word = captures.get(1)?;
            Some((line_of(text, word.start()), word.as_str().parse().ok()?))
        })
        .collect()
}

/// Why a MATURITY.md cannot be read or recorded into safely, naming the lines: markers of the
/// managed section that do not pair up (a stray begin marker would make a record replace the
/// user's lines up to the next end marker), or stage lines that disagree (the file would state
/// two stages). `None` when the file is sound. Expects the text without its BOM.
pub fn defect(text: &str) -> Option<String> {
    let lines_with = |marker: &str| -> Vec<usize> {
        text.lines()
            .enumerate()
            .filter(|(_, line)| line.contains(marker))
            .map(|(i, _)| i + 1)
            .collect()
    };
    let begins = lines_with(BEGIN);
    let ends = lines_with(END);
    let paired = match (begins.as_slice(), ends.as_slice()) {
        ([], []) => true,
        ([begin], [end]) => begin < end,
        _ => false,
    };
    if !paired {
        let list = |lines: &[usize]| {
            if lines.is_empty() {
                "none".to_owned()
            } else {
                lines
                    .iter()
                    .map(|l| format!("line {l}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        return Some(format!(
            "its managed section's markers do not pair up (begin marker: {}; end marker: {}): keep one `{} ... -->` line followed by one `{}` line, or remove both; nothing was changed",
            list(&begins),
            list(&ends),
            BEGIN,
            END
        ));
    }
    let lines = stage_lines(text);
    if let Some((first_line, first)) = lines.first()
        && let Some((other_line, other)) = lines.iter().find(|(_, stage)| stage != first)
    {
        return Some(format!(
            "it states two stages: line {first_line} says {first}, line {other_line} says {other}; keep one stage line; nothing was changed"
        ));
    }
    None
}

/// The stage a MATURITY.md declares, if it declares one. The managed section wins over any
/// stage line the user wrote elsewhere: it is the one our records keep current.
pub fn parse_stage(text: &str) -> Option<Stage> {
    let text = strip_bom(text);
    if let Some(section) = find(text)
        && let Some((_, stage)) = text.get(section.range).and_then(find_stage_line)
    {
        return Some(stage);
    }
    find_stage_line(text).map(|(_, stage)| stage)
}

/// One row of a promotion history table: `| 2025-10-06 | Development | Staging | ... |`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// When the change happened, in UTC. A date-only row (how our users write them) is taken
    /// as that date at 00:00 UTC, the earliest moment it can mean.
    pub at: NaiveDateTime,
    pub from: Option<Stage>,
    pub to: Stage,
}

/// A history table's first cell: `2025-10-06`, or the RFC 3339 UTC time our records write.
pub fn parse_when(cell: &str) -> Option<NaiveDateTime> {
    let cell = cell.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(cell) {
        return Some(at.naive_utc());
    }
    NaiveDate::parse_from_str(cell, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
}

/// Rows of any Markdown table whose first cell is a date or time and whose next cells are
/// stages (an empty or dash `from` cell means the component's first stage).
pub fn parse_history(text: &str) -> Vec<HistoryRow> {
    let mut rows = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        let [first, from_cell, to_cell, ..] = cells.as_slice() else {
            continue;
        };
        let Some(at) = parse_when(first) else {
            continue;
        };
        let Ok(to) = to_cell.parse::<Stage>() else {
            continue;
        };
        rows.push(HistoryRow {
            at,
            from: from_cell.parse().ok(),
            to,
        });
    }
    rows
}

/// When the component last entered `stage`, from its history (a promotion or a demotion into
/// it both count: after a demotion the observation starts again).
pub fn entered(text: &str, stage: Stage) -> Option<NaiveDateTime> {
    parse_history(text)
        .into_iter()
        .filter(|row| row.to == stage)
        .map(|row| row.at)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    #[test]
    fn reads_the_forms_users_write() {
        for (text, stage) in [
            ("**Current Stage**: Staging", Stage::Staging),
            ("Stage: development", Stage::Development),
            (
                "# Neo4j\n\n- **Current Stage:** Production\n",
                Stage::Production,
            ),
            ("current stage = STAGING", Stage::Staging),
            ("**Stage**: `Staging`", Stage::Staging),
            (
                "Intro text.\r\n**Current Stage**: Staging\r\n",
                Stage::Staging,
            ),
            (
                "> **Maturity Stage** — Production (since May)",
                Stage::Production,
            ),
        ] {
            assert_eq!(parse_stage(text), Some(stage), "{text}");
        }
        assert_eq!(parse_stage("Target Stage: Production"), None);
        assert_eq!(parse_stage("No stage here"), None);
        assert_eq!(parse_stage("Stage: stagingish"), None);
    }

    #[test]
    fn text_after_the_stage_is_the_users_own() {
        let text =
            "# T\n**Current Stage**: Staging (since 2025-10-06, owner @ana, pager x)\r\nmore\n";
        assert_eq!(
            stage_line_extra(text),
            Some("(since 2025-10-06, owner @ana, pager x)")
        );
        assert_eq!(stage_line_extra("**Current Stage**: **Staging** \n"), None);
        assert_eq!(stage_line_extra("Stage: `staging`"), None);
        assert_eq!(stage_line_extra("nothing"), None);
    }

    #[test]
    fn the_stage_line_is_located_without_its_line_ending() {
        let text = "# T\r\n\r\n**Current Stage**: Staging\r\nmore\r\n";
        let (range, stage) = find_stage_line(text).unwrap();
        assert_eq!(&text[range], "**Current Stage**: Staging");
        assert_eq!(stage, Stage::Staging);
    }

    #[test]
    fn history_rows_give_the_time_a_stage_was_entered() {
        let text = "| Date | From | To | Notes |\n|---|---|---|---|\n| 2025-09-02 | — | Development | first |\n| 2025-10-06 | Development | Staging | pilot |\n";
        let rows = parse_history(text);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].from, None);
        assert_eq!(
            entered(text, Stage::Staging),
            Some(at(2025, 10, 6, 0, 0)),
            "a date-only row means 00:00 UTC"
        );
        assert_eq!(entered(text, Stage::Production), None);
    }

    #[test]
    fn recorded_timestamps_are_read_to_the_second_in_utc() {
        assert_eq!(
            parse_when("2026-11-14T13:05:00Z"),
            Some(at(2026, 11, 14, 13, 5))
        );
        assert_eq!(
            parse_when("2026-11-14T15:05:00+02:00"),
            Some(at(2026, 11, 14, 13, 5))
        );
        assert_eq!(parse_when("last Tuesday"), None);
    }

    #[test]
    fn the_latest_entry_wins_after_a_demotion_and_a_new_promotion() {
        let text = "| 2026-01-01 | Development | Staging | a |\n| 2026-02-01 | Staging | Production | b |\n| 2026-03-01T10:00:00Z | Production | Staging | demoted |\n";
        assert_eq!(entered(text, Stage::Staging), Some(at(2026, 3, 1, 10, 0)));
    }
}
