//! `cargo xtask promote COMPONENT --phase 5 --drill`: the rollback drill on the environment of
//! the stage the component is in. Takes the locks a deploy takes, finishes a killed deploy or
//! drill first, refuses what cannot be drilled before anything changes (nothing proven runs, no
//! previous proven image, an image the engine lacks), records its intent, rolls back to the
//! previous proven image and forward to the one it started from (`deploy::drill`), each proven,
//! and appends the drill and its proof to `deployment.json`. Exit codes: 0 passed; 1 the drill
//! failed (the starting image runs again, proven); 2 refused before anything changed; 3 the
//! engine, the locks or the history, or the roll forward could not be proven; 130 Ctrl-C (the
//! starting image restored, proven).

use anyhow::Result;
use chrono::Utc;

use super::deploy::{self, Recovered, Target};
use super::request::Drill as DrillRequest;
use crate::cli::{GlobalArgs, OutputFormat};
use crate::config::Config;
use crate::deploy::docker::Mode;
use crate::deploy::history::{self, History};
use crate::deploy::model::{Attempt, Drill, DrillOutcome, Entry, ProvenState, short_id};
use crate::deploy::service::{self, Service};
use crate::deploy::{configs, drill, health, preflight, record};
use crate::errors::{exit, infra, usage};
use crate::plan::{self, PhaseSelection};
use crate::ui;
use crate::vocab::Phase;

pub fn run(global: &GlobalArgs, request: &DrillRequest) -> Result<u8> {
    let config = crate::commands::load_config(global)?;
    let target = target(&config, request)?;
    let compose_path = preflight::compose_file(&config, target.environment)?;
    record::require_writable(&config.component_reports_dir(&target.component.name))?;
    record::require_writable(&configs::restore_dir(&config.state_dir()))?;
    let history = record::read(&config, &target.component.name, Utc::now())?;

    let (service, environment) = (&target.service, target.environment);
    let _lock = deploy::take_service_lock(&config, &target)?;
    let site = deploy::site(&config, &target, compose_path)?;
    let state_dir = config.state_dir();
    let (_engine_lock, lock_note) = deploy::take_engine_lock(&config, &target, &site, &state_dir)?;
    if let Some(note) = lock_note {
        ui::warn(note);
    }
    let live = deploy::live(&target, &site, &state_dir);
    let Some(history) = history else {
        return Err(usage(no_previous(&target)));
    };
    match deploy::recover_unfinished(&config, &target, &site, &live, &history)? {
        Recovered::Nothing => {}
        Recovered::Proven(note) => ui::warn(note),
        Recovered::Failed(code) => return Ok(code),
    }
    let (from, to) = states(&config, &target, &site, &live, &history)?;

    let attempt = Attempt {
        previous_image_id: Some(from.image_id.clone()),
        replicas: from.replicas,
        config_digest: from.config_digest.clone(),
        // A drill killed half-way is finished by the next run like a killed deploy: it
        // restores the state the drill started from.
        restore_to: Some(from.clone()),
        ..deploy::started_now(&target, &site, " (rollback drill)")
    };
    let file = record::path(&config, &target.component.name);
    record::append(
        &config,
        &target.component.name,
        Entry::Started(Box::new(attempt.clone())),
    )?;
    ui::status(
        "Drilling",
        format!(
            "{service} in {} (project {}): back to {} × {}, then forward to {} × {} (settle window {}s each)",
            environment.stage,
            site.project.name,
            to.replicas,
            short_id(&to.image_id),
            from.replicas,
            short_id(&from.image_id),
            environment.settle.as_secs()
        ),
    );
    let drill = drill::drill(&drill::Request {
        live,
        attempt: &attempt,
        compose: site.docker.cli.describe(),
        health: site.health,
        model: &site.document,
        from,
        to,
    });
    record::append(
        &config,
        &target.component.name,
        Entry::Drill(Box::new(drill.clone())),
    )?;
    if request.format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&drill)?);
    }
    let recovery = deploy::recovery(&target, &site, &live, Some(&drill.from));
    Ok(outcome_code(&target, &drill, &file, &recovery))
}

/// The component's service on the environment of the stage it is in.
fn target<'c>(config: &'c Config, request: &DrillRequest) -> Result<Target<'c>> {
    let (component, settings, service, stage) = deploy::service_of(config, &request.component)?;
    // A redeploy to the stage it is in: the plan of that environment, whichever stage.
    let phases = PhaseSelection(vec![Phase::Deploy]);
    let plan = plan::plan_component(component, stage, &phases, Some(stage), false)?;
    let environment = config.require_environment(stage)?;
    Ok(Target {
        component,
        settings,
        service,
        plan,
        environment,
    })
}

fn no_previous(target: &Target<'_>) -> String {
    format!(
        "no earlier proven image of service `{}` in {} to roll back to: a drill rolls back to the previous image a deploy proved and forward again; deploy twice first (`cargo xtask promote {} --phase 5 --target {}` with two different images)",
        target.service,
        target.environment.stage,
        target.component.name,
        target.environment.stage.id()
    )
}

/// The proven state running now (the drill's start and end) and the previous proven state
/// (where it rolls back to), or why the drill cannot start; nothing is changed here.
fn states(
    config: &Config,
    target: &Target<'_>,
    site: &deploy::Site,
    live: &Service<'_>,
    history: &History,
) -> Result<(ProvenState, ProvenState)> {
    let service = &target.service;
    let states = live.containers(Mode::Normal)?;
    let running = service::running_image(&states).map_err(|images| {
        infra(format!(
            "the running containers of `{service}` run different images ({}): finish or undo the earlier deploy first",
            images.iter().map(|i| short_id(i)).collect::<Vec<_>>().join(", ")
        ))
    })?;
    let Some(running) = running else {
        return Err(usage(format!(
            "service `{service}` does not run in {}: deploy it first (`cargo xtask promote {} --phase 5`), then drill",
            target.environment.stage, target.component.name
        )));
    };
    let count = states.iter().filter(|s| s.status == "running").count() as u32;
    if let health::Verdict::Failed(reason) | health::Verdict::Waiting(reason) =
        health::judge(&states, live.probe.is_some(), count)
    {
        return Err(infra(format!(
            "{service} is not healthy now ({reason}): a drill starts from a healthy service; fix it or deploy again first"
        )));
    }
    let place = deploy::place(target);
    let file = record::path(config, &target.component.name);
    let Some((line, from)) = history::last_proven(history, place) else {
        return Err(usage(no_previous(target)));
    };
    if from.image_id != running {
        return Err(usage(format!(
            "{service} runs {}, not its last proven image ({}, {}:{line}): a drill starts from a proven state; deploy it (`cargo xtask promote {} --phase 5`) first",
            short_id(&running),
            short_id(&from.image_id),
            file.display(),
            target.component.name
        )));
    }
    let Some((previous_line, to)) = history::proven_before(history, place, &from.image_id) else {
        return Err(usage(no_previous(target)));
    };
    record::require_image(&site.docker, &file, previous_line, &to.image_id)?;
    Ok((from, to))
}

/// Says how the drill ended and picks the exit code.
fn outcome_code(target: &Target<'_>, drill: &Drill, file: &std::path::Path, recovery: &str) -> u8 {
    let service = &target.service;
    let failure = drill.failure.as_deref().unwrap_or_default();
    match drill.outcome {
        DrillOutcome::Passed => {
            let back = drill
                .back
                .as_ref()
                .map_or(0, |b| b.proof.time_to_healthy_ms.unwrap_or(0));
            ui::status(
                "Drilled",
                format!(
                    "{service} rolled back to {} (healthy in {:.1}s) and forward to {} (healthy in {:.1}s), each held the {}s settle window; recorded in {}",
                    short_id(&drill.to.image_id),
                    back as f64 / 1000.0,
                    short_id(&drill.from.image_id),
                    drill.forward.proof.time_to_healthy_ms.unwrap_or(0) as f64 / 1000.0,
                    target.environment.settle.as_secs(),
                    file.display()
                ),
            );
            exit::OK
        }
        DrillOutcome::Failed => {
            ui::error(format!(
                "the rollback drill of {service} failed: {failure}; {} (recorded in {})",
                drill.forward.proof.message,
                file.display()
            ));
            if drill.interrupted {
                exit::INTERRUPTED
            } else {
                exit::GATE_FAILED
            }
        }
        DrillOutcome::RestoreFailed => {
            ui::error(format!(
                "the rollback drill of {service} failed and the starting image could not be restored: {failure}; now running: {}; {recovery}",
                drill.forward.proof.running.as_deref().unwrap_or("unknown")
            ));
            exit::INFRASTRUCTURE
        }
    }
}
