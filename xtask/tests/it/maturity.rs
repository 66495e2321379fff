//! Recording stage changes with the real binary and the real tools: `promote --record` writes
//! only on a promotable verdict and keeps every byte outside the managed section, a second run
//! changes nothing, the recorded time drives the observation gate, and `demote` goes down only.

use crate::support::{Sandbox, workspace};

const CARBON: &str = "docs/components/carbon/MATURITY.md";

/// Carbon's MATURITY.md rewritten with CRLF endings, user prose and a trailing section.
fn crlf_carbon(sandbox: &Sandbox) -> String {
    let original = sandbox.read(CARBON);
    let text = format!(
        "{}\n## Notes From The Team\n\nProse we wrote by hand — keep it.  \nTrailing | pipes | too\n\n## Trailing Section\nLast line without a newline",
        original.trim_end()
    )
    .replace('\n', "\r\n");
    sandbox.write(CARBON, &text);
    sandbox.commit_all("carbon maturity with CRLF");
    text
}

/// The text before and after the managed section.
fn outside(text: &str) -> (String, String) {
    let begin = text
        .find("<!-- xtask:maturity:begin")
        .expect("a begin marker");
    let end_marker = "<!-- xtask:maturity:end -->";
    let end = text.find(end_marker).expect("an end marker") + end_marker.len();
    (text[..begin].to_owned(), text[end..].to_owned())
}

#[test]
fn record_keeps_user_prose_crlf_and_a_trailing_section_and_a_second_run_changes_nothing() {
    let sandbox = Sandbox::new();
    let original = crlf_carbon(&sandbox);
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "all", "--record"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr
            .contains("Recorded carbon: Development -> Staging"),
        "{}",
        run.all()
    );

    let recorded = sandbox.read(CARBON);
    let (before, after) = outside(&recorded);
    let (user_before, user_after) = original
        .split_once("**Current Stage**: Development")
        .expect("the example states its stage");
    assert_eq!(before, user_before, "bytes before the section changed");
    assert_eq!(after, user_after, "bytes after the section changed");
    assert!(
        !recorded.replace("\r\n", "").contains('\n'),
        "the file is CRLF; a bare LF was written"
    );
    assert!(
        recorded.contains("**Current Stage**: Staging\r\n"),
        "{recorded}"
    );
    // The history row links the promotion record written beside MATURITY.md.
    let date = chrono::Utc::now().format("%Y-%m-%d");
    assert!(
        recorded.contains(&format!(
            "| Development | Staging | 72.06% | promoted: all 8 gates passed; [record](promotions/staging-{date}.json) |"
        )),
        "{recorded}"
    );
    assert!(
        sandbox
            .path(&format!(
                "docs/components/carbon/promotions/staging-{date}.json"
            ))
            .exists(),
        "the record the row links exists"
    );
    // The users' own history table is still there, untouched.
    assert!(recorded.contains("| 2025-09-15 | — | Development | Initial implementation |\r\n"));

    // Again: carbon is now in Staging, so the default target is Production, which it is not
    // ready for; nothing is written.
    let again = sandbox.xtask(&["promote", "carbon", "--phase", "all", "--record"]);
    assert_eq!(again.code, 1, "{}", again.all());
    assert!(again.stderr.contains("Not recorded"), "{}", again.all());
    assert_eq!(sandbox.read(CARBON), recorded);
    // And the same target again is not a promotion.
    let same = sandbox.xtask(&[
        "promote", "carbon", "--phase", "all", "--target", "staging", "--record",
    ]);
    assert_eq!(same.code, 1, "{}", same.all());
    assert!(same.stdout.contains("already in Staging"), "{}", same.all());
    assert_eq!(sandbox.read(CARBON), recorded);
}

#[test]
fn the_recorded_time_starts_the_observation_period() {
    let sandbox = Sandbox::new();
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "all", "--record"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let run = sandbox.xtask(&["promote", "carbon", "--phase", "all"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let report = sandbox.report("carbon");
    assert_eq!(report["to_stage"], "production");
    let observation = &report["quality_gates"]["observation"];
    assert_eq!(observation["passed"], false, "{report:#}");
    assert!(
        observation["measured"].as_f64().unwrap() < 0.1,
        "{observation}"
    );
    let blocker = report["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["gate"] == "observation")
        .expect("an observation blocker");
    let fix = blocker["fix"].as_str().unwrap();
    assert!(
        fix.starts_with("wait until ") && fix.contains(" UTC (6 days 23h more)"),
        "{fix}"
    );
}

#[test]
fn nothing_is_recorded_without_a_promotable_verdict() {
    let sandbox = Sandbox::new();
    let path = "src/components/narrative_arc_orchestrator/MATURITY.md";
    let before = sandbox.read(path);
    let run = sandbox.xtask(&[
        "promote",
        "narrative-arc-orchestrator",
        "--phase",
        "all",
        "--record",
    ]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("Not recorded"), "{}", run.all());
    assert_eq!(sandbox.read(path), before);

    let partial = sandbox.xtask(&["promote", "carbon", "--phase", "2", "--record"]);
    assert_eq!(partial.code, 2, "{}", partial.all());
    assert!(
        partial
            .stderr
            .contains("--record needs the validation phase"),
        "{}",
        partial.all()
    );
    let original = std::fs::read_to_string(workspace().join("examples/tta").join(CARBON)).unwrap();
    assert_eq!(sandbox.read(CARBON), original);
}

#[test]
fn demote_records_a_lower_stage_and_refuses_anything_else() {
    let sandbox = Sandbox::new();
    let path = "docs/components/neo4j/MATURITY.md";
    let original = sandbox.read(path);
    let run = sandbox.xtask(&[
        "demote",
        "neo4j",
        "--to",
        "development",
        "--reason",
        "transactions lose writes under load",
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    // narrative-coherence is in Staging and depends on neo4j: the demotion warns about it.
    assert!(
        run.stderr
            .contains("narrative-coherence is in Staging and depends on neo4j"),
        "{}",
        run.all()
    );
    let text = sandbox.read(path);
    assert!(text.contains("**Current Stage**: Development"), "{text}");
    assert!(
        text.contains(
            "| Staging | Development | — | demoted: transactions lose writes under load |"
        ),
        "{text}"
    );
    let (before, after) = outside(&text);
    let (user_before, user_after) = original.split_once("**Current Stage**: Staging").unwrap();
    assert_eq!((before.as_str(), after.as_str()), (user_before, user_after));

    // The file now says Development, and the dependency gates of its dependents read it so.
    let dependent = sandbox.xtask(&["promote", "narrative-coherence", "--phase", "all"]);
    assert_eq!(dependent.code, 1, "{}", dependent.all());
    let report = sandbox.report("narrative-coherence");
    assert!(
        report["blockers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["message"] == "dependency neo4j is in Development, below Production"),
        "{report:#}"
    );

    for (to, why) in [
        ("development", "the same stage"),
        ("production", "a higher stage"),
    ] {
        let refused = sandbox.xtask(&["demote", "neo4j", "--to", to, "--reason", "x"]);
        assert_eq!(refused.code, 2, "{why}: {}", refused.all());
        assert!(
            refused.stderr.contains("is not below Development"),
            "{}",
            refused.all()
        );
    }
    let no_reason = sandbox.xtask(&["demote", "docker", "--to", "development", "--reason", "  "]);
    assert_eq!(no_reason.code, 2, "{}", no_reason.all());
    assert_eq!(sandbox.read(path), text, "a refused demotion wrote");
}
