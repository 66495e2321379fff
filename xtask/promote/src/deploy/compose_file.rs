//! A pure reader of `compose config` output: the resolved model (files merged, variables
//! interpolated) as YAML, reduced to what a deploy decides on: which services exist, their
//! image, and whether compose declares, disables or leaves to the image their healthcheck.

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
                    Some(RawTest::List(list)) => match list.first().map(String::as_str) {
                        None => ComposeHealthcheck::FromImage,
                        Some("NONE") => ComposeHealthcheck::Disabled,
                        Some(_) => ComposeHealthcheck::Declared,
                    },
                    Some(RawTest::Shell(text)) if text.trim().is_empty() => {
                        ComposeHealthcheck::FromImage
                    }
                    Some(RawTest::Shell(_)) => ComposeHealthcheck::Declared,
                },
            };
            (
                name,
                ServiceModel {
                    image: service.image,
                    builds: service.build.is_some(),
                    healthcheck,
                },
            )
        })
        .collect();
    Ok(ComposeModel { services })
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
    fn garbage_is_an_error() {
        assert!(parse("services: [1, 2").is_err());
        assert!(parse("services:\n  web: 3\n").is_err());
    }
}
