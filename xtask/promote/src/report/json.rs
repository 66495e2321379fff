//! `promotion.json`: the report as pretty JSON, ending with a newline. Each gate's
//! `measured`, `threshold`, `unit` and `summary` are derived from its typed outcome
//! (`gates::outcome`), so the schema stays as it was.

use anyhow::{Context, Result};

use super::PromotionReport;

pub fn render(report: &PromotionReport) -> Result<String> {
    let mut text =
        serde_json::to_string_pretty(report).context("failed to serialise the promotion report")?;
    text.push('\n');
    Ok(text)
}
