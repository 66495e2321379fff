//! The deploy side of `xtask.toml`: `[environments.<stage>]` (compose file, project name, health
//! deadline) and each component's `service`, `services` and `health_probe`, validated.
//!
//! Service and project names only ever reach compose as separate arguments, never a shell; they
//! are still held to compose's own alphabets, and must start with a letter or digit so that no
//! name can be read as a flag.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;

use super::{Locator, raw, relative_path};
use crate::fsutil::unix;
use crate::vocab::Stage;

/// Where one stage's services run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub stage: Stage,
    /// Relative to the project root, with `/` separators.
    pub compose_file: String,
    pub project_name: String,
    /// How long a deployed service has to become healthy, from the moment `up` returned.
    pub health_timeout: Duration,
    /// How long it must then stay healthy (the settle window).
    pub settle: Duration,
}

/// A component's compose services. Components that set none of the keys have no entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceSettings {
    /// The service that deploys the component (phase 5).
    pub service: Option<String>,
    /// Services its integration tests need.
    pub services: Vec<String>,
    /// Argv run with `docker exec` in the deployed service's container; exit 0 means healthy.
    pub health_probe: Option<Vec<String>>,
}

/// The longest health deadline accepted: an hour is already far beyond any real start-up.
const MAX_HEALTH_TIMEOUT_SECS: u64 = 3600;

/// Compose's service-name alphabet (`[a-zA-Z0-9._-]`), starting with a letter or digit.
pub fn valid_service_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Compose v2's project-name rule (`^[a-z0-9][a-z0-9_-]*$`), which v1 also accepts unchanged.
pub fn valid_project_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes
            .first()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
}

pub(super) fn build_environments(
    raw: &indexmap::IndexMap<String, toml::Spanned<raw::RawEnvironment>>,
    at: &Locator<'_>,
) -> Result<Vec<Environment>> {
    let mut environments = Vec::with_capacity(raw.len());
    for (name, spanned) in raw {
        let env = spanned.get_ref();
        let stage: Stage = name.parse().map_err(|_| {
            at.error(
                spanned,
                format!(
                    "[environments.{}] is not a stage: expected development, staging or production",
                    name.escape_debug()
                ),
            )
        })?;
        let compose_file = relative_path(env.compose_file.get_ref(), "compose_file")
            .map_err(|e| at.error(&env.compose_file, format!("[environments.{name}]: {e}")))?;
        let project_name = env.project_name.get_ref();
        if !valid_project_name(project_name) {
            return Err(at.error(
                &env.project_name,
                format!(
                    "[environments.{name}] project_name `{}` must be lowercase letters, digits, `-` and `_`, starting with a letter or digit (compose's rule)",
                    project_name.escape_debug()
                ),
            ));
        }
        let seconds = |value: &toml::Spanned<u64>, key: &str, what: &str| {
            let seconds = *value.get_ref();
            if seconds == 0 || seconds > MAX_HEALTH_TIMEOUT_SECS {
                return Err(at.error(
                    value,
                    format!(
                        "[environments.{name}] {key} = {seconds}: expected seconds between 1 and {MAX_HEALTH_TIMEOUT_SECS} ({what})"
                    ),
                ));
            }
            Ok(seconds)
        };
        let timeout = seconds(
            &env.health_timeout,
            "health_timeout",
            "how long a deployed service has to become healthy",
        )?;
        let settle = seconds(
            &env.settle_seconds,
            "settle_seconds",
            "how long a deployed service must then stay healthy",
        )?;
        environments.push(Environment {
            stage,
            compose_file: unix(&compose_file),
            project_name: project_name.clone(),
            health_timeout: Duration::from_secs(timeout),
            settle: Duration::from_secs(settle),
        });
    }
    Ok(environments)
}

pub(super) fn build_services(
    raw: &indexmap::IndexMap<String, toml::Spanned<raw::RawComponent>>,
    at: &Locator<'_>,
) -> Result<BTreeMap<String, ServiceSettings>> {
    let mut settings = BTreeMap::new();
    for (name, spanned) in raw {
        let component = spanned.get_ref();
        let check = |service: &toml::Spanned<String>, key: &str| -> Result<String> {
            let text = service.get_ref();
            if valid_service_name(text) {
                Ok(text.clone())
            } else {
                Err(at.error(
                    service,
                    format!(
                        "component `{name}`: {key} `{}` is not a compose service name: letters, digits, `.`, `_` and `-`, starting with a letter or digit",
                        text.escape_debug()
                    ),
                ))
            }
        };
        let service = component
            .service
            .as_ref()
            .map(|s| check(s, "service"))
            .transpose()?;
        let mut services: Vec<String> = Vec::new();
        for spanned_service in &component.services {
            let service = check(spanned_service, "services entry")?;
            if services.contains(&service) {
                return Err(at.error(
                    spanned_service,
                    format!("component `{name}` lists the service `{service}` twice"),
                ));
            }
            services.push(service);
        }
        let health_probe = match &component.health_probe {
            None => None,
            Some(probe) => {
                let argv = probe.get_ref();
                if argv.is_empty() || argv.iter().any(|a| a.is_empty() || a.contains('\0')) {
                    return Err(at.error(
                        probe,
                        format!(
                            "component `{name}`: health_probe must be a non-empty list of non-empty arguments, e.g. [\"wget\", \"-q\", \"-O\", \"/dev/null\", \"http://127.0.0.1/health\"]"
                        ),
                    ));
                }
                if service.is_none() {
                    return Err(at.error(
                        probe,
                        format!(
                            "component `{name}` has a health_probe but no `service` for it to probe"
                        ),
                    ));
                }
                Some(argv.clone())
            }
        };
        if service.is_some() || !services.is_empty() {
            settings.insert(
                name.clone(),
                ServiceSettings {
                    service,
                    services,
                    health_probe,
                },
            );
        }
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::super::{Config, parse};
    use super::*;

    fn config(extra_component_keys: &str, environments: &str) -> Result<Config> {
        let text = format!(
            r#"{}
[components.carbon]
display_name = "Carbon"
group = "Core Infrastructure"
source = "src/components/carbon_component.py"
{extra_component_keys}
{environments}"#,
            super::super::test_registry_head(&["Core Infrastructure"])
        );
        parse(&text, &std::env::temp_dir().join("xtask.toml"))
    }

    fn error_of(extra: &str, environments: &str) -> String {
        format!("{:#}", config(extra, environments).unwrap_err())
    }

    const STAGING: &str = r#"
[environments.staging]
compose_file = "deploy/docker-compose.staging.yml"
project_name = "tta-staging"
"#;

    #[test]
    fn environments_and_services_load_with_the_default_deadline() {
        let config = config(
            r#"service = "carbon-api"
services = ["neo4j", "redis.cache"]
health_probe = ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/health"]"#,
            STAGING,
        )
        .unwrap();
        let staging = config.require_environment(Stage::Staging).unwrap();
        assert_eq!(staging.compose_file, "deploy/docker-compose.staging.yml");
        assert_eq!(staging.project_name, "tta-staging");
        assert_eq!(staging.health_timeout, Duration::from_secs(120));
        assert_eq!(staging.settle, Duration::from_secs(30));
        let settings = config.service_settings("carbon");
        assert_eq!(settings.service.as_deref(), Some("carbon-api"));
        assert_eq!(settings.services, vec!["neo4j", "redis.cache"]);
        assert_eq!(settings.health_probe.unwrap()[0], "wget");
        assert_eq!(config.timeouts.compose, Duration::from_secs(300));
    }

    #[test]
    fn a_missing_environment_is_a_usage_error_naming_the_declared_ones() {
        let config = config("", STAGING).unwrap();
        let error = config.require_environment(Stage::Production).unwrap_err();
        assert_eq!(
            crate::errors::exit_code_of(&error),
            crate::errors::exit::USAGE
        );
        let message = error.to_string();
        assert!(message.contains("[environments.production]"), "{message}");
        assert!(message.contains("declared: staging"), "{message}");
    }

    #[test]
    fn components_without_services_have_empty_settings() {
        let config = config("", "").unwrap();
        assert_eq!(
            config.service_settings("carbon"),
            ServiceSettings::default()
        );
        assert!(config.environments.is_empty());
    }

    #[test]
    fn hostile_service_names_are_refused_with_their_position() {
        for name in ["-d", "a b", "a;rm -rf /", "$(id)", "", ".hidden", "x\ny"] {
            let message = error_of(&format!("service = {name:?}"), "");
            assert!(
                message.contains("is not a compose service name"),
                "{name}: {message}"
            );
            assert!(message.contains("xtask.toml:"), "{name}: {message}");
        }
        let message = error_of(r#"services = ["ok", "--rm"]"#, "");
        assert!(message.contains("services entry `--rm`"), "{message}");
    }

    #[test]
    fn a_service_listed_twice_is_refused() {
        let message = error_of(r#"services = ["db", "db"]"#, "");
        assert!(message.contains("twice"), "{message}");
    }

    #[test]
    fn environments_must_be_stages_with_valid_names_paths_and_deadlines() {
        let message = error_of("", &STAGING.replace("staging]", "qa]"));
        assert!(
            message.contains("[environments.qa] is not a stage"),
            "{message}"
        );
        let message = error_of("", &STAGING.replace("tta-staging", "TTA Staging"));
        assert!(message.contains("project_name `TTA Staging`"), "{message}");
        let message = error_of("", &STAGING.replace("deploy/docker", "../docker"));
        assert!(message.contains("leaves its base folder"), "{message}");
        let message = error_of("", &format!("{STAGING}health_timeout = 0\n"));
        assert!(message.contains("health_timeout = 0"), "{message}");
        let message = error_of("", &format!("{STAGING}settle_seconds = 0\n"));
        assert!(message.contains("settle_seconds = 0"), "{message}");
        let settled = config("", &format!("{STAGING}settle_seconds = 3\n")).unwrap();
        assert_eq!(
            settled.require_environment(Stage::Staging).unwrap().settle,
            Duration::from_secs(3)
        );
        assert!(message.contains("xtask.toml:"), "{message}");
        let message = error_of("", &format!("{STAGING}wait = 5\n"));
        assert!(message.contains("wait"), "{message}");
    }

    #[test]
    fn a_probe_needs_a_service_and_arguments() {
        let message = error_of(r#"health_probe = ["true"]"#, "");
        assert!(message.contains("no `service`"), "{message}");
        let message = error_of(
            r#"service = "api"
health_probe = []"#,
            "",
        );
        assert!(message.contains("non-empty list"), "{message}");
    }

    #[test]
    fn project_names_follow_compose() {
        assert!(valid_project_name("tta-staging_2"));
        assert!(valid_project_name("0day"));
        assert!(!valid_project_name("-x"));
        assert!(!valid_project_name("Upper"));
        assert!(!valid_project_name("a.b"));
        assert!(!valid_project_name(""));
    }
}
