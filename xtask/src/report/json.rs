//! `promotion.json`: the report as pretty JSON, ending with a newline.

use anyhow::{Context, Result};

use super::PromotionReport;

pub fn render(report: &PromotionReport) -> Result<String> {
    let mut text =
        serde_json::to_string_pretty(report).context("failed to serialise the promotion report")?;
    text.push('\n');
    Ok(text)
}
