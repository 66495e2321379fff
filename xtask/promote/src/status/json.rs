//! `status --format json`: the report as pretty JSON, valid against
//! `schemas/status-report.schema.json`. Pure.

use anyhow::{Context, Result};

use super::StatusReport;

pub fn render(report: &StatusReport) -> Result<String> {
    let mut text =
        serde_json::to_string_pretty(report).context("failed to serialize the status report")?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::fixture;

    #[test]
    fn the_json_round_trips_to_the_same_report() {
        let report = fixture::status();
        let text = render(&report).unwrap();
        let back: StatusReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back, report);
        insta::assert_snapshot!(text);
    }
}
