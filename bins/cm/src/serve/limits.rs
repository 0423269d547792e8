//! The bounds that keep one client from exhausting the server: sizes, counts and times.
//!
//! The times can be shortened through the environment (`CM_SERVE_CLIENT_TIMEOUT_MS`,
//! `CM_SERVE_HEARTBEAT_MS`), which the tests use; `CM_SERVE_MAX_CONNECTIONS` sets the
//! connection limit.

use std::time::Duration;

use cm_proto::http;

/// The limits of one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Largest request body; a larger `Content-Length` is answered 413 before it is read.
    pub max_body_bytes: u64,
    /// Largest request head (request line and headers); larger is answered 431.
    pub max_head_bytes: usize,
    /// Most header lines in a request.
    pub max_headers: usize,
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// How long a client may take to send a whole request (head and body), and how long
    /// an idle keep-alive connection stays open.
    pub client_timeout: Duration,
    /// How long one write to a client may block before it is given up (slow readers).
    pub write_timeout: Duration,
    /// After an error response, at most this many bytes are read and dropped before the
    /// connection closes (so the client sees the response instead of a reset) ...
    pub drain_bytes: usize,
    /// ... for at most this long.
    pub drain_time: Duration,
    /// The interval of SSE heartbeat comments.
    pub heartbeat: Duration,
    /// Events kept for `Last-Event-ID` resumption.
    pub replay_events: usize,
    /// Bytes of event data kept for resumption.
    pub replay_bytes: usize,
    /// Events queued for one subscriber before it counts as too slow and is dropped.
    pub subscriber_queue: usize,
}

impl Default for ServeLimits {
    fn default() -> ServeLimits {
        ServeLimits {
            max_body_bytes: 10 * 1024 * 1024,
            max_head_bytes: 32 * 1024,
            max_headers: 100,
            max_connections: 512,
            client_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            drain_bytes: 256 * 1024,
            drain_time: Duration::from_secs(2),
            heartbeat: Duration::from_secs(15),
            replay_events: 4096,
            replay_bytes: 8 * 1024 * 1024,
            subscriber_queue: 4096,
        }
    }
}

impl ServeLimits {
    /// The defaults, with the overrides `lookup` (an environment) gives; values that do
    /// not parse as a positive number are ignored.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> ServeLimits {
        let number = |name: &str| {
            lookup(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|&n| n > 0)
        };
        let mut limits = ServeLimits::default();
        if let Some(ms) = number("CM_SERVE_CLIENT_TIMEOUT_MS") {
            limits.client_timeout = Duration::from_millis(ms);
            limits.write_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = number("CM_SERVE_HEARTBEAT_MS") {
            limits.heartbeat = Duration::from_millis(ms);
        }
        if let Some(n) = number("CM_SERVE_MAX_CONNECTIONS") {
            limits.max_connections = usize::try_from(n).unwrap_or(usize::MAX);
        }
        limits
    }

    /// The codec's limits for request decoding.
    pub fn codec(&self) -> http::Limits {
        http::Limits {
            max_head_bytes: self.max_head_bytes,
            max_headers: self.max_headers,
            max_body_bytes: Some(self.max_body_bytes),
            ..http::Limits::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_shortens_the_times_and_junk_is_ignored() {
        let limits = ServeLimits::from_env(|name| match name {
            "CM_SERVE_CLIENT_TIMEOUT_MS" => Some("300".into()),
            "CM_SERVE_HEARTBEAT_MS" => Some("soon".into()),
            "CM_SERVE_MAX_CONNECTIONS" => Some("0".into()),
            _ => None,
        });
        assert_eq!(limits.client_timeout, Duration::from_millis(300));
        assert_eq!(limits.heartbeat, Duration::from_secs(15));
        assert_eq!(limits.max_connections, 512);
        assert_eq!(limits.codec().max_body_bytes, Some(10 * 1024 * 1024));
    }
}
