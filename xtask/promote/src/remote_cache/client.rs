//! A blocking HTTP client for the remote cache: explicit connect and read deadlines, a token,
//! bodies read only up to the size the caller expects, and a circuit breaker that stops all
//! requests after the first failure, so a dead or sick server costs one deadline per run, never
//! one per step.

use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

pub struct Client {
    agent: ureq::Agent,
    token: Option<String>,
    /// The first failure; once set, no request is sent.
    broken: Mutex<Option<String>>,
}

/// What a GET found.
#[derive(Debug, PartialEq, Eq)]
pub enum Got {
    Body(Vec<u8>),
    /// 404: the server does not have it.
    Missing,
    /// The body is longer than the caller allows (announced or read): none of it is kept.
    TooLarge,
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
        Client {
            // Statuses are answers the cache protocol gives meaning to (404 is a miss).
            agent: crate::http::agent(timeout),
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
            request = request.header("Authorization", authorization(token));
        }
        let request = request
            .body(body)
            .map_err(|error| self.fail(format!("{method} {url} is not a request: {error}")))?;
        self.agent
            .run(request)
            .map_err(|error| self.fail(format!("{method} {url} failed: {error}")))
    }

    /// The body at `url`, of at most `limit` bytes, read into one allocation of at most
    /// `limit` bytes: a server cannot make us hold more than the caller expects.
    pub fn get(&self, url: &str, limit: u64) -> Result<Got, Failure> {
        let mut response = self.send("GET", url, ureq::SendBody::none())?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(Got::Missing),
            status => return Err(self.fail(format!("GET {url} answered HTTP {status}"))),
        }
        let body = response.body_mut();
        if body.content_length().is_some_and(|length| length > limit) {
            return Ok(Got::TooLarge);
        }
        // Room for the expected bytes and the one that would be too many: the buffer never
        // grows (and so never doubles) while it is read.
        let expected = body
            .content_length()
            .map_or(limit, |length| length.min(limit));
        let mut bytes =
            Vec::with_capacity(usize::try_from(expected.saturating_add(1)).unwrap_or(0));
        // One byte past the limit tells a body that is too long from one that fits exactly.
        let read = body
            .with_config()
            .reader()
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes);
        match read {
            Ok(_) if bytes.len() as u64 > limit => Ok(Got::TooLarge),
            Ok(_) => Ok(Got::Body(bytes)),
            Err(error) => Err(self.fail(format!("GET {url} failed: {error}"))),
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

/// The `Authorization` value for a token: sent as it is when it names its scheme (`Basic …`,
/// as bazel-remote's htpasswd needs), else as a bearer token.
fn authorization(token: &str) -> String {
    if token.starts_with("Basic ") || token.starts_with("Bearer ") {
        token.to_owned()
    } else {
        format!("Bearer {token}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_bearer_tokens_unless_they_name_their_scheme() {
        assert_eq!(super::authorization("abc"), "Bearer abc");
        assert_eq!(super::authorization("Basic dTpw"), "Basic dTpw");
        assert_eq!(super::authorization("Bearer abc"), "Bearer abc");
    }
}
