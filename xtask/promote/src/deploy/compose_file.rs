//! A pure reader of `compose config` output: the resolved model (files merged, variables
//! interpolated) as YAML, reduced to what a deploy decides on: which services exist, their
//! image and replica count, and whether compose declares, disables or leaves to the image their
//! healthcheck (a declared one must be a command: `["CMD"]` is not). Also the whole model as
//! JSON, which a proven deploy keeps so that a rollback restores its configuration.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::cli::Flavour;

/// The services of a resolved compose model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeModel {
    pub services: BTreeMap<String, ServiceModel>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceModel {
    pub image: Option<String>,
    pub builds: bool,
    pub healthcheck: ComposeHealthcheck,
    /// `scale` or `deploy.replicas`, when the file declares one.
    pub replicas: Option<u32>,
}

/// What the compose file says about a service's healthcheck.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComposeHealthcheck {
    /// A `test` of its own.
    Declared,
    /// `disable: true` or `test: ["NONE"]`: no healthcheck, whatever the image says.
    Disabled,
    /// No `test`: the image's own `HEALTHCHECK` applies, if it has one.
    FromImage,
    /// A `test` that runs nothing (`["CMD"]`, an empty shell command): refused.
    Invalid(String),
}

#[derive(Deserialize)]
struct RawModel {
    #[serde(default)]
    services: BTreeMap<String, RawService>,
}

#[derive(Deserialize)]
struct RawService {
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    build: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    healthcheck: Option<RawHealthcheck>,
    #[serde(default)]
    scale: Option<u32>,
    #[serde(default)]
    deploy: Option<RawDeploy>,
}

#[derive(Deserialize)]
struct RawDeploy {
    #[serde(default)]
    replicas: Option<u32>,
}

#[derive(Deserialize)]
struct RawHealthcheck {
    #[serde(default)]
    test: Option<RawTest>,
    #[serde(default)]
    disable: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawTest {
    List(Vec<String>),
    Shell(String),
}

/// Parses the YAML `docker compose config` / `docker-compose config` prints.
pub fn parse(yaml: &str) -> Result<ComposeModel, String> {
    let raw: RawModel = serde_saphyr::from_str(yaml).map_err(|e| {
        format!("`compose config` printed something that is not a compose model: {e}")
    })?;
    let services = raw
        .services
        .into_iter()
        .map(|(name, service)| {
            let healthcheck = match service.healthcheck {
                None => ComposeHealthcheck::FromImage,
                Some(check) if check.disable == Some(true) => ComposeHealthcheck::Disabled,
                Some(check) => match check.test {
                    None => ComposeHealthcheck::FromImage,
                    Some(RawTest::List(list)) => classify_test(&list),
                    Some(RawTest::Shell(text)) => classify_test(&["CMD-SHELL".to_owned(), text]),
                },
            };
            let replicas = service.scale.or(service.deploy.and_then(|d| d.replicas));
            (
                name,
                ServiceModel {
                    image: service.image,
                    builds: service.build.is_some(),
                    healthcheck,
                    replicas,
                },
            )
        })
        .collect();
    Ok(ComposeModel { services })
}

/// A healthcheck `test` as Docker reads it: `NONE`, `CMD` with a program, or `CMD-SHELL` with
/// a command; anything else would run nothing (and `["CMD"]` crashed Docker 20.10's daemon).
pub fn classify_test(test: &[String]) -> ComposeHealthcheck {
    let blank = |s: &String| s.trim().is_empty();
    match test.split_first() {
        Some((kind, rest)) if kind == "NONE" && rest.is_empty() => ComposeHealthcheck::Disabled,
        Some((kind, [program, ..])) if kind == "CMD" && !blank(program) => {
            ComposeHealthcheck::Declared
        }
        Some((kind, [command])) if kind == "CMD-SHELL" && !blank(command) => {
            ComposeHealthcheck::Declared
        }
        _ => ComposeHealthcheck::Invalid(format!(
            "its healthcheck test {test:?} runs nothing: write `[\"CMD\", \"program\", \"arg\"…]` or `[\"CMD-SHELL\", \"command\"]`"
        )),
    }
}

/// The whole resolved model as JSON, for keeping with a deploy; bounded in size.
pub fn document(yaml: &str) -> Result<serde_json::Value, String> {
    if yaml.len() > super::configs::MAX_MODEL_BYTES {
        return Err(format!(
            "`compose config` printed {} bytes, more than a compose model has",
            yaml.len()
        ));
    }
    let value: serde_json::Value = serde_saphyr::from_str(yaml).map_err(|e| {
        format!("`compose config` printed something that is not a compose model: {e}")
    })?;
    if !value
        .get("services")
        .is_some_and(serde_json::Value::is_object)
    {
        return Err("`compose config` printed a model without services".to_owned());
    }
    Ok(value)
}

/// The image a service runs: its `image`, else the name compose gives what it builds
/// (`project_service` in v1, `project-service` in v2).
pub fn image_reference(
    model: &ServiceModel,
    project: &str,
    service: &str,
    flavour: Flavour,
) -> String {
    match &model.image {
        Some(image) => image.clone(),
        None => match flavour {
            Flavour::V1 => format!("{project}_{service}"),
            Flavour::V2Plugin | Flavour::V2Standalone => format!("{project}-{service}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured() -> ComposeModel {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("test_data/compose_config_v1.yml"),
        )
        .unwrap();
        parse(&text).unwrap()
    }

    #[test]
    fn captured_v1_model_classifies_every_healthcheck_shape() {
        let model = captured();
        let check = |name: &str| model.services[name].healthcheck.clone();
        assert_eq!(
            check("narrative-arc-orchestrator"),
            ComposeHealthcheck::Declared
        );
        assert_eq!(
            check("neo4j"),
            ComposeHealthcheck::Declared,
            "a string test is CMD-SHELL"
        );
        assert_eq!(
            check("carbon"),
            ComposeHealthcheck::FromImage,
            "only an interval"
        );
        assert_eq!(check("worker"), ComposeHealthcheck::Disabled);
        assert_eq!(check("legacy"), ComposeHealthcheck::Disabled);
        assert_eq!(
            model.services["carbon"].image.as_deref(),
            Some("tta/carbon:staging"),
            "variables are interpolated by compose"
        );
        assert!(model.services["worker"].builds);
        assert_eq!(model.services.len(), 5);
    }

    #[test]
    fn v2_shapes_parse_too() {
        // compose v2 prints `name:`, long-form ports and `disable: true` as such.
        let yaml = r#"
name: tta-staging
services:
  web:
    healthcheck:
      disable: true
    image: tta/web:staging
    networks:
      default: null
    ports:
      - mode: ingress
        host_ip: 127.0.0.1
        target: 80
        protocol: tcp
  api:
    build:
      context: /repo/api
      dockerfile: Dockerfile
    healthcheck:
      test:
        - CMD-SHELL
        - wget -q -O /dev/null http://127.0.0.1/
networks:
  default:
    name: tta-staging_default
"#;
        let model = parse(yaml).unwrap();
        assert_eq!(
            model.services["web"].healthcheck,
            ComposeHealthcheck::Disabled
        );
        assert_eq!(
            model.services["api"].healthcheck,
            ComposeHealthcheck::Declared
        );
        assert_eq!(
            image_reference(
                &model.services["api"],
                "tta-staging",
                "api",
                Flavour::V2Plugin
            ),
            "tta-staging-api"
        );
        assert_eq!(
            image_reference(&model.services["api"], "tta-staging", "api", Flavour::V1),
            "tta-staging_api"
        );
    }

    #[test]
    fn a_healthcheck_that_runs_nothing_is_invalid() {
        let words = |list: &[&str]| list.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        for test in [
            words(&["CMD"]),
            words(&["CMD", ""]),
            words(&["CMD-SHELL"]),
            words(&["CMD-SHELL", "  "]),
            words(&[]),
            words(&["wget", "http://x/"]),
        ] {
            assert!(
                matches!(classify_test(&test), ComposeHealthcheck::Invalid(_)),
                "{test:?}"
            );
        }
        assert_eq!(
            classify_test(&words(&["CMD", "true"])),
            ComposeHealthcheck::Declared
        );
        assert_eq!(
            classify_test(&words(&["CMD-SHELL", "wget -q http://x/"])),
            ComposeHealthcheck::Declared
        );
        let yaml = "services:\n  web:\n    image: x\n    healthcheck:\n      test: [\"CMD\"]\n    deploy:\n      replicas: 2\n  api:\n    image: y\n    scale: 3\n";
        let model = parse(yaml).unwrap();
        assert!(matches!(
            model.services["web"].healthcheck,
            ComposeHealthcheck::Invalid(_)
        ));
        assert_eq!(model.services["web"].replicas, Some(2));
        assert_eq!(model.services["api"].replicas, Some(3));
        assert_eq!(captured().services["carbon"].replicas, None);
    }

    #[test]
    fn the_whole_model_is_kept_as_json() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("test_data/compose_config_v1.yml"),
        )
        .unwrap();
        let model = document(&text).unwrap();
        assert_eq!(model["services"]["carbon"]["image"], "tta/carbon:staging");
        assert!(document("services: 3\n").is_err());
        assert!(document(&"#".repeat(super::super::configs::MAX_MODEL_BYTES + 1)).is_err());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse("services: [1, 2").is_err());
        assert!(parse("services:\n  web: 3\n").is_err());
    }
}
