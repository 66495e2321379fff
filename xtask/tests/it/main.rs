//! The one integration-test binary: real tools on temp copies of `examples/tta`, fake tools on
//! PATH only for faults the real ones cannot produce on demand.

mod support;

mod affected;
mod cache;
mod deploy;
mod digest_memo;
mod faults;
mod github;
mod init;
mod maturity;
mod promote;
mod requests;
mod setup;
mod status;
mod workflows;
