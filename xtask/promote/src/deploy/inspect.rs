//! Pure parsers of what the docker CLI prints about containers and images: `docker inspect`
//! (JSON), `docker image inspect` (JSON) and `docker ps -q` (one ID per line). Both compose
//! versions create the same containers, so these are the one view of the engine's state.

use std::collections::BTreeMap;

use serde::Deserialize;

/// What the deploy needs to know about one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    pub id: String,
    /// Without docker's leading `/`.
    pub name: String,
    /// The image it runs, by ID (`sha256:...`): what a rollback is proven against.
    pub image_id: String,
    /// The image as the container was created from it: a tag, or an ID after a rollback.
    pub image_ref: String,
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited` or `dead`.
    pub status: String,
    pub restarting: bool,
    pub exit_code: i64,
    pub oom_killed: bool,
    /// The engine's own error for a container that could not start.
    pub error: String,
    pub restart_count: u64,
    /// When its current process started, as the engine prints it: a restart changes it even
    /// where `RestartCount` does not (a container started again by hand).
    pub started_at: String,
    /// `None` when the container has no healthcheck.
    pub health: Option<Health>,
    pub service: Option<String>,
    /// Addresses on the container's networks, ordered by network name.
    pub ip_addresses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    pub failing_streak: u64,
    /// The output of the last healthcheck run, trimmed; empty when it printed nothing.
    pub last_output: Option<String>,
}

/// An image's own healthcheck (Dockerfile `HEALTHCHECK`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageHealthcheck {
    Declared(Vec<String>),
    /// `HEALTHCHECK NONE`.
    Disabled,
    Absent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub id: String,
    pub healthcheck: ImageHealthcheck,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawContainer {
    id: String,
    #[serde(default)]
    name: String,
    image: String,
    state: RawState,
    #[serde(default)]
    restart_count: u64,
    config: RawConfig,
    #[serde(default)]
    network_settings: Option<RawNetworkSettings>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawState {
    status: String,
    #[serde(default)]
    restarting: bool,
    #[serde(default)]
    exit_code: i64,
    #[serde(default, rename = "OOMKilled")]
    oom_killed: bool,
    #[serde(default)]
    error: String,
    #[serde(default)]
    started_at: String,
    #[serde(default)]
    health: Option<RawHealth>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawHealth {
    status: String,
    #[serde(default)]
    failing_streak: u64,
    #[serde(default)]
    log: Option<Vec<RawHealthLog>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawHealthLog {
    #[serde(default)]
    output: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawConfig {
    #[serde(default)]
    image: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    healthcheck: Option<RawHealthcheck>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawHealthcheck {
    #[serde(default)]
    test: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawNetworkSettings {
    #[serde(default)]
    networks: Option<BTreeMap<String, RawNetwork>>,
}

#[derive(Deserialize)]
struct RawNetwork {
    #[serde(default, rename = "IPAddress")]
    ip_address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawImage {
    id: String,
    #[serde(default)]
    config: Option<RawConfig>,
}

/// An image ID as docker prints it: `sha256:` and 64 hex digits. Only such IDs are written
/// into a rollback override.
pub fn is_image_id(text: &str) -> bool {
    text.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Parses `docker inspect --type container ID...`.
pub fn parse_containers(json: &[u8]) -> Result<Vec<ContainerState>, String> {
    let raw: Vec<RawContainer> = serde_json::from_slice(json)
        .map_err(|e| format!("`docker inspect` printed something that is not its JSON: {e}"))?;
    raw.into_iter()
        .map(|c| {
            if !is_image_id(&c.image) {
                return Err(format!(
                    "container {} runs an image whose ID `{}` is not a sha256 ID",
                    c.id, c.image
                ));
            }
            let labels = c.config.labels.unwrap_or_default();
            Ok(ContainerState {
                name: c.name.trim_start_matches('/').to_owned(),
                image_id: c.image,
                image_ref: c.config.image,
                status: c.state.status,
                restarting: c.state.restarting,
                exit_code: c.state.exit_code,
                oom_killed: c.state.oom_killed,
                error: c.state.error,
                restart_count: c.restart_count,
                started_at: c.state.started_at,
                health: c.state.health.map(|h| Health {
                    last_output: h
                        .log
                        .unwrap_or_default()
                        .last()
                        .map(|entry| entry.output.trim().to_owned()),
                    status: h.status,
                    failing_streak: h.failing_streak,
                }),
                service: labels.get(super::argv::SERVICE_LABEL).cloned(),
                ip_addresses: c
                    .network_settings
                    .and_then(|n| n.networks)
                    .unwrap_or_default()
                    .into_values()
                    .map(|n| n.ip_address)
                    .filter(|ip| !ip.is_empty())
                    .collect(),
                id: c.id,
            })
        })
        .collect()
}

/// Parses `docker image inspect REF` (an array of one).
pub fn parse_image(json: &[u8]) -> Result<ImageInfo, String> {
    let raw: Vec<RawImage> = serde_json::from_slice(json).map_err(|e| {
        format!("`docker image inspect` printed something that is not its JSON: {e}")
    })?;
    let image = raw
        .into_iter()
        .next()
        .ok_or_else(|| "`docker image inspect` printed no image".to_owned())?;
    let test = image
        .config
        .and_then(|c| c.healthcheck)
        .and_then(|h| h.test)
        .unwrap_or_default();
    Ok(ImageInfo {
        id: image.id,
        healthcheck: match test.first().map(String::as_str) {
            None => ImageHealthcheck::Absent,
            Some("NONE") => ImageHealthcheck::Disabled,
            Some(_) => ImageHealthcheck::Declared(test),
        },
    })
}

/// Parses `docker ps -q --no-trunc` / `docker network ls -q`: one ID per line.
pub fn parse_ids(stdout: &[u8]) -> Result<Vec<String>, String> {
    let text = String::from_utf8_lossy(stdout);
    let ids: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    match ids
        .iter()
        .find(|id| !id.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        Some(bad) => Err(format!("`docker` printed `{bad}` where an ID was expected")),
        None => Ok(ids),
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;

    use super::*;

    fn data(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("test_data")
                .join(name),
        )
        .unwrap()
    }

    fn summary(states: &[ContainerState]) -> String {
        let mut out = String::new();
        let mut states = states.to_vec();
        states.sort_by(|a, b| a.name.cmp(&b.name));
        for s in &states {
            let _ = writeln!(
                out,
                "{} service={:?} image={} ref={} status={} restarting={} exit={} restarts={} health={:?} ips={:?}",
                s.name,
                s.service,
                &s.image_id[..19],
                s.image_ref,
                s.status,
                s.restarting,
                s.exit_code,
                s.restart_count,
                s.health.as_ref().map(|h| (
                    h.status.as_str(),
                    h.failing_streak,
                    h.last_output.as_deref()
                )),
                s.ip_addresses
            );
        }
        out
    }

    #[test]
    fn containers_just_after_up() {
        let states = parse_containers(&data("docker_inspect_starting.json")).unwrap();
        insta::assert_snapshot!(summary(&states));
    }

    #[test]
    fn containers_once_settled() {
        let states = parse_containers(&data("docker_inspect_settled.json")).unwrap();
        assert_eq!(states.len(), 5);
        assert!(states.iter().all(|s| is_image_id(&s.image_id)));
        insta::assert_snapshot!(summary(&states));
    }

    #[test]
    fn image_healthchecks() {
        let json = data("docker_image_inspect.json");
        let all: Vec<serde_json::Value> = serde_json::from_slice(&json).unwrap();
        let one = |i: usize| serde_json::to_vec(&[&all[i]]).unwrap();
        let with = parse_image(&one(0)).unwrap();
        assert!(is_image_id(&with.id));
        assert_eq!(
            with.healthcheck,
            ImageHealthcheck::Declared(
                [
                    "CMD",
                    "/bin/busybox",
                    "wget",
                    "-q",
                    "-O",
                    "/dev/null",
                    "http://127.0.0.1/"
                ]
                .map(str::to_owned)
                .to_vec()
            )
        );
        assert_eq!(
            parse_image(&one(1)).unwrap().healthcheck,
            ImageHealthcheck::Absent
        );
        let disabled = br#"[{"Id": "sha256:0000000000000000000000000000000000000000000000000000000000000000", "Config": {"Healthcheck": {"Test": ["NONE"]}}}]"#;
        assert_eq!(
            parse_image(disabled).unwrap().healthcheck,
            ImageHealthcheck::Disabled
        );
    }

    #[test]
    fn garbage_is_an_error_never_an_empty_state() {
        assert!(parse_containers(b"Error: No such container: abc").is_err());
        assert!(parse_containers(br#"[{"Id": "x", "Image": "not-an-id", "State": {"Status": "running"}, "Config": {}}]"#).is_err());
        assert!(parse_image(b"[]").is_err());
        assert!(parse_ids(b"abc123\nWARNING: something\n").is_err());
        assert_eq!(
            parse_ids(b"abc123\n\ndef456\n").unwrap(),
            vec!["abc123", "def456"]
        );
        assert!(parse_ids(b"").unwrap().is_empty());
    }
}
