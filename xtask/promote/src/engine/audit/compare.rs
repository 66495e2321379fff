//! The figures of two results of one step, compared for `cache audit`: what a verdict is made
//! of (status, findings by place and code, test counts, coverage), never timings, the cache
//! flag or message texts (a failed test's message may hold an object address or a duration).

use std::collections::BTreeMap;

use crate::tools::result::{StepResult, StepStatus};

/// Each figure that differs between `before` and `after`, named for a person:
/// `status: passed (cached) vs failed (fresh)`. Empty when the verdicts are the same.
pub fn differences(before: &StepResult, after: &StepResult, labels: (&str, &str)) -> Vec<String> {
    let (was, now) = labels;
    let mut found = Vec::new();
    let mut figure = |name: &str, a: String, b: String| {
        if a != b {
            found.push(format!("{name}: {a} ({was}) vs {b} ({now})"));
        }
    };
    figure("status", status(before.status()), status(after.status()));
    figure(
        "findings",
        before.findings().len().to_string(),
        after.findings().len().to_string(),
    );
    if before.findings().len() == after.findings().len() {
        // As many findings, in other places: name the first place each side has alone.
        let (a, b) = (places(before), places(after));
        let alone = |x: &BTreeMap<String, usize>, y: &BTreeMap<String, usize>| {
            x.iter()
                .find(|(place, n)| y.get(*place).is_none_or(|m| m < n))
                .map(|(place, _)| place.clone())
        };
        if let (Some(first), Some(second)) = (alone(&a, &b), alone(&b, &a)) {
            figure("a finding", first, second);
        }
    }
    figure("tests", tests(before), tests(after));
    figure("coverage", coverage(before), coverage(after));
    figure(
        "error",
        before
            .step_error()
            .map_or("none".to_owned(), |e| format!("{:?}", e.kind)),
        after
            .step_error()
            .map_or("none".to_owned(), |e| format!("{:?}", e.kind)),
    );
    found
}

fn status(status: StepStatus) -> String {
    match status {
        StepStatus::Passed => "passed",
        StepStatus::Failed => "failed",
        StepStatus::Error => "error",
    }
    .to_owned()
}

/// Findings by `file:line code`, counted: the same findings in another order are the same.
fn places(result: &StepResult) -> BTreeMap<String, usize> {
    let mut places = BTreeMap::new();
    for finding in result.findings() {
        let place = match finding.line {
            Some(line) => format!("{}:{line} {}", finding.file, finding.code),
            None => format!("{} {}", finding.file, finding.code),
        };
        *places.entry(place).or_default() += 1;
    }
    places
}

fn tests(result: &StepResult) -> String {
    match result.tests() {
        Some(t) => format!(
            "{} total, {} passed, {} failed, {} errors, {} skipped",
            t.total, t.passed, t.failed, t.errors, t.skipped
        ),
        None => "none".to_owned(),
    }
}

fn coverage(result: &StepResult) -> String {
    match result.coverage() {
        Some(c) => format!(
            "{:.2}% ({} of {} {}, {} {})",
            c.percent,
            c.covered,
            c.total,
            if c.branch {
                "lines and branches"
            } else {
                "lines"
            },
            c.files,
            if c.files == 1 { "file" } else { "files" }
        ),
        None => "not measured".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::pytest::{Coverage, TestCounts};
    use crate::tools::result::StepOutcome;
    use crate::tools::{Finding, Severity, StepKind};

    fn result() -> StepResult {
        with_findings(Vec::new())
    }

    fn with_findings(findings: Vec<Finding>) -> StepResult {
        StepResult::test_run(
            StepKind::Pytest,
            "9.2.0",
            vec!["python".into()],
            TestCounts {
                total: 5,
                passed: 5,
                failed: 0,
                errors: 0,
                skipped: 0,
            },
            Some(Coverage {
                percent: 72.06,
                covered: 98,
                total: 136,
                files: 1,
                branch: true,
            }),
            findings,
            5,
        )
    }

    fn finding(file: &str, line: u32, message: &str) -> Finding {
        Finding {
            file: file.into(),
            line: Some(line),
            column: None,
            code: "test-failed".into(),
            message: message.into(),
            severity: Severity::Error,
            fixable: false,
        }
    }

    #[test]
    fn timings_the_cache_flag_and_messages_are_not_figures() {
        let a = result();
        let mut b = result();
        b.cached = true;
        b.duration_ms = 9000;
        assert!(differences(&a, &b, ("cached", "fresh")).is_empty());
        let a = with_findings(vec![
            finding("t.py", 3, "<object at 0x1>"),
            finding("u.py", 1, "x"),
        ]);
        let b = with_findings(vec![
            finding("u.py", 1, "x"),
            finding("t.py", 3, "<object at 0x2>"),
        ]);
        assert!(differences(&a, &b, ("cached", "fresh")).is_empty());
    }

    #[test]
    fn names_each_figure_that_differs() {
        let cached = result();
        let mut fresh = result();
        fresh.outcome = StepOutcome::TestRun {
            counts: TestCounts {
                total: 5,
                passed: 4,
                failed: 1,
                errors: 0,
                skipped: 0,
            },
            coverage: None,
            findings: vec![finding("tests/test_a.py", 7, "assert 1 == 2")],
        };
        insta::assert_snapshot!(differences(&cached, &fresh, ("cached", "fresh")).join("\n"), @r"
        status: passed (cached) vs failed (fresh)
        findings: 0 (cached) vs 1 (fresh)
        tests: 5 total, 5 passed, 0 failed, 0 errors, 0 skipped (cached) vs 5 total, 4 passed, 1 failed, 0 errors, 0 skipped (fresh)
        coverage: 72.06% (98 of 136 lines and branches, 1 file) (cached) vs not measured (fresh)
        ");
        let moved = with_findings(vec![finding("t.py", 3, "x")]);
        let elsewhere = with_findings(vec![finding("t.py", 4, "x")]);
        assert_eq!(
            differences(&moved, &elsewhere, ("first run", "second run")),
            vec!["a finding: t.py:3 test-failed (first run) vs t.py:4 test-failed (second run)"]
        );
    }
}
