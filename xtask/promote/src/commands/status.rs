//! `cargo xtask status [--format markdown|json|html] [--output PATH] [--jobs N]`: checks every
//! component against its next stage in one engine run (a Production component against its own
//! stage, as a maintenance check), renders the status report and appends one line to the
//! status history.
//!
//! On a warm cache this spawns nothing and writes two files: the report and the history line.
//! Components with a promotion record add two git processes for all of them (`status::records`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::Utc;

use crate::assess;
use crate::cli::{GlobalArgs, StatusArgs, StatusFormat};
use crate::config::{Component, Config};
use crate::errors::exit;
use crate::fsutil;
use crate::maturity::Book;
use crate::plan::{self, ComponentPlan, PhaseSelection};
use crate::status::{self, collect, history, model::Readiness};
use crate::ui;
use crate::vocab::GateKind;
use crate::vocab::Stage;

pub fn run(global: &GlobalArgs, args: &StatusArgs) -> Result<u8> {
    let config = super::load_config(global)?;
    let book = Book::read(&config, &config.components)?;
    let mut plans = Vec::with_capacity(config.components.len());
    for component in &config.components {
        let state = book.state(&config, component)?;
        if let Some(warning) = &state.warning {
            ui::warn(warning);
        }
        plans.push(plan_for(component, state.stage)?);
    }

    let now = Utc::now();
    let options = super::CheckOptions {
        jobs: args.jobs,
        refresh: false,
    };
    let (reports, _) = super::run_checks(&config, &plans, options, |ctx| {
        assess::assess_with(ctx, &plans, &book, now.naive_utc())
    })?;

    let history_path = config.project.reports_dir.join(history::FILE);
    let runs = read_history(&history_path)?;
    let history_file = display_path(&config, &history_path);
    let mut report = collect::collect(&collect::Inputs {
        config: &config,
        reports: &reports,
        book: &book,
        runs: &runs,
        history_file: &history_file,
        now,
    });

    status::records::attach(&mut report, status::records::gather(&config)?);

    let text = match args.format {
        StatusFormat::Markdown => status::markdown::render(&report)?,
        StatusFormat::Json => status::json::render(&report)?,
        StatusFormat::Html => status::html::render(&report)?,
    };
    match args.output.as_deref() {
        Some(path) if path == Path::new("-") => print!("{text}"),
        output => {
            let path = output.map_or_else(|| default_output(&config, args.format), PathBuf::from);
            fsutil::write_atomic(&path, text.as_bytes())?;
            ui::status("Wrote", display_path(&config, &path));
        }
    }

    let broken = report.summary.errors;
    if broken == 0 {
        append_history(
            &config.locks_dir(),
            &history_path,
            &history::render_line(&history::line_for(&report)),
        )?;
    } else {
        // A run whose checks could not all run would show made-up changes next week.
        ui::warn(format!(
            "{broken} components could not be checked: this run is not added to {history_file}"
        ));
    }
    let s = &report.summary;
    ui::status(
        "Status",
        format!(
            "{} components: {} Development, {} Staging, {} Production; ready: {} for Staging, {} for Production",
            s.components,
            s.development,
            s.staging,
            s.production,
            s.ready_for_staging,
            s.ready_for_production
        ),
    );
    Ok(if reports.iter().any(|r| r.interrupted()) {
        exit::INTERRUPTED
    } else if report
        .components
        .iter()
        .any(|c| c.readiness == Readiness::Error)
    {
        exit::INFRASTRUCTURE
    } else {
        exit::OK
    })
}

/// A component's check: all gates of its next stage; in Production, the gates of Production
/// itself as a maintenance check (no stage step to take, and its observation is long over).
fn plan_for(component: &Component, stage: Stage) -> Result<ComponentPlan> {
    let all = PhaseSelection::parse("all")?;
    if stage == Stage::Production {
        let mut plan =
            plan::plan_component(component, stage, &all, Some(Stage::Production), false)?;
        plan.gates
            .retain(|g| !matches!(g, GateKind::Stage | GateKind::Observation));
        return Ok(plan);
    }
    plan::plan_component(component, stage, &all, None, false)
}

fn default_output(config: &Config, format: StatusFormat) -> PathBuf {
    let file = match format {
        StatusFormat::Markdown => "status.md",
        StatusFormat::Json => "status.json",
        StatusFormat::Html => "status.html",
    };
    config.project.reports_dir.join("status").join(file)
}

/// A path relative to the folder of xtask.toml when it is inside it.
fn display_path(config: &Config, path: &Path) -> String {
    path.strip_prefix(&config.workspace_root)
        .map_or_else(|_| path.display().to_string(), crate::fsutil::unix)
}

fn read_history(path: &Path) -> Result<Vec<history::Run>> {
    let Some(bytes) =
        crate::input_file::read(path, "the status history", crate::input_file::HISTORY_MAX)?
    else {
        return Ok(Vec::new());
    };
    let (runs, skipped) = history::parse(&bytes);
    if skipped > 0 {
        ui::warn(format!(
            "{} has {skipped} lines that are not status runs; they are skipped",
            path.display()
        ));
    }
    Ok(runs)
}

/// Appends one whole line: in one write to a file opened for appending (so concurrent runs
/// never interleave inside a line), after a newline when the file ends in a fragment (a run
/// killed mid-write), and cut back when the write fails (a full disk), so a fragment never
/// swallows the next run's line.
fn append_history(locks_dir: &Path, path: &Path, line: &str) -> Result<()> {
    use std::os::unix::fs::FileExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("failed to create {}", parent.display()))?;
    }
    let _lock = crate::deploy::lock::acquire(locks_dir, "status-history")?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .with_context(|| format!("failed to open {}", path.display()))?;
    let length = file
        .metadata()
        .with_context(|| format!("failed to read {}", path.display()))?
        .len();
    let mut last = [0u8; 1];
    let last_byte = match length.checked_sub(1) {
        Some(offset) => {
            file.read_exact_at(&mut last, offset)
                .with_context(|| format!("failed to read {}", path.display()))?;
            Some(last[0])
        }
        None => None,
    };
    let bytes = history::append_bytes(last_byte, line);
    if let Err(error) = (&file).write_all(bytes.as_bytes()) {
        // Leave the file as it was; if even that fails, the next append starts a new line.
        let _ = file.set_len(length);
        return Err(error).with_context(|| format!("failed to append to {}", path.display()));
    }
    Ok(())
}
