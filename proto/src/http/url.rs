//! Splitting an absolute `http://` or `https://` URL into what a request needs: where to
//! connect (scheme, host, port), what to put in `Host`, and the request target.
//!
//! Deliberately narrow: no userinfo, no relative references, no percent-decoding, and only
//! printable ASCII, so a URL can never smuggle a space or line break into the request line.

use std::fmt;

/// The two schemes a request can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http`, port 80 by default.
    Http,
    /// `https`, port 443 by default; the driver supplies TLS.
    Https,
}

impl Scheme {
    /// The port used when the URL names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// Why a URL was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlError {
    /// The URL does not start with `http://` or `https://` (any case).
    UnsupportedScheme,
    /// The URL contains a space, a control character or non-ASCII.
    InvalidCharacter,
    /// `user:password@` before the host, which this codec does not send.
    UserinfoNotSupported,
    /// Nothing between `//` and the path.
    MissingHost,
    /// The host has characters outside a DNS name or a bracketed IPv6 literal.
    InvalidHost,
    /// The port is not a number from 1 to 65535.
    InvalidPort,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::UnsupportedScheme => "scheme is not http or https",
            UrlError::InvalidCharacter => "contains a space, control or non-ascii character",
            UrlError::UserinfoNotSupported => "userinfo is not supported",
            UrlError::MissingHost => "missing host",
            UrlError::InvalidHost => "invalid host",
            UrlError::InvalidPort => "invalid port",
        })
    }
}

impl std::error::Error for UrlError {}

/// An absolute URL split into its parts; the fragment is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    scheme: Scheme,
    host: String,
    ipv6: bool,
    port: u16,
    target: String,
}

impl Url {
    /// Parses `http://host[:port][/path][?query][#fragment]` (or `https://`).
    pub fn parse(input: &str) -> Result<Url, UrlError> {
        let (scheme_text, rest) = input.split_once("://").ok_or(UrlError::UnsupportedScheme)?;
        let scheme = if scheme_text.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme_text.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else {
            return Err(UrlError::UnsupportedScheme);
        };
        if !rest.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(UrlError::InvalidCharacter);
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(UrlError::UserinfoNotSupported);
        }
        let (host, ipv6, port_text) = split_authority(authority)?;
        let port = match port_text {
            None | Some("") => scheme.default_port(),
            Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => {
                match digits.parse::<u16>() {
                    Ok(0) | Err(_) => return Err(UrlError::InvalidPort),
                    Ok(port) => port,
                }
            }
            Some(_) => return Err(UrlError::InvalidPort),
        };
        let path = path.split('#').next().unwrap_or_default();
        let target = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        Ok(Url {
            scheme,
            host: host.to_string(),
            ipv6,
            port,
            target,
        })
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host to connect to and to name in TLS: a DNS name, an IPv4 address, or an IPv6
    /// address without its brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, the scheme's default when the URL names none.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The request target: path and query, `/` when the URL has no path.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The `Host` header value: the host (IPv6 in brackets), with `:port` only when the port
    /// is not the scheme's default.
    pub fn authority(&self) -> String {
        let host = if self.ipv6 {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Splits `host[:port]` or `[v6][:port]` into host, whether it is IPv6, and the port text.
fn split_authority(authority: &str) -> Result<(&str, bool, Option<&str>), UrlError> {
    if authority.is_empty() {
        return Err(UrlError::MissingHost);
    }
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or(UrlError::InvalidHost)?;
        let valid = host.contains(':')
            && host
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !valid {
            return Err(UrlError::InvalidHost);
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(UrlError::InvalidHost)?),
        };
        return Ok((host, true, port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    let valid = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !valid {
        return Err(UrlError::InvalidHost);
    }
    Ok((host, false, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (Scheme, String, u16, String, String) {
        let u = Url::parse(url).unwrap();
        (
            u.scheme(),
            u.host().to_string(),
            u.port(),
            u.target().to_string(),
            u.authority(),
        )
    }

    #[test]
    fn splits_scheme_host_port_and_target() {
        assert_eq!(
            parts("https://api.anthropic.com/v1/messages?beta=true"),
            (
                Scheme::Https,
                "api.anthropic.com".into(),
                443,
                "/v1/messages?beta=true".into(),
                "api.anthropic.com".into()
            )
        );
        assert_eq!(
            parts("HTTP://localhost:8080"),
            (
                Scheme::Http,
                "localhost".into(),
                8080,
                "/".into(),
                "localhost:8080".into()
            )
        );
        assert_eq!(parts("http://h?q=1#frag").3, "/?q=1");
        assert_eq!(parts("http://h/a#frag").3, "/a");
        assert_eq!(parts("http://h:80/").4, "h");
        assert_eq!(parts("https://h:80/").4, "h:80");
        assert_eq!(parts("http://h:/x").2, 80);
    }

    #[test]
    fn ipv6_literals_keep_brackets_only_in_host_header() {
        assert_eq!(
            parts("http://[::1]:11434/api/chat"),
            (
                Scheme::Http,
                "::1".into(),
                11434,
                "/api/chat".into(),
                "[::1]:11434".into()
            )
        );
        assert_eq!(parts("https://[2001:db8::1]").4, "[2001:db8::1]");
    }

    #[test]
    fn rejects_what_it_cannot_send() {
        let cases = [
            ("ftp://h/", UrlError::UnsupportedScheme),
            ("/relative", UrlError::UnsupportedScheme),
            ("http:/h", UrlError::UnsupportedScheme),
            ("http://h/a b", UrlError::InvalidCharacter),
            ("http://h/\r\nX: y", UrlError::InvalidCharacter),
            ("http://h/é", UrlError::InvalidCharacter),
            ("http://u:p@h/", UrlError::UserinfoNotSupported),
            ("http:///path", UrlError::MissingHost),
            ("http://:80/", UrlError::MissingHost),
            ("http://", UrlError::MissingHost),
            ("http://h!/", UrlError::InvalidHost),
            ("http://[::1/", UrlError::InvalidHost),
            ("http://[zz]/", UrlError::InvalidHost),
            ("http://[::1]x/", UrlError::InvalidHost),
            ("http://h:0/", UrlError::InvalidPort),
            ("http://h:65536/", UrlError::InvalidPort),
            ("http://h:8a/", UrlError::InvalidPort),
            ("http://h:1:2/", UrlError::InvalidPort),
        ];
        for (url, want) in cases {
            assert_eq!(Url::parse(url), Err(want), "{url}");
        }
    }
}
