//! Which compose CLI this machine has: the v2 plugin (`docker compose`), a standalone
//! `docker-compose` (v1, or v2 under the old name). Detected once per run; the parsers of their
//! `version` output are pure.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::errors::infra;
use crate::process::{self, RunError, ToolCommand};

/// How long `version` may take: it reads no project and talks to no engine.
const VERSION_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flavour {
    /// `docker compose`, the CLI plugin.
    V2Plugin,
    /// `docker-compose` that is compose v2 (some distributions ship it under the old name).
    V2Standalone,
    /// `docker-compose` 1.x, the Python program.
    V1,
}

/// The compose CLI to drive, and the docker CLI beside it (for `inspect`, `exec`, `ps`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeCli {
    pub flavour: Flavour,
    /// As reported, without a leading `v`: `1.29.2`, `2.29.0`.
    pub version: String,
    /// `docker` for the plugin, `docker-compose` otherwise.
    pub program: PathBuf,
    /// Arguments before compose's own: `["compose"]` for the plugin.
    pub prefix: Vec<String>,
    pub docker: PathBuf,
}

impl ComposeCli {
    /// How reports and messages name it: `docker compose 2.29.0`, `docker-compose 1.29.2`.
    pub fn describe(&self) -> String {
        match self.flavour {
            Flavour::V2Plugin => format!("docker compose {}", self.version),
            Flavour::V2Standalone | Flavour::V1 => format!("docker-compose {}", self.version),
        }
    }

    /// The command a user would type to run compose, for fix hints.
    pub fn command_name(&self) -> &'static str {
        match self.flavour {
            Flavour::V2Plugin => "docker compose",
            Flavour::V2Standalone | Flavour::V1 => "docker-compose",
        }
    }
}

/// Reads `docker compose version` / `docker-compose version` output: `Docker Compose version
/// v2.29.0` (v2, also `2.20.2+ds1-0ubuntu1` from distributions) or `docker-compose version
/// 1.29.2, build unknown` (v1). Anything else is not a compose we know.
pub fn parse_version(stdout: &str) -> Option<(bool, String)> {
    let first = stdout.lines().map(str::trim).find(|l| !l.is_empty())?;
    if let Some(rest) = first.strip_prefix("Docker Compose version ") {
        let version = rest.trim().trim_start_matches('v');
        return version
            .starts_with(|c: char| c.is_ascii_digit())
            .then(|| (true, version.to_owned()));
    }
    if let Some(rest) = first.strip_prefix("docker-compose version ") {
        let version = rest.split(',').next()?.trim();
        if version.starts_with("1.") {
            return Some((false, version.to_owned()));
        }
    }
    None
}

/// Finds the compose CLI: the v2 plugin first (what Docker ships today), then `docker-compose`.
/// Neither is an infrastructure error that says what to install.
pub fn detect() -> Result<ComposeCli> {
    let docker = which::which("docker").map_err(|_| {
        infra("the docker CLI was not found on PATH: install Docker (the engine and its CLI) to deploy")
    })?;
    let cwd = std::env::temp_dir();
    let plugin = ToolCommand::new(&docker, &cwd, VERSION_TIMEOUT).args(["compose", "version"]);
    if let Some((true, version)) = version_of(&plugin)? {
        return Ok(ComposeCli {
            flavour: Flavour::V2Plugin,
            version,
            program: docker.clone(),
            prefix: vec!["compose".to_owned()],
            docker,
        });
    }
    if let Ok(standalone) = which::which("docker-compose") {
        let command = ToolCommand::new(&standalone, &cwd, VERSION_TIMEOUT).arg("version");
        if let Some((v2, version)) = version_of(&command)? {
            return Ok(ComposeCli {
                flavour: if v2 {
                    Flavour::V2Standalone
                } else {
                    Flavour::V1
                },
                version,
                program: standalone,
                prefix: Vec::new(),
                docker,
            });
        }
    }
    Err(infra(
        "neither `docker compose` (the v2 plugin) nor `docker-compose` (v1) answered `version`: install the compose plugin (Debian: docker-compose-plugin or docker-compose)",
    ))
}

/// The parsed version a command printed, `None` when it is missing or printed something else.
fn version_of(command: &ToolCommand) -> Result<Option<(bool, String)>> {
    match process::run(command) {
        Ok(done) if done.code == Some(0) => {
            Ok(parse_version(&String::from_utf8_lossy(&done.stdout)))
        }
        Ok(_) | Err(RunError::NotFound { .. }) => Ok(None),
        Err(RunError::Interrupted) => Err(super::interrupted::error()),
        Err(error) => Err(infra(format!("`{}` failed: {error}", command.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("test_data")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn v1_output_captured_here_is_v1() {
        assert_eq!(
            parse_version(&data("compose_version_v1.txt")),
            Some((false, "1.29.2".to_owned()))
        );
    }

    #[test]
    fn v2_plugin_output_is_v2() {
        assert_eq!(
            parse_version(&data("compose_version_v2.txt")),
            Some((true, "2.29.0".to_owned()))
        );
    }

    #[test]
    fn distribution_builds_of_v2_without_the_v_are_v2() {
        assert_eq!(
            parse_version("Docker Compose version 2.20.2+ds1-0ubuntu1~22.04.1\n"),
            Some((true, "2.20.2+ds1-0ubuntu1~22.04.1".to_owned()))
        );
    }

    #[test]
    fn anything_else_is_not_compose() {
        // What an old docker CLI without the plugin prints, and other lookalikes.
        for text in [
            "",
            "docker: 'compose' is not a docker command.\nSee 'docker --help'",
            "Usage:  docker [OPTIONS] COMMAND",
            "Docker version 28.2.2, build e6534b4",
            "docker-compose version 2.0.0, build x",
            "Docker Compose version dev",
        ] {
            assert_eq!(parse_version(text), None, "{text:?}");
        }
    }

    #[test]
    fn descriptions_name_the_command_users_type() {
        let cli = ComposeCli {
            flavour: Flavour::V1,
            version: "1.29.2".into(),
            program: "docker-compose".into(),
            prefix: vec![],
            docker: "docker".into(),
        };
        assert_eq!(cli.describe(), "docker-compose 1.29.2");
        assert_eq!(cli.command_name(), "docker-compose");
    }
}
