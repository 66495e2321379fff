//! One compose service on the engine, as every part of a deploy sees it: where it runs (the
//! engine, the environment's compose project), how its health is judged (the probe, the
//! deadline, the settle window), and where the deploy keeps its state. Built once per run and
//! passed down, so the wait, the settle window, a restore and a recovery agree on all of it.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use super::argv::Project;
use super::docker::{Docker, Mode};
use super::inspect::ContainerState;

#[derive(Clone, Copy)]
pub struct Service<'a> {
    pub docker: &'a Docker,
    /// The environment's compose project: its files and name.
    pub project: &'a Project,
    pub name: &'a str,
    /// The component's `health_probe`, run in each container.
    pub probe: Option<&'a [String]>,
    /// How long the service has to become healthy once `up` returned.
    pub health_timeout: Duration,
    /// How long it must then stay healthy.
    pub settle: Duration,
    /// The state folder (`.xtask`): stored configurations and restore files go under it.
    pub state_dir: &'a Path,
}

impl Service<'_> {
    /// The service's containers, stopped ones included.
    pub fn containers(&self, mode: Mode) -> Result<Vec<ContainerState>> {
        self.docker
            .containers(&self.project.name, Some(self.name), mode)
    }

    /// The one image the running containers run, as far as the engine can tell; `None` when
    /// nothing runs, the containers disagree, or the engine cannot be read (clean-up reads).
    pub fn running_image(&self) -> Option<String> {
        self.containers(Mode::Cleanup)
            .ok()
            .and_then(|states| running_image(&states).ok().flatten())
    }
}

/// Pure: what runs, for reports: each image with its count and health, or `nothing`.
pub fn describe_running(states: &[ContainerState]) -> String {
    let running: Vec<&ContainerState> = states.iter().filter(|s| s.status == "running").collect();
    if running.is_empty() {
        return "nothing".to_owned();
    }
    let mut groups: Vec<(String, String, usize)> = Vec::new();
    for state in running {
        let image = super::model::short_id(&state.image_id);
        let health = state
            .health
            .as_ref()
            .map_or("no healthcheck".to_owned(), |h| h.status.clone());
        match groups
            .iter_mut()
            .find(|(i, h, _)| *i == image && *h == health)
        {
            Some(group) => group.2 += 1,
            None => groups.push((image, health, 1)),
        }
    }
    groups
        .into_iter()
        .map(|(image, health, count)| format!("{count} × {image} ({health})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The image every running container runs, or `None` when none runs; `Err` with the images
/// when running containers disagree (a deploy left half done).
pub fn running_image(states: &[ContainerState]) -> Result<Option<String>, Vec<String>> {
    let mut images: Vec<&str> = states
        .iter()
        .filter(|s| s.status == "running")
        .map(|s| s.image_id.as_str())
        .collect();
    images.sort_unstable();
    images.dedup();
    match images.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((*one).to_owned())),
        many => Err(many.iter().map(|i| (*i).to_owned()).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::inspect;

    fn settled() -> Vec<ContainerState> {
        let bytes = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("test_data/docker_inspect_settled.json"),
        )
        .unwrap();
        inspect::parse_containers(&bytes).unwrap()
    }

    fn of(states: &[ContainerState], service: &str) -> Vec<ContainerState> {
        states
            .iter()
            .filter(|s| s.service.as_deref() == Some(service))
            .cloned()
            .collect()
    }

    #[test]
    fn the_running_image_is_found_and_disagreement_reported() {
        let states = settled();
        let ok = of(&states, "ok");
        assert_eq!(running_image(&ok), Ok(Some(ok[0].image_id.clone())));
        // An exited container runs nothing.
        assert_eq!(running_image(&of(&states, "exits")), Ok(None));
        let running: Vec<_> = states
            .iter()
            .filter(|s| s.status == "running")
            .cloned()
            .collect();
        assert!(running_image(&running).unwrap_err().len() > 1);
    }

    #[test]
    fn what_runs_is_described_by_image_and_health() {
        let states = settled();
        let mut two = of(&states, "ok");
        two.push(two[0].clone());
        let text = describe_running(&two);
        assert!(text.starts_with("2 × sha256:"), "{text}");
        assert!(text.ends_with("(healthy)"), "{text}");
        assert_eq!(describe_running(&of(&states, "exits")), "nothing");
        assert!(describe_running(&of(&states, "nohealth")).contains("no healthcheck"));
    }
}
