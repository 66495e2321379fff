//! `cargo xtask promote COMPONENT... [--phase 1-4|all] [--target] [--fix] [--integration]
//! [--record]`: plan, refuse unsafe edits, bootstrap missing tools, run, decide, write reports,
//! print, pick the exit code.

use anyhow::Result;
use chrono::Utc;

use super::request::Checks;
use super::{finish, fix};
use crate::assess;
use crate::cli::GlobalArgs;
use crate::maturity;
use crate::plan;
use crate::report;
use crate::ui;

/// Runs the checks a request asks for; its flags already go together (`request.rs`).
pub fn run(global: &GlobalArgs, request: &Checks) -> Result<u8> {
    let config = crate::commands::load_config(global)?;
    let mut plans = Vec::new();
    let mut seen = Vec::new();
    for name in &request.components {
        let component = config.require_component(name)?;
        if seen.contains(&component.name) {
            continue;
        }
        seen.push(component.name.clone());
        let state = maturity::read(&config, component)?;
        if let Some(warning) = &state.warning {
            ui::warn(warning);
        }
        let plan = plan::plan_component(
            component,
            state.stage,
            &request.phases,
            request.target,
            request.fix.on(),
        )?;
        plans.push(if request.integration {
            plan.with_integration()
        } else {
            plan
        });
    }

    fix::prepare(&config, &plans, request.fix)?;

    // Integration services are checked (and their projects locked) before any work starts.
    let integration = if request.integration {
        crate::deploy::integration::prepare_plans(&config, &plans)?
    } else {
        Vec::new()
    };
    for plan in &plans {
        report::clear(&config.component_reports_dir(&plan.component))?;
    }
    let ((mut evidence, keys), toolchain) =
        crate::commands::run_checks(&config, &plans, request.options, |ctx| {
            let evidence = assess::gather(ctx, &plans)?;
            // A promotion record names each step's cache key, known only while the run lives.
            let keys = if request.record {
                crate::records::write::step_keys(ctx, &plans)
            } else {
                Vec::new()
            };
            Ok((evidence, keys))
        })?;
    let integration_code =
        finish::add_integration_runs(&config, &toolchain, integration, &mut evidence);
    let reports = assess::reports(&config, &evidence)?;
    for report in &reports {
        report::write(&config.component_reports_dir(&report.component), report)?;
    }
    finish::print(&reports, request.format)?;
    if request.record {
        finish::record(&config, &reports, &keys, Utc::now())?;
    }
    finish::emit_ci(&config, &reports, request.format)?;
    Ok(finish::exit_code(&reports).max(integration_code))
}
