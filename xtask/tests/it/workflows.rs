//! `workflows [--check]`: the committed generated files are fresh, a stale one is caught with a
//! diff, and every generated workflow passes zizmor (pedantic) and GitHub's JSON schemas.

use std::path::PathBuf;

use crate::support::{Sandbox, test_tool, workspace, xtask_bin};

const WORKFLOWS: [&str; 3] = [
    "promotion-validation.yml",
    "component-status.yml",
    "quality.yml",
];
const ISSUE_FORM: &str = ".github/ISSUE_TEMPLATE/component_promotion.yml";

fn committed_workflows() -> Vec<PathBuf> {
    WORKFLOWS
        .iter()
        .map(|name| workspace().join(".github/workflows").join(name))
        .collect()
}

fn output_text(output: &std::process::Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn workflows_check_passes_on_the_committed_tree() {
    let output = std::process::Command::new(xtask_bin())
        .args(["workflows", "--check"])
        .current_dir(workspace())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    assert!(output.stdout.is_empty(), "{}", output_text(&output));
}

#[test]
fn a_stale_or_missing_generated_file_fails_the_check_with_a_diff() {
    let sandbox = Sandbox::new();
    let write = sandbox.xtask(&["workflows"]);
    assert_eq!(write.code, 0, "{}", write.all());
    let quality = sandbox.root().join(".github/workflows/quality.yml");
    let fresh = std::fs::read_to_string(&quality).unwrap();
    assert_eq!(
        fresh,
        std::fs::read_to_string(workspace().join(".github/workflows/quality.yml")).unwrap()
    );
    assert_eq!(sandbox.xtask(&["workflows", "--check"]).code, 0);

    // A hand edit is stale: exit 1, and a unified diff that shows the edit being undone.
    std::fs::write(
        &quality,
        fresh.replace("timeout-minutes: 60", "timeout-minutes: 5"),
    )
    .unwrap();
    let check = sandbox.xtask(&["workflows", "--check"]);
    assert_eq!(check.code, 1, "{}", check.all());
    assert!(
        check
            .stdout
            .contains("--- a/.github/workflows/quality.yml\n+++ b/.github/workflows/quality.yml\n"),
        "{}",
        check.all()
    );
    assert!(
        check
            .stdout
            .contains("-    timeout-minutes: 5\n+    timeout-minutes: 60\n"),
        "{}",
        check.all()
    );
    assert!(check.stderr.contains("1 of 4 generated files are stale"));
    // --check writes nothing.
    assert!(
        std::fs::read_to_string(&quality)
            .unwrap()
            .contains("timeout-minutes: 5")
    );

    // A missing file is stale too; the diff adds it whole.
    std::fs::remove_file(sandbox.root().join(ISSUE_FORM)).unwrap();
    let check = sandbox.xtask(&["workflows", "--check"]);
    assert_eq!(check.code, 1, "{}", check.all());
    assert!(
        check
            .stdout
            .contains(&format!("--- /dev/null\n+++ b/{ISSUE_FORM}\n"))
    );

    // Writing brings both back.
    assert_eq!(sandbox.xtask(&["workflows"]).code, 0);
    assert_eq!(sandbox.xtask(&["workflows", "--check"]).code, 0);
    assert_eq!(std::fs::read_to_string(&quality).unwrap(), fresh);
}

#[test]
fn a_registry_change_makes_the_issue_form_stale() {
    let sandbox = Sandbox::new();
    assert_eq!(sandbox.xtask(&["workflows"]).code, 0);
    let config = sandbox.config_text().replace(
        "[components.player-experience]",
        "[components.session-manager]\ndisplay_name = \"Session Manager\"\ngroup = \"Player Experience\"\nsource = \"src/components/player_experience\"\n\n[components.player-experience]",
    );
    sandbox.set_config(&config);
    let check = sandbox.xtask(&["workflows", "--check"]);
    assert_eq!(check.code, 1, "{}", check.all());
    assert!(
        check.stdout.contains("+        - \"session-manager\"\n"),
        "{}",
        check.all()
    );
}

#[test]
fn generated_workflows_pass_zizmor_pedantic_with_zero_findings() {
    assert_zizmor_finds_nothing(&committed_workflows());
}

/// zizmor (pedantic) audits every one of `files` and finds nothing.
pub fn assert_zizmor_finds_nothing(files: &[PathBuf]) {
    let mut args = vec!["--offline", "--persona", "pedantic", "--format", "json"];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    let output = test_tool("zizmor", &args);
    let findings: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("zizmor printed no JSON ({e}):\n{}", output_text(&output)));
    assert_eq!(findings.as_array().map(Vec::len), Some(0), "{findings:#}");
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    // zizmor audited all three: it logs each input it completes.
    let log = String::from_utf8_lossy(&output.stderr);
    for file in files {
        assert!(
            log.contains(&format!("completed {}", file.display())),
            "{log}"
        );
    }
}

#[test]
fn zizmor_does_find_an_injection_so_its_silence_means_something() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    let text =
        std::fs::read_to_string(workspace().join(".github/workflows/promotion-validation.yml"))
            .unwrap()
            .replace(
                "run: cargo xtask setup",
                "run: echo \"${{ github.event.issue.title }}\"",
            );
    std::fs::write(&bad, text).unwrap();
    let output = test_tool(
        "zizmor",
        &[
            "--offline",
            "--persona",
            "pedantic",
            "--format",
            "json",
            bad.to_str().unwrap(),
        ],
    );
    let findings: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        findings
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["ident"] == "template-injection"),
        "{findings:#}"
    );
    assert_ne!(output.status.code(), Some(0));
}

#[test]
fn generated_files_are_valid_against_githubs_schemas() {
    assert_valid_workflows(&committed_workflows());
}

/// Every one of `files` is valid against GitHub's workflow schema and has timeouts.
pub fn assert_valid_workflows(files: &[PathBuf]) {
    for file in files {
        for schema in [
            "vendor.github-workflows",
            "custom.github-workflows-require-timeout",
        ] {
            let output = test_tool(
                "check-jsonschema",
                &["--builtin-schema", schema, file.to_str().unwrap()],
            );
            assert_eq!(
                output.status.code(),
                Some(0),
                "{} against {schema}: {}",
                file.display(),
                output_text(&output)
            );
        }
    }
}

#[test]
fn the_committed_issue_form_is_valid_against_githubs_schema() {
    let form = workspace().join(ISSUE_FORM);
    let output = test_tool(
        "check-jsonschema",
        &[
            "--builtin-schema",
            "vendor.github-issue-forms",
            form.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
}
