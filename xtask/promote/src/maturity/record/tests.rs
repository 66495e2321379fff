//! Recording on real-looking MATURITY.md texts: bytes outside the section survive, line
//! endings are kept, a second identical record changes nothing, and only evidence records.

use chrono::TimeZone;
use indexmap::IndexMap;

use super::*;
use crate::gates::{CoverageMeasure, GateResult, Outcome};
use crate::report::model::{REPORT_SCHEMA_VERSION, RunSummary};
use crate::vocab::GateKind;

/// A MATURITY.md as our users write them, with CRLF endings, prose and a trailing section.
const USER_FILE: &str = "# Carbon — Maturity\r\n\r\nSome prose the team wrote, with *emphasis* and trailing spaces.  \r\n\r\n**Current Stage**: Development\r\n**Last Updated**: 2025-10-13\r\n\r\n## Promotion History\r\n| Date | From | To | Notes |\r\n|------|------|----|-------|\r\n| 2025-09-15 | — | Development | Initial implementation |\r\n\r\n## Trailing Section\r\nKept as is.\r\nNo final newline";

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
}

fn report(from: Stage, to: Stage, promotable: bool) -> PromotionReport {
    let mut gates = IndexMap::new();
    gates.insert(
        GateKind::Coverage,
        GateResult::from(Outcome::Coverage {
            threshold: 70.0,
            measured: CoverageMeasure::Measured(crate::tools::pytest::Coverage {
                percent: 72.06,
                covered: 7206,
                total: 10000,
                files: 1,
                branch: false,
            }),
        }),
    );
    gates.insert(
        GateKind::Stage,
        GateResult::from(Outcome::Stage { from, to }),
    );
    PromotionReport {
        schema_version: REPORT_SCHEMA_VERSION,
        component: "carbon".into(),
        display_name: "Carbon".into(),
        group: "Core Infrastructure".into(),
        from_stage: from,
        to_stage: to,
        phases: vec![1, 2, 3, 4],
        promotable,
        passed: promotable,
        generated_at: "2026-11-21T09:00:00Z".into(),
        quality_gates: gates,
        blockers: vec![],
        steps: vec![],
        summary: RunSummary {
            steps: 5,
            cached_steps: 5,
            findings: 0,
            coverage: Some(72.06),
        },
        deployment: None,
        integration: None,
    }
}

fn changed(applied: Applied) -> String {
    match applied {
        Applied::Changed(text) => text,
        Applied::AlreadyRecorded => panic!("expected a change"),
    }
}

/// Everything outside the managed section, with the section cut out.
fn outside(text: &str) -> (String, String) {
    let section = parse::find(text).expect("a managed section");
    (
        text[..section.range.start].to_owned(),
        text[section.range.end..].to_owned(),
    )
}

#[test]
fn a_promotion_keeps_prose_crlf_and_the_trailing_section() {
    let change = StageChange::promotion(
        &report(Stage::Development, Stage::Staging, true),
        None,
        at(21, 9),
    )
    .unwrap();
    let text = changed(apply(USER_FILE, &change).unwrap());
    let (before, after) = outside(&text);
    // The stage line was the only user line taken over; every other byte is where it was.
    let (user_before, user_after) = USER_FILE
        .split_once("**Current Stage**: Development")
        .unwrap();
    assert_eq!(before, user_before);
    assert_eq!(after, user_after);
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "a bare LF crept in"
    );
    assert_eq!(parse::parse_stage(&text), Some(Stage::Staging));
    let section = &text[parse::find(&text).unwrap().range];
    assert!(
        section.contains("**Stage Since**: 2026-11-21T09:00:00Z"),
        "{section}"
    );
    assert!(
        section.contains("72.06% at the Staging promotion (needs 70%)"),
        "{section}"
    );
    assert!(
        section.contains("| 2026-11-21T09:00:00Z | Development | Staging | 72.06% | promoted: all 2 gates passed |"),
        "{section}"
    );
    // The users' own history row still counts, and ours is read back to the second.
    assert_eq!(
        parse::entered(&text, Stage::Development),
        chrono::NaiveDate::from_ymd_opt(2025, 9, 15)
            .unwrap()
            .and_hms_opt(0, 0, 0)
    );
    assert_eq!(
        parse::entered(&text, Stage::Staging),
        Some(at(21, 9).naive_utc())
    );
}

#[test]
fn recording_the_same_change_twice_changes_nothing_the_second_time() {
    let change = StageChange::promotion(
        &report(Stage::Development, Stage::Staging, true),
        None,
        at(21, 9),
    )
    .unwrap();
    let once = changed(apply(USER_FILE, &change).unwrap());
    assert_eq!(apply(&once, &change).unwrap(), Applied::AlreadyRecorded);

    // Through the file: the second write leaves the bytes (and the file) alone.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("MATURITY.md");
    std::fs::write(&path, USER_FILE).unwrap();
    assert!(
        write(dir.path(), &path, "Carbon", |_| Ok(change.clone()))
            .unwrap()
            .0
    );
    let first = std::fs::read(&path).unwrap();
    let later = StageChange {
        at: at(22, 9),
        ..change
    };
    assert!(
        !write(dir.path(), &path, "Carbon", |_| Ok(later.clone()))
            .unwrap()
            .0
    );
    assert_eq!(std::fs::read(&path).unwrap(), first);
}

#[test]
fn a_second_promotion_appends_to_the_recorded_rows() {
    let staging = StageChange::promotion(
        &report(Stage::Development, Stage::Staging, true),
        None,
        at(1, 9),
    )
    .unwrap();
    let text = changed(apply(USER_FILE, &staging).unwrap());
    let production = StageChange::promotion(
        &report(Stage::Staging, Stage::Production, true),
        None,
        at(20, 9),
    )
    .unwrap();
    let text2 = changed(apply(&text, &production).unwrap());
    assert_eq!(outside(&text), outside(&text2));
    let rows = managed::rows(&text2[parse::find(&text2).unwrap().range]);
    assert_eq!(rows.len(), 2);
    assert!(rows[0].contains("| Development | Staging |"));
    assert!(rows[1].contains("| Staging | Production |"));
    assert_eq!(parse::parse_stage(&text2), Some(Stage::Production));
}

#[test]
fn only_a_promotable_report_of_one_stage_records() {
    let error = StageChange::promotion(
        &report(Stage::Development, Stage::Staging, false),
        None,
        at(21, 9),
    )
    .unwrap_err();
    assert!(error.to_string().contains("not promotable"), "{error}");
    let error = StageChange::promotion(
        &report(Stage::Development, Stage::Production, true),
        None,
        at(21, 9),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("not a promotion by one stage"),
        "{error}"
    );
}

#[test]
fn a_stale_report_is_refused_when_the_file_moved_on() {
    let change = StageChange::promotion(
        &report(Stage::Staging, Stage::Production, true),
        None,
        at(21, 9),
    )
    .unwrap();
    let error = apply(USER_FILE, &change).unwrap_err();
    assert!(error.to_string().contains("says Development"), "{error}");
}

#[test]
fn a_deployment_is_noted_and_must_be_to_the_target_environment() {
    let deployment = DeploymentConfirmation {
        environment: "staging".into(),
        service: "carbon".into(),
        image_id: "sha256:0123abcd".into(),
        deployed_at: at(21, 8),
    };
    let change = StageChange::promotion(
        &report(Stage::Development, Stage::Staging, true),
        Some(&deployment),
        at(21, 9),
    )
    .unwrap();
    assert!(
        change.notes.contains(
            "deployed sha256:0123abcd as service carbon to staging at 2026-11-21T08:00:00Z"
        ),
        "{}",
        change.notes
    );
    let wrong = DeploymentConfirmation {
        environment: "production".into(),
        ..deployment
    };
    assert!(
        StageChange::promotion(
            &report(Stage::Development, Stage::Staging, true),
            Some(&wrong),
            at(21, 9)
        )
        .is_err()
    );
}

#[test]
fn demotions_go_down_with_a_reason() {
    assert!(StageChange::demotion(Stage::Staging, Stage::Staging, "x", at(21, 9)).is_err());
    assert!(StageChange::demotion(Stage::Staging, Stage::Production, "x", at(21, 9)).is_err());
    assert!(StageChange::demotion(Stage::Staging, Stage::Development, " \n ", at(21, 9)).is_err());
    let promoted = changed(
        apply(
            USER_FILE,
            &StageChange::promotion(
                &report(Stage::Development, Stage::Staging, true),
                None,
                at(1, 9),
            )
            .unwrap(),
        )
        .unwrap(),
    );
    let demotion = StageChange::demotion(
        Stage::Staging,
        Stage::Development,
        "flaky | tests\nin CI",
        at(21, 9),
    )
    .unwrap();
    let text = changed(apply(&promoted, &demotion).unwrap());
    assert_eq!(parse::parse_stage(&text), Some(Stage::Development));
    assert_eq!(outside(&text), outside(&promoted));
    assert!(
        text.contains(
            "| 2026-11-21T09:00:00Z | Staging | Development | — | demoted: flaky \\| tests in CI |"
        ),
        "{text}"
    );
    assert!(text.contains("**Coverage**: not measured (demoted to Development)"));
}

#[test]
fn a_missing_file_is_created_with_a_title() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docs/MATURITY.md");
    let change = StageChange::promotion(
        &report(Stage::Development, Stage::Staging, true),
        None,
        at(21, 9),
    )
    .unwrap();
    assert!(
        write(dir.path(), &path, "Carbon", |_| Ok(change.clone()))
            .unwrap()
            .0
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("# Carbon — Maturity\n\n<!-- xtask:maturity:begin"),
        "{text}"
    );
    assert_eq!(parse::parse_stage(&text), Some(Stage::Staging));
}

/// The demotion from Staging to Development every defect test tries to record.
fn demotion() -> StageChange {
    StageChange::demotion(Stage::Staging, Stage::Development, "r", at(21, 9)).unwrap()
}

fn refusal(text: &str) -> String {
    let error = apply(text, &demotion()).unwrap_err();
    assert_eq!(
        crate::errors::exit_code_of(&error),
        crate::errors::exit::USAGE,
        "{error:#}"
    );
    format!("{error:#}")
}

#[test]
fn a_stray_begin_marker_is_refused_naming_its_line() {
    // The attack: a begin marker with no end above a user line and the stage line. Splicing
    // would replace everything from the marker to the next end marker a record writes.
    let text = "# T\n<!-- xtask:maturity:begin -->\nmy line\n**Current Stage**: Staging\n";
    let message = refusal(text);
    assert!(
        message.contains("begin marker: line 2; end marker: none"),
        "{message}"
    );
    // An end before its begin, and two sections, are refused the same way.
    let message = refusal(
        "# T\n<!-- xtask:maturity:end -->\n**Current Stage**: Staging\n<!-- xtask:maturity:begin -->\n",
    );
    assert!(
        message.contains("begin marker: line 4; end marker: line 2"),
        "{message}"
    );
    let section = changed(apply("# T\n**Current Stage**: Staging\n", &demotion()).unwrap());
    let twice = format!("{section}\n{section}");
    assert!(refusal(&twice).contains("do not pair up"));
}

#[test]
fn a_bom_is_read_past_and_kept() {
    let text = "\u{feff}**Current Stage**: Staging\nprose\n";
    assert_eq!(parse::parse_stage(text), Some(Stage::Staging));
    let out = changed(apply(text, &demotion()).unwrap());
    assert!(
        out.starts_with("\u{feff}<!-- xtask:maturity:begin"),
        "{out:?}"
    );
    assert_eq!(parse::stage_lines(parse::strip_bom(&out)).len(), 1, "{out}");
    assert_eq!(parse::parse_stage(&out), Some(Stage::Development));
    assert!(out.ends_with("-->\nprose\n"), "{out:?}");
}

#[test]
fn two_stage_lines_are_refused_with_both_line_numbers() {
    let message = refusal("# T\n\n**Current Stage**: Staging\nx\nStage: Production\n");
    assert!(
        message.contains("line 3 says Staging, line 5 says Production"),
        "{message}"
    );
    // Two lines that agree are read, but a record that would leave the second one stating the
    // old stage is refused rather than writing a file that states two stages.
    let message = refusal("**Current Stage**: Staging\nStage: Staging\n");
    assert!(
        message.contains("would leave MATURITY.md inconsistent"),
        "{message}"
    );
}

#[test]
fn writers_of_one_file_serialise_and_the_later_one_builds_on_the_earlier() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("MATURITY.md");
    std::fs::write(&path, "# T\n**Current Stage**: Staging\n").unwrap();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (dir, path) = (dir.path().to_owned(), path.clone());
            std::thread::spawn(move || {
                write(&dir, &path, "T", |current| {
                    // A demotion from whatever the file says; the last one ends in Development.
                    let to = if current == Stage::Staging {
                        Stage::Development
                    } else {
                        current
                    };
                    if to == current {
                        // Already down: re-promote so every writer changes the file.
                        StageChange::promotion(
                            &report(current, current.next().unwrap(), true),
                            None,
                            at(21, i),
                        )
                    } else {
                        StageChange::demotion(current, to, "r", at(21, i))
                    }
                })
                .unwrap()
            })
        })
        .collect();
    let changed = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|(changed, _)| *changed)
        .count();
    let text = std::fs::read_to_string(&path).unwrap();
    let section = &text[parse::find(&text).unwrap().range];
    assert_eq!(managed::rows(section).len(), changed, "{text}");
    assert_eq!(changed, 8);
}
