//! The job summary: each report's Markdown (`summary.md`), appended to `$GITHUB_STEP_SUMMARY`.
//! GitHub rejects a step summary over 1 MiB, so a longer one is cut at a line with a note.

use crate::report::{PromotionReport, markdown};

/// GitHub's limit for one step's summary, in bytes.
pub const LIMIT: usize = 1024 * 1024;

pub fn render(reports: &[PromotionReport]) -> String {
    let text = reports
        .iter()
        .map(markdown::render)
        .collect::<Vec<_>>()
        .join("\n");
    fit(text, LIMIT)
}

/// `text` if it fits in `limit` bytes; else its first lines and a note saying where the rest is.
pub fn fit(text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    let note =
        "\n\n> The summary was cut at GitHub's 1 MiB limit; the reports folder has everything.\n";
    let mut budget = limit.saturating_sub(note.len());
    while !text.is_char_boundary(budget) {
        budget -= 1;
    }
    let cut = text[..budget].rfind('\n').unwrap_or(0);
    format!("{}{note}", &text[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_each_reports_markdown() {
        let report = crate::testutil::report_with_findings(2, 1, 0);
        let text = render(std::slice::from_ref(&report));
        assert_eq!(text, markdown::render(&report));
        assert!(
            text.starts_with("# Carbon — Development → Staging"),
            "{text}"
        );
    }

    #[test]
    fn a_summary_over_the_limit_is_cut_at_a_line_with_a_note() {
        let text = "line of text\n".repeat(100);
        let fitted = fit(text.clone(), 400);
        assert!(fitted.len() <= 400, "{}", fitted.len());
        assert!(fitted.ends_with("has everything.\n"));
        assert!(fitted.starts_with("line of text\nline of text\n"));
        assert_eq!(fit(text.clone(), 10_000), text);
    }
}
