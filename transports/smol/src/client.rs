//! [`SmolClient`]: the agent's HTTP exchanges over smol's sockets with cm-proto's codec.

use std::fmt;
use std::io;
use std::sync::{Arc, OnceLock};

use async_channel::Sender;
use cm_driver::{ClientOptions, Input};
use cm_proto::agent::{HttpId, TransportError};
use cm_proto::http::{encode_request, Request, ResponseDecoder, ResponseHead, Scheme, Url};
use futures_rustls::rustls::ClientConfig;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::Task;

use crate::connect::{self, Io, Origin};
use crate::pool::Pool;

/// The most bytes read from a socket at once (and so forwarded in one body piece).
const READ_BUFFER: usize = 16 * 1024;

/// Sends the agent's requests and streams each response back as [`Input`]s.
///
/// Cheap to clone: clones share the keep-alive pool and the TLS configuration, so one
/// client serves every session of a process.
#[derive(Clone)]
pub struct SmolClient {
    shared: Arc<Shared>,
}

struct Shared {
    options: ClientOptions,
    /// Built on the first `https` request.
    tls: OnceLock<Arc<ClientConfig>>,
    pool: Pool,
}

/// Why an exchange stopped before its end.
enum Stop {
    /// The exchange failed; the agent is told.
    Failed(TransportError),
    /// Nobody listens any more (the driver is gone); stop quietly.
    Unwanted,
}

impl From<TransportError> for Stop {
    fn from(error: TransportError) -> Stop {
        Stop::Failed(error)
    }
}

/// Why no response head arrived on a connection.
enum HeadFailure {
    /// The connection ended or failed before any response byte: on a reused connection,
    /// the server had closed it while idle, and a new connection may succeed.
    Silent(TransportError),
    /// Anything else.
    Other(Stop),
}

impl SmolClient {
    /// A client configured by `options` (usually [`ClientOptions::from_env`]).
    pub fn new(options: ClientOptions) -> SmolClient {
        SmolClient {
            shared: Arc::new(Shared {
                options,
                tls: OnceLock::new(),
                pool: Pool::default(),
            }),
        }
    }

    /// The options in use.
    pub fn options(&self) -> &ClientOptions {
        &self.shared.options
    }

    /// Idle keep-alive connections held for reuse.
    pub fn idle_connections(&self) -> usize {
        self.shared.pool.len()
    }

    /// Runs exchange `id` on smol's global executor; dropping the task cancels it and
    /// closes its connection.
    pub fn start(&self, id: HttpId, request: Request, inputs: Sender<Input>) -> Task<()> {
        let client = self.clone();
        smol::spawn(async move { client.exchange(id, request, &inputs).await })
    }

    /// Sends `request` and reports the response to `inputs` under `id`: its head, each
    /// piece of body as it arrives, then [`Input::HttpEnd`] — or [`Input::HttpError`] at
    /// any point instead. Statuses are not errors (a 429 is a head and a body). The
    /// options' `User-Agent` is sent unless the request has one.
    ///
    /// Only connecting is bounded here (the options' connect timeout); how long a
    /// response may take is the agent's deadline, which cancels the exchange by dropping
    /// this future.
    pub async fn exchange(&self, id: HttpId, mut request: Request, inputs: &Sender<Input>) {
        if request.headers.get("user-agent").is_none() {
            let agent = self.shared.options.user_agent.clone();
            request.headers.push("user-agent", agent);
        }
        let last = match self.respond(id, &request, inputs).await {
            Ok(()) => Input::HttpEnd(id),
            Err(Stop::Failed(error)) => Input::HttpError(id, error),
            Err(Stop::Unwanted) => return,
        };
        let _ = inputs.send(last).await;
    }

    async fn respond(
        &self,
        id: HttpId,
        request: &Request,
        inputs: &Sender<Input>,
    ) -> Result<(), Stop> {
        let not_sent =
            |e: &dyn fmt::Display| TransportError::Protocol(format!("request not sent: {e}"));
        let url = Url::parse(&request.url).map_err(|e| not_sent(&e))?;
        let mut bytes = Vec::new();
        encode_request(request, &mut bytes).map_err(|e| not_sent(&e))?;
        let proxy = self
            .shared
            .options
            .proxy_for(url.scheme() == Scheme::Https, url.host());
        let origin = connect::origin(&url, proxy)?;

        let pooled = self.shared.pool.take(&origin);
        let reused = pooled.is_some();
        let mut io = match pooled {
            Some(io) => io,
            None => self.open(&origin).await?,
        };
        let mut decoder = ResponseDecoder::new(request.method.clone());
        let mut received = Vec::new();
        let head = match send(&mut io, &bytes, &mut decoder, &mut received).await {
            Ok(head) => head,
            Err(HeadFailure::Silent(_)) if reused => {
                io = self.open(&origin).await?;
                decoder = ResponseDecoder::new(request.method.clone());
                received.clear();
                send(&mut io, &bytes, &mut decoder, &mut received)
                    .await
                    .map_err(HeadFailure::into_stop)?
            }
            Err(failure) => return Err(failure.into_stop()),
        };
        deliver(inputs, Input::HttpHead(id, head)).await?;

        let Some(mut body) = decoder.body_decoder() else {
            return Err(Stop::Failed(TransportError::Protocol(
                "no body decoder after a head".into(),
            )));
        };
        let mut buffer = vec![0; READ_BUFFER];
        loop {
            let mut data = Vec::new();
            let used = body
                .decode(&received, &mut data)
                .map_err(|e| TransportError::Protocol(e.to_string()))?;
            received.drain(..used);
            if !data.is_empty() {
                deliver(inputs, Input::HttpBody(id, data)).await?;
            }
            if body.is_done() {
                break;
            }
            let n = read(&mut io, &mut buffer).await.map_err(|e| {
                TransportError::Reset(format!("after {} body bytes: {e}", body.received()))
            })?;
            if n == 0 {
                body.finish_eof().map_err(|e| {
                    TransportError::Reset(format!("after {} body bytes: {e}", body.received()))
                })?;
                return Ok(());
            }
            received.extend_from_slice(&buffer[..n]);
        }
        // Bytes past the body would be read as the next response: do not reuse then.
        if decoder.close_reason().is_none() && received.is_empty() {
            self.shared.pool.put(origin, io);
        }
        Ok(())
    }

    async fn open(&self, origin: &Origin) -> Result<Box<dyn Io>, TransportError> {
        let options = &self.shared.options;
        let tls = || -> Result<Arc<ClientConfig>, TransportError> {
            if let Some(config) = self.shared.tls.get() {
                return Ok(Arc::clone(config));
            }
            let config = crate::tls::client_config(options)
                .map_err(|e| TransportError::Connect(format!("tls configuration: {e}")))?;
            Ok(Arc::clone(self.shared.tls.get_or_init(|| config)))
        };
        connect::open(origin, tls, options.connect_timeout).await
    }
}

impl HeadFailure {
    fn into_stop(self) -> Stop {
        match self {
            HeadFailure::Silent(error) => Stop::Failed(error),
            HeadFailure::Other(stop) => stop,
        }
    }
}

/// Writes the request and reads until the response head is decoded; body bytes read
/// with it stay in `received`.
async fn send(
    io: &mut Box<dyn Io>,
    request: &[u8],
    decoder: &mut ResponseDecoder,
    received: &mut Vec<u8>,
) -> Result<ResponseHead, HeadFailure> {
    let silent = |e: io::Error| HeadFailure::Silent(TransportError::Connect(e.to_string()));
    io.write_all(request).await.map_err(silent)?;
    io.flush().await.map_err(silent)?;
    let mut buffer = vec![0; READ_BUFFER];
    loop {
        let n = match read(io, &mut buffer).await {
            Ok(n) => n,
            Err(e) if received.is_empty() => return Err(silent(e)),
            Err(e) => {
                let error = TransportError::Reset(format!("in the response head: {e}"));
                return Err(HeadFailure::Other(Stop::Failed(error)));
            }
        };
        if n == 0 {
            let error = if received.is_empty() {
                return Err(HeadFailure::Silent(TransportError::Connect(
                    "the server closed the connection without answering".into(),
                )));
            } else {
                TransportError::Reset("the server closed the connection mid-head".into())
            };
            return Err(HeadFailure::Other(Stop::Failed(error)));
        }
        received.extend_from_slice(&buffer[..n]);
        match decoder.decode_head(received) {
            Ok(None) => {}
            Ok(Some((used, head))) => {
                received.drain(..used);
                return Ok(head);
            }
            Err(e) => {
                let error = TransportError::Protocol(e.to_string());
                return Err(HeadFailure::Other(Stop::Failed(error)));
            }
        }
    }
}

/// One read, retried when interrupted.
async fn read(io: &mut Box<dyn Io>, buffer: &mut [u8]) -> io::Result<usize> {
    loop {
        match io.read(buffer).await {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

async fn deliver(inputs: &Sender<Input>, input: Input) -> Result<(), Stop> {
    inputs.send(input).await.map_err(|_| Stop::Unwanted)
}

impl fmt::Debug for SmolClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmolClient")
            .field("options", &self.shared.options)
            .field("pool", &self.shared.pool)
            .finish_non_exhaustive()
    }
}
