//! The healthcheck a component declares, read from its stage's compose file (or its
//! `health_probe` in xtask.toml) without asking docker: the monitoring gate's third check.

use crate::config::Config;
use crate::vocab::Stage;

/// The component's healthcheck: a `health_probe` in xtask.toml, or a healthcheck that runs
/// something on its service in the stage's compose file.
pub fn healthcheck(config: &Config, component: &str, stage: Stage) -> Result<String, String> {
    let settings = config.service_settings(component);
    let Some(service) = settings.service else {
        return Err(format!(
            "{component} names no compose `service`, so no healthcheck can be found"
        ));
    };
    if settings.health_probe.is_some() {
        return Ok("health_probe in xtask.toml".to_owned());
    }
    let environment = config
        .environments
        .iter()
        .find(|e| e.stage == stage)
        .ok_or_else(|| {
            format!(
                "no [environments.{}] to read the compose file of",
                stage.id()
            )
        })?;
    let path = config.project_path(&environment.compose_file);
    let text =
        crate::input_file::read_text(&path, "the compose file", crate::input_file::DOCUMENT_MAX)
            .map_err(|e| format!("{e:#}"))?
            .ok_or_else(|| format!("{} does not exist", environment.compose_file))?;
    let model = crate::deploy::compose_file::parse(&text)?;
    match model.services.get(&service).map(|s| &s.healthcheck) {
        None => Err(format!(
            "{} defines no service `{service}`",
            environment.compose_file
        )),
        Some(crate::deploy::compose_file::ComposeHealthcheck::Declared) => Ok(format!(
            "healthcheck of `{service}` in {}",
            environment.compose_file
        )),
        Some(crate::deploy::compose_file::ComposeHealthcheck::Invalid(reason)) => {
            Err(format!("`{service}`: {reason}"))
        }
        Some(_) => Err(format!(
            "`{service}` in {} declares no healthcheck (add `healthcheck: test: [\"CMD\", ...]`, or health_probe in xtask.toml)",
            environment.compose_file
        )),
    }
}
