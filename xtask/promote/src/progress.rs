//! Listeners that show a run's progress: a live bar on a terminal, one plain line per finished
//! step in CI and pipes, nothing with `-q`. Warnings always get through.

use std::sync::Mutex;
use std::time::Duration;

use console::style;
use indicatif::{ProgressBar, ProgressStyle};

use crate::events::{Event, Listener};
use crate::tools::result::{StepResult, StepStatus};
use crate::ui::{self, Verbosity};

pub fn listener() -> Box<dyn Listener> {
    if ui::interactive() {
        Box::new(Bar::new())
    } else {
        Box::new(Lines)
    }
}

fn outcome(result: &StepResult) -> String {
    let status = match result.status() {
        StepStatus::Passed => style("passed").green().to_string(),
        StepStatus::Failed => style("failed").red().to_string(),
        // No tests to run is the tests gate failing (exit 1), not a check that could not run
        // (exit 3, what the reports count as "could not be checked"): it says which.
        StepStatus::Error
            if result
                .step_error()
                .is_some_and(|e| !e.kind.is_infrastructure()) =>
        {
            style("no tests").red().to_string()
        }
        StepStatus::Error => style("error").red().bold().to_string(),
    };
    let timing = if result.cached {
        "cached".to_owned()
    } else {
        format!("{:.1}s", result.duration_ms as f64 / 1000.0)
    };
    format!("{status} ({timing})")
}

/// One line per step that ran: readable in CI logs, where redraws become noise. Steps answered
/// from the cache are listed only with `-v` (a warm `status` would print dozens of them); the
/// report counts them.
pub struct Lines;

impl Listener for Lines {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::StepFinished { component, result } => {
                let wanted = if result.cached {
                    Verbosity::Verbose
                } else {
                    Verbosity::Normal
                };
                if ui::verbosity() >= wanted {
                    eprintln!(
                        "{:>12} {} {} {}",
                        style("Checked").green().bold(),
                        component,
                        result.name,
                        outcome(result)
                    );
                }
            }
            Event::ToolStarted { command, .. } => ui::verbose(*command),
            Event::Warning { message } => ui::warn(*message),
            Event::Error { message } => ui::error(*message),
            Event::Auditing { message } => ui::status("Auditing", *message),
            Event::StepStarted { component, kind } => {
                ui::verbose(format!("checking {component} {kind}"));
            }
            Event::Planned { .. } => {}
        }
    }
}

/// A progress bar over the run's steps, with the running tool in its message.
pub struct Bar {
    bar: Mutex<Option<ProgressBar>>,
}

impl Bar {
    fn new() -> Self {
        Bar {
            bar: Mutex::new(None),
        }
    }

    /// Prints through `print`, above the bar when there is one.
    fn print(&self, print: impl FnOnce()) {
        let guard = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    fn with(&self, f: impl FnOnce(&ProgressBar)) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            f(bar);
        }
    }
}

impl Listener for Bar {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::Planned { steps } => {
                let bar = ProgressBar::new(*steps as u64);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner:.green} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} {wide_msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.enable_steady_tick(Duration::from_millis(120));
                *self.bar.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
            }
            Event::ToolStarted {
                kind, components, ..
            } => self.with(|bar| {
                let who = if components.len() == 1 {
                    components[0].clone()
                } else {
                    format!("{} components", components.len())
                };
                bar.set_message(format!("running {kind} on {who}"));
            }),
            Event::StepFinished { component, result } => self.with(|bar| {
                bar.inc(1);
                if ui::verbosity() >= Verbosity::Verbose
                    || matches!(result.status(), StepStatus::Error)
                {
                    bar.println(format!("  {component} {} {}", result.name, outcome(result)));
                }
                if bar.position() >= bar.length().unwrap_or(0) {
                    bar.finish_and_clear();
                }
            }),
            Event::Warning { message } => self.print(|| ui::warn(*message)),
            Event::Error { message } => self.print(|| ui::error(*message)),
            Event::Auditing { message } => self.print(|| ui::status("Auditing", *message)),
            Event::StepStarted { .. } => {}
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}
