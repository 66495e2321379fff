//! pytest with pytest-cov: the argument list, and the parsers of the JUnit XML and the coverage
//! JSON it writes into a fresh folder of this run.
//!
//! Coverage is measured over a package's folder (`--cov=DIR`) or a module's dotted name
//! (`--cov=components.x_component`, `Component::coverage_target`), never over a module's file
//! name: `--cov=x_component.py` collects nothing while pytest still exits 0. The figure for the
//! component is then summed from the files it owns, with branches when the project's coverage
//! config turns branch coverage on (as coverage.py itself counts them).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Finding, Generated, PathNormalizer, Severity, ToolFailure, crashed, tail_of};
use crate::process::Finished;

pub const JUNIT_FILE: &str = "junit.xml";
pub const COVERAGE_FILE: &str = "coverage.json";

/// What changes how pytest and pytest-cov run, at the project root: their settings
/// (`[tool.pytest.ini_options]`, `[pytest]`, `[tool:pytest]`, coverage.py's `.coveragerc` and
/// sections) and the root `conftest.py`.
pub const CONFIG_FILES: &[&str] = &[
    "pyproject.toml",
    "pytest.ini",
    "tox.ini",
    "setup.cfg",
    ".coveragerc",
    "conftest.py",
];

/// What a test run by hand leaves in the tree: pytest's cache, hypothesis's example database
/// (a plugin the tests load), coverage.py's data (`.coverage.<host>...` in parallel mode) and
/// HTML report.
pub const GENERATED: &[Generated] = &[
    Generated::Name(".pytest_cache"),
    Generated::Name(".hypothesis"),
    Generated::Name(".coverage"),
    Generated::Prefix(".coverage."),
    Generated::Name("htmlcov"),
];

/// Variables naming a file in the run's own folder: coverage data of concurrent runs would
/// otherwise collide in the project root.
pub const RUN_FILES_ENV: &[(&str, &str)] = &[("COVERAGE_FILE", ".coverage")];

/// Arguments after the interpreter. `out_dir` is this run's own fresh folder; the cache key is
/// computed with a placeholder there, so the key does not change from run to run.
/// `also_covered` are the folders of shared code the component reaches: measured too, and
/// counted in its figure for the files it reaches.
pub fn args(
    out_dir: &str,
    coverage_root: &str,
    also_covered: &[String],
    tests: &[String],
) -> Vec<String> {
    let mut args = vec![
        "-m".to_owned(),
        "pytest".to_owned(),
        // No .pytest_cache written into the user's tree, and no state carried between runs.
        "-p".to_owned(),
        "no:cacheprovider".to_owned(),
        "-q".to_owned(),
        format!("--junitxml={out_dir}/{JUNIT_FILE}"),
        format!("--cov={coverage_root}"),
        format!("--cov-report=json:{out_dir}/{COVERAGE_FILE}"),
    ];
    for folder in also_covered {
        let inside = folder == coverage_root || folder.starts_with(&format!("{coverage_root}/"));
        if !inside {
            args.push(format!("--cov={folder}"));
        }
    }
    args.extend(tests.iter().cloned());
    args
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCounts {
    pub total: u64,
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    pub skipped: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCoverage {
    pub covered_lines: u64,
    pub num_statements: u64,
    pub covered_branches: u64,
    pub num_branches: u64,
}

/// A component's coverage, summed over its files.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Rounded to two decimals so reports compare equal across runs and machines.
    pub percent: f64,
    pub covered: u64,
    pub total: u64,
    pub files: u64,
    pub branch: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TestRun {
    pub tests: TestCounts,
    /// Failed and erroring tests.
    pub failures: Vec<Finding>,
    /// Per measured file; `None` when pytest-cov wrote no report (a collection error).
    pub coverage: Option<CoverageReport>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CoverageReport {
    pub branch: bool,
    pub files: BTreeMap<String, FileCoverage>,
}

impl CoverageReport {
    /// The figure for the files `owns` accepts; `None` when none of them was measured.
    pub fn for_files(&self, owns: impl Fn(&str) -> bool) -> Option<Coverage> {
        let mut covered = 0;
        let mut total = 0;
        let mut files = 0;
        for (path, file) in &self.files {
            if owns(path) {
                files += 1;
                covered += file.covered_lines + file.covered_branches;
                total += file.num_statements + file.num_branches;
            }
        }
        if files == 0 {
            return None;
        }
        let percent = if total == 0 {
            100.0
        } else {
            (covered as f64 * 100.0 / total as f64 * 100.0).round() / 100.0
        };
        Some(Coverage {
            percent,
            covered,
            total,
            files,
            branch: self.branch,
        })
    }
}

/// Parses a JUnit XML document as pytest writes it (`<testsuites>` or a lone `<testsuite>`).
pub fn parse_junit(xml: &[u8]) -> Result<(TestCounts, Vec<Finding>), String> {
    let text = std::str::from_utf8(xml).map_err(|e| format!("junit xml is not UTF-8: {e}"))?;
    let document =
        roxmltree::Document::parse(text).map_err(|e| format!("invalid junit xml: {e}"))?;
    let root = document.root_element();
    if !matches!(root.tag_name().name(), "testsuites" | "testsuite") {
        return Err(format!(
            "junit xml root is <{}>, not <testsuites>",
            root.tag_name().name()
        ));
    }
    let mut counts = TestCounts::default();
    let mut failures = Vec::new();
    for case in root.descendants().filter(|n| n.has_tag_name("testcase")) {
        counts.total += 1;
        let outcome = case.children().find(|c| {
            c.is_element() && matches!(c.tag_name().name(), "failure" | "error" | "skipped")
        });
        let Some(outcome) = outcome else {
            counts.passed += 1;
            continue;
        };
        let kind = outcome.tag_name().name();
        if kind == "skipped" {
            counts.skipped += 1;
            continue;
        }
        if kind == "failure" {
            counts.failed += 1;
        } else {
            counts.errors += 1;
        }
        let classname = case.attribute("classname").unwrap_or_default();
        let name = case.attribute("name").unwrap_or_default();
        let message = outcome
            .attribute("message")
            .map(str::to_owned)
            .or_else(|| {
                outcome
                    .text()
                    .map(|t| t.trim().lines().last().unwrap_or("").to_owned())
            })
            .unwrap_or_default();
        let first_line = message.lines().next().unwrap_or("").trim();
        // A module that cannot be imported is one `error` whose message only says "collection
        // failure"; the cause (`ModuleNotFoundError: No module named 'torch'`) is the last `E`
        // line of the traceback in its body.
        let cause = outcome.text().and_then(traceback_cause);
        let first_line = match (&cause, first_line) {
            (Some(cause), "collection failure") => format!("cannot be collected: {cause}"),
            (Some(cause), "") => cause.clone(),
            (_, line) => line.to_owned(),
        };
        let first_line = first_line.as_str();
        failures.push(Finding {
            file: case
                .attribute("file")
                .map(str::to_owned)
                // A module that cannot be collected has no class: its name is the module.
                .unwrap_or_else(|| {
                    module_path(if classname.is_empty() {
                        name
                    } else {
                        classname
                    })
                }),
            line: case
                .attribute("line")
                .and_then(|l| l.parse::<u32>().ok())
                .map(|l| l + 1),
            column: None,
            code: if kind == "failure" {
                "test-failed"
            } else {
                "test-error"
            }
            .to_owned(),
            message: if first_line.is_empty() {
                format!("{name} {kind}")
            } else {
                format!("{name}: {first_line}")
            },
            severity: Severity::Error,
            fixable: false,
        });
    }
    Ok((counts, failures))
}

/// The exception a pytest traceback ends with: its last `E   ...` line.
fn traceback_cause(body: &str) -> Option<String> {
    body.lines()
        .rev()
        .find_map(|line| line.trim_start().strip_prefix("E "))
        .map(|cause| cause.trim().to_owned())
        .filter(|cause| !cause.is_empty())
}

/// `tests.test_llm.TestClient` -> `tests/test_llm.py`: pytest's classname is the module path
/// followed by class names, which start with a capital letter by convention.
fn module_path(classname: &str) -> String {
    let parts: Vec<&str> = classname
        .split('.')
        .take_while(|part| !part.starts_with(|c: char| c.is_ascii_uppercase()))
        .collect();
    if parts.is_empty() {
        classname.to_owned()
    } else {
        format!("{}.py", parts.join("/"))
    }
}

#[derive(Deserialize)]
struct RawCoverage {
    meta: RawMeta,
    files: BTreeMap<String, RawFile>,
}

#[derive(Deserialize)]
struct RawMeta {
    branch_coverage: bool,
}

#[derive(Deserialize)]
struct RawFile {
    summary: RawSummary,
}

#[derive(Deserialize)]
struct RawSummary {
    covered_lines: u64,
    num_statements: u64,
    #[serde(default)]
    covered_branches: u64,
    #[serde(default)]
    num_branches: u64,
}

/// Parses coverage.py's JSON report (`--cov-report=json:FILE`).
pub fn parse_coverage(json: &[u8], paths: &PathNormalizer) -> Result<CoverageReport, String> {
    let raw: RawCoverage =
        serde_json::from_slice(json).map_err(|e| format!("invalid coverage JSON: {e}"))?;
    Ok(CoverageReport {
        branch: raw.meta.branch_coverage,
        files: raw
            .files
            .into_iter()
            .map(|(path, file)| {
                (
                    paths.normalize(&path),
                    FileCoverage {
                        covered_lines: file.summary.covered_lines,
                        num_statements: file.summary.num_statements,
                        covered_branches: file.summary.covered_branches,
                        num_branches: file.summary.num_branches,
                    },
                )
            })
            .collect(),
    })
}

/// A finished run read with the reports `args` had it write into `run_dir` (a report it did
/// not write reads as missing, never as an old one: the folder is the run's own).
pub fn read_run(
    done: &Finished,
    run_dir: &Path,
    paths: &PathNormalizer,
    tests: &[String],
) -> Result<TestRun, ToolFailure> {
    let junit = std::fs::read(run_dir.join(JUNIT_FILE)).ok();
    let coverage = std::fs::read(run_dir.join(COVERAGE_FILE)).ok();
    interpret(done, junit.as_deref(), coverage.as_deref(), paths, tests)
}

/// Reads a finished pytest run together with the files it wrote into this run's folder.
///
/// Exit 0 and 1 must come with both reports; 5 (nothing collected) is a failure; 2 is a
/// verdict only when the JUnit report shows the collection errors that caused it.
pub fn interpret(
    done: &Finished,
    junit: Option<&[u8]>,
    coverage: Option<&[u8]>,
    paths: &PathNormalizer,
    tests: &[String],
) -> Result<TestRun, ToolFailure> {
    let bad = |reason: String| ToolFailure::BadOutput {
        tool: "pytest",
        reason,
        tail: tail_of(&done.stdout),
    };
    let no_tests = || ToolFailure::NoTests {
        paths: tests.join(" "),
    };
    match done.code {
        Some(5) => Err(no_tests()),
        Some(0) | Some(1) | Some(2) => {
            let Some(junit) = junit else {
                if done.code == Some(2) {
                    return Err(crashed("pytest", done));
                }
                return Err(bad("pytest wrote no junit report".to_owned()));
            };
            let (counts, failures) = checked_counts(done, junit, no_tests)?;
            let coverage = match coverage {
                Some(json) => Some(parse_coverage(json, paths).map_err(bad)?),
                None if counts.errors > 0 => None,
                None => return Err(bad("pytest-cov wrote no coverage report".to_owned())),
            };
            Ok(TestRun {
                tests: counts,
                failures,
                coverage,
            })
        }
        _ => Err(crashed("pytest", done)),
    }
}

/// The counts and failures of a JUnit report, checked against the exit code: no test at all is
/// `none()`; exit 0 with failed tests, or exit 2 (interrupted, usage) with no error, is not
/// believed.
fn checked_counts(
    done: &Finished,
    junit: &[u8],
    none: impl Fn() -> ToolFailure,
) -> Result<(TestCounts, Vec<Finding>), ToolFailure> {
    let bad = |reason: String| ToolFailure::BadOutput {
        tool: "pytest",
        reason,
        tail: tail_of(&done.stdout),
    };
    let (counts, failures) = parse_junit(junit).map_err(bad)?;
    if counts.total == 0 {
        return Err(none());
    }
    match done.code {
        Some(0) if counts.failed + counts.errors > 0 => {
            Err(bad("exit code 0 with failed tests".to_owned()))
        }
        Some(2) if counts.errors == 0 => Err(crashed("pytest", done)),
        _ => Ok((counts, failures)),
    }
}

/// `pytest -m integration`'s arguments after the interpreter (`promote --integration`):
/// no coverage, only the tests marked `integration`; `out_dir` as for `args`.
pub fn integration_args(out_dir: &str, tests: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "-m",
        "integration",
    ]
    .map(str::to_owned)
    .to_vec();
    args.push(format!("--junitxml={out_dir}/{JUNIT_FILE}"));
    args.extend(tests.iter().cloned());
    args
}

/// A finished `pytest -m integration` run read with the JUnit report `integration_args` had
/// it write into `run_dir`; it measures no coverage.
pub fn read_integration_run(
    done: &Finished,
    run_dir: &Path,
    _paths: &PathNormalizer,
    tests: &[String],
) -> Result<TestRun, ToolFailure> {
    let junit = std::fs::read(run_dir.join(JUNIT_FILE)).ok();
    let (counts, failures) = interpret_integration(done, junit.as_deref(), tests)?;
    Ok(TestRun {
        tests: counts,
        failures,
        coverage: None,
    })
}

/// Reads a finished `pytest -m integration` run. Exit 5 (nothing selected), no test at all, or
/// only skipped tests are failures: none of them is evidence that integration works.
pub fn interpret_integration(
    done: &Finished,
    junit: Option<&[u8]>,
    tests: &[String],
) -> Result<(TestCounts, Vec<Finding>), ToolFailure> {
    let unmarked = || ToolFailure::NoEvidence {
        reason: format!(
            "no test in {} is marked integration: mark them with @pytest.mark.integration",
            tests.join(" ")
        ),
    };
    match done.code {
        Some(5) => Err(unmarked()),
        Some(0..=2) => {
            let Some(junit) = junit else {
                return Err(crashed("pytest", done));
            };
            let (counts, findings) = checked_counts(done, junit, unmarked)?;
            if counts.passed + counts.failed + counts.errors == 0 {
                return Err(ToolFailure::NoEvidence {
                    reason: format!(
                        "every integration test was skipped ({}): a test that skips without its service is not evidence; check that the services are listed in `services` and the tests read XTASK_SERVICE_<NAME>_HOST",
                        counts.skipped
                    ),
                });
            }
            Ok((counts, findings))
        }
        _ => Err(crashed("pytest", done)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::normalizer;

    fn finished(code: i32) -> Finished {
        crate::tools::test_support::finished(code, b"1 failed", b"")
    }

    const JUNIT_FAILED: &[u8] = br#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="1" skipped="1" tests="3"><testcase classname="tests.test_llm" name="test_ok" time="0.001" /><testcase classname="tests.test_llm.TestClient" name="test_retry" time="0.002"><failure message="assert 2 == 3">def test_retry(): ...</failure></testcase><testcase classname="tests.test_llm" name="test_skip"><skipped message="later"/></testcase></testsuite></testsuites>"#;

    #[test]
    fn junit_counts_and_failures() {
        let (counts, failures) = parse_junit(JUNIT_FAILED).unwrap();
        assert_eq!(
            counts,
            TestCounts {
                total: 3,
                passed: 1,
                failed: 1,
                errors: 0,
                skipped: 1
            }
        );
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].file, "tests/test_llm.py");
        assert_eq!(failures[0].message, "test_retry: assert 2 == 3");
    }

    #[test]
    fn a_collection_error_says_its_cause_from_the_traceback() {
        // As pytest 9 writes a module that fails to import.
        let xml = br#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="0" skipped="0" tests="1"><testcase classname="" name="tests.test_models" time="0.000"><error message="collection failure">ImportError while importing test module '/repo/tests/test_models.py'.
Traceback:
tests/test_models.py:3: in &lt;module&gt;
    import torch
E   ModuleNotFoundError: No module named 'torch'</error></testcase></testsuite></testsuites>"#;
        let (counts, failures) = parse_junit(xml).unwrap();
        assert_eq!(counts.errors, 1);
        assert_eq!(
            failures[0].message,
            "tests.test_models: cannot be collected: ModuleNotFoundError: No module named 'torch'"
        );
        assert_eq!(failures[0].code, "test-error");
        assert_eq!(failures[0].file, "tests/test_models.py");
    }

    #[test]
    fn captured_junit_parses() {
        let (counts, failures) =
            parse_junit(include_bytes!("../../test_data/pytest_junit.xml")).unwrap();
        assert!(counts.total > 0);
        assert_eq!(
            counts.total,
            counts.passed + counts.failed + counts.errors + counts.skipped
        );
        insta::assert_yaml_snapshot!((counts, failures));
    }

    #[test]
    fn coverage_sums_lines_and_branches_of_owned_files_only() {
        let report = parse_coverage(
            include_bytes!("../../test_data/coverage.json"),
            &normalizer(),
        )
        .unwrap();
        let all = report.for_files(|_| true).unwrap();
        assert!(all.files > 1);
        let one = report.files.keys().next().unwrap().clone();
        let single = report.for_files(|p| p == one).unwrap();
        assert_eq!(single.files, 1);
        assert!(report.for_files(|p| p == "nope.py").is_none());
    }

    #[test]
    fn coverage_percent_counts_branches_like_coverage_py() {
        let json = br#"{"meta":{"branch_coverage":true},"files":{"src/m.py":{"summary":{"covered_lines":4,"num_statements":6,"covered_branches":1,"num_branches":2}}},"totals":{}}"#;
        let report = parse_coverage(json, &normalizer()).unwrap();
        let coverage = report.for_files(|p| p == "src/m.py").unwrap();
        assert_eq!(coverage.percent, 62.5);
        assert!(coverage.branch);
    }

    #[test]
    fn no_tests_collected_is_a_failure() {
        let run = interpret(
            &finished(5),
            None,
            None,
            &normalizer(),
            &["tests/x.py".into()],
        );
        assert!(matches!(run, Err(ToolFailure::NoTests { .. })));
        let empty = br#"<testsuites><testsuite tests="0"/></testsuites>"#;
        let run = interpret(&finished(0), Some(empty), None, &normalizer(), &[]);
        assert!(matches!(run, Err(ToolFailure::NoTests { .. })));
    }

    #[test]
    fn missing_reports_are_bad_output_never_a_pass() {
        let ok = br#"<testsuites><testsuite><testcase classname="t" name="a"/></testsuite></testsuites>"#;
        let run = interpret(&finished(0), Some(ok), None, &normalizer(), &[]);
        assert!(matches!(run, Err(ToolFailure::BadOutput { .. })));
        let run = interpret(&finished(0), None, None, &normalizer(), &[]);
        assert!(matches!(run, Err(ToolFailure::BadOutput { .. })));
        let run = interpret(&finished(0), Some(b"<html>"), None, &normalizer(), &[]);
        assert!(matches!(run, Err(ToolFailure::BadOutput { .. })));
    }

    #[test]
    fn failed_tests_make_a_verdict_not_an_error() {
        let cov = br#"{"meta":{"branch_coverage":false},"files":{}}"#;
        let run = interpret(
            &finished(1),
            Some(JUNIT_FAILED),
            Some(cov),
            &normalizer(),
            &[],
        )
        .unwrap();
        assert_eq!(run.tests.failed, 1);
        assert_eq!(run.failures.len(), 1);
    }

    #[test]
    fn crashes_are_failures() {
        let run = interpret(&finished(3), None, None, &normalizer(), &[]);
        assert!(matches!(run, Err(ToolFailure::Crashed { .. })));
        let mut killed = finished(0);
        killed.code = None;
        killed.signal = Some(9);
        assert!(interpret(&killed, None, None, &normalizer(), &[]).is_err());
    }

    #[test]
    fn output_paths_go_into_the_given_folder() {
        let args = args(
            "/tmp/run-1",
            "src/components",
            &["src/shared".into(), "src/components/helpers".into()],
            &["tests/test_a.py".into()],
        );
        // Shared code outside the component's folder is measured too; inside it, once.
        assert!(args.contains(&"--cov=src/shared".to_owned()));
        assert!(!args.contains(&"--cov=src/components/helpers".to_owned()));
        assert!(args.contains(&"--junitxml=/tmp/run-1/junit.xml".to_owned()));
        assert!(args.contains(&"--cov=src/components".to_owned()));
        assert!(args.contains(&"--cov-report=json:/tmp/run-1/coverage.json".to_owned()));
    }

    const JUNIT_ONE_FAILED: &[u8] = br#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="1" skipped="0" tests="2" time="0.1"><testcase classname="tests.test_carbon_integration" name="test_web_answers" time="0.01" /><testcase classname="tests.test_carbon_integration" name="test_web_says_v2" time="0.01"><failure message="AssertionError: assert 'v1' == 'v2'">fail</failure></testcase></testsuite></testsuites>"#;
    const JUNIT_ALL_SKIPPED: &[u8] = br#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="0" skipped="1" tests="1"><testcase classname="tests.test_x" name="test_a"><skipped message="needs web" /></testcase></testsuite></testsuites>"#;

    fn integration_tests() -> Vec<String> {
        vec!["tests/test_carbon_integration.py".to_owned()]
    }

    #[test]
    fn integration_failures_are_findings_and_counted() {
        let (counts, findings) =
            interpret_integration(&finished(1), Some(JUNIT_ONE_FAILED), &integration_tests())
                .unwrap();
        assert_eq!((counts.passed, counts.failed), (1, 1));
        assert_eq!(findings.len(), 1);
        assert!(findings[0].message.contains("assert 'v1' == 'v2'"));
    }

    #[test]
    fn integration_with_nothing_marked_run_or_passed_is_never_a_pass() {
        let tests = integration_tests();
        let nothing = interpret_integration(&finished(5), None, &tests).unwrap_err();
        assert!(matches!(nothing, ToolFailure::NoEvidence { .. }));
        assert!(nothing.to_string().contains("@pytest.mark.integration"));
        let skipped =
            interpret_integration(&finished(0), Some(JUNIT_ALL_SKIPPED), &tests).unwrap_err();
        assert!(
            skipped
                .to_string()
                .contains("every integration test was skipped"),
            "{skipped}"
        );
        let lying =
            interpret_integration(&finished(0), Some(JUNIT_ONE_FAILED), &tests).unwrap_err();
        assert!(matches!(lying, ToolFailure::BadOutput { .. }));
        let usage = interpret_integration(&finished(4), None, &tests).unwrap_err();
        assert!(matches!(usage, ToolFailure::Crashed { .. }));
        let no_report = interpret_integration(&finished(0), None, &tests).unwrap_err();
        assert!(matches!(no_report, ToolFailure::Crashed { .. }));
    }

    #[test]
    fn integration_arguments_select_the_marker() {
        assert_eq!(
            integration_args("/tmp/run", &integration_tests()).join(" "),
            "-m pytest -p no:cacheprovider -q -m integration --junitxml=/tmp/run/junit.xml tests/test_carbon_integration.py"
        );
    }
}
