//! `cargo xtask cache stats|clean|verify|key`.

use anyhow::Result;

use crate::cache::Cache;
use crate::cli::{CacheAction, CacheArgs, CacheExplainArgs, CacheKeyArgs, GlobalArgs};
use crate::config::Config;
use crate::errors::exit;
use crate::github;

pub fn run(global: &GlobalArgs, args: &CacheArgs) -> Result<u8> {
    let config = super::load_config(global)?;
    let cache = Cache::open(&config.cache_dir(), config.cache_max_bytes);
    match &args.action {
        CacheAction::Stats => {
            let summary = cache.summary();
            println!("folder     {}", summary.dir.display());
            println!("entries    {}", summary.entries);
            println!(
                "size       {:.1} KiB of {:.0} MiB allowed",
                summary.bytes as f64 / 1024.0,
                summary.max_bytes as f64 / (1024.0 * 1024.0)
            );
            match summary.recent_hit_rate {
                Some(rate) => println!(
                    "hit rate   {:.1}% over the last {} runs",
                    rate * 100.0,
                    summary.recent_runs
                ),
                None => println!("hit rate   no runs recorded yet"),
            }
            Ok(exit::OK)
        }
        CacheAction::Clean => {
            let removed = cache.clean()?;
            println!("removed {removed} entries from {}", cache.dir().display());
            Ok(exit::OK)
        }
        CacheAction::Key(key_args) => print_key(&config, key_args),
        CacheAction::Explain(explain_args) => explain(&config, &cache, explain_args),
        CacheAction::Verify => {
            let (checked, bad) = cache.verify(true);
            for (path, reason) in &bad {
                println!("removed {} ({reason})", path.display());
            }
            println!("{checked} entries checked, {} bad", bad.len());
            Ok(if bad.is_empty() {
                exit::OK
            } else {
                exit::GATE_FAILED
            })
        }
    }
}

/// `cache key [--component NAME]`: the actions/cache key and restore keys, as `name=value`
/// lines on stdout and, in GitHub Actions, as the step outputs `key` and `restore-keys`.
fn print_key(config: &Config, args: &CacheKeyArgs) -> Result<u8> {
    let component = match &args.component {
        Some(name) => Some(config.require_component(name)?),
        None => None,
    };
    let key = github::cache_key::compute(config, component)?;
    println!("key={}", key.key);
    for restore in &key.restore_keys {
        println!("restore-key={restore}");
    }
    github::ci::set_outputs(&[
        ("key".to_owned(), key.key.clone()),
        ("restore-keys".to_owned(), key.restore_keys.join("\n")),
    ])?;
    Ok(exit::OK)
}

/// Drops engine events: `cache explain` runs no step and shows no progress.
struct Quiet;

impl crate::events::Listener for Quiet {
    fn event(&self, _: &crate::events::Event<'_>) {}
}

/// `cache explain COMPONENT [--step NAME]`: one line per step, `hit` or `miss: <why>`.
fn explain(config: &Config, cache: &Cache, args: &CacheExplainArgs) -> Result<u8> {
    use crate::engine::{RunContext, explain};
    let component = config.require_component(&args.component)?;
    let steps: Vec<crate::tools::StepKind> = match &args.step {
        None => explain::STEPS.to_vec(),
        Some(name) => match explain::STEPS.iter().find(|k| k.id() == name) {
            Some(kind) => vec![*kind],
            None => {
                let known: Vec<&str> = explain::STEPS.iter().map(|k| k.id()).collect();
                eprintln!(
                    "error: unknown step `{name}`; the cached steps are {}",
                    known.join(", ")
                );
                return Ok(exit::USAGE);
            }
        },
    };
    let toolchain = crate::toolchain::Toolchain::load(config)?;
    let ctx = RunContext::new(config, &toolchain, Some(cache), &Quiet, 1, false);
    for kind in steps {
        println!(
            "{:<12} {}",
            kind.id(),
            explain::explain(&ctx, component, kind)
        );
    }
    Ok(exit::OK)
}
