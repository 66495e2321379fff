//! Everything checked before a deploy or an integration run changes anything: the compose file
//! exists and compose accepts it (`config -q`), the services are defined, and something can
//! prove them healthy (a healthcheck in the compose file or the image, or the component's own
//! probe). Each refusal is a usage error (exit 2) that says what to change.

use std::path::PathBuf;

use anyhow::Result;

use super::argv::{self, Project};
use super::compose_file::{self, ComposeHealthcheck, ComposeModel};
use super::docker::{Docker, Mode};
use super::inspect::ImageHealthcheck;
use super::model::HealthSource;
use crate::config::{Config, Environment};
use crate::errors::{infra, usage};

/// The environment's compose file, absolute, refused when it does not exist.
pub fn compose_file(config: &Config, environment: &Environment) -> Result<PathBuf> {
    let path = config.project_path(&environment.compose_file);
    if !path.is_file() {
        return Err(usage(format!(
            "the compose file of [environments.{}] does not exist: {} (compose_file is relative to {})",
            environment.stage.id(),
            path.display(),
            config.project.root.display()
        )));
    }
    Ok(path)
}

/// Validates the project's files with compose itself, then reads the resolved model.
pub fn validate(docker: &Docker, project: &Project) -> Result<ComposeModel> {
    let done = docker.compose(project, argv::config_quiet(), Mode::Normal)?;
    if done.code != Some(0) {
        return Err(usage(format!(
            "compose rejects {}:\n{}\nfix the file, then check it with `{}`",
            files(project),
            done.tail(15),
            docker.compose_display(project, argv::config_quiet())
        )));
    }
    let done = docker.compose_ok(project, argv::config(), Mode::Normal)?;
    compose_file::parse(&String::from_utf8_lossy(&done.stdout)).map_err(infra)
}

fn files(project: &Project) -> String {
    project
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Refuses services the model does not define, listing the ones it does.
pub fn require_services(
    model: &ComposeModel,
    project: &Project,
    services: &[String],
) -> Result<()> {
    for service in services {
        if !model.services.contains_key(service) {
            return Err(usage(format!(
                "service `{service}` is not defined in {} (it defines: {}): fix `service`/`services` in xtask.toml or the compose file",
                files(project),
                model
                    .services
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(())
}

/// How the health of `service` will be proven, or a refusal when nothing can prove it.
/// `probe` is whether the component configures a `health_probe` for it.
pub fn health_source(
    docker: &Docker,
    model: &ComposeModel,
    project: &Project,
    service: &str,
    component: &str,
    probe: bool,
) -> Result<HealthSource> {
    if probe {
        return Ok(HealthSource::HealthProbe);
    }
    let Some(definition) = model.services.get(service) else {
        return Err(usage(format!(
            "service `{service}` is not defined in {}",
            files(project)
        )));
    };
    let fix = format!(
        "declare a healthcheck for `{service}` in the compose file, or give component `{component}` its own health_probe = [\"…\"] in xtask.toml"
    );
    match definition.healthcheck {
        ComposeHealthcheck::Declared => Ok(HealthSource::Healthcheck),
        ComposeHealthcheck::Disabled => Err(usage(format!(
            "service `{service}` has its healthcheck disabled in {}, so nothing would prove a deploy healthy: {fix}",
            files(project)
        ))),
        ComposeHealthcheck::FromImage => {
            let image = compose_file::image_reference(
                definition,
                &project.name,
                service,
                docker.cli.flavour,
            );
            match docker.image(&image)? {
                None => Err(usage(format!(
                    "cannot tell whether service `{service}` has a healthcheck: the compose file declares none and its image `{image}` is not on this engine; build or pull `{image}` first, or {fix}"
                ))),
                Some(info) => match info.healthcheck {
                    ImageHealthcheck::Declared(_) => Ok(HealthSource::Healthcheck),
                    ImageHealthcheck::Disabled | ImageHealthcheck::Absent => Err(usage(format!(
                        "service `{service}` has no healthcheck (neither {} nor its image `{image}` declares one), so nothing would prove a deploy healthy: {fix}",
                        files(project)
                    ))),
                },
            }
        }
    }
}
