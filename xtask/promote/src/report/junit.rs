//! `junit.xml`: a test suite of gates (one test case per gate) and one suite per step (one test
//! case per finding), so CI systems show promotion results next to test results. quick-junit
//! drops the control characters tool output may carry, which strict XML parsers reject.

use anyhow::{Context, Result};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::PromotionReport;
use crate::tools::result::StepStatus;

pub fn render(report: &PromotionReport) -> Result<String> {
    let mut junit = Report::new(format!("xtask promote {}", report.component));

    let mut gates = TestSuite::new(format!("{}.gates", report.component));
    for (id, gate) in &report.quality_gates {
        let status = if gate.passed() {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let blockers: Vec<String> = report
                .blockers
                .iter()
                .filter(|b| b.gate == *id)
                .map(|b| format!("{}\nfix: {}", b.message, b.fix))
                .collect();
            status.set_message(gate.summary());
            status.set_description(blockers.join("\n\n"));
            status
        };
        let mut case = TestCase::new(id.id(), status);
        case.set_classname(format!("{}.gates", report.component));
        gates.add_test_case(case);
    }
    junit.add_test_suite(gates);

    for step in &report.steps {
        let classname = format!("{}.{}", report.component, step.name);
        let mut suite = TestSuite::new(classname.clone());
        if step.status() == StepStatus::Error {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            if let Some(error) = step.step_error() {
                status.set_message(error.message.lines().next().unwrap_or_default().to_owned());
                status.set_description(error.message.clone());
                status.set_type(format!("{:?}", error.kind));
            }
            let mut case = TestCase::new(step.name.id(), status);
            case.set_classname(classname.clone());
            suite.add_test_case(case);
        } else if step.findings().is_empty() {
            let mut case = TestCase::new(format!("{} clean", step.name), TestCaseStatus::success());
            case.set_classname(classname.clone());
            suite.add_test_case(case);
        }
        for finding in step.findings() {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(finding.message.clone());
            status.set_type(finding.code.clone());
            let mut case =
                TestCase::new(format!("{} {}", finding.location(), finding.code), status);
            case.set_classname(classname.clone());
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit.to_string().context("failed to serialise junit.xml")
}
