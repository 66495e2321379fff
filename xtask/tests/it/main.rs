//! The one integration-test binary: real tools on temp copies of `examples/tta`, fake tools on
//! PATH only for faults the real ones cannot produce on demand.

mod support;

mod faults;
mod init;
mod maturity;
mod promote;
mod status;
