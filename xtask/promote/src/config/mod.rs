//! `xtask.toml`: the component registry and settings, loaded and validated into `Config`.
//!
//! Every mistake in the file is a usage error (exit 2) that names the file, line and column,
//! so the registry can stay the single source of truth without becoming a trap.

mod checks;
mod environments;
mod graph;
pub mod observability;
mod raw;
mod values;

use std::collections::BTreeMap;
use std::path::{Component as PathPart, Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::errors::usage;
use crate::fsutil::unix;
use crate::tools::Tool;
use crate::vocab::{SecuritySeverity, Stage};

pub use environments::{Environment, ServiceSettings};
pub use graph::DependencyGraph;

/// The file name looked for when `--config` is not given.
pub const CONFIG_FILE_NAME: &str = "xtask.toml";

#[derive(Debug, Clone)]
pub struct Config {
    /// Absolute path of the xtask.toml this came from.
    pub path: PathBuf,
    /// The folder holding xtask.toml; `.xtask/` and `reports/` live here.
    pub workspace_root: PathBuf,
    pub project: Project,
    pub thresholds: Thresholds,
    pub policy: Policy,
    pub tools: ToolPins,
    pub timeouts: Timeouts,
    pub cache_max_bytes: u64,
    /// `[cache.remote]`, validated; `None` when the project has no remote cache.
    pub cache_remote: Option<crate::remote_cache::RemoteSettings>,
    /// `[cache] audit_sample`: percent of every run's hits re-run fresh and compared (0: none).
    pub cache_audit_sample: f64,
    /// `[ratchet] coverage_slack`: points of coverage a change may lose (default 0.1).
    pub ratchet_coverage_slack: f64,
    /// `[env]`: variables the tools see besides the fixed pass-through list.
    pub env: ToolEnvConfig,
    /// The functional groups, in report order.
    pub groups: Vec<String>,
    /// In file order, which is also the order of every report.
    pub components: Vec<Component>,
    pub graph: DependencyGraph,
    /// Deploy targets (`[environments.<stage>]`), in file order.
    pub environments: Vec<Environment>,
    /// Compose services of the components that name any, by component.
    pub services: std::collections::BTreeMap<String, ServiceSettings>,
    /// Production evidence: where Prometheus answers, selectors, SLAs (`[observability]`).
    pub observability: observability::Observability,
}

/// `[env]` of xtask.toml: caller variables passed through by name, and fixed values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolEnvConfig {
    pub pass: Vec<String>,
    pub set: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Project {
    /// Absolute path of the monorepo's root.
    pub root: PathBuf,
    /// The monorepo's interpreter, absolute; `None` means the tool venv's python.
    pub python: Option<PathBuf>,
    pub install: bool,
    pub extras: Vec<String>,
    /// Absolute path of the reports folder.
    pub reports_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Thresholds {
    pub development: f64,
    pub staging: f64,
    pub production: f64,
}

impl Thresholds {
    /// The minimum coverage, in percent, for a component to enter `stage`.
    pub fn coverage_for(&self, stage: Stage) -> f64 {
        match stage {
            Stage::Development => self.development,
            Stage::Staging => self.staging,
            Stage::Production => self.production,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Policy {
    pub observation_days: u32,
    pub security_fail_on: SecuritySeverity,
    pub readme_sections: Vec<String>,
    /// Sections needed besides `readme_sections` to enter a stage (`readme_sections_for`).
    pub readme_sections_by_stage: BTreeMap<Stage, Vec<String>>,
}

impl Policy {
    /// The README sections a promotion into `target` needs: the common ones, then the
    /// stage's own, each once.
    pub fn readme_sections_for(&self, target: Stage) -> Vec<String> {
        let mut sections = self.readme_sections.clone();
        for section in self
            .readme_sections_by_stage
            .get(&target)
            .into_iter()
            .flatten()
        {
            if !sections.contains(section) {
                sections.push(section.clone());
            }
        }
        sections
    }
}

/// `[tools]`: the pinned version of every distribution of the tool table the project uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolPins {
    versions: BTreeMap<String, String>,
    pub uv: Option<String>,
}

impl ToolPins {
    /// `(PyPI distribution, version)` for every tool `setup` installs, in table order: the
    /// required tools and the optional ones the project turned on.
    pub fn packages(&self) -> Vec<(&'static str, &str)> {
        crate::tools::table::TOOLS
            .iter()
            .flat_map(|spec| spec.distributions())
            .filter_map(|name| Some((name, self.versions.get(name)?.as_str())))
            .collect()
    }

    /// The pinned version of `distribution`, if the project pins it.
    pub fn version(&self, distribution: &str) -> Option<&str> {
        self.versions.get(distribution).map(String::as_str)
    }

    /// Whether the project uses `tool`: required tools always, optional ones when pinned.
    pub fn enabled(&self, tool: Tool) -> bool {
        let spec = tool.spec();
        !spec.optional || self.versions.contains_key(spec.name)
    }
}

#[derive(Debug, Clone)]
pub struct Timeouts {
    tools: BTreeMap<Tool, Duration>,
    pub setup: Duration,
    pub compose: Duration,
}

impl Timeouts {
    /// How long one run of `tool` may take before its process group is killed.
    pub fn of(&self, tool: Tool) -> Duration {
        // `timeouts` fills every row of the tool table; the default stands in otherwise.
        self.tools
            .get(&tool)
            .copied()
            .unwrap_or_else(|| Duration::from_secs(tool.spec().default_timeout_secs))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A folder with an `__init__.py`.
    Package,
    /// A single `<name>_component.py` file.
    Module,
}

#[derive(Debug, Clone)]
pub struct Component {
    pub name: String,
    pub display_name: String,
    pub group: String,
    /// Relative to the project root, with `/` separators.
    pub source: String,
    pub source_kind: SourceKind,
    /// Relative to the project root.
    pub tests: Vec<String>,
    pub depends_on: Vec<String>,
    pub readme: String,
    pub maturity: String,
}

impl Component {
    /// The folder that holds the component's code: the package itself, or a module's parent.
    /// Coverage is measured over this folder because `--cov=file.py` measures nothing.
    pub fn coverage_root(&self) -> &str {
        match self.source_kind {
            SourceKind::Package => &self.source,
            SourceKind::Module => self
                .source
                .rsplit_once('/')
                .map_or(".", |(parent, _)| parent),
        }
    }

    /// What pytest-cov measures the component's own code by (`--cov=`): a package's folder, or
    /// a module's dotted name (`components.carbon_component` for
    /// `src/components/carbon_component.py`, importable from `src/` or the project root).
    /// The module form gives the same figure as the folder while coverage reads that one file:
    /// with the folder, coverage reads every module beside it to report the unexecuted ones,
    /// so each of them would be an input of the tests of every module there. A module whose
    /// path is not a dotted name (`my-tool.py`) is measured by its folder.
    pub fn coverage_target(&self) -> String {
        if self.source_kind == SourceKind::Module {
            let relative = self.source.strip_prefix("src/").unwrap_or(&self.source);
            if let Some(stem) = relative.strip_suffix(".py") {
                let identifier = |part: &str| {
                    part.chars()
                        .next()
                        .is_some_and(|c| c.is_alphabetic() || c == '_')
                        && part.chars().all(|c| c.is_alphanumeric() || c == '_')
                };
                if stem.split('/').all(identifier) {
                    return stem.replace('/', ".");
                }
            }
        }
        self.coverage_root().to_owned()
    }

    /// Whether `path` (relative to the project root) is part of this component's code.
    pub fn owns(&self, path: &str) -> bool {
        match self.source_kind {
            SourceKind::Module => path == self.source,
            SourceKind::Package => path
                .strip_prefix(self.source.as_str())
                .is_some_and(|rest| rest.starts_with('/')),
        }
    }
}

impl Config {
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }

    /// Looks a component up by its exact registry name; a miss is a usage error that lists the
    /// closest names, so a typo costs one glance instead of a trip to xtask.toml.
    pub fn require_component(&self, name: &str) -> Result<&Component> {
        if let Some(component) = self.component(name) {
            return Ok(component);
        }
        let suggestions = closest_names(name, self.components.iter().map(|c| c.name.as_str()));
        let hint = if suggestions.is_empty() {
            format!(
                "known components: {}",
                self.components
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!("did you mean {}?", suggestions.join(", "))
        };
        Err(usage(format!(
            "unknown component `{}` in {}: {hint}",
            name.escape_debug(),
            self.path.display()
        )))
    }

    pub fn tool_venv(&self) -> PathBuf {
        self.workspace_root.join(".xtask").join("venv")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.workspace_root.join(".xtask")
    }

    /// The cache folder; `XTASK_CACHE_DIR` overrides it so CI and tests can point elsewhere.
    pub fn cache_dir(&self) -> PathBuf {
        match &crate::edge_env::get().xtask.cache_dir {
            Some(dir) => dir.clone(),
            None => self.state_dir().join("cache"),
        }
    }

    pub fn component_reports_dir(&self, component: &str) -> PathBuf {
        self.project.reports_dir.join(component)
    }

    /// A path relative to the project root, made absolute.
    pub fn project_path(&self, relative: &str) -> PathBuf {
        self.project.root.join(relative)
    }

    /// Listed test paths that match no file or folder, as (component, path).
    pub fn missing_tests(&self) -> Vec<(&str, &str)> {
        self.components
            .iter()
            .flat_map(|c| {
                c.tests
                    .iter()
                    .filter(|test| !self.project_path(test).exists())
                    .map(|test| (c.name.as_str(), test.as_str()))
            })
            .collect()
    }

    /// Where `stage`'s services run, or a usage error that says how to declare it.
    pub fn require_environment(&self, stage: Stage) -> Result<&Environment> {
        if let Some(environment) = self.environments.iter().find(|e| e.stage == stage) {
            return Ok(environment);
        }
        let known: Vec<&str> = self.environments.iter().map(|e| e.stage.id()).collect();
        Err(usage(format!(
            "{} has no [environments.{}]: add one with compose_file and project_name{}",
            self.path.display(),
            stage.id(),
            if known.is_empty() {
                String::new()
            } else {
                format!(" (declared: {})", known.join(", "))
            }
        )))
    }

    /// The compose services a component names; empty for one that names none.
    pub fn service_settings(&self, component: &str) -> ServiceSettings {
        self.services.get(component).cloned().unwrap_or_default()
    }

    /// Per-run locks (deploys, integration services) live here.
    pub fn locks_dir(&self) -> PathBuf {
        self.state_dir().join("locks")
    }
}

/// Up to three registry names close to `wanted`, best first: prefix and substring matches, then
/// small edit distances. Underscores count as hyphens, as users type module names.
pub fn closest_names<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let wanted = wanted.to_ascii_lowercase().replace('_', "-");
    let mut scored: Vec<(usize, &str)> = names
        .filter_map(|name| {
            let score = if name.contains(&wanted) || (wanted.len() >= 3 && wanted.contains(name)) {
                0
            } else {
                let distance = strsim::levenshtein(&wanted, name);
                if distance > name.len().max(wanted.len()) / 3 + 1 {
                    return None;
                }
                distance
            };
            Some((score, name))
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(3)
        .map(|(_, n)| format!("`{n}`"))
        .collect()
}

/// Finds the xtask.toml to use: the explicit path, else the nearest one above the current
/// folder, else the one in the workspace this binary was built from.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        // A path that exists but is not a file (a FIFO, a folder) is refused by `load`, by
        // what it is.
        if std::fs::symlink_metadata(path).is_err() {
            return Err(usage(format!(
                "config file {} does not exist: pass an existing file to --config",
                path.display()
            )));
        }
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir().context("failed to read the current folder")?;
    for dir in cwd.ancestors() {
        let candidate = dir.join(CONFIG_FILE_NAME);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    // `cargo xtask` from outside the workspace (`cargo run --manifest-path`): cargo names the
    // repository's own xtask crate, whose parent is the workspace.
    let built_in = crate::edge_env::get()
        .cargo_manifest_dir
        .as_deref()
        .and_then(Path::parent)
        .map(|root| root.join(CONFIG_FILE_NAME));
    match built_in {
        Some(path) if path.is_file() => Ok(path),
        _ => Err(usage(format!(
            "no {CONFIG_FILE_NAME} found above {}: run `cargo xtask init` to write one, or pass --config",
            cwd.display()
        ))),
    }
}

/// Reads and validates `path`.
pub fn load(path: &Path) -> Result<Config> {
    let text =
        crate::input_file::read_text(path, "the configuration", crate::input_file::CONFIG_MAX)?
            .ok_or_else(|| {
                usage(format!(
                    "config file {} does not exist: pass an existing file to --config",
                    path.display()
                ))
            })?;
    let path = std::path::absolute(path)
        .with_context(|| format!("failed to resolve {}", path.display()))?;
    let config = parse(&text, &path)?;
    checks::check_sources(
        &text,
        &Locator {
            text: &text,
            path: &path,
        },
        &config,
    )?;
    for (component, test) in config.missing_tests() {
        crate::ui::warn(format!(
            "{}: component `{component}` lists the test path `{test}`, which matches nothing; its tests gate fails until the path is fixed",
            config.path.display()
        ));
    }
    Ok(config)
}

/// Validates the text of an xtask.toml that lives at `path` (absolute).
pub fn parse(text: &str, path: &Path) -> Result<Config> {
    let located = Locator { text, path };
    let raw: raw::RawConfig = toml::from_str(text).map_err(|error| toml_error(&error, &located))?;
    let workspace_root = path
        .parent()
        .map(Path::to_path_buf)
        .context("config path has no parent folder")?;
    checks::check_text(text, &located)?;
    build(raw, &located, workspace_root)
}

/// A parse error of the TOML text as a usage error at its place.
fn toml_error(error: &toml::de::Error, at: &Locator<'_>) -> anyhow::Error {
    let place = error
        .span()
        .map(|span| at.position(span.start))
        .unwrap_or_else(|| at.path.display().to_string());
    usage(format!(
        "malformed config at {place}: {}",
        error.message().trim()
    ))
}

/// Turns byte offsets into `file:line:column` for error messages.
struct Locator<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Locator<'_> {
    fn position(&self, offset: usize) -> String {
        let (line, column) = crate::input_file::position(self.text.as_bytes(), offset);
        format!("{}:{line}:{column}", self.path.display())
    }

    fn error<T>(&self, spanned: &toml::Spanned<T>, message: String) -> anyhow::Error {
        usage(format!(
            "{}: {message}",
            self.position(spanned.span().start)
        ))
    }
}

fn build(raw: raw::RawConfig, at: &Locator<'_>, workspace_root: PathBuf) -> Result<Config> {
    let project_root = joined(
        &workspace_root,
        relative_path(&raw.project.root, "project.root")?,
    );
    if !project_root.is_dir() {
        return Err(usage(format!(
            "{}: project.root `{}` is not a folder",
            at.path.display(),
            raw.project.root
        )));
    }
    let python = match &raw.project.python {
        // An interpreter outside the project (a system python) may be given absolute.
        Some(python) if Path::new(python).is_absolute() => Some(PathBuf::from(python)),
        Some(python) => Some(joined(
            &project_root,
            relative_path(python, "project.python")?,
        )),
        None => None,
    };
    let reports_dir = joined(
        &workspace_root,
        relative_path(
            raw.project.reports.as_deref().unwrap_or("reports"),
            "project.reports",
        )?,
    );

    let thresholds = Thresholds {
        development: raw.thresholds.development,
        staging: raw.thresholds.staging,
        production: raw.thresholds.production,
    };
    for (stage, value) in [
        ("development", thresholds.development),
        ("staging", thresholds.staging),
        ("production", thresholds.production),
    ] {
        if !(0.0..=100.0).contains(&value) {
            return Err(usage(format!(
                "{}: thresholds.{stage} = {value} is not a percentage between 0 and 100",
                at.path.display()
            )));
        }
    }
    let security_fail_on =
        SecuritySeverity::parse(&raw.policy.security_fail_on).ok_or_else(|| {
            usage(format!(
                "{}: policy.security_fail_on = `{}`: expected low, medium or high",
                at.path.display(),
                raw.policy.security_fail_on
            ))
        })?;

    if raw.groups.is_empty() {
        return Err(usage(format!(
            "{}: `groups` is empty: list the functional groups components belong to",
            at.path.display()
        )));
    }

    let mut components = Vec::with_capacity(raw.components.len());
    for (name, spanned) in &raw.components {
        components.push(build_component(name, spanned, &raw.groups, at)?);
    }
    check_dependencies(&raw, at)?;
    let graph = DependencyGraph::new(&components);
    if let Some(cycle) = graph.find_cycle() {
        return Err(cycle_error(&raw, &cycle, at));
    }
    let environments = environments::build_environments(&raw.environments, at)?;
    let services = environments::build_services(&raw.components, at)?;
    let observability = observability::build(raw.observability.as_ref(), &raw.components, at)?;

    Ok(Config {
        path: at.path.to_path_buf(),
        workspace_root,
        project: Project {
            root: project_root,
            python,
            install: raw.project.install,
            extras: raw.project.extras,
            reports_dir,
        },
        thresholds,
        policy: Policy {
            observation_days: raw.policy.observation_days,
            security_fail_on,
            readme_sections: raw.policy.readme_sections,
            readme_sections_by_stage: readme_sections_by_stage(
                raw.policy.readme_sections_by_stage,
                at,
            )?,
        },
        tools: tool_pins(raw.tools, at)?,
        timeouts: timeouts(raw.timeouts),
        cache_max_bytes: raw.cache.max_size_mb.saturating_mul(1024 * 1024),
        cache_remote: raw
            .cache
            .remote
            .as_ref()
            .map(|remote| build_remote_cache(remote, at))
            .transpose()?,
        cache_audit_sample: audit_sample(raw.cache.audit_sample.as_ref(), at)?,
        ratchet_coverage_slack: coverage_slack(raw.ratchet.coverage_slack.as_ref(), at)?,
        env: ToolEnvConfig {
            pass: raw.env.pass,
            set: raw.env.set,
        },
        groups: raw.groups,
        components,
        graph,
        environments,
        services,
        observability,
    })
}

/// `[tools]` as the table knows it; names were checked against the table by `check_text`.
fn readme_sections_by_stage(
    raw: BTreeMap<String, Vec<String>>,
    at: &Locator<'_>,
) -> Result<BTreeMap<Stage, Vec<String>>> {
    let mut by_stage = BTreeMap::new();
    for (name, sections) in raw {
        let stage: Stage = name.parse().map_err(|_| {
            usage(format!(
                "{}: policy.readme_sections_by_stage.{} is not a stage: expected development, staging or production",
                at.path.display(),
                name.escape_debug()
            ))
        })?;
        by_stage.insert(stage, sections);
    }
    Ok(by_stage)
}

fn tool_pins(raw: raw::RawTools, at: &Locator<'_>) -> Result<ToolPins> {
    let pins = ToolPins {
        versions: raw.pins,
        uv: raw.uv,
    };
    for spec in crate::tools::table::TOOLS.iter().filter(|s| !s.optional) {
        for (name, tested) in spec.tested {
            if pins.version(name).is_none() {
                return Err(usage(format!(
                    "{}: [tools] has no pin for {name}: add `{name} = \"{tested}\"` (the version this xtask is tested with)",
                    at.path.display()
                )));
            }
        }
    }
    // An optional tool comes with its companions: turning it on pins them all.
    for spec in crate::tools::table::TOOLS.iter().filter(|s| s.optional) {
        if pins.version(spec.name).is_some()
            && let Some(name) = spec.companions.iter().find(|c| pins.version(c).is_none())
        {
            return Err(usage(format!(
                "{}: [tools] pins {} but not {name}, which it needs: pin {name} too",
                at.path.display(),
                spec.name
            )));
        }
    }
    Ok(pins)
}

/// `[timeouts]`: the table's defaults, overridden per tool.
fn timeouts(raw: raw::RawTimeouts) -> Timeouts {
    let tools = crate::tools::table::TOOLS
        .iter()
        .map(|spec| {
            let secs = raw
                .tools
                .get(spec.name)
                .copied()
                .unwrap_or(spec.default_timeout_secs);
            (spec.tool, Duration::from_secs(secs))
        })
        .collect();
    Timeouts {
        tools,
        setup: Duration::from_secs(raw.setup),
        compose: Duration::from_secs(raw.compose),
    }
}

/// `[ratchet] coverage_slack`: 0 to 100 points, 0.1 when absent.
fn coverage_slack(raw: Option<&toml::Spanned<f64>>, at: &Locator<'_>) -> Result<f64> {
    let Some(raw) = raw else {
        return Ok(0.1);
    };
    let points = *raw.get_ref();
    if !(0.0..=100.0).contains(&points) {
        return Err(at.error(
            raw,
            format!("ratchet.coverage_slack must be from 0 to 100 points, not {points}"),
        ));
    }
    Ok(points)
}

/// `[cache] audit_sample`: a percentage, 0 (the default: no sample) to 100 (every hit).
fn audit_sample(raw: Option<&toml::Spanned<f64>>, at: &Locator<'_>) -> Result<f64> {
    let Some(raw) = raw else {
        return Ok(0.0);
    };
    let percent = *raw.get_ref();
    if !(0.0..=100.0).contains(&percent) {
        return Err(at.error(
            raw,
            format!("cache.audit_sample must be a percentage from 0 to 100, not {percent}"),
        ));
    }
    Ok(percent)
}

/// `[cache.remote]`: a URL the protocol can use and environment variable names (never values).
fn build_remote_cache(
    raw: &raw::RawRemoteCache,
    at: &Locator<'_>,
) -> Result<crate::remote_cache::RemoteSettings> {
    let url = crate::remote_cache::protocol::base_url(raw.url.get_ref())
        .map_err(|reason| at.error(&raw.url, format!("cache.remote.url {reason}")))?;
    let env_name = |field: &Option<toml::Spanned<String>>, what: &str| -> Result<Option<String>> {
        match field {
            None => Ok(None),
            Some(name) if valid_env_name(name.get_ref()) => Ok(Some(name.get_ref().clone())),
            Some(name) => Err(at.error(
                name,
                format!(
                    "cache.remote.{what} must name an environment variable (A-Z, 0-9, _), not hold its value"
                ),
            )),
        }
    };
    let timeout = match &raw.timeout_ms {
        Some(ms) if *ms.get_ref() == 0 || *ms.get_ref() > 600_000 => {
            return Err(at.error(
                ms,
                "cache.remote.timeout_ms must be between 1 and 600000".to_owned(),
            ));
        }
        Some(ms) => Duration::from_millis(*ms.get_ref()),
        None => crate::remote_cache::DEFAULT_TIMEOUT,
    };
    let public_key = match &raw.public_key {
        Some(text) => Some(
            crate::remote_cache::signing::PublicKey::parse(text.get_ref())
                .map_err(|reason| at.error(text, format!("cache.remote.public_key {reason}")))?,
        ),
        None => None,
    };
    if let (Some(variable), None) = (&raw.signing_key_env, &public_key) {
        return Err(at.error(
            variable,
            "cache.remote.signing_key_env needs public_key beside it, which every reader checks entries with (run `cargo xtask cache keygen`)".to_owned(),
        ));
    }
    let max_blob_mb = match &raw.max_blob_mb {
        Some(mb) if !(1..=4096).contains(mb.get_ref()) => {
            return Err(at.error(
                mb,
                "cache.remote.max_blob_mb must be between 1 and 4096".to_owned(),
            ));
        }
        Some(mb) => *mb.get_ref(),
        None => crate::remote_cache::DEFAULT_MAX_BLOB_MB,
    };
    Ok(crate::remote_cache::RemoteSettings {
        url,
        read_only: raw.read_only,
        token_env: env_name(&raw.token_env, "token_env")?,
        signing_key_env: env_name(&raw.signing_key_env, "signing_key_env")?,
        public_key,
        max_blob_bytes: max_blob_mb * 1024 * 1024,
        timeout,
    })
}

fn valid_env_name(name: &str) -> bool {
    values::valid_variable_name(name) && !name.bytes().any(|b| b.is_ascii_lowercase())
}

/// Component names end up in paths, labels, workflow matrices and issue titles: keep them to a
/// small alphabet so none of those places ever needs escaping.
fn valid_component_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes.first().is_some_and(u8::is_ascii_lowercase)
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !name.ends_with('-')
}

fn build_component(
    name: &str,
    spanned: &toml::Spanned<raw::RawComponent>,
    groups: &[String],
    at: &Locator<'_>,
) -> Result<Component> {
    let raw = spanned.get_ref();
    if !valid_component_name(name) {
        return Err(at.error(
            spanned,
            format!(
                "component name `{}` must be lowercase letters, digits and hyphens, starting with a letter",
                name.escape_debug()
            ),
        ));
    }
    if !groups.contains(raw.group.get_ref()) {
        return Err(at.error(
            &raw.group,
            format!(
                "component `{name}` is in group `{}`, which is not listed in `groups` ({})",
                raw.group.get_ref(),
                groups.join(", ")
            ),
        ));
    }
    let source = relative_path(raw.source.get_ref(), "source")
        .map_err(|e| at.error(&raw.source, format!("component `{name}`: {e}")))?;
    let source = unix(&source);
    let source_kind = if source.ends_with(".py") {
        SourceKind::Module
    } else {
        SourceKind::Package
    };
    let tests = raw
        .tests
        .iter()
        .map(|test| {
            relative_path(test.get_ref(), "tests")
                .map(|p| unix(&p))
                .map_err(|e| at.error(test, format!("component `{name}`: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let docs_home = match source_kind {
        SourceKind::Package => source.clone(),
        SourceKind::Module => format!("docs/components/{name}"),
    };
    let doc_path = |explicit: &Option<String>, file: &str, key: &str| -> Result<String> {
        match explicit {
            Some(path) => relative_path(path, key)
                .map(|p| unix(&p))
                .map_err(|e| at.error(spanned, format!("component `{name}`: {e}"))),
            None => Ok(format!("{docs_home}/{file}")),
        }
    };
    Ok(Component {
        name: name.to_owned(),
        display_name: raw.display_name.clone(),
        group: raw.group.get_ref().clone(),
        source,
        source_kind,
        tests,
        depends_on: raw.depends_on.iter().map(|d| d.get_ref().clone()).collect(),
        readme: doc_path(&raw.readme, "README.md", "readme")?,
        maturity: doc_path(&raw.maturity, "MATURITY.md", "maturity")?,
    })
}

fn check_dependencies(raw: &raw::RawConfig, at: &Locator<'_>) -> Result<()> {
    for (name, component) in &raw.components {
        for dependency in &component.get_ref().depends_on {
            let wanted = dependency.get_ref();
            if wanted == name {
                return Err(at.error(dependency, format!("component `{name}` depends on itself")));
            }
            if !raw.components.contains_key(wanted) {
                let suggestions = closest_names(wanted, raw.components.keys().map(String::as_str));
                let hint = if suggestions.is_empty() {
                    String::new()
                } else {
                    format!(": did you mean {}?", suggestions.join(", "))
                };
                return Err(at.error(
                    dependency,
                    format!("component `{name}` depends on unknown component `{wanted}`{hint}"),
                ));
            }
        }
    }
    Ok(())
}

/// A dependency cycle, placed at the `depends_on` entry that closes it.
fn cycle_error(raw: &raw::RawConfig, cycle: &[String], at: &Locator<'_>) -> anyhow::Error {
    let message = format!(
        "dependency cycle: {}; remove one of these `depends_on` entries",
        cycle.join(" -> ")
    );
    let closing = match cycle {
        [.., last_but_one, last] => raw.components.get(last_but_one).and_then(|component| {
            component
                .get_ref()
                .depends_on
                .iter()
                .find(|d| d.get_ref() == last)
        }),
        _ => None,
    };
    match closing {
        Some(entry) => at.error(entry, message),
        None => usage(format!("{}: {message}", at.path.display())),
    }
}

/// A relative path that stays inside its base: no absolute paths, no `..`.
/// `base` joined with a checked relative path; `base` itself when that path is empty (`.`), so
/// no trailing separator makes the same folder print or compare differently.
fn joined(base: &Path, relative: PathBuf) -> PathBuf {
    if relative.as_os_str().is_empty() {
        base.to_path_buf()
    } else {
        base.join(relative)
    }
}

fn relative_path(text: &str, key: &str) -> Result<PathBuf> {
    let path = Path::new(text);
    if text.is_empty() {
        return Err(usage(format!("{key} is empty")));
    }
    for part in path.components() {
        match part {
            PathPart::Normal(_) | PathPart::CurDir => {}
            PathPart::ParentDir => {
                return Err(usage(format!(
                    "{key} `{text}` leaves its base folder with `..`"
                )));
            }
            PathPart::RootDir | PathPart::Prefix(_) => {
                return Err(usage(format!(
                    "{key} `{text}` must be relative, not absolute"
                )));
            }
        }
    }
    // Without `.` parts: `root = "."` must give the workspace folder itself, not `<ws>/.`,
    // which compares unequal to the same folder wherever paths are stripped or compared.
    Ok(path
        .components()
        .filter(|part| !matches!(part, PathPart::CurDir))
        .collect())
}

/// The head of a registry for tests: the groups, a project at `.`, the pins. Components
/// follow it.
#[cfg(test)]
pub fn test_registry_head(groups: &[&str]) -> String {
    let groups: Vec<String> = groups.iter().map(|g| format!("\"{g}\"")).collect();
    format!(
        "groups = [{}]\n[project]\nroot = \".\"\n[tools]\nruff = \"0.17.5\"\npyright = \"1.1.414\"\nbandit = \"1.9.4\"\npytest = \"9.2.0\"\npytest-cov = \"7.1.0\"\n",
        groups.join(", ")
    )
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
