//! The ratchet's comparison on made-up figures.

use super::*;

fn finding(tool: &str, rule: &str, line: u32, text: &str) -> Flagged {
    Flagged {
        tool: tool.into(),
        rule: rule.into(),
        file: "src/a.py".into(),
        line: Some(line),
        column: Some(1),
        message: format!("{rule} here"),
        fixable: false,
        fingerprint: fingerprint::of_line(text),
    }
}

fn gate(passed: bool) -> GateFigure {
    GateFigure {
        passed,
        summary: "summary".into(),
        fix: Some("the fix".into()),
    }
}

fn figures(findings: Vec<Flagged>, coverage: Option<f64>) -> Figures {
    Figures {
        findings,
        coverage,
        gates: BTreeMap::from([(GateKind::Coverage, gate(true))]),
    }
}

#[test]
fn a_new_finding_is_worse_and_names_its_fix() {
    let base = figures(vec![finding("ruff", "F401", 3, "import os")], Some(80.0));
    let head = figures(
        vec![
            finding("ruff", "F401", 3, "import os"),
            finding("pyright", "reportAttributeAccessIssue", 9, "x.nope"),
        ],
        Some(80.0),
    );
    let c = compare("a", Stage::Staging, Some(&base), &head, 0.1);
    assert!(c.is_worse());
    assert_eq!(c.existing.len(), 1);
    match c.worse.as_slice() {
        [Worse::NewFinding { finding, fix }] => {
            assert_eq!(finding.rule, "reportAttributeAccessIssue");
            assert!(fix.contains("type error"), "{fix}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_moved_finding_is_not_new_and_a_removed_one_is_fixed() {
    let base = figures(
        vec![
            finding("ruff", "F401", 3, "import os"),
            finding("ruff", "E711", 10, "if x == None:"),
        ],
        Some(80.0),
    );
    let head = figures(vec![finding("ruff", "F401", 33, "  import os")], Some(80.0));
    let c = compare("a", Stage::Staging, Some(&base), &head, 0.1);
    assert!(!c.is_worse(), "{:?}", c.worse);
    assert_eq!(c.existing.len(), 1);
    assert_eq!(c.fixed.len(), 1);
    assert_eq!(c.fixed[0].rule, "E711");
}

#[test]
fn a_second_copy_of_a_flagged_line_is_new() {
    let base = figures(vec![finding("ruff", "E711", 3, "if x == None:")], None);
    let head = figures(
        vec![
            finding("ruff", "E711", 3, "if x == None:"),
            finding("ruff", "E711", 8, "if x == None:"),
        ],
        None,
    );
    let c = compare("a", Stage::Development, Some(&base), &head, 0.1);
    assert_eq!(c.worse.len(), 1);
    assert_eq!(c.existing.len(), 1);
}

#[test]
fn coverage_may_fall_by_the_slack_and_no_more() {
    let base = figures(vec![], Some(80.0));
    let within = compare(
        "a",
        Stage::Staging,
        Some(&base),
        &figures(vec![], Some(79.9)),
        0.1,
    );
    assert!(!within.is_worse(), "{:?}", within.worse);
    let beyond = compare(
        "a",
        Stage::Staging,
        Some(&base),
        &figures(vec![], Some(78.0)),
        0.1,
    );
    assert!(matches!(
        beyond.worse.as_slice(),
        [Worse::CoverageDropped { base, head, .. }] if *base == 80.0 && *head == 78.0
    ));
    let lost = compare(
        "a",
        Stage::Staging,
        Some(&base),
        &figures(vec![], None),
        0.1,
    );
    assert!(matches!(
        lost.worse.as_slice(),
        [Worse::CoverageLost { .. }]
    ));
    let higher = compare(
        "a",
        Stage::Staging,
        Some(&base),
        &figures(vec![], Some(90.0)),
        0.1,
    );
    assert!(!higher.is_worse());
}

#[test]
fn a_gate_newly_failing_is_worse_but_one_failing_before_is_not() {
    let base = figures(vec![], Some(80.0));
    let mut head = figures(vec![], Some(80.0));
    head.gates.insert(GateKind::Coverage, gate(false));
    let c = compare("a", Stage::Staging, Some(&base), &head, 5.0);
    assert!(matches!(
        c.worse.as_slice(),
        [Worse::GateFailed { gate, fix: Some(_), .. }] if *gate == GateKind::Coverage
    ));
    let mut failing_before = base.clone();
    failing_before.gates.insert(GateKind::Coverage, gate(false));
    let c = compare("a", Stage::Staging, Some(&failing_before), &head, 5.0);
    assert!(!c.is_worse());
    // The calendar's gates never count.
    let mut head = figures(vec![], Some(80.0));
    head.gates.insert(GateKind::Observation, gate(false));
    assert!(!compare("a", Stage::Staging, Some(&base), &head, 0.1).is_worse());
}

#[test]
fn a_component_missing_on_the_base_has_only_new_findings() {
    let head = figures(
        vec![finding(
            "bandit",
            "B602",
            4,
            "subprocess.call(x, shell=True)",
        )],
        None,
    );
    let c = compare("a", Stage::Development, None, &head, 0.1);
    assert!(!c.in_base);
    assert!(matches!(
        c.worse.as_slice(),
        [Worse::NewFinding { fix, .. }] if fix.contains("nosec B602")
    ));
}
