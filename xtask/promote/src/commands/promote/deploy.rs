//! `cargo xtask promote COMPONENT --phase 5 [--target STAGE] [--integration]`: refuse what
//! cannot be deployed safely, finish an earlier deploy that was killed, require the validation
//! gates of the target (from the cache or a fresh run), deploy with docker compose, roll back
//! to the last proven state and prove it on failure, write the reports and the deployment
//! history, and pick the exit code.
//!
//! Everything that can refuse a deploy runs before the engine is changed: the compose file and
//! what it pulls in, the history (parsed and believable), the reports folder, compose's own
//! checks, the service's health source, the locks, the rollback target (its image on the
//! engine). Exit codes: 0 deployed and stayed healthy; 1 validation failed (nothing deployed)
//! or the deploy failed and was rolled back; 2 refused before anything changed (config,
//! compose file, no healthcheck); 3 the engine is unreachable, another deploy holds the
//! service, the history cannot be believed, or a rollback failed (the service may be down);
//! 130 interrupted (and rolled back, proven).

use std::rc::Rc;

use anyhow::Result;
use chrono::Utc;

use super::request::Deploy;
use crate::assess::{self, Evidence};
use crate::cli::GlobalArgs;
use crate::config::{Component, Config, Environment, ServiceSettings};
use crate::deploy::argv::Project;
use crate::deploy::compose_file::ComposeModel;
use crate::deploy::docker::{Docker, Mode};
use crate::deploy::engine_lock::{self, Holder};
use crate::deploy::history::{self, History, Place};
use crate::deploy::model::{
    Attempt, Deployment, Entry, HealthSource, Outcome, ProvenState, Started,
};
use crate::deploy::service::{self, Service};
use crate::deploy::{
    configs, gate, health, integration, lock, preflight, record, recover, rollout,
};
use crate::errors::{exit, infra, usage};
use crate::maturity;
use crate::plan::{self, ComponentPlan, PhaseSelection};
use crate::report::{self, PromotionReport};
use crate::ui;
use crate::vocab::Phase;

/// What the flags and the registry say to deploy, checked before anything runs.
pub(super) struct Target<'c> {
    pub component: &'c Component,
    pub settings: ServiceSettings,
    pub service: String,
    pub plan: ComponentPlan,
    pub environment: &'c Environment,
}

/// The compose project of the target, validated against the engine; nothing changed yet.
pub(super) struct Site {
    pub docker: Rc<Docker>,
    pub project: Project,
    pub model: ComposeModel,
    /// The resolved model as JSON: what a proven deploy keeps.
    pub document: serde_json::Value,
    pub health: HealthSource,
}

/// What this deploy will do and what a failure restores, decided before anything changes.
struct Decided {
    restore_to: Option<ProvenState>,
    previous_image: Option<String>,
    replicas: u32,
    notes: Vec<String>,
}

pub fn run(global: &GlobalArgs, request: &Deploy) -> Result<u8> {
    let config = crate::commands::load_config(global)?;
    let target = target(&config, request)?;
    let compose_path = preflight::compose_file(&config, target.environment)?;
    let reports_dir = config.component_reports_dir(&target.component.name);
    record::require_writable(&reports_dir)?;
    record::require_writable(&configs::restore_dir(&config.state_dir()))?;
    let history = record::read(&config, &target.component.name, Utc::now())?;

    // Nothing below may change the engine until the checks are done.
    let _lock = take_service_lock(&config, &target)?;
    let site = site(&config, &target, compose_path)?;
    let state_dir = config.state_dir();
    let (_engine_lock, lock_note) = take_engine_lock(&config, &target, &site, &state_dir)?;
    let live = live(&target, &site, &state_dir);
    let mut notes: Vec<String> = lock_note.into_iter().collect();
    if let Some(history) = &history {
        match recover_unfinished(&config, &target, &site, &live, history)? {
            Recovered::Nothing => {}
            Recovered::Proven(note) => notes.push(note),
            Recovered::Failed(code) => return Ok(code),
        }
    }
    let mut decided = decide(&config, &target, &site, &live, history.as_ref())?;
    notes.append(&mut decided.notes);
    decided.notes = notes;
    for note in &decided.notes {
        ui::warn(note);
    }

    let prepared_integration = if request.integration {
        Some(integration::prepare(
            &config,
            target.component,
            target.plan.to,
            &mut Some(site.docker.clone()),
        )?)
    } else {
        None
    };
    // The validation gates of the target: cheap from the cache when nothing changed.
    report::clear(&reports_dir)?;
    let (evidence, validation) = validate(&config, &target, request, prepared_integration)?;
    if !validation.report.promotable || validation.code != exit::OK {
        finish_report(&config, request, &validation.report)?;
        ui::error(format!(
            "not deploying {} to {}: its validation did not pass ({} blockers above); nothing was changed{}",
            target.component.name,
            target.plan.to,
            validation.report.blockers.len(),
            if decided.notes.is_empty() {
                ""
            } else {
                " by this deploy"
            }
        ));
        return Ok(validation.code.max(exit::GATE_FAILED));
    }
    deploy(&config, request, &target, &site, &live, decided, evidence)
}

/// The component, its service and environment, and the plan (validation, deploy, and the
/// integration gate when asked for).
fn target<'c>(config: &'c Config, request: &Deploy) -> Result<Target<'c>> {
    let (component, settings, service, stage) = service_of(config, &request.component)?;
    let phases = PhaseSelection(vec![Phase::Validate, Phase::Deploy]);
    let plan = plan::plan_component(component, stage, &phases, request.target, false)?;
    let plan = if request.integration {
        plan.with_integration()
    } else {
        plan
    };
    let environment = config.require_environment(plan.to)?;
    Ok(Target {
        component,
        settings,
        service,
        plan,
        environment,
    })
}

/// The one component phase 5 names, its service settings and compose service, and the stage
/// its MATURITY.md states.
pub(super) fn service_of<'c>(
    config: &'c Config,
    name: &str,
) -> Result<(&'c Component, ServiceSettings, String, crate::vocab::Stage)> {
    let component = config.require_component(name)?;
    let settings = config.service_settings(&component.name);
    let Some(service) = settings.service.clone() else {
        return Err(usage(format!(
            "component `{}` has no compose service to deploy: add `service = \"<compose service>\"` under [components.{}] in {}",
            component.name,
            component.name,
            config.path.display()
        )));
    };
    let state = maturity::read(config, component)?;
    if let Some(warning) = &state.warning {
        ui::warn(warning);
    }
    Ok((component, settings, service, state.stage))
}

/// The checkout's lock of the service's deploys (a deploy and a drill take the same one),
/// taken before the engine is asked anything.
pub(super) fn take_service_lock(config: &Config, target: &Target<'_>) -> Result<lock::Lock> {
    let (service, environment) = (&target.service, target.environment);
    lock::try_acquire(
        &config.locks_dir(),
        &format!("deploy-{}-{service}", environment.project_name),
        &lock::holder_text(&target.component.name, Utc::now()),
        &format!(
            "a deploy of service `{service}` to {} (project {})",
            environment.stage, environment.project_name
        ),
    )
}

/// The engine's lock of the service for this process (other checkouts share the engine), and
/// the note when a stale holder's lock was taken over.
pub(super) fn take_engine_lock<'s>(
    config: &Config,
    target: &Target<'_>,
    site: &'s Site,
    state_dir: &std::path::Path,
) -> Result<(engine_lock::EngineLock<'s>, Option<String>)> {
    let since = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let holder = Holder::this_process(&config.workspace_root, &target.component.name, &since);
    engine_lock::acquire(
        &site.docker,
        state_dir,
        &target.environment.project_name,
        &target.service,
        &holder,
    )
}

/// The intent of an attempt on the target's service, started now by this process (`note` after
/// `host pid N`); the caller fills in what it replaces and restores.
pub(super) fn started_now(target: &Target<'_>, site: &Site, note: &str) -> Attempt {
    let started_at = Utc::now();
    let host = engine_lock::Host::this();
    Attempt {
        attempt: format!(
            "{}-{}",
            started_at.format("%Y%m%dT%H%M%S%.3fZ"),
            std::process::id()
        ),
        outcome: Started::Started,
        component: target.component.name.clone(),
        environment: target.environment.stage,
        service: target.service.clone(),
        project_name: site.project.name.clone(),
        compose_file: target.environment.compose_file.clone(),
        started_at,
        by: format!("{} pid {}{note}", host.name, std::process::id()),
        previous_image_id: None,
        replicas: 0,
        config_digest: None,
        restore_to: None,
    }
}

/// Connects to the engine and checks the compose file, the service and its health source.
pub(super) fn site(
    config: &Config,
    target: &Target<'_>,
    compose_path: std::path::PathBuf,
) -> Result<Site> {
    let docker = Rc::new(Docker::connect(
        &config.project.root,
        config.timeouts.compose,
    )?);
    let project = Project {
        files: vec![compose_path],
        name: target.environment.project_name.clone(),
    };
    let (model, document) = preflight::validate(&docker, &project)?;
    preflight::require_services(&model, &project, std::slice::from_ref(&target.service))?;
    let health = preflight::health_source(
        &docker,
        &model,
        &project,
        &target.service,
        &target.component.name,
        target.settings.health_probe.is_some(),
    )?;
    Ok(Site {
        docker,
        project,
        model,
        document,
        health,
    })
}

pub(super) fn live<'a>(
    target: &'a Target<'_>,
    site: &'a Site,
    state_dir: &'a std::path::Path,
) -> Service<'a> {
    Service {
        docker: &site.docker,
        project: &site.project,
        name: &target.service,
        probe: target.settings.health_probe.as_deref(),
        health_timeout: target.environment.health_timeout,
        settle: target.environment.settle,
        state_dir,
    }
}

pub(super) fn place<'a>(target: &'a Target<'_>) -> Place<'a> {
    Place {
        environment: target.environment.stage,
        project_name: &target.environment.project_name,
        service: &target.service,
    }
}

pub(super) enum Recovered {
    Nothing,
    /// A killed deploy was found and its last proven state restored and proven.
    Proven(String),
    /// The restore could not be proven: the exit code, after saying so.
    Failed(u8),
}

/// Finishes the attempts a killed deploy left in the history: restores the last proven state
/// each names, records the attempt's completion, and says so.
pub(super) fn recover_unfinished(
    config: &Config,
    target: &Target<'_>,
    site: &Site,
    live: &Service<'_>,
    history: &History,
) -> Result<Recovered> {
    let unfinished = history::unfinished(history, place(target));
    let Some((line, attempt)) = unfinished.last() else {
        return Ok(Recovered::Nothing);
    };
    let file = record::path(config, &target.component.name);
    if let Some(state) = &attempt.restore_to {
        record::require_image(&site.docker, &file, *line, &state.image_id)?;
    }
    ui::warn(format!(
        "an earlier deploy of {} (started {} by {}, {}:{line}) did not finish: restoring its last proven state first",
        target.service,
        attempt
            .started_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        attempt.by,
        file.display()
    ));
    let completion = recover::recover(
        live,
        attempt,
        site.docker.cli.describe(),
        site.health,
        &site.document,
    );
    // Older unfinished attempts were superseded by the last one: finish them the same way.
    for (_, older) in &unfinished[..unfinished.len() - 1] {
        let mut closed = completion.clone();
        closed.attempt = older.attempt.clone();
        closed.started_at = older.started_at;
        record::append(
            config,
            &target.component.name,
            Entry::Finished(Box::new(closed)),
        )?;
    }
    record::append(
        config,
        &target.component.name,
        Entry::Finished(Box::new(completion.clone())),
    )?;
    let rollback = completion.rollback.as_ref();
    let message = rollback.map_or("", |r| r.message.as_str());
    if rollback.is_some_and(|r| r.proven) {
        let note = format!(
            "an earlier deploy of {} (started {}) had been killed; restored its last proven state first: {message}",
            target.service,
            attempt
                .started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        return Ok(Recovered::Proven(note));
    }
    let hint = recovery(target, site, live, attempt.restore_to.as_ref());
    ui::error(format!(
        "an earlier deploy of {} had been killed and its last proven state could not be restored: {message}; now running: {}; {hint}",
        target.service,
        rollback
            .and_then(|r| r.running.as_deref())
            .unwrap_or("unknown")
    ));
    Ok(Recovered::Failed(exit::INFRASTRUCTURE))
}

/// What a failure of this deploy restores, how many replicas it deploys, and what to say about
/// the service as it runs now; refuses a rollback target the engine does not have.
fn decide(
    config: &Config,
    target: &Target<'_>,
    site: &Site,
    live: &Service<'_>,
    history: Option<&History>,
) -> Result<Decided> {
    let service = &target.service;
    let states = live.containers(Mode::Normal)?;
    let previous_image = service::running_image(&states).map_err(|images| {
        infra(format!(
            "the running containers of `{service}` run different images ({}): finish or undo the earlier deploy by hand first",
            images.iter().map(|i| crate::deploy::model::short_id(i)).collect::<Vec<_>>().join(", ")
        ))
    })?;
    let running = states.iter().filter(|s| s.status == "running").count() as u32;
    let mut notes = Vec::new();
    if running > 0
        && let health::Verdict::Failed(reason) | health::Verdict::Waiting(reason) =
            health::judge(&states, live.probe.is_some(), running)
    {
        notes.push(format!(
            "{service} is not healthy now, before this deploy: {reason}"
        ));
    }
    let proven = history.and_then(|h| history::last_proven(h, place(target)));
    let restore_to = match proven {
        Some((line, state)) => {
            let file = record::path(config, &target.component.name);
            record::require_image(&site.docker, &file, line, &state.image_id)?;
            if previous_image.as_deref() != Some(state.image_id.as_str()) {
                notes.push(format!(
                    "{service} runs {}, not its last proven state ({} × {}, {}:{line}): a failed deploy restores that",
                    previous_image.as_deref().map_or("nothing".to_owned(), crate::deploy::model::short_id),
                    state.replicas,
                    crate::deploy::model::short_id(&state.image_id),
                    file.display()
                ));
            }
            Some(state)
        }
        None => previous_image.clone().map(|image| {
            notes.push(format!(
                "no deploy of {service} to {} is proven in the deployment history: a failed deploy restores what runs now ({running} × {}) with the compose file's current configuration",
                target.environment.stage,
                crate::deploy::model::short_id(&image)
            ));
            ProvenState {
                image_id: image,
                replicas: running,
                config_digest: None,
                proven_at: None,
            }
        }),
    };
    let declared = site.model.services.get(service).and_then(|s| s.replicas);
    let replicas = declared
        .or((running > 0).then_some(running))
        .or(restore_to.as_ref().map(|s| s.replicas))
        .unwrap_or(1)
        .max(1);
    Ok(Decided {
        restore_to,
        previous_image,
        replicas,
        notes,
    })
}

/// The verdict before the deploy: the report as it stands without a deploy, whether it
/// allows one, and the exit code its steps and the integration run call for.
struct Validation {
    report: PromotionReport,
    code: u8,
}

fn validate(
    config: &Config,
    target: &Target<'_>,
    request: &Deploy,
    prepared_integration: Option<integration::Prepared>,
) -> Result<(Evidence, Validation)> {
    let plans = std::slice::from_ref(&target.plan);
    let (mut evidence, toolchain) =
        crate::commands::run_checks(config, plans, request.options, |ctx| {
            assess::gather(ctx, plans)
        })?;
    let integration_code = super::finish::add_integration_runs(
        config,
        &toolchain,
        prepared_integration.into_iter().collect(),
        &mut evidence,
    );
    let evidence = evidence.remove(0);
    // Without a deploy fact the deployment gate is not decided yet, so the report's
    // `promotable` here says whether every other gate allows the deploy.
    let report = assess::report(config, &evidence)?;
    let code = super::finish::exit_code(std::slice::from_ref(&report)).max(integration_code);
    Ok((evidence, Validation { report, code }))
}

/// Records the intent, deploys, records the completion, builds the report with the deploy as
/// a fact, writes it, and picks the exit code.
fn deploy(
    config: &Config,
    request: &Deploy,
    target: &Target<'_>,
    site: &Site,
    live: &Service<'_>,
    decided: Decided,
    mut evidence: Evidence,
) -> Result<u8> {
    let (service, to) = (&target.service, target.plan.to);
    let config_digest = configs::store(&config.state_dir(), &site.document)?;
    let attempt = Attempt {
        previous_image_id: decided.previous_image.clone(),
        replicas: decided.replicas,
        config_digest: Some(config_digest),
        restore_to: decided.restore_to.clone(),
        ..started_now(target, site, "")
    };
    record::append(
        config,
        &target.component.name,
        Entry::Started(Box::new(attempt.clone())),
    )?;
    ui::status(
        "Deploying",
        format!(
            "{service} to {to} ({} replicas, project {}, {}; settle window {}s)",
            decided.replicas,
            site.project.name,
            site.docker.cli.describe(),
            target.environment.settle.as_secs()
        ),
    );
    let deployment = rollout::deploy(&rollout::Request {
        live: *live,
        attempt: &attempt,
        compose: site.docker.cli.describe(),
        health: site.health,
        model: &site.document,
        notes: decided.notes,
    });
    record::append(
        config,
        &target.component.name,
        Entry::Finished(Box::new(deployment.clone())),
    )?;

    let recovery = recovery(target, site, live, deployment.restore_to.as_ref());
    evidence.add_deployment(
        deployment.clone(),
        target.environment.health_timeout,
        &recovery,
    );
    let report = assess::report(config, &evidence)?;
    finish_report(config, request, &report)?;
    if request.record && deployment.outcome == Outcome::Deployed {
        // The deployment was just appended to the record, so the promotion finds it.
        super::finish::record(
            config,
            std::slice::from_ref(&report),
            &Vec::new(),
            Utc::now(),
        )?;
    }
    Ok(outcome_code(config, target, site, &deployment, &recovery))
}

/// Writes the reports, prints them and emits the CI output.
fn finish_report(config: &Config, request: &Deploy, report: &PromotionReport) -> Result<()> {
    let reports = std::slice::from_ref(report);
    report::write(&config.component_reports_dir(&report.component), report)?;
    super::finish::print(reports, request.format)?;
    super::finish::emit_ci(config, reports, request.format)
}

/// The commands that restore the last proven state by hand when the rollback failed.
pub(super) fn recovery(
    target: &Target<'_>,
    site: &Site,
    live: &Service<'_>,
    restore_to: Option<&ProvenState>,
) -> String {
    let (docker, project, service) = (&site.docker, &site.project, &target.service);
    let with = |file: &std::path::Path| {
        format!(
            "{} -f {} -p {}",
            docker.cli.command_name(),
            file.display(),
            project.name
        )
    };
    let restore_file =
        configs::restore_dir(live.state_dir).join(format!("{}.{service}.json", project.name));
    gate::recovery_hint(
        &with(&project.files[0]),
        &with(&restore_file),
        service,
        restore_to,
    )
}

/// Says how the deploy ended and picks the exit code.
fn outcome_code(
    config: &Config,
    target: &Target<'_>,
    site: &Site,
    deployment: &Deployment,
    recovery: &str,
) -> u8 {
    let service = &target.service;
    let failure = deployment
        .failure
        .as_deref()
        .and_then(|f| f.lines().next())
        .unwrap_or_default();
    let rollback = deployment.rollback.as_ref();
    let proof = rollback.map(|r| r.message.as_str()).unwrap_or_default();
    match deployment.outcome {
        Outcome::Deployed => {
            ui::status(
                "Deployed",
                format!(
                    "{service} to {} on {} ({} replicas, healthy for the {}s settle window)",
                    target.plan.to,
                    deployment
                        .running_image_id
                        .as_deref()
                        .map_or("?".to_owned(), crate::deploy::model::short_id),
                    deployment.replicas,
                    target.environment.settle.as_secs()
                ),
            );
            exit::OK
        }
        Outcome::RolledBack => {
            ui::error(format!(
                "deploy failed, rolled back: {failure}; {proof} (logs in {})",
                config
                    .component_reports_dir(&target.component.name)
                    .join(report::JSON_FILE)
                    .display()
            ));
            if deployment.interrupted {
                exit::INTERRUPTED
            } else {
                exit::GATE_FAILED
            }
        }
        Outcome::RollbackFailed => {
            ui::error(format!(
                "deploy failed and the rollback failed: service `{service}` of project `{}` may be down or not healthy ({proof}); now running: {}; {recovery}",
                site.project.name,
                rollback
                    .and_then(|r| r.running.as_deref())
                    .unwrap_or("unknown")
            ));
            exit::INFRASTRUCTURE
        }
    }
}
