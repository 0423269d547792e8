//! Who may talk to the server: the `Host` header (against DNS rebinding), the `Origin`
//! header (against other web pages) and the bearer token (against everyone else).
//!
//! The checks run on the request head, before any body byte is read. A request passes
//! when its Host names a loopback address with the server's port (or a name from
//! `server.hosts`), its Origin, if any, is one of `server.cors` exactly, and — on every
//! endpoint but `/health` — it carries `Authorization: Bearer <token>`, compared in
//! constant time.

use std::fmt;

use cm_proto::http::RequestHead;

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The Host header names another server (403).
    ForeignHost(String),
    /// The Origin header is not in `server.cors` (403).
    ForeignOrigin(String),
    /// No bearer token was sent (401).
    MissingToken,
    /// The bearer token is wrong (401).
    WrongToken,
}

impl Refusal {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::ForeignHost(_) | Refusal::ForeignOrigin(_) => 403,
            Refusal::MissingToken | Refusal::WrongToken => 401,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::ForeignHost(host) => write!(
                f,
                "host `{host}` is not this server; use 127.0.0.1, localhost or [::1] with its \
                 port, or add the name to \"server.hosts\" in the config"
            ),
            Refusal::ForeignOrigin(origin) => write!(
                f,
                "origin `{origin}` may not call this server; add it to \"server.cors\" in the \
                 config"
            ),
            Refusal::MissingToken => f.write_str(
                "send the token as `Authorization: Bearer TOKEN` (it is in the server's token \
                 file, $XDG_DATA_HOME/cm/serve/PORT.json)",
            ),
            Refusal::WrongToken => f.write_str("the bearer token is wrong"),
        }
    }
}

/// The rules of one server.
#[derive(Clone)]
pub struct Guard {
    token: String,
    port: u16,
    hosts: Vec<String>,
    cors: Vec<String>,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("port", &self.port)
            .field("hosts", &self.hosts)
            .field("cors", &self.cors)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// Rules for a server on `port` with `token`; `hosts` are extra host names (any
    /// port), `cors` the allowed origins (lowercase).
    pub fn new(token: String, port: u16, hosts: Vec<String>, cors: Vec<String>) -> Guard {
        Guard {
            token,
            port,
            hosts: hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect(),
            cors,
        }
    }

    /// Checks Host and Origin; the token too unless `public` (for `/health`).
    pub fn check(&self, head: &RequestHead, public: bool) -> Result<(), Refusal> {
        self.check_host(head.headers.get("host"))?;
        self.check_origin(head)?;
        if public {
            return Ok(());
        }
        self.check_token(head.headers.get("authorization"))
    }

    /// The `Access-Control-Allow-Origin` value for this request, if it has an allowed
    /// Origin (call after [`check`](Self::check)).
    pub fn allowed_origin<'a>(&self, head: &'a RequestHead) -> Option<&'a str> {
        head.headers
            .get("origin")
            .filter(|o| self.cors.iter().any(|c| c == &o.to_ascii_lowercase()))
    }

    fn check_host(&self, host: Option<&str>) -> Result<(), Refusal> {
        // HTTP/1.0 requests may omit Host; they cannot be a browser's rebinding attack.
        let Some(host) = host else { return Ok(()) };
        let lower = host.trim().to_ascii_lowercase();
        let (name, port) = split_host(&lower);
        let loopback = matches!(name, "127.0.0.1" | "localhost" | "[::1]");
        let ours = port.is_some_and(|p| p == self.port.to_string());
        if (loopback && ours) || self.hosts.iter().any(|h| h == name) {
            Ok(())
        } else {
            Err(Refusal::ForeignHost(host.to_string()))
        }
    }

    fn check_origin(&self, head: &RequestHead) -> Result<(), Refusal> {
        match head.headers.get("origin") {
            None => Ok(()),
            Some(origin) if self.cors.iter().any(|c| c == &origin.to_ascii_lowercase()) => Ok(()),
            Some(origin) => Err(Refusal::ForeignOrigin(origin.to_string())),
        }
    }

    fn check_token(&self, authorization: Option<&str>) -> Result<(), Refusal> {
        let Some(value) = authorization else {
            return Err(Refusal::MissingToken);
        };
        let Some((scheme, token)) = value.trim().split_once(' ') else {
            return Err(Refusal::MissingToken);
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Refusal::MissingToken);
        }
        if constant_time_eq(token.trim().as_bytes(), self.token.as_bytes()) {
            Ok(())
        } else {
            Err(Refusal::WrongToken)
        }
    }
}

/// `name` and `port` of a Host value; the port is `None` when absent.
fn split_host(host: &str) -> (&str, Option<&str>) {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => {
                let port = host[end + 1..].strip_prefix(':');
                (&host[..=end], port)
            }
            None => (host, None),
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    }
}

/// Whether `a == b`, taking the same time for every `a` of a given length.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut difference = u8::from(a.len() != b.len());
    for (i, &expected) in b.iter().enumerate() {
        difference |= a.get(i).copied().unwrap_or(!expected) ^ expected;
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use cm_proto::http::{Headers, Method, Version};

    fn head(headers: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: Method::Get,
            target: "/sessions".into(),
            version: Version::Http11,
            headers: headers.iter().copied().collect::<Headers>(),
        }
    }

    fn guard() -> Guard {
        Guard::new(
            "s3cret".into(),
            4096,
            vec!["CM.internal".into()],
            vec!["http://localhost:5173".into()],
        )
    }

    #[test]
    fn loopback_hosts_with_our_port_and_configured_names_pass() {
        let guard = guard();
        for host in [
            "127.0.0.1:4096",
            "localhost:4096",
            "LOCALHOST:4096",
            "[::1]:4096",
            "cm.internal",
            "cm.internal:443",
        ] {
            assert_eq!(
                guard.check(&head(&[("Host", host)]), true),
                Ok(()),
                "{host}"
            );
        }
        for host in [
            "evil.example:4096",
            "127.0.0.1:80",
            "localhost",
            "[::1]",
            "127.0.0.1.evil.example:4096",
        ] {
            assert_eq!(
                guard.check(&head(&[("Host", host)]), true),
                Err(Refusal::ForeignHost(host.into())),
                "{host}"
            );
        }
    }

    #[test]
    fn origins_must_be_listed_exactly() {
        let guard = guard();
        let with = |origin: &str| head(&[("Host", "localhost:4096"), ("Origin", origin)]);
        assert_eq!(guard.check(&with("http://localhost:5173"), true), Ok(()));
        assert_eq!(
            guard.allowed_origin(&with("http://localhost:5173")),
            Some("http://localhost:5173")
        );
        for origin in ["http://localhost:5174", "null", "https://localhost:5173"] {
            assert_eq!(
                guard.check(&with(origin), true),
                Err(Refusal::ForeignOrigin(origin.into()))
            );
        }
    }

    #[test]
    fn the_token_is_required_unless_public() {
        let guard = guard();
        let host = ("Host", "127.0.0.1:4096");
        assert_eq!(
            guard.check(&head(&[host]), false),
            Err(Refusal::MissingToken)
        );
        assert_eq!(
            guard.check(&head(&[host, ("Authorization", "Basic s3cret")]), false),
            Err(Refusal::MissingToken)
        );
        assert_eq!(
            guard.check(&head(&[host, ("Authorization", "Bearer s3cre")]), false),
            Err(Refusal::WrongToken)
        );
        assert_eq!(
            guard.check(&head(&[host, ("Authorization", "bearer s3cret")]), false),
            Ok(())
        );
        assert_eq!(guard.check(&head(&[host]), true), Ok(()));
    }

    #[test]
    fn constant_time_comparison_is_plain_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abd", b"abc"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"abcd", b"abc"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
