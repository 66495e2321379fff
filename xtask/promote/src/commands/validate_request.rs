//! `cargo xtask validate-request --event FILE [--output-dir DIR]`: reads a GitHub `issues`
//! event, checks the promotion request in it against xtask.toml, runs the promotion checks for
//! the requested target, and writes `comment.md` and `label` (plus the reports) into the
//! output folder for the workflow to post with `gh`.
//!
//! Exit codes: 0 promotable, 1 not promotable, 2 the request was rejected (the comment says
//! why; nothing ran), 3 a tool or the machine failed. Nothing from the payload is ever passed
//! to a process or used as a path: the component and stages are looked up in the registry.

use std::path::Path;

use anyhow::{Context, Result};

use crate::assess;
use crate::cli::{GlobalArgs, ValidateRequestArgs};
use crate::config::Config;
use crate::errors::usage;
use crate::fsutil;
use crate::github::{self, event};
use crate::maturity;
use crate::plan::{self, PhaseSelection};
use crate::report;
use crate::request::comment::{self, Verdict};
use crate::request::form;
use crate::request::parse::{self, Rejection, shown};
use crate::request::validate::{self, Request};
use crate::ui;

pub const COMMENT_FILE: &str = "comment.md";
pub const LABEL_FILE: &str = "label";

pub fn run(global: &GlobalArgs, args: &ValidateRequestArgs) -> Result<u8> {
    let config = super::load_config(global)?;
    let out_dir = args
        .output_dir
        .clone()
        .unwrap_or_else(|| config.project.reports_dir.join("promotion-request"));
    // A verdict left from an earlier run must never be posted as this one's.
    for file in [COMMENT_FILE, LABEL_FILE] {
        match std::fs::remove_file(out_dir.join(file)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("failed to remove {}", out_dir.join(file).display()));
            }
        }
    }
    let run_url = run_url();

    let (request, notes) = match read_request(&config, &args.event) {
        Ok(found) => found,
        Err(rejection) => {
            let text = comment::render(
                &Verdict::Rejected(&rejection.to_string()),
                &[],
                run_url.as_deref(),
            )?;
            write_verdict(&out_dir, &text, form::LABEL_BLOCKED)?;
            return Err(usage(format!("promotion request rejected: {rejection}")));
        }
    };
    ui::status(
        "Request",
        format!("{}: {} -> {}", request.component, request.from, request.to),
    );

    let component = config.require_component(&request.component)?;
    let plan = plan::plan_component(
        component,
        request.from,
        &PhaseSelection::parse("all")?,
        Some(request.to),
        false,
    )?;
    let plans = [plan];
    let reports_dir = out_dir.join(&component.name);
    report::clear(&reports_dir)?;
    let (reports, _) = super::run_checks(&config, &plans, super::CheckOptions::default(), |ctx| {
        assess::assess(ctx, &plans)
    })?;
    let report = reports.first().expect("one plan gives one report");
    report::write(&reports_dir, report)?;

    let verdict = Verdict::Checked(report);
    let text = comment::render(&verdict, &notes, run_url.as_deref())?;
    write_verdict(&out_dir, &text, verdict.label())?;
    print!("{}", report::text::render(report, false));
    github::ci::emit_reports(&config, &reports, github::ci::CommandStream::Stdout)?;
    Ok(super::promote::finish::exit_code(&reports))
}

/// Reads and checks the request: the payload, the body, the registry, MATURITY.md. Every
/// failure is a rejection for the comment; the returned notes are remarks that do not block.
fn read_request(config: &Config, path: &Path) -> Result<(Request, Vec<String>), Rejection> {
    // Only a regular file, opened without blocking and read up to GitHub's own cap: a FIFO
    // or /dev/zero named as the event is refused at once, as is a payload GitHub never sends.
    let bytes = match crate::input_file::read(path, "the event file", event::MAX_EVENT_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            return Err(Rejection::new(
                None,
                "the event file does not exist".to_owned(),
            ));
        }
        Err(error) => return Err(Rejection::new(None, format!("{error:#}"))),
    };
    let payload = event::parse(&bytes).map_err(|message| Rejection::new(None, message))?;
    ui::status(
        "Issue",
        format!(
            "#{}{}",
            payload.issue.number,
            payload
                .action
                .as_deref()
                .map(|a| format!(" ({})", a.escape_debug()))
                .unwrap_or_default()
        ),
    );
    if !payload
        .issue
        .labels
        .iter()
        .any(|l| l.name == form::LABEL_REQUESTED)
    {
        return Err(Rejection::new(
            None,
            format!(
                "the issue does not carry the `{}` label, so it is not a promotion request: open it from the form",
                form::LABEL_REQUESTED
            ),
        ));
    }
    let body = payload
        .issue
        .body
        .as_deref()
        .filter(|b| !b.trim().is_empty())
        .ok_or_else(|| {
            Rejection::new(
                None,
                "the issue has no body: open it from the promotion request form",
            )
        })?;
    let sections = parse::parse(body)?;
    let request = validate::validate(config, &sections)?;
    let component = config
        .require_component(&request.component)
        .map_err(|e| Rejection::new(None, e.to_string()))?;
    let state = maturity::read(config, component).map_err(|e| {
        Rejection::new(
            None,
            format!("{} could not be read: {e}", component.maturity),
        )
    })?;
    validate::check_current_stage(&request, state.stage, &component.maturity)?;

    let mut notes = Vec::new();
    let title = form::title(&component.display_name, request.from, request.to);
    if payload.issue.title != title {
        notes.push(format!(
            "The title {} differs from the form's pattern {}.",
            shown(&payload.issue.title),
            shown(&title)
        ));
    }
    Ok((request, notes))
}

fn write_verdict(out_dir: &Path, comment: &str, label: &str) -> Result<()> {
    fsutil::write_atomic(&out_dir.join(COMMENT_FILE), comment.as_bytes())?;
    fsutil::write_atomic(&out_dir.join(LABEL_FILE), format!("{label}\n").as_bytes())?;
    ui::status(
        "Verdict",
        format!("{label} ({})", out_dir.join(COMMENT_FILE).display()),
    );
    Ok(())
}

/// The workflow run's address, from the runner's own variables, when they look like one.
fn run_url() -> Option<String> {
    let github = &crate::edge_env::get().github;
    let server = github.server_url.as_deref()?;
    let repository = github.repository.as_deref()?;
    let run_id = github.run_id.as_deref()?;
    let plain = |text: &str| {
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    let (owner, name) = repository.split_once('/')?;
    let server_ok = server
        .strip_prefix("https://")
        .is_some_and(|host| !host.is_empty() && plain(host));
    (server_ok && plain(owner) && plain(name) && run_id.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("{server}/{repository}/actions/runs/{run_id}"))
}

#[cfg(test)]
mod proptests;
