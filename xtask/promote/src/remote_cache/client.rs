//! A blocking HTTP client for the remote cache: explicit connect and read deadlines, a bearer
//! token, and a circuit breaker that stops all requests after the first failure, so a dead or
//! sick server costs one deadline per run, never one per step.

use std::sync::Mutex;
use std::time::Duration;

/// Largest body accepted from the server; entries are a few kilobytes.
const MAX_BODY: u64 = 64 * 1024 * 1024;

pub struct Client {
    agent: ureq::Agent,
    token: Option<String>,
    /// The first failure; once set, no request is sent.
    broken: Mutex<Option<String>>,
}

/// Why a request gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// This request failed first and opened the breaker; the caller reports it once.
    First(String),
    /// The breaker was already open (or another request failed at the same time).
    Skipped,
}

impl Client {
    pub fn new(timeout: Duration, token: Option<String>) -> Client {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(timeout))
            .timeout_global(Some(timeout))
            // Statuses are answers the cache protocol gives meaning to (404 is a miss).
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("xtask/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent: config.into(),
            token,
            broken: Mutex::new(None),
        }
    }

    fn is_broken(&self) -> bool {
        self.broken
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    fn fail(&self, message: String) -> Failure {
        let mut broken = self.broken.lock().unwrap_or_else(|e| e.into_inner());
        if broken.is_some() {
            return Failure::Skipped;
        }
        *broken = Some(message.clone());
        Failure::First(message)
    }

    /// One request, unless the breaker is open; a transport error opens it.
    fn send(
        &self,
        method: &str,
        url: &str,
        body: ureq::SendBody<'_>,
    ) -> Result<ureq::http::Response<ureq::Body>, Failure> {
        if self.is_broken() {
            return Err(Failure::Skipped);
        }
        let mut request = ureq::http::Request::builder().method(method).uri(url);
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(body)
            .map_err(|error| self.fail(format!("{method} {url} is not a request: {error}")))?;
        self.agent
            .run(request)
            .map_err(|error| self.fail(format!("{method} {url} failed: {error}")))
    }

    /// The body at `url`, or `None` when the server does not have it (404).
    pub fn get(&self, url: &str) -> Result<Option<Vec<u8>>, Failure> {
        let mut response = self.send("GET", url, ureq::SendBody::none())?;
        match response.status().as_u16() {
            200 => response
                .body_mut()
                .with_config()
                .limit(MAX_BODY)
                .read_to_vec()
                .map(Some)
                .map_err(|error| self.fail(format!("GET {url} failed: {error}"))),
            404 => Ok(None),
            status => Err(self.fail(format!("GET {url} answered HTTP {status}"))),
        }
    }

    /// Whether the server has `url` (HEAD).
    pub fn has(&self, url: &str) -> Result<bool, Failure> {
        match self
            .send("HEAD", url, ureq::SendBody::none())?
            .status()
            .as_u16()
        {
            200 => Ok(true),
            404 => Ok(false),
            status => Err(self.fail(format!("HEAD {url} answered HTTP {status}"))),
        }
    }

    pub fn put(&self, url: &str, mut body: &[u8]) -> Result<(), Failure> {
        let body = ureq::SendBody::from_reader(&mut body);
        match self.send("PUT", url, body)?.status().as_u16() {
            200..=299 => Ok(()),
            // bazel-remote refuses action-cache entries that are not Bazel ActionResults.
            400 if url.contains("/ac/") => Err(self.fail(format!(
                "PUT {url} answered HTTP 400 (bazel-remote needs --disable_http_ac_validation)"
            ))),
            status => Err(self.fail(format!("PUT {url} answered HTTP {status}"))),
        }
    }
}
