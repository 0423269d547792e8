//! [`SmolFetcher`]: `webfetch`'s GET on a [`SmolClient`].
//!
//! Redirects are followed up to the limit (one more is an error), each target checked as
//! the first URL is; the body is kept up to the size limit, and reading stops one piece
//! past it (the connection is dropped there); one timer bounds the whole fetch, redirects
//! included. The caller's thread blocks on the fetch and polls its cancel flag meanwhile.

use std::fmt;
use std::time::Duration;

use async_channel::Receiver;
use cm_driver::{Input, WebFetcher};
use cm_proto::agent::{HttpId, TransportError};
use cm_proto::http::{Headers, Method, Request, ResponseHead};
use cm_proto::tool::html;
use cm_proto::tool::webfetch::{
    check_url, is_redirect, FetchError, FetchLimits, Fetched, WEBFETCH_ACCEPT,
};
use smol::Timer;

use crate::SmolClient;

/// How often a running fetch asks whether it was cancelled.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// Body pieces the exchange may run ahead of the reader (so a huge body is not buffered).
const AHEAD: usize = 4;

/// Fetches pages for `webfetch` on a [`SmolClient`] (its proxies, trust roots, user agent
/// and keep-alive pool).
#[derive(Clone)]
pub struct SmolFetcher {
    client: SmolClient,
}

/// What one exchange of a fetch gave.
enum Answer {
    /// A redirect to this `Location`.
    Redirect(String),
    /// A final response.
    Page {
        head: ResponseHead,
        body: Vec<u8>,
        truncated: bool,
    },
}

impl SmolFetcher {
    /// A fetcher sending through `client`.
    pub fn new(client: SmolClient) -> SmolFetcher {
        SmolFetcher { client }
    }

    /// GETs `url` within `limits`, blocking; see [`WebFetcher::fetch`].
    pub fn fetch(&self, url: &str, limits: &FetchLimits) -> Result<Fetched, FetchError> {
        self.fetch_until(url, limits, &|| false)
    }

    fn fetch_until(
        &self,
        url: &str,
        limits: &FetchLimits,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Fetched, FetchError> {
        check_url(url)?;
        let limit = limits.timeout;
        let timeout = async {
            Timer::after(limit).await;
            Err(FetchError::TimedOut { limit })
        };
        let watch = async {
            loop {
                if cancelled() {
                    return Err(FetchError::Aborted);
                }
                Timer::after(CANCEL_POLL).await;
            }
        };
        smol::block_on(smol::future::or(
            self.get(url, limits),
            smol::future::or(timeout, watch),
        ))
    }

    /// GETs `url`, following redirects, until a final response.
    async fn get(&self, url: &str, limits: &FetchLimits) -> Result<Fetched, FetchError> {
        let max = usize::try_from(limits.max_bytes).unwrap_or(usize::MAX);
        let mut current = url.to_string();
        let mut followed = 0u32;
        loop {
            match self.once(&current, max).await? {
                Answer::Redirect(location) => {
                    if followed >= limits.max_redirects {
                        return Err(FetchError::TooManyRedirects {
                            limit: limits.max_redirects,
                        });
                    }
                    followed = followed.saturating_add(1);
                    current = html::resolve(&current, &location);
                    check_url(&current)?;
                }
                Answer::Page {
                    head,
                    body,
                    truncated,
                } => {
                    return Ok(Fetched {
                        url: current,
                        status: head.status,
                        content_type: head.headers.get("content-type").map(str::to_string),
                        body,
                        truncated,
                    })
                }
            }
        }
    }

    /// One GET of `url`; dropping the exchange early closes its connection.
    async fn once(&self, url: &str, max: usize) -> Result<Answer, FetchError> {
        let mut headers = Headers::new();
        headers.push("accept", WEBFETCH_ACCEPT);
        let request = Request {
            method: Method::Get,
            url: url.to_string(),
            headers,
            body: Vec::new(),
        };
        let (sender, receiver) = async_channel::bounded(AHEAD);
        let exchange = async {
            self.client.exchange(HttpId(0), request, &sender).await;
            std::future::pending().await
        };
        smol::future::or(receive(&receiver, max), exchange).await
    }
}

/// Reads one exchange's inputs into an [`Answer`], at most `max` body bytes.
async fn receive(inputs: &Receiver<Input>, max: usize) -> Result<Answer, FetchError> {
    let mut head = None;
    let mut body = Vec::new();
    loop {
        let Ok(input) = inputs.recv().await else {
            return Err(FetchError::Read {
                message: "the exchange ended without an answer".into(),
            });
        };
        match input {
            Input::HttpHead(_, got) => {
                if is_redirect(got.status) {
                    if let Some(location) = got.headers.get("location") {
                        return Ok(Answer::Redirect(location.to_string()));
                    }
                }
                head = Some(got);
            }
            Input::HttpBody(_, bytes) => {
                body.extend_from_slice(&bytes);
                if body.len() > max {
                    body.truncate(max);
                    return page(head, body, true);
                }
            }
            Input::HttpEnd(_) => return page(head, body, false),
            Input::HttpError(_, error) => {
                return Err(match error {
                    TransportError::Connect(message) => FetchError::Connect { message },
                    other if head.is_none() => FetchError::Connect {
                        message: other.to_string(),
                    },
                    other => FetchError::Read {
                        message: other.to_string(),
                    },
                })
            }
            _ => {}
        }
    }
}

fn page(head: Option<ResponseHead>, body: Vec<u8>, truncated: bool) -> Result<Answer, FetchError> {
    match head {
        Some(head) => Ok(Answer::Page {
            head,
            body,
            truncated,
        }),
        None => Err(FetchError::Read {
            message: "no response head".into(),
        }),
    }
}

impl fmt::Debug for SmolFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmolFetcher")
            .field("options", self.client.options())
            .finish_non_exhaustive()
    }
}

impl WebFetcher for SmolFetcher {
    /// Blocks the calling thread; a cancelled fetch ends within 50 ms.
    fn fetch(
        &self,
        url: &str,
        limits: &FetchLimits,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Fetched, FetchError> {
        self.fetch_until(url, limits, cancelled)
    }
}
