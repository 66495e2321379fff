//! The managed section of a MATURITY.md: the lines between our two markers, which records
//! rewrite, and everything else, which they keep byte for byte. Pure text in, text out.
//!
//! A file that has no section yet gets one in place of its stage line (so the file never
//! states two stages), or under its title when it has no stage line. The section is written
//! with the file's own line endings.

use std::ops::Range;

use super::parse::{END, find};
use crate::vocab::Stage;

/// The whole begin line, which says who owns the section.
const BEGIN_LINE: &str = "<!-- xtask:maturity:begin: written by `cargo xtask promote --record` and `cargo xtask demote`; edit outside these markers -->";
const TABLE_HEADER: [&str; 2] = [
    "| Date (UTC) | From | To | Coverage | Notes |",
    "|------------|------|----|----------|-------|",
];

/// `\r\n` when the file uses it, else `\n`.
pub fn line_ending(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}

/// What the section says: the current stage, since when, the coverage behind the last change,
/// and the rows recorded so far (kept verbatim, so earlier records never change).
#[derive(Debug, Clone, PartialEq)]
pub struct Contents {
    pub stage: Stage,
    /// RFC 3339 UTC time of the last change.
    pub since: String,
    /// The coverage line's text, e.g. `72.06% (Staging needs 70%)`.
    pub coverage: String,
    pub rows: Vec<String>,
}

/// The rows already recorded in a section: table lines other than the header and separator.
pub fn rows(section: &str) -> Vec<String> {
    section
        .lines()
        .map(|line| line.trim_end_matches('\r'))
        .filter(|line| line.starts_with('|'))
        .filter(|line| !TABLE_HEADER.contains(line) && !is_separator(line))
        .filter(|line| !line.starts_with("| Date"))
        .map(str::to_owned)
        .collect()
}

fn is_separator(line: &str) -> bool {
    line.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// The section's text, without a final line ending.
pub fn render(contents: &Contents, eol: &str) -> String {
    let mut lines = vec![
        BEGIN_LINE.to_owned(),
        format!("**Current Stage**: {}", contents.stage),
        format!("**Stage Since**: {}", contents.since),
        format!("**Coverage**: {}", contents.coverage),
        String::new(),
    ];
    lines.extend(TABLE_HEADER.iter().map(|s| (*s).to_owned()));
    lines.extend(contents.rows.iter().cloned());
    lines.push(END.to_owned());
    lines.join(eol)
}

/// `text` with its managed section replaced by `contents` (or created), every other byte kept.
pub fn splice(text: &str, contents: &Contents) -> String {
    let eol = line_ending(text);
    let section = render(contents, eol);
    let around = |range: Range<usize>| {
        (
            text.get(..range.start).unwrap_or_default(),
            text.get(range.end..).unwrap_or_default(),
        )
    };
    if let Some(existing) = find(text) {
        let (before, after) = around(existing.range);
        return format!("{before}{section}{after}");
    }
    if let Some((line, _)) = super::parse::find_stage_line(text) {
        // What the user wrote after the stage (an owner, a pager, a date) stays, below.
        let extra = super::parse::stage_line_extra(text)
            .map(|extra| format!("{eol}{extra}"))
            .unwrap_or_default();
        let (before, after) = around(line);
        return format!("{before}{section}{extra}{after}");
    }
    // No stage line: put the section under the title, or first when there is none.
    if let Some(title_end) = title_line_end(text) {
        let (before, after) = text.split_at(title_end);
        let glue = if before.ends_with('\n') { "" } else { eol };
        return format!("{before}{glue}{eol}{section}{eol}{after}");
    }
    if text.is_empty() {
        return format!("{section}{eol}");
    }
    format!("{section}{eol}{eol}{text}")
}

/// The byte offset just after the first `# ` heading line and its line ending.
fn title_line_end(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with("# ") {
            return Some(offset + line.len());
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maturity::parse::BEGIN;

    fn contents(stage: Stage, rows: &[&str]) -> Contents {
        Contents {
            stage,
            since: "2026-11-21T09:00:00Z".into(),
            coverage: "72.06% (Staging needs 70%)".into(),
            rows: rows.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[test]
    fn the_first_record_takes_the_place_of_the_stage_line() {
        let text = "# Carbon — Maturity\n\n**Current Stage**: Development\n**Owner**: @me\n";
        let out = splice(
            text,
            &contents(Stage::Staging, &["| x | Development | Staging | 72% | n |"]),
        );
        assert!(out.starts_with("# Carbon — Maturity\n\n<!-- xtask:maturity:begin"));
        assert!(
            out.ends_with("<!-- xtask:maturity:end -->\n**Owner**: @me\n"),
            "{out}"
        );
        assert!(!out.contains("**Current Stage**: Development"));
        assert_eq!(super::super::parse::parse_stage(&out), Some(Stage::Staging));
    }

    #[test]
    fn the_users_text_on_the_stage_line_and_before_the_marker_is_kept() {
        let text = "# Carbon\n\n**Current Stage**: Staging (since 2025-10-06, owner @ana, pager x)\n**Owner**: @me\n";
        let out = splice(text, &contents(Stage::Production, &[]));
        assert!(
            out.contains(
                "<!-- xtask:maturity:end -->\n(since 2025-10-06, owner @ana, pager x)\n**Owner**: @me\n"
            ),
            "{out}"
        );
        // Text before the begin marker on its line survives the next record.
        let edited = out.replace(
            "<!-- xtask:maturity:begin",
            "Keep me: <!-- xtask:maturity:begin",
        );
        let again = splice(&edited, &contents(Stage::Staging, &[]));
        assert!(
            again.contains("\nKeep me: <!-- xtask:maturity:begin"),
            "{again}"
        );
        assert_eq!(
            super::super::parse::parse_stage(&again),
            Some(Stage::Staging)
        );
    }

    #[test]
    fn a_later_record_rewrites_only_the_section() {
        let first = splice(
            "# T\r\n\r\nprose\r\n",
            &contents(Stage::Staging, &["| a | Development | Staging | 72% | n |"]),
        );
        assert!(
            first.starts_with("# T\r\n\r\n<!-- xtask:maturity:begin"),
            "{first:?}"
        );
        assert!(
            first.ends_with("<!-- xtask:maturity:end -->\r\n\r\nprose\r\n"),
            "{first:?}"
        );
        assert!(
            !first.replace("\r\n", "").contains('\n'),
            "only CRLF line endings"
        );
        let section = &first[find(&first).unwrap().range];
        let mut kept = rows(section);
        assert_eq!(kept, vec!["| a | Development | Staging | 72% | n |"]);
        kept.push("| b | Staging | Production | 81% | m |".into());
        let second = splice(
            &first,
            &contents(
                Stage::Production,
                &kept.iter().map(String::as_str).collect::<Vec<_>>(),
            ),
        );
        assert!(second.starts_with("# T\r\n\r\n<!-- xtask:maturity:begin"));
        assert!(second.ends_with("<!-- xtask:maturity:end -->\r\n\r\nprose\r\n"));
        assert_eq!(rows(&second[find(&second).unwrap().range]).len(), 2);
        assert_eq!(
            super::super::parse::parse_stage(&second),
            Some(Stage::Production)
        );
    }

    #[test]
    fn a_file_without_a_stage_line_gets_the_section_under_its_title() {
        let out = splice("# Title\nbody\n", &contents(Stage::Staging, &[]));
        assert!(
            out.starts_with("# Title\n\n<!-- xtask:maturity:begin"),
            "{out}"
        );
        assert!(
            out.ends_with("<!-- xtask:maturity:end -->\nbody\n"),
            "{out}"
        );
        let out = splice("", &contents(Stage::Staging, &[]));
        assert!(out.starts_with(BEGIN) && out.ends_with("-->\n"));
    }
}
