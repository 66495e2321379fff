//! The one integration-test binary: real tools on temp copies of `examples/tta`, fake tools on
//! PATH only for faults the real ones cannot produce on demand.

mod support;

mod deploy;
mod faults;
mod promote;
