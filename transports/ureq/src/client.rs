//! The exchanges: one worker thread and one ureq agent each.

use std::collections::HashMap;
use std::fmt;
use std::io::{ErrorKind, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread;

use cm_driver::{HttpClient, Input};
use cm_proto::agent::{HttpId, TransportError};
use cm_proto::http::{Headers, Method, Request, ResponseHead, Url};
use ureq::tls::{parse_pem, Certificate, PemItem, RootCerts, TlsConfig};
use ureq::Proxy;

use crate::{ClientOptions, TrustRoots};

/// The most body bytes forwarded in one [`Input::HttpBody`].
const READ_BUFFER: usize = 16 * 1024;

/// Sends the agent's requests with ureq and streams the responses back as [`Input`]s.
pub struct UreqClient {
    options: Arc<ClientOptions>,
    /// Parsed on the first `https` request, then shared by every exchange.
    roots: Arc<OnceLock<RootCerts>>,
    running: Arc<Mutex<HashMap<HttpId, Running>>>,
}

/// What cancelling an exchange needs.
struct Running {
    agent: ureq::Agent,
    cancelled: Arc<AtomicBool>,
}

impl UreqClient {
    /// A client configured by `options` (usually [`ClientOptions::from_env`]).
    pub fn new(options: ClientOptions) -> UreqClient {
        UreqClient {
            options: Arc::new(options),
            roots: Arc::new(OnceLock::new()),
            running: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The options in use.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// How many exchanges have not finished yet.
    pub fn in_flight(&self) -> usize {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn agent_for(&self, request: &Request) -> Result<ureq::Agent, TransportError> {
        let url = Url::parse(&request.url)
            .map_err(|e| TransportError::Protocol(format!("request not sent: {e}")))?;
        let https = url.scheme() == cm_proto::http::Scheme::Https;
        let proxy = proxy_for(&self.options, https, url.host())
            .map_err(|e| TransportError::Protocol(format!("request not sent: {e}")))?;
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(self.options.connect_timeout))
            .user_agent(self.options.user_agent.as_str())
            .proxy(proxy);
        if https {
            config = config.tls_config(tls_config(&self.options, &self.roots));
        }
        Ok(config.build().into())
    }
}

/// The proxy `options` name for a request to `host`, if any.
pub(crate) fn proxy_for(
    options: &ClientOptions,
    https: bool,
    host: &str,
) -> Result<Option<Proxy>, String> {
    match options.proxy_for(https, host) {
        None => Ok(None),
        Some(proxy) => Proxy::new(proxy)
            .map(Some)
            .map_err(|e| format!("proxy {proxy}: {e}")),
    }
}

/// TLS trusting the roots `options` name, parsed once into `roots`.
pub(crate) fn tls_config(options: &ClientOptions, roots: &OnceLock<RootCerts>) -> TlsConfig {
    let roots = roots.get_or_init(|| load_roots(&options.roots)).clone();
    TlsConfig::builder().root_certs(roots).build()
}

impl fmt::Debug for UreqClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UreqClient")
            .field("options", &self.options)
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl HttpClient for UreqClient {
    fn start(&mut self, id: HttpId, request: Request, inputs: Sender<Input>) {
        let agent = match self.agent_for(&request) {
            Ok(agent) => agent,
            Err(error) => {
                let _ = inputs.send(Input::HttpError(id, error));
                return;
            }
        };
        let cancelled = Arc::new(AtomicBool::new(false));
        let running = Arc::clone(&self.running);
        running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                id,
                Running {
                    agent: agent.clone(),
                    cancelled: Arc::clone(&cancelled),
                },
            );
        let out = Outbox {
            id,
            inputs,
            cancelled,
            running: Arc::clone(&running),
        };
        let spawned = thread::Builder::new()
            .name(format!("cm-http-{}", id.0))
            .spawn(move || exchange(&agent, request, &out));
        if let Err(error) = spawned {
            let gone = self
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id);
            drop(gone);
            // The closure (and the sender in it) is gone: the agent's idle deadline ends
            // its wait for this exchange.
            drop(error);
        }
    }

    fn cancel(&mut self, id: HttpId) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        if let Some(running) = running {
            running.cancelled.store(true, Ordering::SeqCst);
            running.agent.shutdown();
        }
    }
}

/// Where one exchange reports to; silent once the exchange is cancelled.
struct Outbox {
    id: HttpId,
    inputs: Sender<Input>,
    cancelled: Arc<AtomicBool>,
    running: Arc<Mutex<HashMap<HttpId, Running>>>,
}

impl Outbox {
    /// Sends `input`; `false` when nobody wants it any more (cancelled, or the loop is gone).
    fn send(&self, input: Input) -> bool {
        !self.cancelled.load(Ordering::SeqCst) && self.inputs.send(input).is_ok()
    }

    /// Sends the exchange's last input, after it stopped counting as in flight.
    fn finish(&self, input: Input) {
        self.forget();
        self.send(input);
    }

    fn forget(&self) {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

impl Drop for Outbox {
    /// However the worker ends (a closed loop, a panic), the exchange is no longer running.
    fn drop(&mut self) {
        self.forget();
    }
}

/// Runs one exchange to its end, reporting as it goes.
fn exchange(agent: &ureq::Agent, request: Request, out: &Outbox) {
    let id = out.id;
    let request = match to_ureq(request) {
        Ok(request) => request,
        Err(error) => {
            out.finish(Input::HttpError(id, error));
            return;
        }
    };
    let response = match agent.run(request) {
        Ok(response) => response,
        Err(error) => {
            out.finish(Input::HttpError(id, before_head(error)));
            return;
        }
    };
    let (parts, body) = response.into_parts();
    let mut headers = Headers::new();
    for (name, value) in &parts.headers {
        headers.push(
            name.as_str(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        );
    }
    let head = ResponseHead {
        status: parts.status.as_u16(),
        reason: parts
            .status
            .canonical_reason()
            .unwrap_or_default()
            .to_string(),
        headers,
    };
    if !out.send(Input::HttpHead(id, head)) {
        return;
    }
    let mut reader = body.into_reader();
    let mut buffer = vec![0; READ_BUFFER];
    loop {
        let input = match reader.read(&mut buffer) {
            Ok(0) => {
                out.finish(Input::HttpEnd(id));
                return;
            }
            Ok(n) => Input::HttpBody(id, buffer[..n].to_vec()),
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => {
                out.finish(Input::HttpError(
                    id,
                    TransportError::Reset(error.to_string()),
                ));
                return;
            }
        };
        if !out.send(input) {
            return;
        }
    }
}

/// The ureq form of a request.
fn to_ureq(request: Request) -> Result<ureq::http::Request<Vec<u8>>, TransportError> {
    let method = match &request.method {
        Method::Other(token) => ureq::http::Method::from_bytes(token.as_bytes())
            .map_err(|e| TransportError::Protocol(format!("request not sent: {e}")))?,
        method => ureq::http::Method::from_bytes(method.as_str().as_bytes())
            .map_err(|e| TransportError::Protocol(format!("request not sent: {e}")))?,
    };
    let mut builder = ureq::http::Request::builder()
        .method(method)
        .uri(request.url.as_str());
    for (name, value) in request.headers.iter() {
        builder = builder.header(name, value);
    }
    builder
        .body(request.body)
        .map_err(|e| TransportError::Protocol(format!("request not sent: {e}")))
}

/// What a failure before the response head means to the agent: most are worth a retry.
fn before_head(error: ureq::Error) -> TransportError {
    let message = error.to_string();
    match error {
        ureq::Error::Timeout(_) => TransportError::Timeout(message),
        ureq::Error::BadUri(_)
        | ureq::Error::Http(_)
        | ureq::Error::InvalidProxyUrl
        | ureq::Error::LargeResponseHeader(..) => TransportError::Protocol(message),
        _ => TransportError::Connect(message),
    }
}

/// The certificates of the first file in `roots` that holds any; the Mozilla roots else.
fn load_roots(roots: &TrustRoots) -> RootCerts {
    let parse = |pem: &[u8]| -> Vec<Certificate<'static>> {
        parse_pem(pem)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(cert)) => Some(cert),
                _ => None,
            })
            .collect()
    };
    match roots.load(parse) {
        Some(certs) => RootCerts::Specific(Arc::new(certs)),
        None => RootCerts::WebPki,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn roots_come_from_the_first_file_with_certificates_else_webpki() {
        let missing = TrustRoots::Files(vec![PathBuf::from("/nonexistent/cm-roots.pem")]);
        assert!(matches!(load_roots(&missing), RootCerts::WebPki));
        assert!(matches!(load_roots(&TrustRoots::WebPki), RootCerts::WebPki));
        let system = ClientOptions::default().roots;
        let found = crate::SYSTEM_BUNDLES
            .iter()
            .any(|p| std::path::Path::new(p).exists());
        if found {
            assert!(matches!(load_roots(&system), RootCerts::Specific(c) if !c.is_empty()));
        }
    }
}
