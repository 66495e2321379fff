//! The one way we build an HTTP agent (the remote cache, Prometheus): a deadline on connecting
//! and on the whole request, statuses handed back as answers rather than errors (each protocol
//! gives them meaning), no redirects (a server may not send us elsewhere), our user agent.

use std::time::Duration;

/// An agent whose every request ends within `timeout`.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(timeout))
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("xtask/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}
