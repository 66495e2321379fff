//! The serde shape of `xtask.toml`, exactly as written; `config::load` validates it into `Config`.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub project: RawProject,
    #[serde(default)]
    pub thresholds: RawThresholds,
    #[serde(default)]
    pub policy: RawPolicy,
    pub tools: RawTools,
    #[serde(default)]
    pub timeouts: RawTimeouts,
    #[serde(default)]
    pub cache: RawCache,
    /// What reaches the tools' environment besides the fixed pass-through list (`[env]`).
    #[serde(default)]
    pub env: RawEnv,
    pub groups: Vec<String>,
    pub components: IndexMap<String, Spanned<RawComponent>>,
    /// Deploy targets by stage name (`[environments.staging]`).
    #[serde(default)]
    pub environments: IndexMap<String, Spanned<RawEnvironment>>,
    /// Production evidence from Prometheus (`[observability]`).
    pub observability: Option<RawObservability>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProject {
    /// The monorepo's root, relative to the folder holding xtask.toml.
    pub root: String,
    /// The monorepo's interpreter, relative to `root`; default: the tool venv's python.
    pub python: Option<String>,
    /// Whether `setup` installs the project itself (editable) into the tool venv.
    #[serde(default)]
    pub install: bool,
    /// Extras installed with the project, e.g. `["test"]`.
    #[serde(default)]
    pub extras: Vec<String>,
    /// Where reports go, relative to the folder holding xtask.toml.
    pub reports: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThresholds {
    #[serde(default = "default_development")]
    pub development: f64,
    #[serde(default = "default_staging")]
    pub staging: f64,
    #[serde(default = "default_production")]
    pub production: f64,
}

fn default_development() -> f64 {
    60.0
}
fn default_staging() -> f64 {
    70.0
}
fn default_production() -> f64 {
    80.0
}

impl Default for RawThresholds {
    fn default() -> Self {
        RawThresholds {
            development: default_development(),
            staging: default_staging(),
            production: default_production(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    #[serde(default = "default_observation_days")]
    pub observation_days: u32,
    #[serde(default = "default_security_fail_on")]
    pub security_fail_on: String,
    #[serde(default = "default_readme_sections")]
    pub readme_sections: Vec<String>,
    /// Sections a README needs besides `readme_sections` to enter a stage, by stage name.
    #[serde(default = "default_readme_sections_by_stage")]
    pub readme_sections_by_stage: BTreeMap<String, Vec<String>>,
}

fn default_observation_days() -> u32 {
    7
}
fn default_security_fail_on() -> String {
    "medium".to_owned()
}
fn default_readme_sections() -> Vec<String> {
    ["Overview", "Usage", "API", "Testing"]
        .map(str::to_owned)
        .to_vec()
}

/// The users' Production exit criterion: user documentation, an API reference, a
/// troubleshooting guide, and (their agentic workflow) a runbook.
fn default_readme_sections_by_stage() -> BTreeMap<String, Vec<String>> {
    BTreeMap::from([(
        "production".to_owned(),
        ["Troubleshooting", "Runbook", "API"]
            .map(str::to_owned)
            .to_vec(),
    )])
}

impl Default for RawPolicy {
    fn default() -> Self {
        RawPolicy {
            observation_days: default_observation_days(),
            security_fail_on: default_security_fail_on(),
            readme_sections: default_readme_sections(),
            readme_sections_by_stage: default_readme_sections_by_stage(),
        }
    }
}

/// `[tools]`: one pin per distribution of the tool table (a tool and its companions); an
/// optional tool is turned on by pinning it. Names are checked against the table when the
/// config is built (`deny_unknown_fields` does not work beside `flatten`).
#[derive(Debug, Deserialize)]
pub struct RawTools {
    /// The uv version `setup` may use; informative when uv is already on PATH.
    pub uv: Option<String>,
    #[serde(flatten)]
    pub pins: BTreeMap<String, String>,
}

/// `[timeouts]`: seconds per tool of the table (each has its default there), for `setup` and
/// for one docker compose command.
#[derive(Debug, Deserialize)]
pub struct RawTimeouts {
    #[serde(default = "default_setup_timeout")]
    pub setup: u64,
    /// One `docker compose` command (`up` may build or pull); health waits have their own.
    #[serde(default = "default_compose_timeout")]
    pub compose: u64,
    #[serde(flatten)]
    pub tools: BTreeMap<String, u64>,
}

fn default_setup_timeout() -> u64 {
    900
}
fn default_compose_timeout() -> u64 {
    300
}

impl Default for RawTimeouts {
    fn default() -> Self {
        RawTimeouts {
            setup: default_setup_timeout(),
            compose: default_compose_timeout(),
            tools: BTreeMap::new(),
        }
    }
}

/// `[env]`: `pass` names caller variables handed to the tools, `set` fixes values. Both are part
/// of every cache key by value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnv {
    #[serde(default)]
    pub pass: Vec<String>,
    #[serde(default)]
    pub set: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    /// Size cap in megabytes; least recently used entries go first.
    #[serde(default = "default_cache_max_mb")]
    pub max_size_mb: u64,
    /// A shared remote cache (`[cache.remote]`), consulted after the local one.
    #[serde(default)]
    pub remote: Option<RawRemoteCache>,
    /// Percent of every run's cache hits to re-run fresh and compare (`cache audit`'s check).
    #[serde(default)]
    pub audit_sample: Option<Spanned<f64>>,
}

/// `[cache.remote]`: holds the NAMES of environment variables, never a token or key itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRemoteCache {
    /// Base URL of a server speaking the HTTP cache protocol (`{url}/ac/…`, `{url}/cas/…`).
    pub url: toml::Spanned<String>,
    /// Never write to the remote, only read.
    #[serde(default)]
    pub read_only: bool,
    /// Name of the environment variable holding a bearer token.
    pub token_env: Option<toml::Spanned<String>>,
    /// Name of the environment variable holding the Ed25519 secret key (set only for the
    /// trusted writer: CI on the main branch).
    pub signing_key_env: Option<toml::Spanned<String>>,
    /// The Ed25519 public key every reader checks records with (`ed25519:<64 hex>`); without
    /// it the remote is not read.
    pub public_key: Option<toml::Spanned<String>>,
    /// Largest entry read from or written to the remote, in megabytes (default 64).
    pub max_blob_mb: Option<toml::Spanned<u64>>,
    /// Connect and read deadline of one request, in milliseconds.
    pub timeout_ms: Option<toml::Spanned<u64>>,
}

fn default_cache_max_mb() -> u64 {
    256
}

impl Default for RawCache {
    fn default() -> Self {
        RawCache {
            max_size_mb: default_cache_max_mb(),
            remote: None,
            audit_sample: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawComponent {
    pub display_name: String,
    pub group: Spanned<String>,
    /// A package folder or a single `<name>_component.py` module, relative to the project root.
    pub source: Spanned<String>,
    #[serde(default)]
    pub tests: Vec<Spanned<String>>,
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    /// Where the component's README lives; default beside a package, or docs/components/<name>/.
    pub readme: Option<String>,
    /// Where the component's MATURITY.md lives; default as for the README.
    pub maturity: Option<String>,
    /// The compose service that deploys this component (phase 5).
    pub service: Option<Spanned<String>>,
    /// Compose services its integration tests need (`promote --integration`).
    #[serde(default)]
    pub services: Vec<Spanned<String>>,
    /// A command run inside the service's container (`docker exec`) that exits 0 once it is
    /// healthy; for services whose image and compose file declare no healthcheck.
    pub health_probe: Option<Spanned<Vec<String>>>,
    /// The labels that select its series in Prometheus; default `job` = its `service`.
    pub metrics: Option<Spanned<IndexMap<String, String>>>,
    /// Its latency objective (`[components.x.sla] p95_ms = 300`) or `"none"`.
    pub sla: Option<Spanned<RawSla>>,
}

/// `[environments.<stage>]`: where a stage's services run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnvironment {
    /// Relative to the project root.
    pub compose_file: Spanned<String>,
    pub project_name: Spanned<String>,
    /// Seconds a deployed service has to become healthy.
    #[serde(default = "default_health_timeout")]
    pub health_timeout: Spanned<u64>,
    /// Seconds a deployed service must then stay healthy.
    #[serde(default = "default_settle_seconds")]
    pub settle_seconds: Spanned<u64>,
}

fn default_health_timeout() -> Spanned<u64> {
    Spanned::new(0..0, 120)
}

fn default_settle_seconds() -> Spanned<u64> {
    Spanned::new(0..0, 30)
}

/// `[observability]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawObservability {
    /// Percent of the observation window a component must be up (default 99.5).
    pub uptime_min: Option<Spanned<f64>>,
    /// Percent of the samples the scrape interval promises that must be there (default 95).
    pub coverage_min: Option<Spanned<f64>>,
    /// Seconds between two scrapes of a component's target (default 15).
    pub scrape_interval_seconds: Option<Spanned<u64>>,
    /// Deadline of one request to Prometheus, in milliseconds (default 10000).
    pub timeout_ms: Option<Spanned<u64>>,
    /// Where each stage's Prometheus answers, by stage name.
    #[serde(default)]
    pub prometheus: IndexMap<String, Spanned<RawPrometheus>>,
}

/// `[observability.prometheus.<stage>]`: a URL or the name of a variable holding it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrometheus {
    pub url: Option<Spanned<String>>,
    pub url_env: Option<Spanned<String>>,
    /// Name of the variable holding a bearer token.
    pub token_env: Option<Spanned<String>>,
}

/// A component's `sla`: a table (`[components.x.sla] p95_ms = 300`) or the word `"none"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawSla {
    Declared(RawSlaTable),
    Word(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlaTable {
    pub p95_ms: f64,
    /// The histogram's name without `_bucket` (default `http_request_duration_seconds`).
    pub metric: Option<String>,
}
