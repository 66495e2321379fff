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

use crate::assess;
use crate::cli::{GlobalArgs, PromoteArgs};
use crate::deploy::argv::Project;
use crate::deploy::docker::Docker;
use crate::deploy::model::{Outcome, short_id};
use crate::deploy::{compose_file, gate, integration, lock, preflight, record, rollout};
use crate::errors::{exit, usage};
use crate::maturity;
use crate::plan::{self, Phase, PhaseSelection};
use crate::report;
use crate::ui;

pub fn run(global: &GlobalArgs, args: &PromoteArgs) -> Result<u8> {
    let config = super::load_config(global)?;
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
    let state = maturity::read(&config, component)?;
    if let Some(warning) = &state.warning {
        ui::warn(warning);
    }
    let phases = PhaseSelection(vec![Phase::Validate, Phase::Deploy]);
    let plan = plan::plan_component(component, state.stage, &phases, args.target, false)?;
    let environment = config.require_environment(plan.to)?;
    let compose_path = preflight::compose_file(&config, environment)?;

    // Nothing below may change the engine until the checks are done.
    let _lock = lock::try_acquire(
        &config.locks_dir(),
        &format!("deploy-{}-{service}", environment.project_name),
        &lock::holder_text(&component.name, chrono::Utc::now()),
        &format!(
            "a deploy of service `{service}` to {} (project {})",
            environment.stage, environment.project_name
        ),
    )?;
    let docker = Rc::new(Docker::connect(
        &config.project.root,
        config.timeouts.compose,
    )?);
    let project = Project {
        files: vec![compose_path],
        name: environment.project_name.clone(),
    };
    let model = preflight::validate(&docker, &project)?;
    preflight::require_services(&model, &project, std::slice::from_ref(&service))?;
    let health = preflight::health_source(
        &docker,
        &model,
        &project,
        &service,
        &component.name,
        settings.health_probe.is_some(),
    )?;
    let prepared_integration = if args.integration {
        Some(integration::prepare(
            &config,
            component,
            plan.to,
            &mut Some(docker.clone()),
        )?)
    } else {
        None
    };

    // The validation gates of the target: cheap from the cache when nothing changed.
    let plans = std::slice::from_ref(&plan);
    let reports_dir = config.component_reports_dir(&component.name);
    report::clear(&reports_dir)?;
    let options = super::CheckOptions {
        jobs: args.jobs,
        refresh: args.no_cache,
    };
    let (mut reports, toolchain) =
        super::run_checks(&config, plans, options, |ctx| assess::assess(ctx, plans))?;
    let integration_code = match prepared_integration {
        Some(prepared) => {
            integration::run_into_reports(&config, &toolchain, vec![prepared], &mut reports)
        }
        None => exit::OK,
    };
    let mut report = reports.remove(0);
    gate::allow_redeploy(&mut report);
    let validation_code =
        super::promote::exit_code(std::slice::from_ref(&report)).max(integration_code);
    if !report.promotable || validation_code != exit::OK {
        report::write(&reports_dir, &report)?;
        super::promote::print(std::slice::from_ref(&report), args.format)?;
        super::promote::emit_ci(&config, std::slice::from_ref(&report), args.format)?;
        ui::error(format!(
            "not deploying {} to {}: its validation did not pass ({} blockers above); nothing was changed",
            component.name,
            plan.to,
            report.blockers.len()
        ));
        return Ok(validation_code.max(exit::GATE_FAILED));
    }

    ui::status(
        "Deploying",
        format!(
            "{service} to {} (project {}, {})",
            plan.to,
            project.name,
            docker.cli.describe()
        ),
    );
    let deployment = rollout::deploy(&rollout::Request {
        docker: &docker,
        project: &project,
        environment,
        compose_file: &environment.compose_file,
        component: &component.name,
        service: &service,
        probe: settings.health_probe.as_deref(),
        health,
    })?;
    record::append(&config, &deployment)?;

    let compose_command = format!(
        "{} -f {} -p {}",
        docker.cli.command_name(),
        project.files[0].display(),
        project.name
    );
    let image = model
        .services
        .get(&service)
        .map(|definition| {
            compose_file::image_reference(definition, &project.name, &service, docker.cli.flavour)
        })
        .unwrap_or_default();
    let recovery = gate::recovery_hint(
        &compose_command,
        &service,
        deployment.previous_image_id.as_deref(),
        &image,
    );
    let retry = format!(
        "cargo xtask promote {} --phase 5 --target {}",
        component.name,
        plan.to.id()
    );
    gate::add_gate(
        &mut report,
        gate::DEPLOYMENT_GATE,
        gate::deployment_gate(&deployment, environment.health_timeout, &retry, &recovery),
    );
    report.deployment = Some(deployment.clone());
    report::write(&reports_dir, &report)?;
    super::promote::print(std::slice::from_ref(&report), args.format)?;
    super::promote::emit_ci(&config, std::slice::from_ref(&report), args.format)?;
    if args.record && deployment.outcome == Outcome::Deployed {
        // The deployment was just appended to the record, so the promotion finds it.
        super::promote::record(&config, std::slice::from_ref(&report), chrono::Utc::now())?;
    }

    let failure = deployment
        .failure
        .as_deref()
        .and_then(|f| f.lines().next())
        .unwrap_or_default()
        .to_owned();
    let proof = deployment
        .rollback
        .as_ref()
        .map(|r| r.message.clone())
        .unwrap_or_default();
    Ok(match deployment.outcome {
        Outcome::Deployed => {
            ui::status(
                "Deployed",
                format!(
                    "{service} to {} on {}",
                    plan.to,
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
                reports_dir.join(report::JSON_FILE).display()
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
                project.name
            ));
            exit::INFRASTRUCTURE
        }
    })
}
