//! `cargo xtask workflows [--check]`: writes the generated workflows and issue form, or with
//! `--check` prints a unified diff of every stale one and exits 1. A file at a generated path
//! that lacks our header is the repository's own: it is refused with its diff (exit 2) unless
//! `--force`.

use anyhow::Result;

use crate::cli::{GlobalArgs, WorkflowsArgs};
use crate::errors::{exit, usage};
use crate::fsutil;
use crate::generated::{self, COMMAND};
use crate::ui;

pub fn run(global: &GlobalArgs, args: &WorkflowsArgs) -> Result<u8> {
    let config = super::load_config(global)?;
    let files = generated::render_all(&config)?;
    let stale = generated::stale(&config.workspace_root, &files)?;
    if args.check {
        if stale.is_empty() {
            ui::status("Fresh", format!("{} generated files", files.len()));
            return Ok(exit::OK);
        }
        for (_, diff) in &stale {
            print!("{diff}");
        }
        ui::error(format!(
            "{} of {} generated files are stale: run `{COMMAND}` and commit the result",
            stale.len(),
            files.len()
        ));
        return Ok(exit::GATE_FAILED);
    }
    let mut refused = Vec::new();
    for (path, diff) in &stale {
        let file = files
            .iter()
            .find(|f| config.workspace_root.join(&f.path) == *path)
            .expect("stale files come from the rendered list");
        let theirs =
            crate::input_file::read_text(path, "the workflow", crate::input_file::DOCUMENT_MAX)?
                .is_some_and(|text| !generated::is_ours(&text));
        if theirs && !args.force {
            print!("{diff}");
            refused.push(file.path.clone());
            continue;
        }
        fsutil::write_atomic(path, file.contents.as_bytes())?;
        ui::status("Wrote", &file.path);
    }
    if !refused.is_empty() {
        return Err(usage(format!(
            "{} not written: {} the repository's own (no `{COMMAND}` header); the diff above shows what would replace it; pass --force to replace it",
            refused.join(", "),
            if refused.len() == 1 {
                "it is"
            } else {
                "they are"
            }
        )));
    }
    if stale.is_empty() {
        ui::status("Fresh", format!("{} generated files", files.len()));
    }
    Ok(exit::OK)
}
