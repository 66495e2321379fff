//! `cargo xtask cache stats|clean|verify|key|explain|keygen` (`audit` is in `cache_audit.rs`).

use anyhow::Result;

use crate::cache::Cache;
use crate::cli::{CacheAction, CacheArgs, CacheExplainArgs, CacheKeyArgs, GlobalArgs};
use crate::config::Config;
use crate::errors::exit;
use crate::github;
use crate::remote_cache;

pub fn run(global: &GlobalArgs, args: &CacheArgs) -> Result<u8> {
    // A key pair is made before the config names it: no config is read.
    if let CacheAction::Keygen = args.action {
        return keygen();
    }
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
            print_remote_stats(&config, &cache);
            print_audit_stats(&cache);
            Ok(exit::OK)
        }
        CacheAction::Clean => {
            let removed = cache.clean()?;
            println!("removed {removed} entries from {}", cache.dir().display());
            Ok(exit::OK)
        }
        CacheAction::Key(key_args) => print_key(&config, key_args),
        CacheAction::Explain(explain_args) => explain(&config, &cache, explain_args),
        CacheAction::Keygen => keygen(),
        CacheAction::Audit(audit_args) => super::cache_audit::run(&config, audit_args),
        CacheAction::Verify => {
            let (checked, bad) = cache.verify(true, crate::engine::warm::is_record);
            for (path, reason) in &bad {
                println!("removed {} ({reason})", path.display());
            }
            // What killed runs left: temp files of interrupted writes, scratch folders.
            let mut orphans = cache.remove_orphaned_temp_files(crate::cache::ORPHAN_AGE);
            orphans.extend(crate::fsutil::remove_stale_temps(
                &config.project.reports_dir,
                crate::cache::ORPHAN_AGE,
            ));
            let scratch = crate::scratch::sweep(&config.state_dir());
            for path in orphans.iter().chain(&scratch) {
                println!("removed {} (left by a run that was killed)", path.display());
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

/// `cache keygen`: a new key pair, in the forms xtask.toml and a CI secret take.
fn keygen() -> Result<u8> {
    let secret = remote_cache::signing::SecretKey::generate()
        .map_err(|reason| anyhow::anyhow!("cannot make a key pair: {reason}"))?;
    println!("# xtask.toml, [cache.remote]: commit this line; every reader checks entries with it");
    println!("public_key = \"{}\"", secret.public());
    println!(
        "# the secret that signing_key_env names, for the trusted writer only (the `{}` environment); never commit it",
        crate::workflows::CACHE_WRITER_ENVIRONMENT
    );
    println!("{}", secret.reveal());
    Ok(exit::OK)
}

/// The remote cache's hits, misses, bytes and errors over the last runs that used it.
fn print_remote_stats(config: &Config, cache: &Cache) {
    let log = std::fs::read_to_string(cache.dir().join("stats.jsonl")).unwrap_or_default();
    match (&config.cache_remote, remote_cache::summarize(&log, 20)) {
        (_, Some((runs, remote))) => {
            println!(
                "remote     {} hits, {} misses, {} refused, {} errors over the last {runs} runs",
                remote.hits, remote.misses, remote.rejected, remote.errors
            );
            println!(
                "remote io  {:.1} KiB down, {:.1} KiB up, {} entries sent",
                remote.bytes_down as f64 / 1024.0,
                remote.bytes_up as f64 / 1024.0,
                remote.stored
            );
        }
        (Some(settings), None) => println!("remote     {} (no runs recorded yet)", settings.url),
        (None, None) => println!("remote     none ([cache.remote] is not set)"),
    }
}

/// What audits found over the last runs, and the steps marked flaky now.
fn print_audit_stats(cache: &Cache) {
    use crate::engine::audit::marks;
    let (audits, tally) = marks::summarize(cache.dir(), 20);
    if audits == 0 {
        println!("audits     none yet (`cache audit`, or `[cache] audit_sample` in xtask.toml)");
    } else {
        println!(
            "audits     {} steps re-run fresh over the last {audits} audits: {} agreed, {} mismatched, {} flaky, {} not judged",
            tally.audited, tally.agreed, tally.mismatches, tally.flaky, tally.unjudged
        );
    }
    let flaky = marks::Marks::load(cache.dir());
    if flaky.len() > 0 {
        let names: Vec<String> = flaky
            .iter()
            .map(|mark| format!("{} {} (since {})", mark.component, mark.step, mark.at))
            .collect();
        println!(
            "flaky      {} run fresh until their inputs change: {}",
            names.len(),
            names.join(", ")
        );
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
