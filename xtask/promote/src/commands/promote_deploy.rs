//! `cargo xtask promote COMPONENT --phase 5 [--target STAGE] [--integration]`: refuse what
//! cannot be deployed safely, require the validation gates of the target (from the cache or a
//! fresh run), deploy with docker compose, roll back and prove it on failure, write the reports
//! and the deployment record, and pick the exit code.
//!
//! Exit codes: 0 deployed and healthy; 1 validation failed (nothing deployed) or the deploy
//! failed and was rolled back; 2 refused before anything changed (config, compose file, no
//! healthcheck); 3 the engine is unreachable, another deploy holds the service, or the rollback
//! failed (the service may be down); 130 interrupted (and rolled back).

use std::rc::Rc;

use anyhow::Result;

use crate::assess::{self, Evidence};
use crate::cli::{GlobalArgs, PromoteArgs};
use crate::config::{Component, Config, Environment, ServiceSettings};
use crate::deploy::argv::Project;
use crate::deploy::compose_file::ComposeModel;
use crate::deploy::docker::Docker;
use crate::deploy::model::{Deployment, HealthSource, Outcome, short_id};
use crate::deploy::{compose_file, gate, integration, lock, preflight, record, rollout};
use crate::errors::{exit, usage};
use crate::maturity;
use crate::plan::{self, ComponentPlan, Phase, PhaseSelection};
use crate::report::{self, PromotionReport};
use crate::ui;

/// What the flags and the registry say to deploy, checked before anything runs.
struct Target<'c> {
    component: &'c Component,
    settings: ServiceSettings,
    service: String,
    plan: ComponentPlan,
    environment: &'c Environment,
}

/// The compose project of the target, validated against the engine; nothing changed yet.
struct Site {
    docker: Rc<Docker>,
    project: Project,
    model: ComposeModel,
    health: HealthSource,
}

pub fn run(global: &GlobalArgs, args: &PromoteArgs) -> Result<u8> {
    let config = super::load_config(global)?;
    let target = target(&config, args)?;
    let compose_path = preflight::compose_file(&config, target.environment)?;

    // Nothing below may change the engine until the checks are done.
    let (service, environment) = (&target.service, target.environment);
    let _lock = lock::try_acquire(
        &config.locks_dir(),
        &format!("deploy-{}-{service}", environment.project_name),
        &lock::holder_text(&target.component.name, chrono::Utc::now()),
        &format!(
            "a deploy of service `{service}` to {} (project {})",
            environment.stage, environment.project_name
        ),
    )?;
    let site = site(&config, &target, compose_path)?;
    let prepared_integration = if args.integration {
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
    let reports_dir = config.component_reports_dir(&target.component.name);
    report::clear(&reports_dir)?;
    let (evidence, validation) = validate(&config, &target, args, prepared_integration)?;
    if !validation.report.promotable || validation.code != exit::OK {
        finish_report(&config, args, &validation.report)?;
        ui::error(format!(
            "not deploying {} to {}: its validation did not pass ({} blockers above); nothing was changed",
            target.component.name,
            target.plan.to,
            validation.report.blockers.len()
        ));
        return Ok(validation.code.max(exit::GATE_FAILED));
    }
    deploy(&config, args, &target, &site, evidence)
}

/// The component, its service and environment, and the plan (validation, deploy, and the
/// integration gate when asked for).
fn target<'c>(config: &'c Config, args: &PromoteArgs) -> Result<Target<'c>> {
    let [name] = args.components.as_slice() else {
        return Err(usage(
            "phase 5 deploys one component at a time: name a single component",
        ));
    };
    if args.fix {
        return Err(usage(
            "--fix does not apply to phase 5: run `--phase all --fix` first, commit, then deploy",
        ));
    }
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
    let phases = PhaseSelection(vec![Phase::Validate, Phase::Deploy]);
    let plan = plan::plan_component(component, state.stage, &phases, args.target, false)?;
    let plan = if args.integration {
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

/// Connects to the engine and checks the compose file, the service and its health source.
fn site(config: &Config, target: &Target<'_>, compose_path: std::path::PathBuf) -> Result<Site> {
    let docker = Rc::new(Docker::connect(
        &config.project.root,
        config.timeouts.compose,
    )?);
    let project = Project {
        files: vec![compose_path],
        name: target.environment.project_name.clone(),
    };
    let model = preflight::validate(&docker, &project)?;
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
        health,
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
    args: &PromoteArgs,
    prepared_integration: Option<integration::Prepared>,
) -> Result<(Evidence, Validation)> {
    let plans = std::slice::from_ref(&target.plan);
    let options = super::CheckOptions {
        jobs: args.jobs,
        refresh: args.no_cache,
    };
    let (mut evidence, toolchain) =
        super::run_checks(config, plans, options, |ctx| assess::gather(ctx, plans))?;
    let integration_code = super::promote::add_integration_runs(
        config,
        &toolchain,
        prepared_integration.into_iter().collect(),
        &mut evidence,
    );
    let evidence = evidence.remove(0);
    // Without a deploy fact the deployment gate is not decided yet, so the report's
    // `promotable` here says whether every other gate allows the deploy.
    let report = assess::report(config, &evidence)?;
    let code = super::promote::exit_code(std::slice::from_ref(&report)).max(integration_code);
    Ok((evidence, Validation { report, code }))
}

/// Deploys, records the deployment, builds the report with the deploy as a fact, writes it,
/// and picks the exit code.
fn deploy(
    config: &Config,
    args: &PromoteArgs,
    target: &Target<'_>,
    site: &Site,
    mut evidence: Evidence,
) -> Result<u8> {
    let (service, to) = (&target.service, target.plan.to);
    ui::status(
        "Deploying",
        format!(
            "{service} to {to} (project {}, {})",
            site.project.name,
            site.docker.cli.describe()
        ),
    );
    let deployment = rollout::deploy(&rollout::Request {
        docker: &site.docker,
        project: &site.project,
        environment: target.environment,
        compose_file: &target.environment.compose_file,
        component: &target.component.name,
        service,
        probe: target.settings.health_probe.as_deref(),
        health: site.health,
    })?;
    record::append(config, &deployment)?;

    let recovery = recovery(target, site, &deployment);
    evidence.facts.deployment = Some(gate::deployment_fact(
        &deployment,
        target.environment.health_timeout,
        &recovery,
    ));
    evidence.deployment = Some(deployment.clone());
    let report = assess::report(config, &evidence)?;
    finish_report(config, args, &report)?;
    if args.record && deployment.outcome == Outcome::Deployed {
        // The deployment was just appended to the record, so the promotion finds it.
        super::promote::record(config, std::slice::from_ref(&report), chrono::Utc::now())?;
    }
    Ok(outcome_code(config, target, site, &deployment, &recovery))
}

/// Writes the reports, prints them and emits the CI output.
fn finish_report(config: &Config, args: &PromoteArgs, report: &PromotionReport) -> Result<()> {
    let reports = std::slice::from_ref(report);
    report::write(&config.component_reports_dir(&report.component), report)?;
    super::promote::print(reports, args.format)?;
    super::promote::emit_ci(config, reports, args.format)
}

/// The commands that restore the service by hand when the rollback failed.
fn recovery(target: &Target<'_>, site: &Site, deployment: &Deployment) -> String {
    let (docker, project, service) = (&site.docker, &site.project, &target.service);
    let compose_command = format!(
        "{} -f {} -p {}",
        docker.cli.command_name(),
        project.files[0].display(),
        project.name
    );
    let image = site
        .model
        .services
        .get(service)
        .map(|definition| {
            compose_file::image_reference(definition, &project.name, service, docker.cli.flavour)
        })
        .unwrap_or_default();
    gate::recovery_hint(
        &compose_command,
        service,
        deployment.previous_image_id.as_deref(),
        &image,
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
    let proof = deployment
        .rollback
        .as_ref()
        .map(|r| r.message.as_str())
        .unwrap_or_default();
    match deployment.outcome {
        Outcome::Deployed => {
            ui::status(
                "Deployed",
                format!(
                    "{service} to {} on {}",
                    target.plan.to,
                    deployment
                        .running_image_id
                        .as_deref()
                        .map_or("?".to_owned(), short_id)
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
                "deploy failed and the rollback failed: service `{service}` of project `{}` is down or not healthy ({proof}); {recovery}",
                site.project.name
            ));
            exit::INFRASTRUCTURE
        }
    }
}
