//! `cargo xtask cache audit [COMPONENT...] [--sample PERCENT | --all]`: re-runs steps the cache
//! answers, fresh and without reading the cache, and compares verdicts and figures. Exit 0
//! when every audited answer was the fresh one; 1 when one was not (a wrong entry, evicted,
//! or a flaky step, evicted and marked), as a check that finds a stale file does; 3 when a
//! fresh run could not give a verdict (a tool missing, crashed or timed out), which outranks 1
//! as it does for `promote`.

use anyhow::Result;

use crate::cache::Cache;
use crate::cli::CacheAuditArgs;
use crate::config::{Component, Config};
use crate::engine::audit::{self, Judgement, marks};
use crate::engine::{RunContext, StepId, explain};
use crate::errors::exit;
use crate::progress;
use crate::toolchain::Toolchain;
use crate::ui;

pub fn run(config: &Config, args: &CacheAuditArgs) -> Result<u8> {
    let components: Vec<&Component> = if args.components.is_empty() {
        config.components.iter().collect()
    } else {
        args.components
            .iter()
            .map(|name| config.require_component(name))
            .collect::<Result<_>>()?
    };
    let requests: Vec<StepId> = components
        .iter()
        .flat_map(|c| explain::STEPS.iter().map(|kind| (c.name.clone(), *kind)))
        .collect();
    let percent = args.sample.unwrap_or(100.0);
    let toolchain = Toolchain::load(config)?;
    // The local cache only: what a run here would be answered with.
    let cache = Cache::open(&config.cache_dir(), config.cache_max_bytes);
    let listener = progress::listener();
    let audited = {
        let ctx = RunContext::new(
            config,
            &toolchain,
            Some(&cache),
            listener.as_ref(),
            super::jobs(args.jobs),
            false,
        );
        let hits = audit::hits(&ctx, &requests);
        let answered = hits.len();
        let chosen = audit::sample(hits, percent, |hit| format!("{} {}", hit.id.0, hit.id.1));
        if chosen.is_empty() {
            drop(ctx);
            drop(listener);
            println!(
                "nothing to audit: the cache answers {answered} of the {} steps asked{}",
                requests.len(),
                if answered > 0 {
                    " and the sample took none"
                } else {
                    ""
                }
            );
            return Ok(exit::OK);
        }
        ui::status(
            "Auditing",
            format!(
                "{} of the {answered} steps the cache answers{}, running them fresh",
                chosen.len(),
                if percent >= 100.0 {
                    String::new()
                } else {
                    format!(" (a random {percent}%)")
                }
            ),
        );
        audit::audit(&ctx, chosen)
    };
    drop(listener);
    Ok(report(&cache, &audited))
}

/// Prints one line per audited step, the problems in full, and a summary; returns the exit
/// code.
fn report(cache: &Cache, audited: &[audit::Audited]) -> u8 {
    let verbose = ui::verbosity() >= ui::Verbosity::Verbose;
    for done in audited {
        let label = match done.judgement {
            Judgement::Agreed => "agreed",
            Judgement::Mismatch(_) => "MISMATCH",
            Judgement::Flaky(_) => "FLAKY",
            Judgement::NoVerdict(_) => "no verdict",
            Judgement::InputsChanged => "not judged",
        };
        println!("  {label:<10} {} {}", done.hit.id.0, done.hit.id.1);
    }
    for done in audited {
        match audit::describe(done, verbose) {
            Some((true, message)) => ui::error(message),
            Some((false, message)) => ui::warn(message),
            None => {}
        }
    }
    let tally = audit::tally(audited);
    marks::log(cache.dir(), &tally, false);
    println!(
        "{} audited: {} agreed, {} {} (evicted), {} flaky (evicted and marked), {} not judged",
        tally.audited,
        tally.agreed,
        tally.mismatches,
        if tally.mismatches == 1 {
            "mismatch"
        } else {
            "mismatches"
        },
        tally.flaky,
        tally.unjudged
    );
    let no_verdict = audited
        .iter()
        .any(|done| matches!(done.judgement, Judgement::NoVerdict(_)));
    if no_verdict {
        exit::INFRASTRUCTURE
    } else if tally.mismatches + tally.flaky > 0 {
        exit::GATE_FAILED
    } else {
        exit::OK
    }
}
