//! Opening a connection: TCP to the host or its proxy, a `CONNECT` tunnel through the
//! proxy, then TLS for `https`, all within the connect timeout.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use cm_proto::agent::TransportError;
use cm_proto::http::{Method, ResponseDecoder, Scheme, Url};
use futures_rustls::pki_types::ServerName;
use futures_rustls::rustls::ClientConfig;
use futures_rustls::TlsConnector;
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::net::TcpStream;
use smol::Timer;

/// A byte stream to a server: plain TCP or TLS over it.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Where a connection goes; connections are pooled by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    pub(crate) scheme: Scheme,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The proxy, when the connection is tunnelled through one.
    pub(crate) proxy: Option<Proxy>,
}

/// An HTTP proxy that tunnels with `CONNECT`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Proxy {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `Proxy-Authorization` value, from `user:password@` in the proxy URL.
    authorization: Option<String>,
}

impl std::fmt::Debug for Proxy {
    /// Never shows the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<hidden>"),
            )
            .finish()
    }
}

impl Origin {
    /// `host:port` as a `CONNECT` line and `Host` header write it.
    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The origin for `url`, through `proxy` (a URL such as `http://user:pw@proxy:3128`,
/// user and password percent-encoded) if given.
pub(crate) fn origin(url: &Url, proxy: Option<&str>) -> Result<Origin, TransportError> {
    Ok(Origin {
        scheme: url.scheme(),
        host: url.host().to_string(),
        port: url.port(),
        proxy: proxy.map(parse_proxy).transpose()?,
    })
}

fn parse_proxy(proxy: &str) -> Result<Proxy, TransportError> {
    // The URL itself may hold a password: errors name only what is wrong with it.
    let refused =
        |why: &str| TransportError::Protocol(format!("request not sent: proxy url {why}"));
    let (scheme, rest) = proxy
        .split_once("://")
        .ok_or_else(|| refused("has no scheme"))?;
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(refused("is not http:// (only http proxies are supported)"));
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let (userinfo, address) = match authority.rsplit_once('@') {
        Some((userinfo, address)) => (Some(userinfo), address),
        None => (None, authority),
    };
    let parsed =
        Url::parse(&format!("http://{address}{path}")).map_err(|e| refused(&e.to_string()))?;
    let authorization = match userinfo {
        None => None,
        Some(userinfo) => {
            let decoded = percent_decode(userinfo).ok_or_else(|| refused("has a bad %-escape"))?;
            Some(format!("Basic {}", cm_proto::base64::encode(&decoded)))
        }
    };
    Ok(Proxy {
        host: parsed.host().to_string(),
        port: parsed.port(),
        authorization,
    })
}

/// `%XX` escapes decoded; `None` for a malformed one.
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(byte);
            i += 1;
        }
    }
    Some(out)
}

/// Opens a connection to `origin` within `timeout`.
pub(crate) async fn open(
    origin: &Origin,
    tls: impl FnOnce() -> Result<Arc<ClientConfig>, TransportError>,
    timeout: Duration,
) -> Result<Box<dyn Io>, TransportError> {
    within(timeout, "connecting", async {
        let (host, port) = match &origin.proxy {
            Some(proxy) => (proxy.host.as_str(), proxy.port),
            None => (origin.host.as_str(), origin.port),
        };
        let mut tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| TransportError::Connect(format!("{host}:{port}: {e}")))?;
        // Nagle would hold back the small writes of a request head.
        let _ = tcp.set_nodelay(true);
        if let Some(proxy) = &origin.proxy {
            tunnel(&mut tcp, origin, proxy).await?;
        }
        if origin.scheme == Scheme::Http {
            return Ok(Box::new(tcp) as Box<dyn Io>);
        }
        let name = ServerName::try_from(origin.host.clone()).map_err(|e| {
            TransportError::Connect(format!("{}: not a tls server name: {e}", origin.host))
        })?;
        let stream = TlsConnector::from(tls()?)
            .connect(name, tcp)
            .await
            .map_err(|e| TransportError::Connect(format!("tls with {}: {e}", origin.host)))?;
        Ok(Box::new(stream) as Box<dyn Io>)
    })
    .await
}

/// Asks `proxy` on `tcp` for a tunnel to `origin`; fails unless it answers 2xx.
async fn tunnel(tcp: &mut TcpStream, origin: &Origin, proxy: &Proxy) -> Result<(), TransportError> {
    let authority = origin.authority();
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(authorization) = &proxy.authorization {
        request.push_str(&format!("Proxy-Authorization: {authorization}\r\n"));
    }
    request.push_str("\r\n");
    let failed = |e: io::Error| TransportError::Connect(format!("proxy: {e}"));
    tcp.write_all(request.as_bytes()).await.map_err(failed)?;
    let mut decoder = ResponseDecoder::new(Method::Other("CONNECT".into()));
    let mut received = Vec::new();
    let mut buffer = [0; 1024];
    loop {
        let n = tcp.read(&mut buffer).await.map_err(failed)?;
        if n == 0 {
            return Err(TransportError::Connect(
                "proxy closed the connection before answering CONNECT".into(),
            ));
        }
        received.extend_from_slice(&buffer[..n]);
        let head = decoder
            .decode_head(&received)
            .map_err(|e| TransportError::Connect(format!("proxy answered CONNECT with {e}")))?;
        if let Some((used, head)) = head {
            if !head.is_success() {
                return Err(TransportError::Connect(format!(
                    "proxy refused the tunnel to {authority}: {} {}",
                    head.status, head.reason
                )));
            }
            if used != received.len() {
                return Err(TransportError::Connect(
                    "proxy sent bytes after its CONNECT answer".into(),
                ));
            }
            return Ok(());
        }
    }
}

/// `work`, or a [`TransportError::Timeout`] once `limit` has passed.
pub(crate) async fn within<T>(
    limit: Duration,
    doing: &str,
    work: impl Future<Output = Result<T, TransportError>>,
) -> Result<T, TransportError> {
    let expired = async {
        Timer::after(limit).await;
        Err(TransportError::Timeout(format!(
            "{doing} took more than {} ms",
            limit.as_millis()
        )))
    };
    smol::future::or(work, expired).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn the_origin_names_the_proxy_when_there_is_one() {
        let direct = origin(&url("https://api.example.com/v1"), None).unwrap();
        assert_eq!(
            (
                direct.scheme,
                direct.host.as_str(),
                direct.port,
                direct.proxy
            ),
            (Scheme::Https, "api.example.com", 443, None)
        );
        let proxied = origin(&url("http://[::1]:8080/"), Some("http://proxy:3128/")).unwrap();
        assert_eq!(proxied.authority(), "[::1]:8080");
        let proxy = proxied.proxy.unwrap();
        assert_eq!(
            (proxy.host.as_str(), proxy.port, proxy.authorization),
            ("proxy", 3128, None)
        );
    }

    #[test]
    fn proxy_credentials_become_basic_authorization_and_stay_hidden() {
        let target = url("https://api.example.com/");
        let proxied = origin(&target, Some("http://al%40ce:p%3Ass@proxy:8080")).unwrap();
        let proxy = proxied.proxy.unwrap();
        // base64("al@ce:p:ss")
        assert_eq!(
            proxy.authorization.as_deref(),
            Some("Basic YWxAY2U6cDpzcw==")
        );
        assert_eq!(proxy.host, "proxy");
        assert!(!format!("{proxy:?}").contains("YWxA"));
        let bad = origin(&target, Some("http://user:p%zz@proxy:1"));
        assert!(matches!(bad, Err(TransportError::Protocol(m)) if !m.contains("p%zz")));
    }

    #[test]
    fn proxies_other_than_plain_http_are_refused_before_connecting() {
        let target = url("https://api.example.com/");
        for proxy in [
            "https://proxy:443",
            "socks5://proxy:1080",
            "proxy:3128",
            "http://",
        ] {
            assert!(
                matches!(
                    origin(&target, Some(proxy)),
                    Err(TransportError::Protocol(_))
                ),
                "{proxy}"
            );
        }
    }
}
