//! `cargo xtask bench`: run the benchmark and print (and optionally save) its Markdown tables.

use anyhow::Result;

use crate::bench::{self, Options};
use crate::cli::{BenchArgs, GlobalArgs};
use crate::errors::exit;
use crate::fsutil;

pub fn run(global: &GlobalArgs, args: &BenchArgs) -> Result<u8> {
    let config = super::load_config(global)?;
    let options = Options {
        runs: args.runs.max(1),
        warm_runs: args.warm_runs.max(1),
        example: !args.no_example,
        synthetic: if args.no_synthetic {
            Vec::new()
        } else {
            args.synthetic.clone()
        },
        binary: args.binary.clone(),
        remote: args.remote.clone(),
        keep: args.keep,
    };
    let tables = bench::run(&config, &options)?;
    print!("{tables}");
    if let Some(path) = &args.output {
        fsutil::write_atomic(path, tables.as_bytes())?;
    }
    Ok(exit::OK)
}
