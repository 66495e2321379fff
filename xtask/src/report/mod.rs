//! Reports of a promotion run: the model, its renderers (JSON, JUnit, Markdown, terminal text),
//! and writing them into `reports/<component>/`.

pub mod json;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod text;

use std::path::Path;

use anyhow::Result;

use crate::fsutil;
pub use model::PromotionReport;

pub const JSON_FILE: &str = "promotion.json";
pub const JUNIT_FILE: &str = "junit.xml";
pub const SUMMARY_FILE: &str = "summary.md";

/// Removes the previous run's reports before this run starts, so that a run that dies halfway
/// leaves no report behind that could be read as its own.
pub fn clear(dir: &Path) -> Result<()> {
    for file in [JSON_FILE, JUNIT_FILE, SUMMARY_FILE] {
        match std::fs::remove_file(dir.join(file)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "failed to remove the old {}",
                    dir.join(file).display()
                )));
            }
        }
    }
    Ok(())
}

/// Writes the three reports, each atomically.
pub fn write(dir: &Path, report: &PromotionReport) -> Result<()> {
    fsutil::write_atomic(&dir.join(JSON_FILE), json::render(report)?.as_bytes())?;
    fsutil::write_atomic(&dir.join(JUNIT_FILE), junit::render(report)?.as_bytes())?;
    fsutil::write_atomic(&dir.join(SUMMARY_FILE), markdown::render(report).as_bytes())?;
    Ok(())
}
