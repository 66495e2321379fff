//! Argument lists for compose and docker, built from validated names and never passed through
//! a shell. Pure: the same inputs give the same lists, whichever CLI runs them.
//!
//! Only flags both compose v1 (1.27+) and v2 accept are used; containers are found through the
//! labels both versions put on them, so the rest of the deploy does not care which one ran.

use std::path::PathBuf;

use super::cli::ComposeCli;

/// The label compose puts on every container, network and volume of a project.
pub const PROJECT_LABEL: &str = "com.docker.compose.project";
pub const SERVICE_LABEL: &str = "com.docker.compose.service";
/// `True` on containers of `compose run`, which are not the service's.
pub const ONEOFF_LABEL: &str = "com.docker.compose.oneoff";

/// One compose project: its files (the environment's, then any override) and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub files: Vec<PathBuf>,
    pub name: String,
}

/// `compose -f FILE... -p NAME SUBCOMMAND...` for `cli`.
pub fn compose(cli: &ComposeCli, project: &Project, subcommand: Vec<String>) -> Vec<String> {
    let mut args = cli.prefix.clone();
    for file in &project.files {
        args.push("-f".to_owned());
        args.push(file.display().to_string());
    }
    args.push("-p".to_owned());
    args.push(project.name.clone());
    args.extend(subcommand);
    args
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| (*w).to_owned()).collect()
}

/// Validates the files and prints nothing: exit 0 or compose's own error.
pub fn config_quiet() -> Vec<String> {
    words(&["config", "-q"])
}

/// The resolved model (interpolated, merged, normalised), as YAML.
pub fn config() -> Vec<String> {
    words(&["config"])
}

/// The deploy itself: recreate this service only when its image or config changed, with
/// `replicas` containers (without `--scale`, compose would fall back to the file's count, or
/// one), and leave every other service, its dependencies included, alone.
pub fn up_service(service: &str, replicas: u32) -> Vec<String> {
    let mut args = words(&["up", "-d", "--no-deps", "--scale"]);
    args.push(format!("{service}={replicas}"));
    args.push(service.to_owned());
    args
}

/// A restore: recreate the service from a restore document that pins the proven image, with
/// the proven replica count, and never build (a build would replace what is being restored).
pub fn up_restore(service: &str, replicas: u32) -> Vec<String> {
    let mut args = words(&[
        "up",
        "-d",
        "--no-deps",
        "--no-build",
        "--force-recreate",
        "--scale",
    ]);
    args.push(format!("{service}={replicas}"));
    args.push(service.to_owned());
    args
}

/// Integration services, with what they depend on.
pub fn up_services(services: &[String]) -> Vec<String> {
    let mut args = words(&["up", "-d"]);
    args.extend(services.iter().cloned());
    args
}

/// Stops and removes the service's containers: the rollback of a first deploy.
pub fn remove_service(service: &str) -> Vec<String> {
    let mut args = words(&["rm", "-s", "-f"]);
    args.push(service.to_owned());
    args
}

pub fn logs(service: &str, lines: usize) -> Vec<String> {
    vec![
        "logs".to_owned(),
        "--no-color".to_owned(),
        format!("--tail={lines}"),
        service.to_owned(),
    ]
}

/// Removes the project's containers, networks and volumes: integration services leave nothing.
pub fn down() -> Vec<String> {
    words(&["down", "-v", "--remove-orphans"])
}

/// The engine's version, which needs the engine: the reachability check.
pub fn engine_version() -> Vec<String> {
    words(&["version", "--format", "{{.Server.Version}}"])
}

/// Full IDs of the service's containers, stopped ones included (an exited container is news).
pub fn service_containers(project: &str, service: &str) -> Vec<String> {
    let mut args = project_containers(project);
    args.push("--filter".to_owned());
    args.push(format!("label={SERVICE_LABEL}={service}"));
    args
}

/// Full IDs of every container of a project, stopped ones included, one-off ones excluded.
pub fn project_containers(project: &str) -> Vec<String> {
    vec![
        "ps".to_owned(),
        "-a".to_owned(),
        "-q".to_owned(),
        "--no-trunc".to_owned(),
        "--filter".to_owned(),
        format!("label={PROJECT_LABEL}={project}"),
        "--filter".to_owned(),
        format!("label={ONEOFF_LABEL}=False"),
    ]
}

/// Names of a project's volumes, to prove a teardown removed them.
pub fn project_volumes(project: &str) -> Vec<String> {
    vec![
        "volume".to_owned(),
        "ls".to_owned(),
        "-q".to_owned(),
        "--filter".to_owned(),
        format!("label={PROJECT_LABEL}={project}"),
    ]
}

/// IDs of a project's networks, to prove a teardown removed them.
pub fn project_networks(project: &str) -> Vec<String> {
    vec![
        "network".to_owned(),
        "ls".to_owned(),
        "-q".to_owned(),
        "--filter".to_owned(),
        format!("label={PROJECT_LABEL}={project}"),
    ]
}

pub fn inspect_containers(ids: &[String]) -> Vec<String> {
    let mut args = words(&["inspect", "--type", "container"]);
    args.extend(ids.iter().cloned());
    args
}

pub fn inspect_image(reference: &str) -> Vec<String> {
    vec![
        "image".to_owned(),
        "inspect".to_owned(),
        reference.to_owned(),
    ]
}

/// A component's own health probe, run inside the container; `marker` (a `NAME=value`
/// variable) lets its processes be found again if it overruns its deadline.
pub fn exec(container: &str, marker: &str, argv: &[String]) -> Vec<String> {
    let mut args = vec![
        "exec".to_owned(),
        "-e".to_owned(),
        marker.to_owned(),
        container.to_owned(),
    ];
    args.extend(argv.iter().cloned());
    args
}

/// The processes of a container with their parents, as host PIDs.
pub fn top(container: &str) -> Vec<String> {
    words(&["top", container, "-eo", "pid,ppid,args"])
}

/// The engine-wide deploy lock: a container that is created and never started.
pub fn create_lock(name: &str, labels: &[(String, String)], image: &str) -> Vec<String> {
    let mut args = words(&["create", "--name"]);
    args.push(name.to_owned());
    args.extend(words(&["--network", "none"]));
    for (key, value) in labels {
        args.push("--label".to_owned());
        args.push(format!("{key}={value}"));
    }
    args.push(image.to_owned());
    args.push("/xtask-lock".to_owned());
    args
}

/// Imports an image from a tar file (the lock image: one empty layer).
pub fn import_image(tar: &std::path::Path, reference: &str) -> Vec<String> {
    vec![
        "import".to_owned(),
        "--change".to_owned(),
        "LABEL io.xtask.lock-image=1".to_owned(),
        tar.display().to_string(),
        reference.to_owned(),
    ]
}

pub fn remove_container(id: &str) -> Vec<String> {
    vec!["rm".to_owned(), "-f".to_owned(), id.to_owned()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::cli::Flavour;

    fn cli(flavour: Flavour) -> ComposeCli {
        let plugin = flavour == Flavour::V2Plugin;
        ComposeCli {
            flavour,
            version: if plugin { "2.29.0" } else { "1.29.2" }.into(),
            program: if plugin { "docker" } else { "docker-compose" }.into(),
            prefix: if plugin {
                vec!["compose".into()]
            } else {
                vec![]
            },
            docker: "docker".into(),
        }
    }

    fn project() -> Project {
        Project {
            files: vec!["/repo/docker-compose.staging.yml".into()],
            name: "tta-staging".into(),
        }
    }

    #[test]
    fn compose_commands_for_both_clis() {
        let mut lines = Vec::new();
        for flavour in [Flavour::V2Plugin, Flavour::V1] {
            let cli = cli(flavour);
            for sub in [
                config_quiet(),
                config(),
                up_service("narrative-arc-orchestrator", 2),
                up_restore("narrative-arc-orchestrator", 1),
                up_services(&["neo4j".into(), "redis".into()]),
                remove_service("narrative-arc-orchestrator"),
                logs("narrative-arc-orchestrator", 50),
                down(),
            ] {
                lines.push(format!(
                    "{} {}",
                    cli.program.display(),
                    compose(&cli, &project(), sub).join(" ")
                ));
            }
        }
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn docker_commands() {
        let lines = [
            engine_version(),
            service_containers("tta-staging", "web"),
            project_containers("tta-staging-it-carbon"),
            project_networks("tta-staging-it-carbon"),
            inspect_containers(&["abc".into(), "def".into()]),
            inspect_image("tta/web:staging"),
            exec(
                "abc",
                "XTASK_PROBE=1-2",
                &["wget".into(), "-q".into(), "http://127.0.0.1/".into()],
            ),
            top("abc"),
            create_lock(
                "xtask-lock.tta-staging.web",
                &[("io.xtask.lock.pid".into(), "42".into())],
                "xtask-promote-lock:1",
            ),
            import_image(
                std::path::Path::new("/repo/.xtask/tmp/1/empty.tar"),
                "xtask-promote-lock:1",
            ),
            remove_container("abc"),
            project_volumes("tta-staging-it-carbon"),
        ]
        .map(|args| format!("docker {}", args.join(" ")));
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn the_service_comes_last_so_no_flag_can_follow_it() {
        for args in [
            up_service("web", 1),
            up_restore("web", 3),
            remove_service("web"),
            logs("web", 5),
        ] {
            assert_eq!(args.last().map(String::as_str), Some("web"));
        }
    }
}
