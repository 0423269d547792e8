//! What an HTTP client reads from the environment: proxies, trust roots, timeouts.
//!
//! Shared by every driver that owns an HTTP client (cm-ureq, cm-smol), so both pick the
//! same proxy for a host and trust the same certificates.

use std::path::PathBuf;
use std::time::Duration;

/// The CA bundles tried, in order, when `SSL_CERT_FILE` is not set (Debian/Ubuntu/Arch,
/// Fedora/RHEL, openSUSE, Alpine/macOS/BSD).
pub const SYSTEM_BUNDLES: [&str; 5] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
];

/// Where the certificates that authenticate servers come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustRoots {
    /// The first of these PEM files that holds any certificate; the bundled Mozilla roots
    /// when none does. The system bundle includes the Mozilla roots on every mainstream
    /// system, plus whatever CAs the administrator added.
    Files(Vec<PathBuf>),
    /// Only the bundled Mozilla roots (webpki-roots).
    WebPki,
}

/// How a driver's HTTP client connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// How long to wait for a TCP (and TLS) connection. There is no overall timeout: the
    /// agent's idle deadline decides when a silent stream is dead.
    pub connect_timeout: Duration,
    /// The proxy for `https://` URLs.
    pub https_proxy: Option<String>,
    /// The proxy for `http://` URLs.
    pub http_proxy: Option<String>,
    /// Hosts reached directly: comma-separated names, `.suffix` or `*.suffix` domains,
    /// or `*` for all (curl's `NO_PROXY`).
    pub no_proxy: Option<String>,
    /// The server certificates trusted.
    pub roots: TrustRoots,
    /// The `User-Agent` sent unless the request has one.
    pub user_agent: String,
}

impl Default for ClientOptions {
    /// No proxy, the system's roots, a 30 s connect timeout.
    fn default() -> ClientOptions {
        ClientOptions {
            connect_timeout: Duration::from_secs(30),
            https_proxy: None,
            http_proxy: None,
            no_proxy: None,
            roots: TrustRoots::Files(SYSTEM_BUNDLES.iter().map(PathBuf::from).collect()),
            user_agent: concat!("cm/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

impl TrustRoots {
    /// The certificates of the first file that holds any, each file's bytes parsed by
    /// `parse`; `None` means "use the bundled Mozilla roots" (for [`TrustRoots::WebPki`],
    /// or when no file exists or holds a certificate).
    pub fn load<C>(&self, parse: impl Fn(&[u8]) -> Vec<C>) -> Option<Vec<C>> {
        let TrustRoots::Files(files) = self else {
            return None;
        };
        files
            .iter()
            .filter_map(|file| std::fs::read(file).ok())
            .map(|pem| parse(&pem))
            .find(|certs| !certs.is_empty())
    }
}

impl ClientOptions {
    /// The options the process environment asks for.
    pub fn from_env() -> ClientOptions {
        ClientOptions::from_lookup(|name| std::env::var(name).ok())
    }

    /// The options an environment asks for, read through `lookup` (empty values count
    /// as unset): `HTTPS_PROXY`/`https_proxy` then `ALL_PROXY`/`all_proxy` for https,
    /// `http_proxy`/`HTTP_PROXY` then `ALL_PROXY`/`all_proxy` for http,
    /// `NO_PROXY`/`no_proxy`, and `SSL_CERT_FILE`, which replaces the system bundles.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> ClientOptions {
        let first = |names: &[&str]| {
            names
                .iter()
                .filter_map(|name| lookup(name))
                .find(|value| !value.trim().is_empty())
        };
        let mut options = ClientOptions {
            https_proxy: first(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]),
            http_proxy: first(&["http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"]),
            no_proxy: first(&["NO_PROXY", "no_proxy"]),
            ..ClientOptions::default()
        };
        if let Some(file) = first(&["SSL_CERT_FILE"]) {
            options.roots = TrustRoots::Files(vec![PathBuf::from(file)]);
        }
        options
    }

    /// The proxy for a URL with this scheme and host, if any.
    pub fn proxy_for(&self, https: bool, host: &str) -> Option<&str> {
        let proxy = if https {
            self.https_proxy.as_deref()
        } else {
            self.http_proxy.as_deref()
        }?;
        match &self.no_proxy {
            Some(list) if bypasses(list, host) => None,
            _ => Some(proxy),
        }
    }
}

/// Whether `host` matches an entry of a `NO_PROXY` list.
fn bypasses(list: &str, host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    list.split(',').map(str::trim).any(|entry| {
        if entry == "*" {
            return true;
        }
        let entry = strip_port(entry).trim_end_matches('.').to_ascii_lowercase();
        let domain = entry.trim_start_matches('*').trim_start_matches('.');
        if domain.is_empty() {
            return false;
        }
        host == domain
            || host
                .strip_suffix(domain)
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

/// `host:port` → `host`; IPv6 literals (`[::1]:80`, `::1`) keep their colons.
fn strip_port(entry: &str) -> &str {
    if let Some(rest) = entry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match entry.split_once(':') {
        Some((host, port)) if !port.contains(':') => host,
        _ => entry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn each_scheme_gets_its_own_proxy_and_all_proxy_fills_the_gaps() {
        let options = ClientOptions::from_lookup(env(&[
            ("HTTPS_PROXY", "http://secure:3128"),
            ("ALL_PROXY", "http://all:8080"),
        ]));
        assert_eq!(
            options.proxy_for(true, "api.anthropic.com"),
            Some("http://secure:3128")
        );
        assert_eq!(
            options.proxy_for(false, "example.com"),
            Some("http://all:8080")
        );

        let lower =
            ClientOptions::from_lookup(env(&[("https_proxy", "http://p:1"), ("HTTP_PROXY", "")]));
        assert_eq!(lower.proxy_for(true, "x"), Some("http://p:1"));
        assert_eq!(lower.proxy_for(false, "x"), None, "an empty value is unset");
    }

    #[test]
    fn no_proxy_matches_names_domains_ports_and_star() {
        let options = ClientOptions::from_lookup(env(&[
            ("HTTPS_PROXY", "http://proxy:3128"),
            (
                "NO_PROXY",
                "localhost, .internal.example, *.corp, 10.0.0.1:443, [::1]",
            ),
        ]));
        for direct in [
            "localhost",
            "a.internal.example",
            "internal.example",
            "x.y.corp",
            "10.0.0.1",
            "[::1]",
        ] {
            assert_eq!(options.proxy_for(true, direct), None, "{direct}");
        }
        for proxied in [
            "api.openai.com",
            "notinternal.example",
            "corp.com",
            "10.0.0.2",
        ] {
            assert_eq!(
                options.proxy_for(true, proxied),
                Some("http://proxy:3128"),
                "{proxied}"
            );
        }
        let all =
            ClientOptions::from_lookup(env(&[("HTTPS_PROXY", "http://p:1"), ("no_proxy", "*")]));
        assert_eq!(all.proxy_for(true, "anything"), None);
    }

    #[test]
    fn ssl_cert_file_replaces_the_system_bundles() {
        let options = ClientOptions::from_lookup(env(&[("SSL_CERT_FILE", "/tmp/corp.pem")]));
        assert_eq!(
            options.roots,
            TrustRoots::Files(vec![PathBuf::from("/tmp/corp.pem")])
        );
        let plain = ClientOptions::from_lookup(env(&[]));
        assert_eq!(plain.roots, ClientOptions::default().roots);
        assert_eq!(plain.https_proxy, None);
    }

    #[test]
    fn roots_come_from_the_first_file_that_holds_a_certificate() {
        let dir = std::env::temp_dir().join(format!("cm-driver-roots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (empty, full) = (dir.join("empty.pem"), dir.join("full.pem"));
        std::fs::write(&empty, "no certificates here").unwrap();
        std::fs::write(&full, "CERT a\nCERT b\n").unwrap();
        let certs = |pem: &[u8]| -> Vec<String> {
            String::from_utf8_lossy(pem)
                .lines()
                .filter_map(|line| line.strip_prefix("CERT ").map(str::to_string))
                .collect()
        };
        let files = TrustRoots::Files(vec![dir.join("missing.pem"), empty, full]);
        assert_eq!(
            files.load(certs),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(
            TrustRoots::Files(vec![dir.join("missing.pem")]).load(certs),
            None
        );
        assert_eq!(TrustRoots::WebPki.load(certs), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
