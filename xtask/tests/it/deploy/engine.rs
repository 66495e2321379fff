//! A compose project of one test on the real Docker engine: images built locally `FROM
//! scratch` around Debian's static busybox (no registry is needed or used), the compose file the
//! sandbox's environment points at, direct queries of the engine's state, and a Drop guard that
//! removes every container, network, volume and image of the test, also when it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::Sandbox;

/// The deadlines of the tests' environment: a settle window kept short, so a healthy deploy
/// costs seconds; tests of the window itself set a longer one.
const DEADLINES: &str = "health_timeout = 30\nsettle_seconds = 3\n";

/// The label every image built here carries, so the guard finds them whatever tags moved.
const IMAGE_LABEL: &str = "xtask-it-project";

/// How the test images behave.
#[derive(Debug, Clone, Copy)]
pub enum Variant {
    /// busybox httpd serving `version`, with a healthcheck that fetches `/`.
    Healthy(&'static str),
    /// As `Healthy`, with a healthcheck every 100 ms: healthy a moment after it starts.
    QuickHealthy(&'static str),
    /// Serves pages, but its healthcheck asks for `/healthz`, which does not exist.
    FailingHealthcheck,
    /// Prints an error and exits 3 at once.
    ExitsAtOnce,
    /// Serves pages and declares no healthcheck at all.
    NoHealthcheck(&'static str),
    /// Healthy only after `delay` seconds (its server starts late).
    Slow(&'static str, u32),
    /// Healthy at once, then its page is deleted after `after` seconds: unhealthy from then on.
    Flapping(u32),
    /// Healthy at once, then PID 1 exits with code 5 after `after` seconds.
    ExitsAfter(u32),
}

impl Variant {
    fn dockerfile(self, project: &str) -> String {
        let health = "HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD [\"/bin/busybox\", \"wget\", \"-q\", \"-O\", \"/dev/null\", \"http://127.0.0.1/\"]";
        let serve =
            "CMD [\"/bin/busybox\", \"httpd\", \"-f\", \"-vv\", \"-p\", \"80\", \"-h\", \"/www\"]";
        let shell = |script: &str| format!("CMD [\"/bin/busybox\", \"sh\", \"-c\", \"{script}\"]");
        let (command, health) = match self {
            Variant::Healthy(_) => (serve.to_owned(), health.to_owned()),
            Variant::QuickHealthy(_) => (
                serve.to_owned(),
                health.replace("--interval=1s", "--interval=100ms"),
            ),
            Variant::FailingHealthcheck => (
                serve.to_owned(),
                health.replace("127.0.0.1/", "127.0.0.1/healthz"),
            ),
            Variant::ExitsAtOnce => (
                shell("echo 'fatal: no configuration found' >&2; exit 3"),
                health.to_owned(),
            ),
            Variant::NoHealthcheck(_) => (serve.to_owned(), String::new()),
            // A start period, so the late start is not a failing healthcheck.
            Variant::Slow(_, delay) => (
                shell(&format!(
                    "sleep {delay}; exec /bin/busybox httpd -f -vv -p 80 -h /www"
                )),
                health.replace("--retries=2", "--retries=2 --start-period=120s"),
            ),
            Variant::Flapping(after) => (
                shell(&format!(
                    "/bin/busybox httpd -f -p 80 -h /www & sleep {after}; /bin/busybox rm /www/index.html; wait"
                )),
                health.to_owned(),
            ),
            Variant::ExitsAfter(after) => (
                shell(&format!(
                    "/bin/busybox httpd -f -p 80 -h /www & sleep {after}; echo 'giving up' >&2; exit 5"
                )),
                health.to_owned(),
            ),
        };
        // SIGKILL on stop: busybox as PID 1 ignores SIGTERM, and every replace would wait 10 s.
        format!(
            "FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nLABEL {IMAGE_LABEL}={project}\nSTOPSIGNAL SIGKILL\n{command}\n{health}\n"
        )
    }

    fn page(self) -> &'static str {
        match self {
            Variant::Healthy(v)
            | Variant::QuickHealthy(v)
            | Variant::NoHealthcheck(v)
            | Variant::Slow(v, _) => v,
            Variant::FailingHealthcheck => "failing-healthcheck",
            Variant::ExitsAtOnce => "exits",
            Variant::Flapping(_) => "flapping",
            Variant::ExitsAfter(_) => "exits-later",
        }
    }
}

/// A container as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    pub image: String,
    pub status: String,
    pub health: Option<String>,
}

/// Runs a command and returns its output, panicking with both streams when it fails.
pub fn run_ok(command: &mut Command) -> Output {
    let output = command.output().expect("command runs");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn docker(args: &[&str]) -> Output {
    run_ok(Command::new("docker").args(args))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Debian's busybox-static: one binary that is a whole userland, and the only file our images
/// need. A dynamically linked busybox would not run in a `FROM scratch` image.
fn busybox() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = which_busybox().expect(
            "busybox is not installed: `apt-get install busybox-static` (.ci/run installs it)",
        );
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !has_interpreter(&bytes),
            "{} is dynamically linked: install busybox-static (a FROM scratch image has no libc)",
            path.display()
        );
        path
    })
}

fn which_busybox() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("busybox"))
        .find(|p| p.is_file())
}

/// Whether an ELF64 executable names a program interpreter (PT_INTERP): dynamically linked.
fn has_interpreter(elf: &[u8]) -> bool {
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]) as usize;
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap()) as usize;
    if elf.len() < 64 || &elf[..4] != b"\x7fELF" {
        return true;
    }
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..phnum).any(|i| {
        let at = phoff + i * phentsize;
        at + 4 <= elf.len() && u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) == 3
    })
}

/// The compose CLI of this machine, as the tests drive it for their own setup.
pub fn compose_cli() -> &'static [&'static str] {
    static CLI: OnceLock<Vec<&'static str>> = OnceLock::new();
    CLI.get_or_init(|| {
        let plugin = Command::new("docker").args(["compose", "version"]).output();
        if plugin.is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"Docker Compose")) {
            vec!["docker", "compose"]
        } else {
            vec!["docker-compose"]
        }
    })
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub struct Engine {
    /// The compose project of the test's environment, unique per test.
    pub project: String,
    /// The image repository of the test, unique too.
    pub repository: String,
    build_root: tempfile::TempDir,
    /// Extra compose projects the test created (integration services), cleaned up too.
    pub other_projects: Vec<String>,
}

impl Engine {
    pub fn new() -> Engine {
        let project = format!(
            "xit{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        Engine {
            repository: format!("xtask-it/{project}"),
            project,
            build_root: tempfile::tempdir().unwrap(),
            other_projects: Vec::new(),
        }
    }

    /// `repository/name:tag`.
    pub fn image(&self, name: &str, tag: &str) -> String {
        format!("{}/{name}:{tag}", self.repository)
    }

    /// Builds `variant` as `name:tag` and returns its image ID.
    pub fn build(&self, name: &str, tag: &str, variant: Variant) -> String {
        let context = self.build_root.path().join(format!("{name}-{tag}"));
        std::fs::create_dir_all(context.join("www")).unwrap();
        std::fs::copy(busybox(), context.join("busybox")).unwrap();
        std::fs::write(
            context.join("www/index.html"),
            format!("{}\n", variant.page()),
        )
        .unwrap();
        std::fs::write(
            context.join("Dockerfile"),
            variant.dockerfile(&self.project),
        )
        .unwrap();
        let reference = self.image(name, tag);
        // No layer cache: tests build in parallel and clean up their own images, and the
        // legacy builder would otherwise reuse an intermediate layer another test's clean-up
        // is deleting ("unknown parent image ID"). The images are a few MB; it costs nothing.
        docker(&[
            "build",
            "-q",
            "--no-cache",
            "-t",
            &reference,
            context.to_str().unwrap(),
        ]);
        self.image_id(&reference)
    }

    /// Points `name:to` at the image `name:from` (what a CI pipeline's push does to a tag).
    pub fn retag(&self, name: &str, from: &str, to: &str) {
        docker(&["tag", &self.image(name, from), &self.image(name, to)]);
    }

    pub fn image_id(&self, reference: &str) -> String {
        stdout(&docker(&[
            "image", "inspect", "--format", "{{.Id}}", reference,
        ]))
    }

    /// The sandbox's staging environment: this project, the compose file, a short deadline;
    /// `carbon_keys` (e.g. `service = "web"`) are added to carbon's table.
    pub fn configure(&self, sandbox: &Sandbox, carbon_keys: &str) {
        let config = sandbox.config_text().replace(
            "[components.carbon]\n",
            &format!("[components.carbon]\n{carbon_keys}\n"),
        );
        sandbox.set_config(&format!(
            "{config}\n[environments.staging]\ncompose_file = \"docker-compose.staging.yml\"\nproject_name = \"{}\"\n{DEADLINES}",
            self.project
        ));
    }

    /// Replaces the environment's deadlines (`health_timeout`, `settle_seconds`) that
    /// `configure` wrote.
    pub fn set_deadlines(&self, sandbox: &Sandbox, deadlines: &str) {
        let config = sandbox.config_text();
        assert!(config.contains(DEADLINES), "configure the sandbox first");
        sandbox.set_config(&config.replace(DEADLINES, deadlines));
    }

    /// The default compose file: `web` (the deployed service, `web:current`) and `other`, a
    /// neighbour whose container must survive every deploy of `web`.
    pub fn default_compose(&self) -> String {
        format!(
            "services:\n  web:\n    image: {}\n  other:\n    image: {}\n",
            self.image("web", "current"),
            self.image("other", "v1")
        )
    }

    pub fn compose_file(&self, sandbox: &Sandbox) -> PathBuf {
        sandbox.path("docker-compose.staging.yml")
    }

    /// Starts the whole environment as an operator would, and waits for it to be healthy.
    pub fn start(&self, sandbox: &Sandbox, services: &[&str]) {
        self.start_scaled(sandbox, services, 1);
    }

    /// `start` with `replicas` containers of each service.
    pub fn start_scaled(&self, sandbox: &Sandbox, services: &[&str], replicas: usize) {
        self.compose(sandbox, &["up", "-d"], services, replicas);
        for service in services {
            self.wait_until(service, |c| {
                c.len() == replicas
                    && c.iter().all(|c| {
                        c.status == "running" && c.health.as_deref().is_none_or(|h| h == "healthy")
                    })
            });
        }
    }

    /// Runs compose on the sandbox's environment, by hand, as an operator would.
    pub fn compose(&self, sandbox: &Sandbox, command: &[&str], services: &[&str], replicas: usize) {
        let cli = compose_cli();
        let file = self.compose_file(sandbox);
        let scales: Vec<String> = services.iter().map(|s| format!("{s}={replicas}")).collect();
        let mut args: Vec<&str> = cli[1..].to_vec();
        args.extend(["-f", file.to_str().unwrap(), "-p", &self.project]);
        args.extend(command);
        if command.first() == Some(&"up") {
            for scale in &scales {
                args.extend(["--scale", scale]);
            }
        }
        args.extend(services);
        run_ok(Command::new(cli[0]).args(&args));
    }

    /// The containers of `service` in the test's project.
    pub fn containers(&self, service: &str) -> Vec<Container> {
        self.containers_of(&self.project, Some(service))
    }

    pub fn containers_of(&self, project: &str, service: Option<&str>) -> Vec<Container> {
        let mut args = vec![
            "ps".to_owned(),
            "-a".to_owned(),
            "-q".to_owned(),
            "--no-trunc".to_owned(),
            "--filter".to_owned(),
            format!("label=com.docker.compose.project={project}"),
        ];
        if let Some(service) = service {
            args.push("--filter".to_owned());
            args.push(format!("label=com.docker.compose.service={service}"));
        }
        let ids = stdout(&run_ok(Command::new("docker").args(&args)));
        ids.lines()
            .filter(|l| !l.is_empty())
            .filter_map(|id| {
                // A container may vanish between `ps` and `inspect`; it is not there then.
                let output = Command::new("docker")
                    .args([
                        "inspect",
                        "--format",
                        "{{.Image}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
                        id,
                    ])
                    .output()
                    .unwrap();
                if !output.status.success() {
                    return None;
                }
                let text = stdout(&output);
                let mut parts = text.split_whitespace();
                Some(Container {
                    id: id.to_owned(),
                    image: parts.next().unwrap_or_default().to_owned(),
                    status: parts.next().unwrap_or_default().to_owned(),
                    health: parts.next().map(str::to_owned),
                })
            })
            .collect()
    }

    /// The command lines of the processes running in a container.
    pub fn processes(&self, container: &str) -> Vec<String> {
        let output = docker(&["top", container, "-eo", "pid,args"]);
        stdout(&output)
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
            .collect()
    }

    /// A container's command, as `docker inspect` prints `.Config.Cmd`.
    pub fn command_of(&self, container: &str) -> String {
        stdout(&docker(&[
            "inspect",
            "--format",
            "{{json .Config.Cmd}}",
            container,
        ]))
    }

    pub fn volumes_of(&self, project: &str) -> Vec<String> {
        let output = docker(&[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
        ]);
        stdout(&output).lines().map(str::to_owned).collect()
    }

    pub fn networks_of(&self, project: &str) -> Vec<String> {
        let output = docker(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
        ]);
        stdout(&output).lines().map(str::to_owned).collect()
    }

    /// Polls until `done` holds for the service's containers (60 s at most).
    pub fn wait_until(&self, service: &str, done: impl Fn(&[Container]) -> bool) -> Vec<Container> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let containers = self.containers(service);
            if done(&containers) {
                return containers;
            }
            assert!(
                Instant::now() < deadline,
                "{service} never reached the expected state: {containers:?}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The one container of `service`, which must be running and healthy.
    pub fn healthy(&self, service: &str) -> Container {
        let containers = self.containers(service);
        assert_eq!(containers.len(), 1, "{service}: {containers:?}");
        assert_eq!(containers[0].status, "running", "{containers:?}");
        assert_eq!(
            containers[0].health.as_deref(),
            Some("healthy"),
            "{containers:?}"
        );
        containers[0].clone()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let projects = std::iter::once(self.project.clone()).chain(self.other_projects.clone());
        for project in projects {
            let filter = format!("label=com.docker.compose.project={project}");
            let listed = |args: &[&str]| -> Vec<String> {
                Command::new("docker")
                    .args(args)
                    .output()
                    .map(|o| stdout(&o).lines().map(str::to_owned).collect())
                    .unwrap_or_default()
            };
            let containers = listed(&["ps", "-a", "-q", "--filter", &filter]);
            if !containers.is_empty() {
                let _ = Command::new("docker")
                    .args(["rm", "-f", "-v"])
                    .args(&containers)
                    .output();
            }
            let networks = listed(&["network", "ls", "-q", "--filter", &filter]);
            if !networks.is_empty() {
                let _ = Command::new("docker")
                    .args(["network", "rm"])
                    .args(&networks)
                    .output();
            }
            let volumes = listed(&["volume", "ls", "-q", "--filter", &filter]);
            if !volumes.is_empty() {
                let _ = Command::new("docker")
                    .args(["volume", "rm", "-f"])
                    .args(&volumes)
                    .output();
            }
        }
        // Deploy locks a killed run left behind (they carry no compose label).
        let locks = Command::new("docker")
            .args([
                "ps",
                "-a",
                "-q",
                "--filter",
                &format!("name=xtask-lock.{}.", self.project),
            ])
            .output()
            .map(|o| stdout(&o))
            .unwrap_or_default();
        let locks: Vec<&str> = locks.lines().filter(|l| !l.is_empty()).collect();
        if !locks.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&locks)
                .output();
        }
        let image_filter = format!("label={IMAGE_LABEL}={}", self.project);
        let images = Command::new("docker")
            .args(["images", "-q", "--no-trunc", "--filter", &image_filter])
            .output()
            .map(|o| stdout(&o))
            .unwrap_or_default();
        let mut ids: Vec<&str> = images.lines().filter(|l| !l.is_empty()).collect();
        ids.sort_unstable();
        ids.dedup();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rmi", "-f"])
                .args(&ids)
                .output();
        }
    }
}

#[test]
fn the_elf_check_tells_static_from_dynamic_binaries() {
    assert!(!has_interpreter(&std::fs::read(busybox()).unwrap()));
    assert!(has_interpreter(&std::fs::read("/bin/sh").unwrap()));
}
