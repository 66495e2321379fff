//! Runs steps: fixes first, then cache lookups, then the misses, batched per tool where the
//! tool accepts many paths and spread over `--jobs` workers. Results come back keyed by
//! (component, step), so what reports show never depends on the order things finished in.

pub mod audit;
pub mod digest_memo;
pub mod environment;
pub mod explain;
pub mod fast_hash;
mod fix;
pub mod inputs;
pub mod key;
pub mod observe;
pub mod parallel;
pub mod reach;
mod run;
mod stat_at;
pub mod trace;
mod walk;
pub mod warm;

/// The placeholder for a run's private output folder in step commands (`$XTASK_RUN_DIR`).
pub use run::RUN_DIR;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::cache::{Cache, Lookup};
use crate::config::{Component, Config};
use crate::digest::FileDigest;
use crate::events::{Event, Listener};
use crate::toolchain::{ResolvedTool, Toolchain};
use crate::tools::result::{ErrorKind, StepError, StepResult};
use crate::tools::{PathNormalizer, StepKind, Tool};
use inputs::{InputIndex, StepInputs};

/// Everything a run needs, built once per command.
pub struct RunContext<'a> {
    pub config: &'a Config,
    pub toolchain: &'a Toolchain,
    pub index: InputIndex,
    pub normalizer: PathNormalizer,
    pub cache: Option<&'a Cache>,
    pub listener: &'a dyn Listener,
    pub jobs: usize,
    /// `--no-cache`: run everything, then refresh the entries.
    pub refresh: bool,
    /// The project config file each tool must be pointed at (`ToolSpec::config_file`), found
    /// once per run.
    pub tool_configs: BTreeMap<Tool, String>,
    /// What the tools' environment holds (cleared, then the pass-through list and `[env]`).
    pub env: environment::ToolEnv,
    /// Portable names for observed reads.
    pub locator: observe::Locator,
    /// Variables only test runs get on top of the tools' environment: the addresses of the
    /// services an integration run brought up. Empty otherwise.
    pub step_env: Vec<(String, String)>,
    /// The warm-run record: the answers of the last fully settled run, while nothing they
    /// were computed from changed.
    pub warm: warm::WarmRun,
    /// `cache audit`'s marks of flaky steps, read on first use.
    pub audit: audit::AuditState,
    /// The shared code each component reaches, read from the import graph on first use.
    shared: std::sync::OnceLock<reach::SharedCode>,
}

/// Drops every event: a context made again says nothing twice.
struct Silent;

impl Listener for Silent {
    fn event(&self, _: &Event<'_>) {}
}

impl<'a> RunContext<'a> {
    pub fn new(
        config: &'a Config,
        toolchain: &'a Toolchain,
        cache: Option<&'a Cache>,
        listener: &'a dyn Listener,
        jobs: usize,
        refresh: bool,
    ) -> Self {
        let mut env = environment::ToolEnv::from_process(&config.env);
        env.make_portable(&config.project.root);
        for message in &env.warnings {
            listener.event(&Event::Warning { message });
        }
        let mut own = vec![config.state_dir(), config.project.reports_dir.clone()];
        if let Some(cache) = cache {
            own.push(cache.dir().to_path_buf());
        }
        RunContext {
            env,
            locator: observe::Locator::new(&config.project.root, &own),
            config,
            toolchain,
            index: InputIndex::new(&config.project.root)
                .with_memo(cache.map(|c| c.dir().join(digest_memo::FILE_NAME)))
                .with_parse_cache(Some(
                    config.cache_dir().join(crate::imports::graph::PARSE_CACHE),
                )),
            normalizer: PathNormalizer::new(&config.project.root),
            cache,
            listener,
            jobs: jobs.max(1),
            refresh,
            tool_configs: crate::tools::table::TOOLS
                .iter()
                .filter_map(|spec| {
                    let found = spec.config_file?(&config.project.root)?;
                    Some((spec.tool, found))
                })
                .collect(),
            step_env: Vec::new(),
            warm: warm::WarmRun::default(),
            audit: audit::AuditState::default(),
            shared: std::sync::OnceLock::new(),
        }
    }

    /// The shared code each component reaches, checked with it (`reach.rs`).
    pub fn shared_code(&self) -> &reach::SharedCode {
        self.shared
            .get_or_init(|| reach::SharedCode::of(self.config, &self.index))
    }

    /// A new context for the same command with `cache` (`None`: nothing read from the cache
    /// or stored, as `cache audit` runs steps fresh): new input digests, no record, the same
    /// listener and step variables.
    pub fn again(&self, cache: Option<&'a Cache>) -> RunContext<'a> {
        // Made quietly: this context already gave the environment's warnings.
        let mut context = RunContext::new(
            self.config,
            self.toolchain,
            cache,
            &Silent,
            self.jobs,
            cache.is_none(),
        );
        context.listener = self.listener;
        context.with_step_env(self.step_env.clone())
    }

    /// The same context with `variables` handed to test runs (integration services).
    pub fn with_step_env(mut self, variables: Vec<(String, String)>) -> Self {
        self.step_env = variables;
        self
    }
}

pub type StepId = (String, StepKind);
pub type Results = BTreeMap<StepId, StepResult>;

/// A step ready to run or look up: its component, arguments, inputs and key.
pub(crate) struct Prepared<'c> {
    pub component: &'c Component,
    pub kind: StepKind,
    pub tool: ResolvedTool,
    /// Arguments for this component alone, with placeholders; the cache key and the report's
    /// command both use them.
    pub argv: Vec<String>,
    pub key: crate::digest::Digest,
    /// The declared key's material, kept with the newest entry for `cache explain` (made
    /// into JSON only when a result is stored or explained).
    pub material: key::KeyMaterial<'c>,
    /// Whether the tool runs under the observer (pytest, bandit): its entries then carry the
    /// reads it made, and a lookup checks them.
    pub observed: bool,
    /// Files read directly, with their digests when the key was made.
    pub files: Vec<(String, Option<FileDigest>)>,
    /// Dependency source trees, with their digests when the key was made.
    pub trees: Vec<(String, String)>,
}

impl Prepared<'_> {
    /// The declared key's material as JSON, for `cache explain`.
    pub fn material_value(&self) -> serde_json::Value {
        self.material.value()
    }
}

/// Runs `requests` and returns one result per request.
pub fn run_steps(ctx: &RunContext<'_>, requests: &[StepId]) -> Results {
    let requests = enabled_requests(ctx, requests);
    let requests = requests.as_slice();
    ctx.listener.event(&Event::Planned {
        steps: requests.len(),
    });
    if let Some(results) = ctx.warm.answer(ctx, requests) {
        let mut results = answered_by_record(ctx, requests, results);
        audit::recheck_sample(ctx, &mut results);
        return results;
    }
    let mut results = Results::new();
    let mut tools = Tools::new();
    run_fixes(ctx, requests, &mut tools, &mut results);
    let fixed = !results.is_empty();
    let to_prepare = steps_to_prepare(ctx, requests, &mut tools, &mut results);
    let missing = results.values().any(|r| {
        r.step_error()
            .is_some_and(|e| e.kind == ErrorKind::NotFound)
    });
    // Keys and lookups are independent per step and are most of a warm run: they run in
    // parallel; results are finished in request order, as before.
    let candidates: Vec<Prepared<'_>> = parallel::map(&to_prepare, |(component, kind, tool)| {
        prepare(ctx, component, *kind, tool.clone())
    });
    let pending = look_up(ctx, candidates, &mut results);
    let all_stored = execute_and_store(ctx, pending, &mut results);
    // Every answer is a hit, a stored verdict or decided from the config: the next run may
    // take them from the warm-run record while nothing changes.
    if !fixed && !missing && all_stored {
        ctx.warm.settled(&results);
    }
    audit::recheck_sample(ctx, &mut results);
    results
}

/// Finishes a run answered by the warm-run record: the same events and hit counts as a run
/// whose every lookup hit.
fn answered_by_record(ctx: &RunContext<'_>, requests: &[StepId], mut recorded: Results) -> Results {
    let mut results = Results::new();
    for id in requests {
        let Some(result) = recorded.remove(id) else {
            continue;
        };
        ctx.listener.event(&Event::StepStarted {
            component: &id.0,
            kind: id.1,
        });
        if result.cached
            && let Some(cache) = ctx.cache
        {
            cache.count_hit();
        }
        finish(ctx, &mut results, &id.0, result);
    }
    if let Some(cache) = ctx.cache {
        cache.finish_run();
    }
    results
}

/// The tools of a run, each resolved once, on first use; a tool that cannot be resolved keeps
/// its error message.
type Tools = HashMap<Tool, Result<ResolvedTool, String>>;

/// `tool` resolved through `tools`, resolving it on first use.
fn resolve(ctx: &RunContext<'_>, tools: &mut Tools, tool: Tool) -> Result<ResolvedTool, String> {
    tools
        .entry(tool)
        .or_insert_with(|| ctx.toolchain.resolve(tool, ctx.config.timeouts.of(tool)))
        .clone()
}

/// `requests` without the steps of tools the project does not use.
fn enabled_requests(ctx: &RunContext<'_>, requests: &[StepId]) -> Vec<StepId> {
    // The plan lists every check of the tool table for its phases; an optional tool the
    // project has not pinned (mypy) does not run and leaves no result.
    requests
        .iter()
        .filter(|(_, kind)| ctx.config.tools.enabled(kind.tool()))
        .cloned()
        .collect()
}

/// Runs the requested fixes into `results`: one pass over the files in the tool table's
/// order of fixing steps, on shadow copies (`fix.rs`).
fn run_fixes(ctx: &RunContext<'_>, requests: &[StepId], tools: &mut Tools, results: &mut Results) {
    // Fixes change the files every other step reads, so they run, and finish, first.
    let fixes = crate::tools::table::STEPS
        .iter()
        .filter(|s| s.modifies_files);
    let mut stages = Vec::new();
    for fix_kind in fixes.map(|s| s.kind) {
        let members: Vec<&Component> = requests
            .iter()
            .filter(|(_, kind)| *kind == fix_kind)
            .filter_map(|(name, _)| ctx.config.component(name))
            .collect();
        if members.is_empty() {
            continue;
        }
        match resolve(ctx, tools, fix_kind.tool()) {
            Ok(tool) => stages.push(fix::Stage {
                kind: fix_kind,
                tool,
                members,
            }),
            Err(message) => {
                for component in members {
                    let result = missing_tool(ctx, fix_kind, component, &message);
                    results.insert((component.name.clone(), fix_kind), result);
                }
            }
        }
    }
    if !stages.is_empty() {
        results.extend(fix::run(ctx, &stages));
    }
}

/// The requested checks that need a key, with their tools, in request order. Each is announced
/// as started; those whose tool is missing or whose verdict needs no run are finished here.
fn steps_to_prepare<'c>(
    ctx: &RunContext<'c>,
    requests: &[StepId],
    tools: &mut Tools,
    results: &mut Results,
) -> Vec<(&'c Component, StepKind, ResolvedTool)> {
    let mut to_prepare: Vec<(&Component, StepKind, ResolvedTool)> = Vec::new();
    for (name, kind) in requests.iter().filter(|(_, kind)| !kind.modifies_files()) {
        let Some(component) = ctx.config.component(name) else {
            continue;
        };
        ctx.listener.event(&Event::StepStarted {
            component: name,
            kind: *kind,
        });
        let tool = match resolve(ctx, tools, kind.tool()) {
            Ok(tool) => tool,
            Err(message) => {
                let result = missing_tool(ctx, *kind, component, &message);
                finish(ctx, results, name, result);
                continue;
            }
        };
        if let Some(result) =
            run::decided_without_running(component, *kind, &tool, &ctx.config.project.root)
        {
            finish(ctx, results, name, result);
            continue;
        }
        to_prepare.push((component, *kind, tool));
    }
    to_prepare
}

/// Looks `candidates` up in the cache (none with `--no-cache`), finishing the hits in order;
/// returns the steps left to run.
fn look_up<'c>(
    ctx: &RunContext<'_>,
    candidates: Vec<Prepared<'c>>,
    results: &mut Results,
) -> Vec<Prepared<'c>> {
    // Remote hook: every key of the run is asked of the remote cache at once, in parallel.
    if let Some(cache) = ctx.cache.filter(|_| !ctx.refresh) {
        let keys: Vec<crate::digest::Digest> = candidates.iter().map(|p| p.key).collect();
        if let Some(message) = cache.prefetch(&keys) {
            ctx.listener.event(&Event::Warning { message: &message });
        }
    }
    let lookups: Vec<Lookup> = match ctx.cache.filter(|_| !ctx.refresh) {
        Some(cache) => parallel::map(&candidates, |prepared| {
            if !prepared.kind.spec().cached || audit::flaky(ctx, prepared).is_some() {
                // Verdicts about live services are never stored, so never served; a step
                // `cache audit` found flaky runs fresh until its inputs change.
                Lookup::Miss
            } else if prepared.observed {
                cache.get_observed(&prepared.key, |reads| {
                    observe::first_change(&ctx.locator, &ctx.index, reads).is_none()
                })
            } else {
                cache.get(&prepared.key)
            }
        }),
        None => candidates.iter().map(|_| Lookup::Miss).collect(),
    };
    let mut pending: Vec<Prepared<'_>> = Vec::new();
    for (prepared, lookup) in candidates.into_iter().zip(lookups) {
        let name = &prepared.component.name;
        match lookup {
            Lookup::Hit(hit) => {
                let mut hit = *hit;
                hit.duration_ms = 0;
                finish(ctx, results, name, hit);
                continue;
            }
            Lookup::Corrupt(reason) => {
                let message = format!("{reason}; running the step again");
                ctx.listener.event(&Event::Warning { message: &message });
            }
            Lookup::Miss => {}
        }
        pending.push(prepared);
    }
    pending
}

/// Runs `pending` as jobs over `--jobs` workers, finishing each result as it comes, then
/// stores the cacheable verdicts whose inputs did not change and ends the cache's run.
/// Returns whether every verdict was cacheable and stored.
fn execute_and_store(
    ctx: &RunContext<'_>,
    pending: Vec<Prepared<'_>>,
    results: &mut Results,
) -> bool {
    let jobs = group_into_jobs(pending);
    let all_cacheable = std::sync::atomic::AtomicBool::new(true);
    let shared = Mutex::new(results);
    let to_store: Mutex<Vec<Executed<'_, '_>>> = Mutex::new(Vec::new());
    let queue = Mutex::new(jobs.iter().collect::<Vec<_>>());
    std::thread::scope(|scope| {
        for _ in 0..ctx.jobs {
            scope.spawn(|| {
                loop {
                    let job = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                    let Some(job) = job else { break };
                    for (prepared, mut result, reads) in run::execute(ctx, job) {
                        let flaky = audit::flaky(ctx, prepared);
                        if !result.cacheable() || flaky.is_some() {
                            all_cacheable.store(false, std::sync::atomic::Ordering::Relaxed);
                            result.not_cached = flaky;
                        } else {
                            to_store.lock().unwrap_or_else(|e| e.into_inner()).push((
                                prepared,
                                result.clone(),
                                reads,
                            ));
                        }
                        let mut results = shared.lock().unwrap_or_else(|e| e.into_inner());
                        finish(ctx, &mut results, &prepared.component.name, result);
                    }
                }
            });
        }
    });
    let Some(cache) = ctx.cache else {
        return false;
    };
    let all_stored = store_unchanged(
        ctx,
        cache,
        to_store.into_inner().unwrap_or_else(|e| e.into_inner()),
    );
    // Remote hook: the verdicts stored this run go to the remote cache, in parallel.
    if let Some(message) = cache.flush_remote() {
        ctx.listener.event(&Event::Warning { message: &message });
    }
    cache.finish_run();
    all_cacheable.into_inner() && all_stored
}

fn finish(ctx: &RunContext<'_>, results: &mut Results, component: &str, result: StepResult) {
    ctx.listener.event(&Event::StepFinished {
        component,
        result: &result,
    });
    results.insert((component.to_owned(), result.name), result);
}

fn missing_tool(
    ctx: &RunContext<'_>,
    kind: StepKind,
    component: &Component,
    message: &str,
) -> StepResult {
    let argv = run::argv(ctx, kind, component);
    StepResult::error(
        kind,
        "missing",
        run::command_line(kind, &argv),
        StepError {
            kind: ErrorKind::NotFound,
            message: message.to_owned(),
        },
        0,
    )
}

fn prepare<'c>(
    ctx: &RunContext<'c>,
    component: &'c Component,
    kind: StepKind,
    tool: ResolvedTool,
) -> Prepared<'c> {
    let files = step_inputs(ctx, component, kind);
    let argv = run::argv(ctx, kind, component);
    // The interpreter's location is not what it is: its identity stands for it.
    let python = ctx.toolchain.python.display().to_string();
    let portable_argv: Vec<String> = argv
        .iter()
        .map(|a| a.replace(&python, "$XTASK_PYTHON"))
        .collect();
    let observed = run::observed(kind);
    let observer = if observed {
        trace::observer_id().to_owned()
    } else {
        String::new()
    };
    let material = key::KeyMaterial::new(
        key::KeyParts {
            step: kind.id(),
            tool: kind.tool().name(),
            version: tool.version.clone(),
            argv: portable_argv,
            interpreter: &ctx.toolchain.python_identity,
            thresholds: &ctx.config.thresholds,
            policy: &ctx.config.policy,
            env: ctx.env.keyed.clone(),
            observer,
        },
        &ctx.index,
        &files,
    );
    Prepared {
        component,
        kind,
        tool,
        argv,
        key: material.digest(),
        observed,
        files: material.files(),
        trees: material
            .dependencies
            .iter()
            .map(|(source, digest)| (source.clone(), digest.clone()))
            .collect(),
        material,
    }
}

/// The declared cache key of `kind` for `component`, for promotion records; `None` when the
/// step's tool is off or cannot be found. Nothing runs and nothing is looked up.
pub fn declared_key(
    ctx: &RunContext<'_>,
    component: &Component,
    kind: StepKind,
) -> Option<crate::digest::Digest> {
    if !ctx.config.tools.enabled(kind.tool()) {
        return None;
    }
    let tool = ctx
        .toolchain
        .resolve(kind.tool(), ctx.config.timeouts.of(kind.tool()))
        .ok()?;
    Some(prepare(ctx, component, kind, tool).key)
}

/// What each step is declared to read, the fast first part of its key: the component's own
/// files, and its dependencies' trees for a step that imports them and runs unobserved.
/// Everything else a tool reads (configs wherever they are, imports, data files, the
/// interpreter's files, commands) is in the read set its trace gave. ruff and bandit look at
/// one file at a time, so a dependency's change cannot change their result; pyright and pytest
/// import the dependencies, and their traces hold every dependency file they read: declaring
/// the trees as well re-ran every dependant for a change none of them reads, and made each
/// key (and its `cache explain` record) grow with the dependency closure, quadratic over a
/// long chain of components.
pub fn step_inputs(ctx: &RunContext<'_>, component: &Component, kind: StepKind) -> StepInputs {
    StepInputs {
        sources: inputs::sources(&ctx.index, component),
        tests: if kind.spec().output.runs_tests() {
            inputs::tests(&ctx.index, component)
        } else {
            Vec::new()
        },
        packages: if kind.reads_dependencies() {
            inputs::package_markers(&ctx.index, component)
        } else {
            Vec::new()
        },
        dependencies: if kind.reads_dependencies() && !run::observed(kind) {
            inputs::dependency_sources(ctx.config, component)
        } else {
            Vec::new()
        },
    }
}

/// Stores this run's verdicts once every tool has finished, except those whose inputs changed
/// while the tools ran: such a result describes files that no longer exist and must never be
/// served later. Every input is read again once, however many steps share it. An interrupted
/// run stores nothing.
/// Returns whether every verdict was stored.
fn store_unchanged(ctx: &RunContext<'_>, cache: &Cache, verdicts: Vec<Executed<'_, '_>>) -> bool {
    if crate::process::interrupted() {
        return false;
    }
    if verdicts.is_empty() {
        return true;
    }
    let mut all_stored = true;
    let mut files: Vec<&str> = verdicts
        .iter()
        .flat_map(|(p, _, _)| p.files.iter().map(|(f, _)| f.as_str()))
        .collect();
    files.sort_unstable();
    files.dedup();
    let fresh: HashMap<&str, Option<FileDigest>> = files
        .iter()
        .map(|f| (*f, ctx.index.fresh_digest(f)))
        .collect();
    let mut trees: Vec<&str> = verdicts
        .iter()
        .flat_map(|(p, _, _)| p.trees.iter().map(|(t, _)| t.as_str()))
        .collect();
    trees.sort_unstable();
    trees.dedup();
    let fresh_trees: HashMap<&str, String> = trees
        .iter()
        .map(|t| (*t, ctx.index.fresh_tree_digest(t)))
        .collect();
    for (prepared, result, reads) in verdicts {
        let unchanged = prepared
            .files
            .iter()
            .all(|(f, before)| fresh.get(f.as_str()) == Some(before))
            && prepared
                .trees
                .iter()
                .all(|(t, before)| fresh_trees.get(t.as_str()) == Some(before));
        if !unchanged {
            let message = format!(
                "inputs of {} for {} changed while it ran; its result is not cached",
                prepared.kind, prepared.component.name
            );
            ctx.listener.event(&Event::Warning { message: &message });
            all_stored = false;
            continue;
        }
        let stored = if prepared.observed {
            let Some(observed) = reads else {
                // An observed step whose read set is missing cannot be checked later.
                all_stored = false;
                continue;
            };
            ctx.warm.outputs(&ctx.locator, observed.outputs());
            match observed.capture(ctx, prepared) {
                Ok(set) => {
                    // A probe that kept the answer it got before the run changed it will not
                    // hold next time: the run is not settled, so it leaves no warm-run record.
                    if observe::first_change(&ctx.locator, &ctx.index, &set).is_some() {
                        all_stored = false;
                    }
                    let warning = cache.put_observed(&prepared.key, &set, &result);
                    if ctx.refresh && warning.is_none() {
                        // A fresher verdict: no older read set that matches these inputs
                        // may answer for them later (one with fewer reads would, once this
                        // one's extra reads change).
                        cache.retain_sets(&prepared.key, |old| {
                            old.reads == set
                                || observe::first_change(&ctx.locator, &ctx.index, &old.reads)
                                    .is_some()
                        });
                    }
                    cache.put_last(
                        &prepared.component.name,
                        prepared.kind.id(),
                        &serde_json::json!({"material": prepared.material_value(), "reads": set}),
                    );
                    warning
                }
                Err(reason) => {
                    // `cache explain` says why the step runs every time.
                    cache.put_last(
                        &prepared.component.name,
                        prepared.kind.id(),
                        &serde_json::json!({"material": prepared.material_value(), "uncached": reason}),
                    );
                    let message = match reason.strip_prefix(observe::NOT_CACHEABLE) {
                        Some(why) => format!(
                            "{} of {} is not cacheable, so it runs every time: {why}",
                            prepared.kind, prepared.component.name
                        ),
                        None => format!(
                            "{} of {} is not cached: {reason}",
                            prepared.kind, prepared.component.name
                        ),
                    };
                    ctx.listener.event(&Event::Warning { message: &message });
                    all_stored = false;
                    continue;
                }
            }
        } else {
            let warning = cache.put(&prepared.key, &result);
            cache.put_last(
                &prepared.component.name,
                prepared.kind.id(),
                &serde_json::json!({"material": prepared.material_value()}),
            );
            warning
        };
        if let Some(warning) = stored {
            ctx.listener.event(&Event::Warning { message: &warning });
            all_stored = false;
        }
    }
    all_stored
}

/// A step that ran: its preparation, its verdict and, for observed steps, what it read.
pub(crate) type Executed<'p, 'c> = (&'p Prepared<'c>, StepResult, Option<run::Observed>);

/// One unit of work for a worker: one tool process.
pub(crate) struct Job<'c> {
    pub kind: StepKind,
    pub members: Vec<Prepared<'c>>,
}

/// Components in one batch at most. A tool's time over one batch grows faster than its files
/// (pyright over 1,000 components took 7.4 times its time over 200, at 3.9 GB), and batches of
/// a bounded size keep a large monorepo's cold run linear and spread over the cores.
const MAX_BATCH: usize = 100;

/// Batchable steps become one job per kind and up to `MAX_BATCH` components; pytest stays one
/// job per component. Jobs are ordered so the slowest start first (workers pop from the end).
fn group_into_jobs<'c>(pending: Vec<Prepared<'c>>) -> Vec<Job<'c>> {
    let mut batches: BTreeMap<StepKind, Vec<Prepared<'_>>> = BTreeMap::new();
    let mut singles = Vec::new();
    for prepared in pending {
        if prepared.kind.batchable() {
            batches.entry(prepared.kind).or_default().push(prepared);
        } else {
            singles.push(Job {
                kind: prepared.kind,
                members: vec![prepared],
            });
        }
    }
    let mut jobs: Vec<Job<'_>> = Vec::new();
    for (kind, members) in batches {
        jobs.extend(
            chunks(members, MAX_BATCH)
                .into_iter()
                .map(|members| Job { kind, members }),
        );
    }
    jobs.extend(singles);
    // Stable and ascending: workers pop from the end, so the most expensive job starts first.
    jobs.sort_by_key(|job| expected_cost(job.kind));
    jobs
}

/// `items` in order, in runs of `size` (the last may be shorter).
fn chunks<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut items = items.into_iter().peekable();
    let mut chunks = Vec::new();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(size.max(1)).collect());
    }
    chunks
}

fn expected_cost(kind: StepKind) -> u8 {
    kind.spec().cost
}

#[cfg(test)]
mod tests {
    #[test]
    fn batches_are_cut_in_order_into_runs_of_the_bound() {
        let cut = super::chunks((0..250).collect::<Vec<u32>>(), super::MAX_BATCH);
        let sizes: Vec<usize> = cut.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        assert_eq!(cut.concat(), (0..250).collect::<Vec<u32>>());
        assert!(super::chunks(Vec::<u32>::new(), 100).is_empty());
        assert_eq!(super::chunks(vec![1, 2], 0), vec![vec![1], vec![2]]);
    }
}
