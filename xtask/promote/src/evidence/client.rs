//! A blocking client of Prometheus's HTTP API (ureq): one deadline per request (also handed to
//! Prometheus as the query's own `timeout`), bodies read only up to a cap, an optional bearer
//! token, and a breaker that stops all requests after the first failure, so a dead or slow
//! server costs one deadline per run and gives one warning, never one per gate.

use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

use super::api::{self, AlertRule, QueryResult, Target};

/// Largest answer read: a 7-day range at one point per hour is a few kilobytes per series.
pub const MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;

pub struct Prometheus {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
    timeout: Duration,
    /// The first failure; once set, no request is sent.
    broken: Mutex<Option<String>>,
    /// Whether the run's one warning was handed out.
    warned: Mutex<bool>,
}

/// Checks a Prometheus base URL and returns it without a trailing slash.
pub fn base_url(text: &str) -> Result<String, String> {
    crate::remote_cache::protocol::base_url(text)
}

/// Percent-encodes a query parameter (RFC 3986 unreserved characters stay).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl Prometheus {
    pub fn new(base: &str, token: Option<String>, timeout: Duration) -> Prometheus {
        Prometheus {
            // Prometheus explains a bad query in a JSON body beside its 400 or 422.
            agent: crate::http::agent(timeout),
            base: base.trim_end_matches('/').to_owned(),
            token,
            timeout,
            broken: Mutex::new(None),
            warned: Mutex::new(false),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The first failure of the run, once: the caller prints it as the run's one warning.
    pub fn take_warning(&self) -> Option<String> {
        let broken = self.broken.lock().unwrap_or_else(|e| e.into_inner());
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        match &*broken {
            Some(first) if !*warned => {
                *warned = true;
                Some(first.clone())
            }
            _ => None,
        }
    }

    fn fail(&self, message: String) -> String {
        let mut broken = self.broken.lock().unwrap_or_else(|e| e.into_inner());
        if broken.is_none() {
            *broken = Some(message.clone());
        }
        message
    }

    /// The body of `GET {base}{path}`, or why there is none.
    fn get(&self, path: &str) -> Result<Vec<u8>, String> {
        if let Some(first) = &*self.broken.lock().unwrap_or_else(|e| e.into_inner()) {
            return Err(format!(
                "not asked: Prometheus failed earlier in this run ({first})"
            ));
        }
        let url = format!("{}{path}", self.base);
        let mut request = ureq::http::Request::builder().method("GET").uri(&url);
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(ureq::SendBody::none())
            .map_err(|e| self.fail(format!("{} is not a request: {e}", self.base)))?;
        let mut response = self.agent.run(request).map_err(|e| {
            self.fail(format!(
                "Prometheus at {} gave no answer within {:.1}s: {e}",
                self.base,
                self.timeout.as_secs_f64()
            ))
        })?;
        let status = response.status().as_u16();
        let mut bytes = Vec::new();
        let read = response
            .body_mut()
            .with_config()
            .reader()
            .take(MAX_BODY_BYTES + 1)
            .read_to_end(&mut bytes);
        if let Err(error) = read {
            return Err(self.fail(format!(
                "Prometheus at {} stopped answering: {error}",
                self.base
            )));
        }
        if bytes.len() as u64 > MAX_BODY_BYTES {
            return Err(self.fail(format!(
                "Prometheus at {} answered more than {MAX_BODY_BYTES} bytes",
                self.base
            )));
        }
        if status != 200 {
            // A query error keeps its own message; anything else is named by its status.
            let reason = match api::parse_query(&bytes) {
                Err(message) if message.starts_with("Prometheus answered") => message,
                _ => "no Prometheus error in the body".to_owned(),
            };
            return Err(self.fail(format!(
                "Prometheus at {} answered HTTP {status}: {reason}",
                self.base
            )));
        }
        Ok(bytes)
    }

    fn timeout_param(&self) -> String {
        format!("{}ms", self.timeout.as_millis().max(1))
    }

    /// An instant query evaluated at `at` (seconds since the epoch).
    pub fn query(&self, expr: &str, at: i64) -> Result<QueryResult, String> {
        let body = self.get(&format!(
            "/api/v1/query?query={}&time={at}&timeout={}",
            encode(expr),
            self.timeout_param()
        ))?;
        api::parse_query(&body).map_err(|e| self.fail(format!("`{expr}`: {e}")))
    }

    /// A range query from `start` to `end` every `step` seconds.
    pub fn query_range(
        &self,
        expr: &str,
        start: i64,
        end: i64,
        step: u64,
    ) -> Result<QueryResult, String> {
        let body = self.get(&format!(
            "/api/v1/query_range?query={}&start={start}&end={end}&step={step}&timeout={}",
            encode(expr),
            self.timeout_param()
        ))?;
        api::parse_query(&body).map_err(|e| self.fail(format!("`{expr}`: {e}")))
    }

    pub fn targets(&self) -> Result<Vec<Target>, String> {
        let body = self.get("/api/v1/targets?state=active")?;
        api::parse_targets(&body).map_err(|e| self.fail(format!("/api/v1/targets: {e}")))
    }

    pub fn alert_rules(&self) -> Result<Vec<AlertRule>, String> {
        let body = self.get("/api/v1/rules?type=alert")?;
        api::parse_alert_rules(&body).map_err(|e| self.fail(format!("/api/v1/rules: {e}")))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_text_is_percent_encoded() {
        assert_eq!(
            super::encode(r#"avg_over_time(up{job="a b"}[7d])"#),
            "avg_over_time%28up%7Bjob%3D%22a%20b%22%7D%5B7d%5D%29"
        );
    }
}
