//! `cargo xtask bench`: how long "is this component promotable?" takes, measured on the built
//! (release) binary against the plain sequential run of the same tool commands that the
//! users' scripts do, on the bundled example and on generated synthetic monorepos.
//!
//! Everything runs in temp copies, so the bench never touches the working tree, and every
//! process starts through `process::run`.

mod remote;
pub mod synthetic;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::config::{self, Config};
use crate::process::{self, ToolCommand};
use crate::toolchain::{Toolchain, setup};
use crate::tools::{self, Tool};
use crate::ui;
use synthetic::Shape;

#[derive(Debug, Clone)]
pub struct Options {
    /// Baseline and cold runs per scenario (each cold run starts from an empty cache).
    pub runs: usize,
    /// Warm runs per scenario.
    pub warm_runs: usize,
    pub example: bool,
    pub synthetic: Vec<Shape>,
    /// The binary to time; default: build and use the release binary.
    pub binary: Option<PathBuf>,
    /// A remote cache to time the fresh-clone-warm-remote scenario against (`--remote URL`).
    pub remote: Option<String>,
    /// Keep each synthetic monorepo and its warm cache (`--keep`), to profile a warm run on it.
    pub keep: bool,
}

/// Median of durations, in milliseconds.
fn median_ms(samples: &[Duration]) -> f64 {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(|a, b| a.total_cmp(b));
    match ms.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => ms[n / 2],
        n => (ms[n / 2 - 1] + ms[n / 2]) / 2.0,
    }
}

fn format_ms(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// A copy of a workspace (xtask.toml + project) for timing, with the env every run gets.
struct Scene {
    dir: tempfile::TempDir,
    config: Config,
    env: Vec<(OsString, OsString)>,
}

impl Scene {
    fn command(&self, program: &Path, timeout: Duration) -> ToolCommand {
        let mut command = ToolCommand::new(program, self.dir.path(), timeout);
        command.env = self.env.clone();
        command
    }
}

fn copy_project(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("failed to create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("failed to read {}", from.display()))?
    {
        let entry = entry?;
        let name = entry.file_name();
        let name_text = name.to_string_lossy();
        if matches!(
            name_text.as_ref(),
            "__pycache__" | ".pytest_cache" | ".ruff_cache"
        ) || name_text.ends_with(".egg-info")
        {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type()?.is_dir() {
            copy_project(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("failed to copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}

fn scene_env(venv: &Path, project: &Path) -> Vec<(OsString, OsString)> {
    vec![
        ("XTASK_VENV".into(), venv.into()),
        ("XTASK_NO_BOOTSTRAP".into(), "1".into()),
        // The shared venv has the real example installed editable; PYTHONPATH makes imports
        // resolve to this copy, as they would in a real checkout.
        ("PYTHONPATH".into(), project.join("src").into()),
        ("CI".into(), "true".into()),
        ("NO_COLOR".into(), "1".into()),
    ]
}

/// Runs the xtask binary once and returns its wall time, and its peak memory in KiB.
fn time_xtask(
    scene: &Scene,
    binary: &Path,
    args: &[String],
    cache: &Path,
) -> Result<(Duration, Option<u64>)> {
    time_xtask_with(scene, binary, args, cache, &[])
}

/// `time_xtask` with extra variables (the observer's bench-only switch).
fn time_xtask_with(
    scene: &Scene,
    binary: &Path,
    args: &[String],
    cache: &Path,
    extra: &[(&str, &str)],
) -> Result<(Duration, Option<u64>)> {
    let rss_file = scene.dir.path().join("peak-rss");
    let _ = std::fs::remove_file(&rss_file);
    let mut command = scene
        .command(binary, Duration::from_secs(3600))
        .args(args)
        .env("XTASK_CACHE_DIR", cache)
        .env("XTASK_PEAK_RSS_TO", &rss_file);
    for (name, value) in extra {
        command = command.env(name, value);
    }
    let done = process::run(&command).map_err(|e| anyhow::anyhow!("failed to run xtask: {e}"))?;
    if !matches!(done.code, Some(0) | Some(1)) {
        bail!(
            "`{}` ended with {}:\n{}",
            command.display(),
            done.describe_exit(),
            done.tail(20)
        );
    }
    let rss = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|t| t.trim().parse().ok());
    Ok((done.duration, rss))
}

/// The users' way: for each component, one tool after another, nothing cached.
fn time_sequential(scene: &Scene, toolchain: &Toolchain) -> Result<Duration> {
    let config = &scene.config;
    let root = &config.project.root;
    let timeout = Duration::from_secs(3600);
    let mut total = Duration::ZERO;
    let resolve = |tool: Tool| {
        toolchain
            .resolve(tool, timeout)
            .map_err(|e| anyhow::anyhow!("{e}"))
    };
    let (ruff, pyright, bandit, pytest) = (
        resolve(Tool::Ruff)?,
        resolve(Tool::Pyright)?,
        resolve(Tool::Bandit)?,
        resolve(Tool::Pytest)?,
    );
    let out = tempfile::tempdir().context("failed to create a temp folder")?;
    for component in &config.components {
        let paths = [component.source.clone()];
        let mut commands = vec![
            (&ruff, tools::ruff::check_args(&paths)),
            (&ruff, tools::ruff::format_check_args(&paths)),
            (&pyright, tools::pyright::args(&toolchain.python, &paths)),
            (&bandit, tools::bandit::args(&paths, None)),
        ];
        if !component.tests.is_empty() {
            let dir = out.path().display().to_string();
            commands.push((
                &pytest,
                tools::pytest::args(&dir, &component.coverage_target(), &[], &component.tests),
            ));
        }
        for (tool, args) in commands {
            let mut command = ToolCommand::new(&tool.program, root, timeout).args(args);
            command.env = scene.env.clone();
            command = command
                .env("PATH", toolchain.tool_path_env())
                .env("PYRIGHT_PYTHON_IGNORE_WARNINGS", "1")
                .env("COVERAGE_FILE", out.path().join(".coverage"));
            let done = process::run(&command)
                .map_err(|e| anyhow::anyhow!("failed to run {}: {e}", command.display()))?;
            total += done.duration;
        }
    }
    Ok(total)
}

/// One row of results.
struct Row {
    scenario: String,
    value: String,
    versus_sequential: String,
}

/// A warm run, timed: refused unless the cache answered every step, since a warm figure with
/// misses in it measures tool runs, and a step that misses on an unchanged tree is a bug.
fn time_warm(
    scene: &Scene,
    binary: &Path,
    args: &[String],
    cache: &Path,
) -> Result<(Duration, Option<u64>)> {
    let timed = time_xtask(scene, binary, args, cache)?;
    let Some((misses, hits)) = last_run_lookups(cache) else {
        bail!(
            "the warm run left no hit counts in {}",
            cache.join("stats.jsonl").display()
        );
    };
    if misses > 0 {
        bail!(
            "a warm run on an unchanged tree missed {misses} steps ({hits} hits): the cache \
             does not hold across runs; `cargo xtask cache explain COMPONENT` on such a tree \
             says why"
        );
    }
    Ok(timed)
}

/// (misses, hits) of the last run, from the cache's stats log.
fn last_run_lookups(cache: &Path) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(cache.join("stats.jsonl")).ok()?;
    let last: serde_json::Value = serde_json::from_str(text.lines().last()?).ok()?;
    Some((last["misses"].as_u64()?, last["hits"].as_u64()?))
}

/// What is timed: the status report over every component, the command the targets
/// are stated for (it runs every component's checks against its next stage).
fn timed_args() -> Vec<String> {
    vec!["status".to_owned(), "-q".to_owned()]
}

/// A temp copy of the workspace's xtask.toml and example project.
fn example_scene(workspace: &Config, toolchain: &Toolchain) -> Result<Scene> {
    let dir = tempfile::Builder::new().prefix("xtask-bench-").tempdir()?;
    std::fs::copy(&workspace.path, dir.path().join(config::CONFIG_FILE_NAME))?;
    let relative = workspace
        .project
        .root
        .strip_prefix(&workspace.workspace_root)
        .context("the project root is not inside the workspace")?;
    copy_project(&workspace.project.root, &dir.path().join(relative))?;
    let config = config::load(&dir.path().join(config::CONFIG_FILE_NAME))?;
    let env = scene_env(&toolchain.venv, &config.project.root);
    Ok(Scene { dir, config, env })
}

/// Appends a comment to the component source `source` (its `__init__.py` for a package), a
/// different one each `run`, so exactly that component's steps are stale.
fn edit_source(scene: &Scene, source: &str, run: usize) -> Result<()> {
    let path = scene.config.project_path(source);
    let target = if path.is_dir() {
        path.join("__init__.py")
    } else {
        path
    };
    let mut text = std::fs::read_to_string(&target)?;
    text.push_str(&format!("# bench edit {run}\n"));
    std::fs::write(&target, text)?;
    Ok(())
}

fn bench_example(
    workspace: &Config,
    toolchain: &Toolchain,
    binary: &Path,
    options: &Options,
) -> Result<String> {
    let scene = example_scene(workspace, toolchain)?;
    let args = timed_args();
    let count = scene.config.components.len();

    ui::status(
        "Measuring",
        format!(
            "sequential tool runs over {count} components, {} runs",
            options.runs
        ),
    );
    let mut sequential = Vec::new();
    for _ in 0..options.runs {
        sequential.push(time_sequential(&scene, toolchain)?);
    }
    let sequential_ms = median_ms(&sequential);

    ui::status(
        "Measuring",
        format!(
            "xtask cold (empty cache), with and without the file-access observer, {} runs each, interleaved",
            options.runs
        ),
    );
    let mut cold = Vec::new();
    let mut untraced = Vec::new();
    let mut warm_cache = PathBuf::new();
    for run in 0..options.runs {
        let off = scene.dir.path().join(format!("cache-off-{run}"));
        let switch = [("XTASK_BENCH_NO_TRACE", "1")];
        untraced.push(time_xtask_with(&scene, binary, &args, &off, &switch)?.0);
        warm_cache = scene.dir.path().join(format!("cache-{run}"));
        cold.push(time_xtask(&scene, binary, &args, &warm_cache)?.0);
    }
    let cold_ms = median_ms(&cold);
    let untraced_ms = median_ms(&untraced);

    ui::status(
        "Measuring",
        format!("xtask warm (nothing changed), {} runs", options.warm_runs),
    );
    let mut warm = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..options.warm_runs {
        let (duration, peak) = time_warm(&scene, binary, &args, &warm_cache)?;
        warm.push(duration);
        rss.extend(peak);
    }
    let warm_ms = median_ms(&warm);

    ui::status(
        "Measuring",
        "xtask after changing one file of one component",
    );
    let changed_file = scene
        .config
        .components
        .iter()
        .find(|c| c.name == "carbon")
        .unwrap_or(&scene.config.components[0])
        .source
        .clone();
    let mut changed = Vec::new();
    let mut reran = None;
    for run in 0..options.runs {
        edit_source(&scene, &changed_file, run)?;
        changed.push(time_xtask(&scene, binary, &args, &warm_cache)?.0);
        reran = last_run_lookups(&warm_cache);
    }
    let changed_ms = median_ms(&changed);
    let (missed, hits) = reran.unwrap_or((0, 0));
    let logging_ms = time_logging_tests(&scene, binary, &args, &warm_cache, options.warm_runs)?;

    Ok(example_table(&ExampleFigures {
        count,
        args: args.join(" "),
        sequential_ms,
        cold_ms,
        untraced_ms,
        warm_ms,
        changed_file,
        missed,
        hits,
        changed_ms,
        logging_ms,
        peak_kib: rss.iter().max().copied(),
    }))
}

/// What `bench_example` measured, for its table.
struct ExampleFigures {
    count: usize,
    args: String,
    sequential_ms: f64,
    cold_ms: f64,
    untraced_ms: f64,
    warm_ms: f64,
    changed_file: String,
    missed: u64,
    hits: u64,
    changed_ms: f64,
    logging_ms: f64,
    peak_kib: Option<u64>,
}

/// The example's Markdown table, every row against the sequential runs.
fn example_table(f: &ExampleFigures) -> String {
    let ExampleFigures {
        count,
        ref args,
        sequential_ms,
        cold_ms,
        untraced_ms,
        warm_ms,
        ref changed_file,
        missed,
        hits,
        changed_ms,
        logging_ms,
        peak_kib,
    } = *f;
    let rows = [
        Row {
            scenario: "(1) sequential tool runs, as the users' scripts".into(),
            value: format_ms(sequential_ms),
            versus_sequential: "1x".into(),
        },
        Row {
            scenario: "(2) xtask cold (empty cache)".into(),
            value: format_ms(cold_ms),
            versus_sequential: format!(
                "{:.1}x faster ({:.0}% of (1))",
                sequential_ms / cold_ms,
                cold_ms / sequential_ms * 100.0
            ),
        },
        Row {
            scenario: "(2b) the same binary cold with the file-access observer off (bench-only switch)"
                .into(),
            value: format_ms(untraced_ms),
            versus_sequential: format!(
                "the observer costs {:+.1}% of this",
                (cold_ms / untraced_ms - 1.0) * 100.0
            ),
        },
        Row {
            scenario: "(3) xtask warm (nothing changed)".into(),
            value: format_ms(warm_ms),
            versus_sequential: format!("{:.0}x faster", sequential_ms / warm_ms),
        },
        Row {
            scenario: format!(
                "(4) xtask after changing `{changed_file}`: {missed} steps ran again, {hits} came from the cache"
            ),
            value: format_ms(changed_ms),
            versus_sequential: format!("{:.1}x faster", sequential_ms / changed_ms),
        },
        Row {
            scenario: "(5) xtask warm, every test run appending to `.metrics/<today>.jsonl` (as the users' tests do)".into(),
            value: format_ms(logging_ms),
            versus_sequential: format!("{:.0}x faster", sequential_ms / logging_ms),
        },
    ];
    let mut out = format!(
        "### Example monorepo ({count} components, `{}`)\n\n| scenario | median | vs (1) |\n|---|---|---|\n",
        args
    );
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            row.scenario, row.value, row.versus_sequential
        ));
    }
    if let Some(peak) = peak_kib {
        out.push_str(&format!(
            "\nPeak memory of a warm run: {:.1} MiB.\n",
            peak as f64 / 1024.0
        ));
    }
    out
}

/// The users' tests append a line to a dated log on every run: a root conftest that does it
/// for every test session. Runs once to settle (every pytest step ran again), then returns
/// the median of `runs` warm runs, each of which must be answered without a miss.
fn time_logging_tests(
    scene: &Scene,
    binary: &Path,
    args: &[String],
    cache: &Path,
    runs: usize,
) -> Result<f64> {
    ui::status(
        "Measuring",
        format!("xtask warm with tests that append to a dated log, {runs} runs"),
    );
    let root = &scene.config.project.root;
    std::fs::create_dir_all(root.join(".metrics"))?;
    let conftest = root.join("tests/conftest.py");
    let mut text = std::fs::read_to_string(&conftest).unwrap_or_default();
    text.push_str(
        "\n\nimport datetime as _bench_dt\nimport json as _bench_json\nfrom pathlib import Path as _BenchPath\n\n\ndef pytest_sessionfinish(session, exitstatus):\n    log = _BenchPath(__file__).resolve().parents[1] / \".metrics\" / f\"{_bench_dt.date.today()}.jsonl\"\n    with log.open(\"a\") as f:\n        f.write(_bench_json.dumps({\"exit\": int(exitstatus)}) + \"\\n\")\n",
    );
    std::fs::write(&conftest, text)?;
    time_xtask(scene, binary, args, cache)?;
    let mut warm = Vec::new();
    for _ in 0..runs {
        warm.push(time_warm(scene, binary, args, cache)?.0);
    }
    Ok(median_ms(&warm))
}

fn pins_toml(config: &Config) -> String {
    let mut pins = String::from("[tools]\n");
    for (name, version) in config.tools.packages() {
        pins.push_str(&format!("\"{name}\" = \"{version}\"\n"));
    }
    pins
}

fn bench_synthetic(
    workspace: &Config,
    toolchain: &Toolchain,
    binary: &Path,
    options: &Options,
) -> Result<String> {
    let mut out = String::from(
        "### Synthetic monorepos\n\n| components | Python files | cold | warm (median) | warm peak memory: highest run (median run) |\n|---|---|---|---|---|\n",
    );
    for shape in &options.synthetic {
        let dir = tempfile::Builder::new()
            .prefix("xtask-bench-synth-")
            .tempdir()?;
        ui::status(
            "Generating",
            format!(
                "{} components x {} files",
                shape.components, shape.files_per_component
            ),
        );
        for (path, text) in synthetic::generate(*shape, &pins_toml(workspace)) {
            let full = dir.path().join(path);
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&full, text)?;
        }
        let config = config::load(&dir.path().join(config::CONFIG_FILE_NAME))?;
        let env = scene_env(&toolchain.venv, &config.project.root);
        let scene = Scene { dir, config, env };
        let args = timed_args();
        let cache = scene.dir.path().join("cache");
        ui::status(
            "Measuring",
            "cold run (every tool over every file; this takes a while)",
        );
        let (cold, _) = time_xtask(&scene, binary, &args, &cache)?;
        let mut warm = Vec::new();
        let mut rss = Vec::new();
        for _ in 0..options.warm_runs {
            let (duration, peak) = time_warm(&scene, binary, &args, &cache)?;
            warm.push(duration);
            rss.extend(peak);
        }
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            shape.components,
            shape.files() + shape.components,
            format_ms(cold.as_secs_f64() * 1000.0),
            format_ms(median_ms(&warm)),
            peaks(&rss)
        ));
        if options.keep {
            let kept = scene.dir.keep();
            ui::status(
                "Kept",
                format!(
                    "{} (cache: {})",
                    kept.display(),
                    kept.join("cache").display()
                ),
            );
        }
    }
    Ok(out)
}

/// The highest and the median of warm runs' peak memory (KiB): the first warm run after a
/// cold one may re-record files written just before it (compared by content, see the cache's
/// racy rule), so the two differ.
fn peaks(kib: &[u64]) -> String {
    let mut sorted = kib.to_vec();
    sorted.sort_unstable();
    let (Some(highest), Some(median)) = (sorted.last(), sorted.get(sorted.len() / 2)) else {
        return "?".to_owned();
    };
    let mib = |kib: u64| kib as f64 / 1024.0;
    format!("{:.1} MiB ({:.1} MiB)", mib(*highest), mib(*median))
}

/// Builds the release binary and returns its path.
fn release_binary(config: &Config) -> Result<PathBuf> {
    ui::status("Building", "the release binary (cargo build --release)");
    let env = crate::edge_env::get();
    let cargo = env.cargo.clone().unwrap_or_else(|| "cargo".into());
    let command = ToolCommand::new(cargo, &config.workspace_root, Duration::from_secs(3600))
        .args(["build", "--release", "--quiet", "--package", "xtask"]);
    let done = process::run(&command).map_err(|e| anyhow::anyhow!("failed to run cargo: {e}"))?;
    if done.code != Some(0) {
        bail!("cargo build --release failed:\n{}", done.tail(30));
    }
    let target = env
        .cargo_target_dir
        .clone()
        .unwrap_or_else(|| config.workspace_root.join("target"));
    Ok(target.join("release").join("xtask"))
}

pub fn run(config: &Config, options: &Options) -> Result<String> {
    if !setup::gaps(config, &Toolchain::load(config)?)?.is_empty() {
        setup::install(config)?;
    }
    let toolchain = Toolchain::load(config)?;
    let binary = match &options.binary {
        Some(binary) => binary.clone(),
        None => release_binary(config)?,
    };
    let mut out = format!(
        "Timing `{}` on {} CPUs; medians; `cargo xtask bench --runs {} --warm-runs {}`.\n\n",
        binary.display(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        options.runs,
        options.warm_runs
    );
    if options.example {
        out.push_str(&bench_example(config, &toolchain, &binary, options)?);
        out.push('\n');
    }
    if let Some(url) = &options.remote {
        out.push_str(&remote::bench_remote(
            config, &toolchain, &binary, options, url,
        )?);
        out.push('\n');
    }
    if !options.synthetic.is_empty() {
        out.push_str(&bench_synthetic(config, &toolchain, &binary, options)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_samples() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        assert_eq!(median_ms(&ms(&[30, 10, 20])), 20.0);
        assert_eq!(median_ms(&ms(&[40, 10, 20, 30])), 25.0);
        assert!(median_ms(&[]).is_nan());
    }

    #[test]
    fn peaks_give_the_highest_and_the_median_run() {
        assert_eq!(peaks(&[40_960, 122_880, 41_984]), "120.0 MiB (41.0 MiB)");
        assert_eq!(peaks(&[]), "?");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(format_ms(12.34), "12.3 ms");
        assert_eq!(format_ms(345.6), "346 ms");
        assert_eq!(format_ms(12_345.0), "12.3 s");
    }
}
