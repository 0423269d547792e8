//! `webfetch`'s HTTP: one blocking GET within a body size, a total time and a redirect
//! limit.
//!
//! ureq follows the redirects (erroring past the limit) and enforces the total time
//! (`timeout_global` covers connecting, every redirect and the whole body). The body is
//! read in 16 KiB pieces into a buffer that stops at the size limit, so a 50 MB answer
//! costs 5 MB of memory and the connection is dropped there.

use std::fmt;
use std::io::{ErrorKind, Read};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use cm_driver::WebFetcher;
use cm_proto::http::Url;
use cm_proto::tool::webfetch::{check_url, FetchError, FetchLimits, Fetched, WEBFETCH_ACCEPT};
use ureq::tls::RootCerts;
use ureq::ResponseExt;

use crate::client::{proxy_for, tls_config};
use crate::ClientOptions;

const READ_BUFFER: usize = 16 * 1024;

/// Fetches pages for `webfetch` with the proxies and trust roots of [`ClientOptions`].
#[derive(Clone)]
pub struct UreqFetcher {
    options: Arc<ClientOptions>,
    roots: Arc<OnceLock<RootCerts>>,
}

impl UreqFetcher {
    /// A fetcher configured by `options` (usually [`ClientOptions::from_env`]).
    pub fn new(options: ClientOptions) -> UreqFetcher {
        UreqFetcher {
            options: Arc::new(options),
            roots: Arc::new(OnceLock::new()),
        }
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
        let parsed = Url::parse(url).map_err(|e| FetchError::InvalidUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        let https = parsed.scheme() == cm_proto::http::Scheme::Https;
        // The proxy is chosen for the first URL; redirects go through the same one.
        let proxy = proxy_for(&self.options, https, parsed.host())
            .map_err(|message| FetchError::Connect { message })?;
        let started = Instant::now();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(limits.max_redirects)
            .max_redirects_will_error(true)
            .timeout_global(Some(limits.timeout))
            .timeout_connect(Some(self.options.connect_timeout.min(limits.timeout)))
            .user_agent(self.options.user_agent.as_str())
            .accept(WEBFETCH_ACCEPT)
            .proxy(proxy)
            .tls_config(tls_config(&self.options, &self.roots))
            .build()
            .into();
        let response = agent
            .get(url)
            .call()
            .map_err(|e| before_body(e, url, limits))?;
        let final_url = response.get_uri().to_string();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let mut reader = response.into_body().into_reader();
        let max = usize::try_from(limits.max_bytes).unwrap_or(usize::MAX);
        let mut body = Vec::new();
        let mut buffer = vec![0; READ_BUFFER];
        let truncated = loop {
            if cancelled() {
                return Err(FetchError::Aborted);
            }
            if started.elapsed() > limits.timeout {
                return Err(FetchError::TimedOut {
                    limit: limits.timeout,
                });
            }
            // One byte past the limit tells a body that goes on from one that ends there.
            let room = max.saturating_sub(body.len()).saturating_add(1);
            let want = room.min(buffer.len());
            match reader.read(&mut buffer[..want]) {
                Ok(0) => break false,
                Ok(n) => {
                    body.extend_from_slice(&buffer[..n]);
                    if body.len() > max {
                        body.truncate(max);
                        break true;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) || started.elapsed() >= limits.timeout => {
                    return Err(FetchError::TimedOut {
                        limit: limits.timeout,
                    })
                }
                Err(e) => {
                    return Err(FetchError::Read {
                        message: e.to_string(),
                    })
                }
            }
        };
        Ok(Fetched {
            url: final_url,
            status,
            content_type,
            body,
            truncated,
        })
    }
}

impl fmt::Debug for UreqFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UreqFetcher")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl WebFetcher for UreqFetcher {
    /// A cancelled fetch blocked in a read ends at the latest when its time limit passes.
    fn fetch(
        &self,
        url: &str,
        limits: &FetchLimits,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Fetched, FetchError> {
        self.fetch_until(url, limits, cancelled)
    }
}

/// Whether a body read failed on a deadline (ureq wraps its own timeouts in the I/O error).
fn is_timeout(error: &std::io::Error) -> bool {
    error.kind() == ErrorKind::TimedOut
        || error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<ureq::Error>())
            .is_some_and(|inner| matches!(inner, ureq::Error::Timeout(_)))
}

/// What a failure before the body means for `webfetch`.
fn before_body(error: ureq::Error, url: &str, limits: &FetchLimits) -> FetchError {
    match error {
        ureq::Error::Timeout(_) => FetchError::TimedOut {
            limit: limits.timeout,
        },
        ureq::Error::Io(e) if e.kind() == ErrorKind::TimedOut => FetchError::TimedOut {
            limit: limits.timeout,
        },
        ureq::Error::TooManyRedirects => FetchError::TooManyRedirects {
            limit: limits.max_redirects,
        },
        ureq::Error::BadUri(reason) => FetchError::InvalidUrl {
            url: url.to_string(),
            reason,
        },
        ureq::Error::HostNotFound => FetchError::Connect {
            message: "host not found".into(),
        },
        ureq::Error::Protocol(e) => FetchError::Read {
            message: e.to_string(),
        },
        other => FetchError::Connect {
            message: other.to_string(),
        },
    }
}
