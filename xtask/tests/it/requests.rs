//! Promotion requests end to end: `issue` writes a body from real measurements,
//! `validate-request` reads it back from a GitHub event and decides, and hostile events are
//! refused with exit 2, writing nothing outside the output folder and starting no process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{Run, Sandbox, fake_tool};

pub(crate) fn event(title: &str, body: Option<&str>, labels: &[&str]) -> String {
    serde_json::json!({
        "action": "opened",
        "issue": {
            "number": 45,
            "title": title,
            "body": body,
            "labels": labels.iter().map(|l| serde_json::json!({"name": l})).collect::<Vec<_>>(),
            "user": {"login": "someone"},
        },
        "repository": {"full_name": "owner/repo"},
    })
    .to_string()
}

/// Writes an event into the sandbox and runs validate-request on it, with `out` as the
/// output folder.
pub(crate) fn validate(sandbox: &Sandbox, payload: &str, out: &Path) -> Run {
    let file = sandbox.root().join("event.json");
    std::fs::write(&file, payload).unwrap();
    sandbox.xtask(&[
        "validate-request",
        "--event",
        file.to_str().unwrap(),
        "--output-dir",
        out.to_str().unwrap(),
    ])
}

fn issue_body(sandbox: &Sandbox, component: &str) -> String {
    let path = sandbox.root().join(format!("{component}-request.md"));
    let run = sandbox.xtask(&["issue", component, "--output", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.all());
    std::fs::read_to_string(path).unwrap()
}

fn title_of(body: &str) -> &str {
    body.lines().next().unwrap()
}

#[test]
fn issue_writes_the_form_layout_and_validate_request_accepts_it() {
    let sandbox = Sandbox::new();
    let body = issue_body(&sandbox, "carbon");
    assert_eq!(title_of(&body), "[PROMOTION] Carbon: Development → Staging");
    let headings: Vec<&str> = body.lines().filter(|l| l.starts_with("### ")).collect();
    assert_eq!(
        headings,
        [
            "### Component Name",
            "### Current Stage",
            "### Target Stage",
            "### Functional Group",
            "### Promotion Justification",
            "### Development → Staging Criteria",
            "### Staging → Production Criteria",
            "### Test Results",
            "### Performance Metrics",
            "### Security Review",
            "### Documentation Links",
            "### Dependencies",
            "### Known Blockers",
            "### Rollback Plan",
            "### Additional Context",
        ]
    );
    // Real evidence: the coverage pytest-cov measured, and boxes ticked for what passed.
    let report = {
        let run = sandbox.xtask(&["promote", "carbon", "--format", "json"]);
        serde_json::from_str::<serde_json::Value>(&run.stdout).unwrap()
    };
    let coverage = report["summary"]["coverage"].as_f64().unwrap();
    assert!(
        body.contains(&format!(
            "- Coverage: {coverage:.2}% (threshold for Staging: 70%) ✅"
        )),
        "{body}"
    );
    assert!(body.contains("- [X] Code Quality:"), "{body}");
    assert!(body.contains("- [ ] Functionality:"), "{body}");
    assert!(body.contains("### Performance Metrics\n\n_No response_\n"));

    let out = sandbox.root().join("out");
    let run = validate(
        &sandbox,
        &event(title_of(&body), Some(&body), &["promotion:requested"]),
        &out,
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        std::fs::read_to_string(out.join("label")).unwrap(),
        "promotion:in-review\n"
    );
    let comment = std::fs::read_to_string(out.join("comment.md")).unwrap();
    assert!(
        comment.starts_with(
            "<!-- xtask:promotion-validation -->\n## ✅ Carbon: Development → Staging"
        ),
        "{comment}"
    );
    assert!(
        !comment.contains("### Notes"),
        "the title matches: {comment}"
    );
    assert!(out.join("carbon/promotion.json").is_file());

    // A body edited on the web comes back with CRLF line ends; it reads the same.
    let crlf = body.replace('\n', "\r\n");
    let run = validate(
        &sandbox,
        &event(
            "Carbon please",
            Some(&crlf),
            &["promotion:requested", "component:carbon"],
        ),
        &out,
    );
    assert_eq!(run.code, 0, "{}", run.all());
    let comment = std::fs::read_to_string(out.join("comment.md")).unwrap();
    assert!(
        comment.contains("- The title `Carbon please` differs"),
        "{comment}"
    );
}

#[test]
fn issue_refuses_a_target_that_validation_would_reject() {
    let sandbox = Sandbox::new();
    let run = sandbox.xtask(&["issue", "carbon", "--target", "production"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("can only ask for --target staging"),
        "{}",
        run.all()
    );
    assert!(run.stdout.is_empty());
    let run = sandbox.xtask(&["issue", "c\u{430}rbon"]);
    assert_eq!(run.code, 2, "{}", run.all());
}

#[test]
fn a_request_for_a_blocked_component_is_labelled_blocked_with_its_blockers() {
    let sandbox = Sandbox::new();
    let body = issue_body(&sandbox, "narrative-arc-orchestrator");
    assert!(body.contains("### Known Blockers\n\n- **lint**:"), "{body}");
    assert!(
        body.contains("- `neo4j`: Staging ✅\n- `llm`: Development, below Staging ❌"),
        "{body}"
    );
    let out = sandbox.root().join("out");
    let run = validate(
        &sandbox,
        &event(title_of(&body), Some(&body), &["promotion:requested"]),
        &out,
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(
        std::fs::read_to_string(out.join("label")).unwrap(),
        "promotion:blocked\n"
    );
    let comment = std::fs::read_to_string(out.join("comment.md")).unwrap();
    assert!(comment.contains("**Not promotable yet**"), "{comment}");
    assert!(comment.contains("- **types**:"), "{comment}");
}

/// Every file under `root` except `skip`, with its size and modification time.
fn tree(root: &Path, skip: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.starts_with(skip) {
                continue;
            }
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else {
                files.insert(path, (meta.len(), meta.modified().unwrap()));
            }
        }
    }
    files
}

/// A body exactly as the form renders it, with `component` in its first section.
pub(crate) fn form_body(component: &str, current: &str, target: &str) -> String {
    let sections = [
        ("Component Name", component.to_owned()),
        ("Current Stage", current.to_owned()),
        ("Target Stage", target.to_owned()),
        ("Functional Group", "Core Infrastructure".to_owned()),
        ("Promotion Justification", "Ready.".to_owned()),
        (
            "Development → Staging Criteria",
            "- [X] Functionality: Core features complete (80%+ of planned functionality)"
                .to_owned(),
        ),
        (
            "Staging → Production Criteria",
            "- [ ] Testing: Integration tests passing (≥80% coverage)".to_owned(),
        ),
        ("Test Results", "_No response_".to_owned()),
        ("Performance Metrics", "_No response_".to_owned()),
        ("Security Review", "_No response_".to_owned()),
        ("Documentation Links", "_No response_".to_owned()),
        ("Dependencies", "_No response_".to_owned()),
        ("Known Blockers", "_No response_".to_owned()),
        ("Rollback Plan", "_No response_".to_owned()),
        ("Additional Context", "_No response_".to_owned()),
    ];
    sections
        .iter()
        .map(|(label, value)| format!("### {label}\n\n{value}"))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[test]
fn hostile_events_exit_2_write_only_the_verdict_and_start_no_process() {
    let mut sandbox = Sandbox::new();
    // Every program a payload might try to reach: each leaves a marker if it ever runs.
    let fakes = sandbox.root().join("fake-bin");
    let markers = sandbox.root().join("markers");
    std::fs::create_dir_all(&markers).unwrap();
    for name in [
        "id", "sh", "bash", "node", "python3", "git", "gh", "curl", "cat", "touch",
    ] {
        fake_tool(
            &fakes,
            name,
            &format!("echo ran > {}/{name}", markers.display()),
        );
    }
    let path = format!("{}:{}", fakes.display(), std::env::var("PATH").unwrap());
    sandbox.env("PATH", &path);
    sandbox.commit_all("fakes");

    let valid = form_body("carbon", "Development", "Staging");
    let huge = format!("{valid}\n\n{}", "A".repeat(70_000));
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "command substitution",
            event(
                "t",
                Some(&form_body("$(id)", "Development", "Staging")),
                &["promotion:requested"],
            ),
            "is not a component",
        ),
        (
            "backticks",
            event(
                "t",
                Some(&form_body("`id`", "Development", "Staging")),
                &["promotion:requested"],
            ),
            "is not a component",
        ),
        (
            "shell quote break",
            event(
                "t",
                Some(&form_body("\"; id; \"", "Development", "Staging")),
                &["promotion:requested"],
            ),
            "is not a component",
        ),
        (
            "javascript break",
            event(
                "t",
                Some(&form_body(
                    "'; require(\"fs\").writeFileSync(\"pwned\", \"x\"); //",
                    "Development",
                    "Staging",
                )),
                &["promotion:requested"],
            ),
            "looks like a path",
        ),
        (
            "newline",
            event(
                "t",
                Some(&form_body("carbon\nid", "Development", "Staging")),
                &["promotion:requested"],
            ),
            "spans several lines",
        ),
        (
            "path segments",
            event(
                "t",
                Some(&form_body("../../../etc/passwd", "Development", "Staging")),
                &["promotion:requested"],
            ),
            "looks like a path",
        ),
        (
            "cyrillic look-alike",
            event(
                "t",
                Some(&form_body("c\u{430}rbon", "Development", "Staging")),
                &["promotion:requested"],
            ),
            "not ASCII",
        ),
        (
            "70,000-character body",
            event("t", Some(&huge), &["promotion:requested"]),
            "over GitHub's limit",
        ),
        (
            "missing section",
            event(
                "t",
                Some(&valid.replace("### Rollback Plan\n\n_No response_\n\n", "")),
                &["promotion:requested"],
            ),
            "lacks the form section `### Rollback Plan`",
        ),
        (
            "duplicated section",
            event(
                "t",
                Some(&format!("{valid}\n\n### Component Name\n\ncarbon")),
                &["promotion:requested"],
            ),
            "appears twice",
        ),
        (
            "stage jump",
            event(
                "t",
                Some(&form_body("carbon", "Development", "Production")),
                &["promotion:requested"],
            ),
            "one stage at a time",
        ),
        (
            "stage with a payload",
            event(
                "t",
                Some(&form_body("carbon", "Development", "Staging; id")),
                &["promotion:requested"],
            ),
            "is not one of",
        ),
        (
            "wrong current stage",
            event(
                "t",
                Some(&form_body("carbon", "Staging", "Production")),
                &["promotion:requested"],
            ),
            "says Development",
        ),
        (
            "escape sequence",
            event(
                "t",
                Some(&valid.replace("Ready.", "Ready \u{1b}]0;pwned\u{7}")),
                &["promotion:requested"],
            ),
            "control character",
        ),
        (
            "no body",
            event("t", None, &["promotion:requested"]),
            "has no body",
        ),
        (
            "no label",
            event("t", Some(&valid), &[]),
            "not a promotion request",
        ),
        ("not json", "$(id); `id`".to_owned(), "not JSON"),
        (
            "number not a number",
            r#"{"issue":{"number":"1; id","title":"t","body":"b"}}"#.to_owned(),
            "not a GitHub issues event",
        ),
    ];
    let out = sandbox.root().join("out");
    let before = tree(sandbox.root(), &out);
    for (name, payload, reason) in &cases {
        let run = validate(&sandbox, payload, &out);
        assert_eq!(run.code, 2, "{name}: {}", run.all());
        assert!(
            run.stderr.contains(reason),
            "{name}: expected `{reason}` in\n{}",
            run.all()
        );
        // The verdict is written for the workflow to post; it quotes, never echoes raw.
        assert_eq!(
            std::fs::read_to_string(out.join("label")).unwrap(),
            "promotion:blocked\n",
            "{name}"
        );
        let comment = std::fs::read_to_string(out.join("comment.md")).unwrap();
        assert!(
            comment.contains("## ⛔ Promotion request rejected"),
            "{name}: {comment}"
        );
        assert!(
            !comment.contains("$(id)\n") && !comment.contains('\u{1b}'),
            "{name}: {comment}"
        );
        let written: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            written.len(),
            2,
            "{name}: only comment.md and label: {written:?}"
        );
    }
    // event.json is the one file the test itself rewrote.
    let mut after = tree(sandbox.root(), &out);
    let mut before = before;
    before.remove(&sandbox.root().join("event.json"));
    after.remove(&sandbox.root().join("event.json"));
    assert_eq!(before, after, "files changed outside the output folder");
    assert!(!sandbox.root().join("reports").exists());
    let ran: Vec<_> = std::fs::read_dir(&markers)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(ran.is_empty(), "processes ran: {ran:?}");
    // The fakes do work when something does call them: the marker check can fail.
    let check = std::process::Command::new(fakes.join("id"))
        .status()
        .unwrap();
    assert!(check.success());
    assert!(markers.join("id").exists());
}
