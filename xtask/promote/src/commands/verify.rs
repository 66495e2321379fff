//! `cargo xtask verify COMPONENT [--rerun]`: re-checks the newest promotion record of a
//! component (shape, signature when `XTASK_RECORD_PUBLIC_KEY` is set, commit in HEAD's
//! history, inputs at that commit hashing to the subject) and says what changed since; with
//! `--rerun`, checks the commit out into a temporary worktree and decides the gates again,
//! comparing verdicts and figures. Exit 1 with the reason when the record does not verify.

use anyhow::Result;

use crate::cli::{GlobalArgs, VerifyArgs};
use crate::errors::{self, exit};
use crate::git;
use crate::ratchet::base;
use crate::records::{self, verify};
use crate::ui;

pub fn run(global: &GlobalArgs, args: &VerifyArgs) -> Result<u8> {
    let config = super::load_config(global)?;
    let component = config.require_component(&args.component)?;
    let top = git::toplevel(&config.workspace_root)?;
    let folder = records::folder(&config, component);
    let Some(record) = records::newest(&folder)? else {
        ui::error(format!(
            "{} has no promotion record in {}: record one with `cargo xtask promote {} --record`",
            component.name,
            crate::github::ci::repo_relative(&config, &folder),
            component.name
        ));
        return Ok(exit::GATE_FAILED);
    };
    let shown = crate::github::ci::repo_relative(&config, &record);
    let mut verification = verify::verify(&config, &top, component, &record)?;
    if args.rerun
        && verification.verified()
        && let Some(statement) = &verification.statement
    {
        let differences = rerun(&config, &top, statement)?;
        verification.problems.extend(differences);
    }
    let stage = verification
        .statement
        .as_ref()
        .map_or_else(|| "last".to_owned(), |s| s.predicate.to_stage.to_string());
    if verification.verified() {
        println!(
            "{}: {shown} verified ({}){}",
            component.name,
            verification.signature,
            if args.rerun {
                "; a fresh run at its commit decided the same verdicts and figures"
            } else {
                ""
            }
        );
    } else {
        println!("{}: {shown} does not verify", component.name);
        for problem in &verification.problems {
            println!("  {problem}");
        }
    }
    println!(
        "{} changed since the {stage} promotion",
        crate::plural::count_as(verification.changed.len(), "file", "files")
    );
    if ui::verbosity() >= ui::Verbosity::Verbose {
        for (path, how) in &verification.changed {
            println!("  {how:<8} {path}");
        }
    }
    Ok(if verification.verified() {
        exit::OK
    } else {
        exit::GATE_FAILED
    })
}

/// The record's commit checked out into a temporary worktree, its gates decided again fresh.
fn rerun(
    config: &crate::config::Config,
    top: &std::path::Path,
    statement: &records::Statement,
) -> Result<Vec<String>> {
    let Some(subject) = statement.subject.first() else {
        return Ok(vec!["the record has no subject".to_owned()]);
    };
    let toolchain = crate::toolchain::Toolchain::load(config)?;
    ui::status(
        "Rerun",
        format!(
            "checking {} at {} in a temporary worktree",
            statement.predicate.component,
            subject
                .digest
                .git_commit
                .chars()
                .take(12)
                .collect::<String>()
        ),
    );
    let worktree = base::Worktree::create(top, &subject.digest.git_commit, "verify")?;
    let reports = base::run_checks(
        config,
        &toolchain.venv,
        &worktree,
        &[(
            statement.predicate.component.clone(),
            statement.predicate.to_stage,
        )],
    )?;
    drop(worktree);
    let Some(fresh) = reports
        .iter()
        .find(|r| r.report.component == statement.predicate.component)
    else {
        return Err(errors::infra(
            "the fresh run at the record's commit gave no report",
        ));
    };
    Ok(verify::rerun_differences(statement, &fresh.report))
}
