//! MATURITY.md: reading a component's current stage (and when it entered it) from the files
//! our users write by hand, tolerant of the ways they write them.

use std::sync::OnceLock;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use regex::Regex;

use crate::config::{Component, Config};
use crate::stage::Stage;

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

/// The stage a MATURITY.md declares, if it declares one.
pub fn parse_stage(text: &str) -> Option<Stage> {
    stage_line()
        .captures(text)
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().parse().ok())
}

/// One row of the promotion history table: `| 2025-10-06 | Development | Staging | ... |`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    pub date: NaiveDate,
    pub from: Option<Stage>,
    pub to: Stage,
}

/// Rows of any Markdown table whose first cell is a date and whose next cells are stages.
pub fn parse_history(text: &str) -> Vec<HistoryRow> {
    let mut rows = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.len() < 3 {
            continue;
        }
        let Ok(date) = NaiveDate::parse_from_str(cells[0], "%Y-%m-%d") else {
            continue;
        };
        let Ok(to) = cells[2].parse::<Stage>() else {
            continue;
        };
        rows.push(HistoryRow {
            date,
            from: cells[1].parse().ok(),
            to,
        });
    }
    rows
}

/// When the component last entered `stage`, from its history.
pub fn entered(text: &str, stage: Stage) -> Option<NaiveDate> {
    parse_history(text)
        .into_iter()
        .filter(|row| row.to == stage)
        .map(|row| row.date)
        .max()
}

/// What a component's MATURITY.md says, or Development when there is none.
#[derive(Debug, Clone)]
pub struct MaturityState {
    pub stage: Stage,
    /// The file's text, when it exists.
    pub text: Option<String>,
    /// Set when the stage was assumed rather than read.
    pub warning: Option<String>,
}

pub fn read(config: &Config, component: &Component) -> Result<MaturityState> {
    let path = config.project_path(&component.maturity);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(MaturityState {
                stage: Stage::Development,
                text: None,
                warning: Some(format!(
                    "{} has no {}: taking its stage as Development",
                    component.name, component.maturity
                )),
            });
        }
        Err(e) => {
            return Err(e).with_context(|| format!("failed to read {}", path.display()));
        }
    };
    match parse_stage(&text) {
        Some(stage) => Ok(MaturityState {
            stage,
            text: Some(text),
            warning: None,
        }),
        None => Ok(MaturityState {
            stage: Stage::Development,
            text: Some(text),
            warning: Some(format!(
                "{} declares no stage (expected a line like `**Current Stage**: Development`): taking Development",
                component.maturity
            )),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            assert_eq!(parse_stage(text), Some(stage), "{text}");
        }
        assert_eq!(parse_stage("Target Stage: Production"), None);
        assert_eq!(parse_stage("No stage here"), None);
    }

    #[test]
    fn history_rows_give_the_date_a_stage_was_entered() {
        let text = "| Date | From | To | Notes |\n|---|---|---|---|\n| 2025-09-02 | — | Development | first |\n| 2025-10-06 | Development | Staging | pilot |\n";
        let rows = parse_history(text);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].from, None);
        assert_eq!(
            entered(text, Stage::Staging),
            NaiveDate::from_ymd_opt(2025, 10, 6)
        );
        assert_eq!(entered(text, Stage::Production), None);
    }
}
