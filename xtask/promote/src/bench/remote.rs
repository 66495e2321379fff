//! The remote-cache scenario of `cargo xtask bench --remote URL`: a fresh clone (an empty
//! local cache) against a warm remote, next to the cold run and the local warm run of the
//! same copy of the example.

use std::path::Path;

use anyhow::{Context, Result};

use super::{Options, Toolchain, example_scene, format_ms, median_ms, time_xtask, timed_args};
use crate::config::{self, Config};
use crate::remote_cache::{protocol, signing::SecretKey};
use crate::ui;

/// The variable the scene's secret key is passed in; the key pair is new per bench.
const KEY_ENV: &str = "XTASK_BENCH_REMOTE_KEY";

/// (hits, misses) of the remote in the last run, from the cache's stats log.
fn last_remote_lookups(cache: &Path) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(cache.join("stats.jsonl")).ok()?;
    let last: serde_json::Value = serde_json::from_str(text.lines().last()?).ok()?;
    Some((
        last["remote"]["hits"].as_u64()?,
        last["remote"]["misses"].as_u64()?,
    ))
}

pub(super) fn bench_remote(
    workspace: &Config,
    toolchain: &Toolchain,
    binary: &Path,
    options: &Options,
    url: &str,
) -> Result<String> {
    let url = protocol::base_url(url).map_err(|reason| anyhow::anyhow!("--remote {reason}"))?;
    let mut scene = example_scene(workspace, toolchain)?;
    let args = timed_args();
    let count = scene.config.components.len();
    let caches = scene.dir.path().join("caches");

    ui::status(
        "Measuring",
        format!("xtask cold without a remote, {} runs", options.runs),
    );
    let mut cold = Vec::new();
    for run in 0..options.runs {
        cold.push(time_xtask(&scene, binary, &args, &caches.join(format!("cold-{run}")))?.0);
    }

    // The same copy, now with the remote; a new key pair, so this bench's entries are its own.
    let key = SecretKey::generate().map_err(|reason| anyhow::anyhow!("a key pair: {reason}"))?;
    let config_path = scene.dir.path().join(config::CONFIG_FILE_NAME);
    let mut text = std::fs::read_to_string(&config_path)
        .with_context(|| format!("failed to read {}", config_path.display()))?;
    text.push_str(&format!(
        "\n[cache.remote]\nurl = \"{url}\"\nsigning_key_env = \"{KEY_ENV}\"\npublic_key = \"{}\"\n",
        key.public()
    ));
    std::fs::write(&config_path, text)
        .with_context(|| format!("failed to write {}", config_path.display()))?;
    scene.env.push((KEY_ENV.into(), key.reveal().into()));

    ui::status("Measuring", "one run to fill the remote");
    let seeded = caches.join("seed");
    time_xtask(&scene, binary, &args, &seeded)?;

    ui::status(
        "Measuring",
        format!(
            "fresh clone (empty local cache), warm remote, {} runs",
            options.warm_runs
        ),
    );
    let mut remote = Vec::new();
    let mut lookups = None;
    for run in 0..options.warm_runs {
        let fresh = caches.join(format!("fresh-{run}"));
        remote.push(time_xtask(&scene, binary, &args, &fresh)?.0);
        lookups = last_remote_lookups(&fresh);
    }

    ui::status(
        "Measuring",
        format!("xtask warm local cache, {} runs", options.warm_runs),
    );
    let mut local = Vec::new();
    for _ in 0..options.warm_runs {
        local.push(time_xtask(&scene, binary, &args, &seeded)?.0);
    }

    let (cold_ms, remote_ms, local_ms) = (median_ms(&cold), median_ms(&remote), median_ms(&local));
    let (hits, misses) = lookups.unwrap_or((0, 0));
    let mut out = format!(
        "### Remote cache ({count} components, `{}`, remote `{url}`)\n\n| scenario | median | vs cold |\n|---|---|---|\n",
        args.join(" ")
    );
    for (scenario, ms) in [
        (
            "xtask cold, no remote (empty local cache)".to_owned(),
            cold_ms,
        ),
        (
            format!(
                "fresh clone: empty local cache, warm remote ({hits} remote hits, {misses} misses)"
            ),
            remote_ms,
        ),
        ("xtask warm local cache".to_owned(), local_ms),
    ] {
        let versus = if ms == cold_ms {
            "1x".to_owned()
        } else {
            format!("{:.0}x faster", cold_ms / ms)
        };
        out.push_str(&format!("| {scenario} | {} | {versus} |\n", format_ms(ms)));
    }
    Ok(out)
}
