//! `cargo xtask affected --base REF [--head REF]`: the components a change affects, printed as
//! the JSON matrix `{"component": [...]}` (and, in GitHub Actions, set as the step outputs
//! `matrix` and `count`), with the reason for each on stderr.

use anyhow::Result;

use crate::affected::{self, Affected};
use crate::cli::{AffectedArgs, GlobalArgs};
use crate::errors::exit;
use crate::git;
use crate::github;
use crate::ui;

/// A push that creates a branch has no previous commit; GitHub sends zeros.
fn is_null_commit(rev: &str) -> bool {
    rev.len() >= 40 && rev.bytes().all(|b| b == b'0')
}

pub fn run(global: &GlobalArgs, args: &AffectedArgs) -> Result<u8> {
    let config = super::load_config(global)?;
    let top = git::toplevel(&config.workspace_root)?;
    let head = match &args.head {
        Some(rev) => Some(git::resolve_commit(&top, rev)?.ok_or_else(|| {
            crate::errors::usage(format!(
                "--head `{}` is not a commit in this checkout",
                rev.escape_debug()
            ))
        })?),
        None => None,
    };
    let base = if is_null_commit(&args.base) {
        None
    } else {
        match git::resolve_commit(&top, &args.base)? {
            Some(base) => Some(base),
            None => {
                // Running more checks is never a false pass: without the base, check all.
                ui::warn(format!(
                    "--base `{}` is not a commit in this checkout (a shallow clone or a force push?): taking every component",
                    args.base.escape_debug()
                ));
                None
            }
        }
    };
    let result = match base {
        None => Affected::all(&config, "no base commit to compare with"),
        Some(base) => {
            let compare_from =
                match git::merge_base(&top, &base, head.as_deref().unwrap_or("HEAD"))? {
                    Some(merge_base) => merge_base,
                    None => base,
                };
            let changed = git::changed_files(&top, &compare_from, head.as_deref())?;
            let scope = affected::scope(&config, &top);
            affected::map(&config, &scope, &changed)
        }
    };
    for name in &result.components {
        ui::status("Affected", format!("{name}: {}", result.reasons[name]));
    }
    if result.components.is_empty() {
        ui::status("Affected", "no component");
    }
    let matrix = result.matrix_json();
    println!("{matrix}");
    github::ci::set_outputs(&[
        ("matrix".to_owned(), matrix),
        ("count".to_owned(), result.components.len().to_string()),
    ])?;
    Ok(exit::OK)
}
