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
    /// The proxy's `host:port`, when the connection is tunnelled through one.
    pub(crate) proxy: Option<(String, u16)>,
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

/// The origin for `url`, through `proxy` (a URL such as `http://proxy:3128`) if given.
pub(crate) fn origin(url: &Url, proxy: Option<&str>) -> Result<Origin, TransportError> {
    let proxy = match proxy {
        None => None,
        Some(proxy) => {
            let parsed = Url::parse(proxy).map_err(|e| {
                TransportError::Protocol(format!("request not sent: proxy {proxy}: {e}"))
            })?;
            if parsed.scheme() != Scheme::Http {
                return Err(TransportError::Protocol(format!(
                    "request not sent: proxy {proxy}: only http:// proxies are supported"
                )));
            }
            Some((parsed.host().to_string(), parsed.port()))
        }
    };
    Ok(Origin {
        scheme: url.scheme(),
        host: url.host().to_string(),
        port: url.port(),
        proxy,
    })
}

/// Opens a connection to `origin` within `timeout`.
pub(crate) async fn open(
    origin: &Origin,
    tls: impl FnOnce() -> Result<Arc<ClientConfig>, TransportError>,
    timeout: Duration,
) -> Result<Box<dyn Io>, TransportError> {
    within(timeout, "connecting", async {
        let (host, port) = match &origin.proxy {
            Some((host, port)) => (host.as_str(), *port),
            None => (origin.host.as_str(), origin.port),
        };
        let mut tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| TransportError::Connect(format!("{host}:{port}: {e}")))?;
        // Nagle would hold back the small writes of a request head.
        let _ = tcp.set_nodelay(true);
        if origin.proxy.is_some() {
            tunnel(&mut tcp, origin).await?;
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

/// Asks the proxy on `tcp` for a tunnel to `origin`; fails unless it answers 2xx.
async fn tunnel(tcp: &mut TcpStream, origin: &Origin) -> Result<(), TransportError> {
    let authority = origin.authority();
    let request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
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
