//! Runs steps: fixes first, then cache lookups, then the misses, batched per tool where the
//! tool accepts many paths and spread over `--jobs` workers. Results come back keyed by
//! (component, step), so what reports show never depends on the order things finished in.

pub mod digest_memo;
pub mod inputs;
pub mod key;
pub mod result;
mod run;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::cache::{Cache, Lookup};
use crate::config::{Component, Config};
use crate::events::{Event, Listener};
use crate::toolchain::{ResolvedTool, Toolchain};
use crate::tools::{PathNormalizer, StepKind, Tool};
use inputs::{FileDigest, InputIndex, StepInputs};
use result::{ErrorKind, StepError, StepResult};

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
    /// `pyproject.toml` when it has a `[tool.bandit]` table: bandit reads it only when told.
    pub bandit_config: Option<String>,
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
        RunContext {
            config,
            toolchain,
            index: InputIndex::new(&config.project.root)
                .with_memo(cache.map(|c| c.dir().join("digest-memo"))),
            normalizer: PathNormalizer::new(&config.project.root),
            cache,
            listener,
            jobs: jobs.max(1),
            refresh,
            bandit_config: run::bandit_config(&config.project.root),
        }
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
    pub key: String,
    /// Files read directly, with their digests when the key was made.
    pub files: Vec<(String, Option<FileDigest>)>,
    /// Dependency source trees, with their digests when the key was made.
    pub trees: Vec<(String, String)>,
}

/// Runs `requests` and returns one result per request.
pub fn run_steps(ctx: &RunContext<'_>, requests: &[StepId]) -> Results {
    ctx.listener.event(&Event::Planned {
        steps: requests.len(),
    });
    let mut results = Results::new();
    let mut tools: HashMap<Tool, Result<ResolvedTool, String>> = HashMap::new();
    let mut resolve = |tool: Tool| -> Result<ResolvedTool, String> {
        tools
            .entry(tool)
            .or_insert_with(|| {
                ctx.toolchain
                    .resolve(tool, run::timeout_for(ctx.config, tool))
            })
            .clone()
    };

    // Fixes change the files every other step reads, so they run, and finish, first.
    for fix_kind in [StepKind::RuffFix, StepKind::RuffFormatApply] {
        let members: Vec<&Component> = requests
            .iter()
            .filter(|(_, kind)| *kind == fix_kind)
            .filter_map(|(name, _)| ctx.config.component(name))
            .collect();
        if members.is_empty() {
            continue;
        }
        match resolve(Tool::Ruff) {
            Ok(tool) => {
                for result in run::fix(ctx, fix_kind, &tool, &members) {
                    results.insert(result.0, result.1);
                }
            }
            Err(message) => {
                for component in members {
                    let result = missing_tool(ctx, fix_kind, component, &message);
                    results.insert((component.name.clone(), fix_kind), result);
                }
            }
        }
    }

    let mut pending: Vec<Prepared<'_>> = Vec::new();
    for (name, kind) in requests.iter().filter(|(_, kind)| !kind.modifies_files()) {
        let Some(component) = ctx.config.component(name) else {
            continue;
        };
        ctx.listener.event(&Event::StepStarted {
            component: name,
            kind: *kind,
        });
        let tool = match resolve(kind.tool()) {
            Ok(tool) => tool,
            Err(message) => {
                let result = missing_tool(ctx, *kind, component, &message);
                finish(ctx, &mut results, name, result);
                continue;
            }
        };
        if let Some(result) = run::decided_without_running(component, *kind, &tool) {
            finish(ctx, &mut results, name, result);
            continue;
        }
        let prepared = prepare(ctx, component, *kind, tool);
        if let Some(cache) = ctx.cache.filter(|_| !ctx.refresh) {
            match cache.get(&prepared.key) {
                Lookup::Hit(hit) => {
                    let mut hit = *hit;
                    hit.duration_ms = 0;
                    finish(ctx, &mut results, name, hit);
                    continue;
                }
                Lookup::Corrupt(reason) => {
                    let message = format!("{reason}; running the step again");
                    ctx.listener.event(&Event::Warning { message: &message });
                }
                Lookup::Miss => {}
            }
        }
        pending.push(prepared);
    }

    let jobs = group_into_jobs(pending);
    let shared = Mutex::new(&mut results);
    let to_store: Mutex<Vec<(&Prepared<'_>, StepResult)>> = Mutex::new(Vec::new());
    let queue = Mutex::new(jobs.iter().collect::<Vec<_>>());
    std::thread::scope(|scope| {
        for _ in 0..ctx.jobs {
            scope.spawn(|| {
                loop {
                    let job = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                    let Some(job) = job else { break };
                    for (prepared, result) in run::execute(ctx, job) {
                        if result.cacheable() {
                            to_store
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push((prepared, result.clone()));
                        }
                        let mut results = shared.lock().unwrap_or_else(|e| e.into_inner());
                        finish(ctx, &mut results, &prepared.component.name, result);
                    }
                }
            });
        }
    });
    if let Some(cache) = ctx.cache {
        store_unchanged(
            ctx,
            cache,
            to_store.into_inner().unwrap_or_else(|e| e.into_inner()),
        );
        cache.finish_run();
    }
    results
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
    let material = key::KeyMaterial::new(
        key::KeyParts {
            step: kind.id(),
            tool: kind.tool().name(),
            version: &tool.version,
            argv: &argv,
            interpreter: &ctx.toolchain.python_identity,
            thresholds: &ctx.config.thresholds,
            policy: &ctx.config.policy,
        },
        &ctx.index,
        &files,
    );
    let key = material.digest();
    Prepared {
        component,
        kind,
        tool,
        argv,
        key,
        files: files
            .files()
            .into_iter()
            .map(|f| {
                let digest = ctx.index.digest(&f);
                (f, digest)
            })
            .collect(),
        trees: files
            .dependencies
            .iter()
            .map(|source| (source.clone(), ctx.index.tree_digest(source)))
            .collect(),
    }
}

/// What each step reads. ruff and bandit look at one file at a time, so a dependency's change
/// cannot change their result; pyright and pytest import the dependencies.
pub fn step_inputs(ctx: &RunContext<'_>, component: &Component, kind: StepKind) -> StepInputs {
    StepInputs {
        sources: inputs::sources(&ctx.index, component),
        tests: if kind == StepKind::Pytest {
            inputs::tests(&ctx.index, component)
        } else {
            Vec::new()
        },
        packages: if kind.reads_dependencies() {
            inputs::package_markers(&ctx.index, component)
        } else {
            Vec::new()
        },
        dependencies: if kind.reads_dependencies() {
            inputs::dependency_sources(ctx.config, component)
        } else {
            Vec::new()
        },
        configs: inputs::configs(&ctx.index),
    }
}

/// Stores this run's verdicts once every tool has finished, except those whose inputs changed
/// while the tools ran: such a result describes files that no longer exist and must never be
/// served later. Every input is read again once, however many steps share it. An interrupted
/// run stores nothing.
fn store_unchanged(
    ctx: &RunContext<'_>,
    cache: &Cache,
    verdicts: Vec<(&Prepared<'_>, StepResult)>,
) {
    if verdicts.is_empty() || crate::process::interrupted() {
        return;
    }
    let mut files: Vec<&str> = verdicts
        .iter()
        .flat_map(|(p, _)| p.files.iter().map(|(f, _)| f.as_str()))
        .collect();
    files.sort_unstable();
    files.dedup();
    let fresh: HashMap<&str, Option<FileDigest>> = files
        .iter()
        .map(|f| (*f, ctx.index.fresh_digest(f)))
        .collect();
    let mut trees: Vec<&str> = verdicts
        .iter()
        .flat_map(|(p, _)| p.trees.iter().map(|(t, _)| t.as_str()))
        .collect();
    trees.sort_unstable();
    trees.dedup();
    let fresh_trees: HashMap<&str, String> = trees
        .iter()
        .map(|t| (*t, ctx.index.fresh_tree_digest(t)))
        .collect();
    for (prepared, result) in verdicts {
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
            continue;
        }
        if let Some(warning) = cache.put(&prepared.key, &result) {
            ctx.listener.event(&Event::Warning { message: &warning });
        }
    }
}

/// One unit of work for a worker: one tool process.
pub(crate) struct Job<'c> {
    pub kind: StepKind,
    pub members: Vec<Prepared<'c>>,
}

/// Batchable steps become one job per kind; pytest stays one job per component. Jobs are
/// ordered so the slowest start first (workers pop from the end).
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
    let mut jobs: Vec<Job<'_>> = batches
        .into_iter()
        .map(|(kind, members)| Job { kind, members })
        .collect();
    jobs.extend(singles);
    // Stable and ascending: workers pop from the end, so the most expensive job starts first.
    jobs.sort_by_key(|job| expected_cost(job.kind));
    jobs
}

fn expected_cost(kind: StepKind) -> u8 {
    match kind {
        StepKind::Pyright => 4,
        StepKind::Pytest => 3,
        StepKind::Bandit => 2,
        _ => 1,
    }
}
