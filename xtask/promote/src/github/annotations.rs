//! Workflow commands for a promotion run: a `::group::` per step with its command and findings,
//! then `::error`/`::warning`/`::notice` annotations, most severe first, within GitHub's limit
//! of ten of each per step, and one notice that counts the rest. Pure: reports in, text out.
//!
//! Tool output is not ours: inside groups it runs under `::stop-commands::`, so a finding whose
//! text looks like a workflow command is printed, never obeyed. Annotation fields are escaped
//! as the runner requires (`%`, CR and LF everywhere; also `:` and `,` in properties).

use std::fmt::Write;

use crate::report::PromotionReport;
use crate::tools::Severity;
use crate::tools::result::StepStatus;

/// GitHub shows at most this many annotations of each level per step and drops the rest.
pub const PER_LEVEL_LIMIT: usize = 10;
/// Finding lines printed inside one step's group before the rest are counted.
pub const GROUP_LINES: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Level::Error => "errors",
            Level::Warning => "warnings",
            Level::Notice => "notices",
        }
    }

    fn of(severity: Severity) -> Level {
        match severity {
            Severity::Error => Level::Error,
            Severity::Warning => Level::Warning,
            Severity::Info => Level::Notice,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub level: Level,
    /// Relative to the repository root, as GitHub resolves it.
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub title: String,
    pub message: String,
}

/// `%`, CR and LF, as in a command's message.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value (`file=`, `title=`): also `:` and `,`, which would end it.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

impl Annotation {
    pub fn command(&self) -> String {
        let mut properties = Vec::new();
        if let Some(file) = &self.file {
            properties.push(format!("file={}", escape_property(file)));
            if let Some(line) = self.line {
                properties.push(format!("line={line}"));
                if let Some(column) = self.column {
                    properties.push(format!("col={column}"));
                }
            }
        }
        properties.push(format!("title={}", escape_property(&self.title)));
        format!(
            "::{} {}::{}",
            self.level.command(),
            properties.join(","),
            escape_data(&self.message)
        )
    }
}

fn repo_path(prefix: &str, file: &str) -> String {
    if prefix.is_empty() || prefix == "." {
        file.to_owned()
    } else {
        format!("{prefix}/{file}")
    }
}

/// Every annotation of the reports, most severe first; within a level, blockers (the verdict)
/// before findings, each in report and step order.
pub fn collect(reports: &[PromotionReport], path_prefix: &str) -> Vec<Annotation> {
    let mut all = Vec::new();
    for report in reports {
        for blocker in &report.blockers {
            all.push(Annotation {
                level: Level::Error,
                file: None,
                line: None,
                column: None,
                title: format!("{}: {} gate", report.component, blocker.gate),
                message: format!("{} (fix: {})", blocker.message, blocker.fix),
            });
        }
        for step in &report.steps {
            for finding in step.findings() {
                all.push(Annotation {
                    level: Level::of(finding.severity),
                    file: (!finding.file.is_empty()).then(|| repo_path(path_prefix, &finding.file)),
                    line: finding.line,
                    column: finding.column,
                    title: format!("{} {}", step.tool().name(), finding.code),
                    message: finding.message.clone(),
                });
            }
        }
    }
    // Stable: equal levels keep the order above.
    all.sort_by_key(|a| a.level);
    all
}

fn status_word(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Passed => "passed",
        StepStatus::Failed => "failed",
        StepStatus::Error => "error",
    }
}

/// One line of tool-derived text, made safe to print between stop-commands markers.
fn plain(text: &str, token: &str) -> String {
    text.replace(['\r', '\n'], " ").replace(token, "")
}

/// Where things are, relative to the repository root, for paths in annotations and notes.
#[derive(Debug, Clone, Copy)]
pub struct Paths<'a> {
    /// The project root: findings' paths are relative to it.
    pub project: &'a str,
    /// The reports folder.
    pub reports: &'a str,
}

/// The whole block of workflow commands for a run. `token` pauses command processing inside
/// groups (use `super::random_token`).
pub fn render(reports: &[PromotionReport], paths: Paths<'_>, token: &str) -> String {
    let path_prefix = paths.project;
    let mut out = String::new();
    for report in reports {
        for step in &report.steps {
            let _ = writeln!(
                out,
                "::group::{} {}: {}{}, {} findings",
                report.component,
                step.name,
                status_word(step.status()),
                if step.cached { " (cached)" } else { "" },
                step.findings().len()
            );
            let _ = writeln!(out, "::stop-commands::{token}");
            let _ = writeln!(out, "$ {}", plain(&step.command.join(" "), token));
            if let Some(error) = step.step_error() {
                let _ = writeln!(out, "error: {}", plain(&error.message, token));
            }
            for finding in step.findings().iter().take(GROUP_LINES) {
                let _ = writeln!(
                    out,
                    "{} {} {}",
                    plain(&repo_path(path_prefix, &finding.location()), token),
                    plain(&finding.code, token),
                    plain(&finding.message, token)
                );
            }
            if step.findings().len() > GROUP_LINES {
                let _ = writeln!(
                    out,
                    "... and {} more in {}/{}/promotion.json",
                    step.findings().len() - GROUP_LINES,
                    paths.reports,
                    report.component
                );
            }
            let _ = writeln!(out, "::{token}::");
            out.push_str("::endgroup::\n");
        }
    }

    let annotations = collect(reports, path_prefix);
    let count = |level: Level| annotations.iter().filter(|a| a.level == level).count();
    let overflow: Vec<(Level, usize)> = [Level::Error, Level::Warning, Level::Notice]
        .into_iter()
        .map(|level| (level, count(level).saturating_sub(PER_LEVEL_LIMIT)))
        .collect();
    let any_overflow = overflow.iter().any(|(_, n)| *n > 0);
    for level in [Level::Error, Level::Warning, Level::Notice] {
        // The summary notice takes one of the ten notice slots.
        let limit = if level == Level::Notice && any_overflow {
            PER_LEVEL_LIMIT - 1
        } else {
            PER_LEVEL_LIMIT
        };
        for annotation in annotations.iter().filter(|a| a.level == level).take(limit) {
            out.push_str(&annotation.command());
            out.push('\n');
        }
    }
    if any_overflow {
        let mut parts: Vec<String> = Vec::new();
        for level in [Level::Error, Level::Warning, Level::Notice] {
            let shown = if level == Level::Notice {
                PER_LEVEL_LIMIT - 1
            } else {
                PER_LEVEL_LIMIT
            };
            let hidden = count(level).saturating_sub(shown);
            if hidden > 0 {
                parts.push(format!("{hidden} more {}", level.plural()));
            }
        }
        let reports_list = reports
            .iter()
            .map(|r| format!("{}/{}/promotion.json", paths.reports, r.component))
            .collect::<Vec<_>>()
            .join(", ");
        let summary = Annotation {
            level: Level::Notice,
            file: None,
            line: None,
            column: None,
            title: "more findings".to_owned(),
            message: format!(
                "{} are not annotated (GitHub shows {PER_LEVEL_LIMIT} of each per step): see the job summary and {reports_list}",
                parts.join(", ")
            ),
        };
        out.push_str(&summary.command());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil as fixtures;

    #[test]
    fn escapes_what_the_runner_requires() {
        assert_eq!(escape_data("100%\r\nnext"), "100%25%0D%0Anext");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
        let annotation = Annotation {
            level: Level::Error,
            file: Some("src/a,b:c.py".into()),
            line: Some(3),
            column: Some(7),
            title: "ruff E501".into(),
            message: "line too long\n::set-output name=x::y".into(),
        };
        assert_eq!(
            annotation.command(),
            "::error file=src/a%2Cb%3Ac.py,line=3,col=7,title=ruff E501::line too long%0A::set-output name=x::y"
        );
    }

    #[test]
    fn at_most_ten_of_each_level_most_severe_first_and_the_rest_counted() {
        let report = fixtures::report_with_findings(23, 12, 4);
        let text = render(
            std::slice::from_ref(&report),
            Paths {
                project: "examples/tta",
                reports: "reports",
            },
            "T0K",
        );
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.starts_with("::error") || l.starts_with("::warning") || l.starts_with("::notice")
            })
            .collect();
        let errors = lines.iter().filter(|l| l.starts_with("::error")).count();
        let warnings = lines.iter().filter(|l| l.starts_with("::warning")).count();
        let notices = lines.iter().filter(|l| l.starts_with("::notice")).count();
        assert_eq!((errors, warnings, notices), (10, 10, 5));
        // Errors come first, and the first ones are the blockers.
        assert!(
            lines[0].starts_with("::error title=carbon%3A lint gate::"),
            "{}",
            lines[0]
        );
        let first_warning = lines
            .iter()
            .position(|l| l.starts_with("::warning"))
            .unwrap();
        assert!(
            lines[..first_warning]
                .iter()
                .all(|l| l.starts_with("::error"))
        );
        assert!(
            lines
                .last()
                .unwrap()
                .contains("14 more errors, 2 more warnings are not annotated"),
            "{}",
            lines.last().unwrap()
        );
        assert!(text.contains("file=examples/tta/src/components/carbon_component.py,line=1,col=1"));
    }

    #[test]
    fn tool_text_inside_groups_cannot_issue_commands() {
        let mut report = fixtures::report_with_findings(0, 1, 0);
        report.steps[1].findings_mut().unwrap()[0].message = "x\n::add-mask::T0K leaked".into();
        let text = render(
            &[report],
            Paths {
                project: "",
                reports: "reports",
            },
            "T0K",
        );
        let start = text.find("::stop-commands::T0K\n").unwrap();
        let end = text.find("\n::T0K::\n").unwrap();
        let inside = &text[start + "::stop-commands::T0K\n".len()..end];
        assert!(
            inside.lines().all(|l| !l.trim_start().starts_with("::")),
            "{inside}"
        );
        assert!(!inside.contains("T0K"), "{inside}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_clean_run_has_groups_and_no_annotations() {
        let report = fixtures::report_with_findings(0, 0, 0);
        let text = render(
            &[report],
            Paths {
                project: "",
                reports: "reports",
            },
            "T0K",
        );
        assert!(
            text.contains("::group::carbon ruff-check: passed, 0 findings\n"),
            "{text}"
        );
        assert!(
            !text.contains("::error") && !text.contains("::warning") && !text.contains("::notice")
        );
    }
}
