//! Everything checked before a deploy or an integration run changes anything: the compose file
//! is a regular file of the repository and pulls in nothing from outside it (`sources`),
//! compose accepts it (`config -q`), the services are defined, and something can prove them
//! healthy (a healthcheck in the compose file or the image that runs a command, or the
//! component's own probe). Each refusal is a usage error (exit 2) that says what to change.

use std::path::PathBuf;

use anyhow::Result;

use super::argv::{self, Project};
use super::compose_file::{self, ComposeHealthcheck, ComposeModel};
use super::docker::{Docker, Mode};
use super::inspect::ImageHealthcheck;
use super::model::HealthSource;
use crate::config::{Config, Environment};
use crate::errors::{infra, usage};

/// The environment's compose file, absolute, refused when it does not exist, is not a regular
/// file inside the repository, or pulls in a file from outside it.
pub fn compose_file(config: &Config, environment: &Environment) -> Result<PathBuf> {
    let path = config.project_path(&environment.compose_file);
    if std::fs::symlink_metadata(&path).is_err() {
        return Err(usage(format!(
            "the compose file of [environments.{}] does not exist: {} (compose_file is relative to {})",
            environment.stage.id(),
            path.display(),
            config.project.root.display()
        )));
    }
    super::sources::check(&config.workspace_root, &path)?;
    Ok(path)
}

/// Validates the project's files with compose itself, then reads the resolved model: typed,
/// and whole as JSON (what a proven deploy keeps).
pub fn validate(docker: &Docker, project: &Project) -> Result<(ComposeModel, serde_json::Value)> {
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
    let yaml = String::from_utf8_lossy(&done.stdout);
    let model = compose_file::parse(&yaml).map_err(infra)?;
    let document = compose_file::document(&yaml).map_err(infra)?;
    Ok((model, document))
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
    let Some(definition) = model.services.get(service) else {
        return Err(usage(format!(
            "service `{service}` is not defined in {}",
            files(project)
        )));
    };
    let fix = format!(
        "declare a healthcheck for `{service}` in the compose file, or give component `{component}` its own health_probe = [\"…\"] in xtask.toml"
    );
    match &definition.healthcheck {
        // Refused even with a probe: the engine would still run it (and `["CMD"]` crashed the
        // Docker 20.10 daemon).
        ComposeHealthcheck::Invalid(reason) => Err(usage(format!(
            "service `{service}` in {}: {reason}",
            files(project)
        ))),
        _ if probe => Ok(HealthSource::HealthProbe),
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
            match docker.image(&image, Mode::Normal)? {
                None => Err(usage(format!(
                    "cannot tell whether service `{service}` has a healthcheck: the compose file declares none and its image `{image}` is not on this engine; build or pull `{image}` first, or {fix}"
                ))),
                Some(info) => match info.healthcheck {
                    ImageHealthcheck::Declared(test) => match compose_file::classify_test(&test) {
                        ComposeHealthcheck::Invalid(reason) => Err(usage(format!(
                            "service `{service}` takes its healthcheck from image `{image}`, and {reason} (fix the image's HEALTHCHECK, or declare one in the compose file)"
                        ))),
                        _ => Ok(HealthSource::Healthcheck),
                    },
                    ImageHealthcheck::Disabled | ImageHealthcheck::Absent => Err(usage(format!(
                        "service `{service}` has no healthcheck (neither {} nor its image `{image}` declares one), so nothing would prove a deploy healthy: {fix}",
                        files(project)
                    ))),
                },
            }
        }
    }
}
