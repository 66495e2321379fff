//! `cargo xtask cache stats|clean|verify`.

use anyhow::Result;

use crate::cache::Cache;
use crate::cli::{CacheAction, CacheArgs, GlobalArgs};
use crate::errors::exit;

pub fn run(global: &GlobalArgs, args: &CacheArgs) -> Result<u8> {
    let config = super::load_config(global)?;
    let cache = Cache::open(&config.cache_dir(), config.cache_max_bytes);
    match args.action {
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
