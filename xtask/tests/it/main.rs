//! The one integration-test binary: real tools on temp copies of `examples/tta`, fake tools on
//! PATH only for faults the real ones cannot produce on demand.

// The house rules (clippy.toml) are for the program: tests start the binary, tools and
// fakes, and read their own environment, directly.
#![allow(clippy::disallowed_methods)]

mod support;

mod adoption;
mod affected;
mod audit;
mod cache;
mod deploy;
mod digest_memo;
mod faults;
mod fix_safety;
mod github;
mod hostile;
mod imports;
mod init;
mod maturity;
mod production;
mod promote;
mod ratchet;
mod records;
mod remote_cache;
mod requests;
mod safety;
mod secrets;
mod setup;
mod shaped;
mod shaped_fixture;
mod shared_code;
mod soundness;
mod status;
mod types;
mod workflows;
// The house rules, last: they read sources, not the example.
mod tidy;
