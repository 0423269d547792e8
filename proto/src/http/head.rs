//! Parsing one head (start line plus headers) with httparse, within the limits.
//!
//! httparse only ever sees the first `budget` bytes, so a head that has not ended by then
//! fails with [`Error::HeadTooLarge`] no matter how the input arrived.

use super::error::Error;
use super::headers::Headers;
use super::limits::Limits;
use super::Version;

/// A parsed status line and headers.
#[derive(Debug)]
pub(crate) struct StatusHead {
    pub(crate) used: usize,
    pub(crate) version: Version,
    pub(crate) status: u16,
    pub(crate) reason: String,
    pub(crate) headers: Headers,
}

/// A parsed request line and headers.
#[derive(Debug)]
pub(crate) struct RequestLine {
    pub(crate) used: usize,
    pub(crate) version: Version,
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) headers: Headers,
}

/// Parses a response head from the start of `input`, allowing it `budget` bytes.
pub(crate) fn parse_status_head(
    input: &[u8],
    budget: usize,
    limits: &Limits,
) -> Result<Option<StatusHead>, Error> {
    let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut response = httparse::Response::new(&mut slots);
    match response.parse(window(input, budget)) {
        Ok(httparse::Status::Complete(used)) => Ok(Some(StatusHead {
            used,
            version: version(response.version)?,
            status: response
                .code
                .ok_or(Error::InvalidHead("missing status".into()))?,
            reason: response.reason.unwrap_or_default().to_string(),
            headers: headers(&*response.headers),
        })),
        Ok(httparse::Status::Partial) => partial(input, budget, limits),
        Err(e) => Err(parse_error(e, input, limits)),
    }
}

/// Parses a request head from the start of `input`, allowing it `budget` bytes.
pub(crate) fn parse_request_line(
    input: &[u8],
    budget: usize,
    limits: &Limits,
) -> Result<Option<RequestLine>, Error> {
    let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut request = httparse::Request::new(&mut slots);
    match request.parse(window(input, budget)) {
        Ok(httparse::Status::Complete(used)) => Ok(Some(RequestLine {
            used,
            version: version(request.version)?,
            method: request.method.unwrap_or_default().to_string(),
            target: request.path.unwrap_or_default().to_string(),
            headers: headers(&*request.headers),
        })),
        Ok(httparse::Status::Partial) => partial(input, budget, limits),
        Err(e) => Err(parse_error(e, input, limits)),
    }
}

fn window(input: &[u8], budget: usize) -> &[u8] {
    &input[..input.len().min(budget)]
}

/// An unfinished head: wait for more, unless the input already overflows the budget.
fn partial<T>(input: &[u8], budget: usize, limits: &Limits) -> Result<Option<T>, Error> {
    if input.len() > budget {
        Err(Error::HeadTooLarge {
            limit: limits.max_head_bytes,
        })
    } else {
        Ok(None)
    }
}

/// httparse reports any bad start line as a version error; it is only called unsupported
/// when the line does name an `HTTP/` version (`HTTP/2`, `PRI * HTTP/2.0`).
fn parse_error(e: httparse::Error, input: &[u8], limits: &Limits) -> Error {
    let first_line = window(input, limits.max_head_bytes)
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or_default();
    let names_http = first_line.windows(5).any(|w| w == b"HTTP/");
    match e {
        httparse::Error::TooManyHeaders => Error::TooManyHeaders {
            limit: limits.max_headers,
        },
        httparse::Error::Version if names_http => Error::UnsupportedVersion,
        other => Error::InvalidHead(other.to_string()),
    }
}

fn version(minor: Option<u8>) -> Result<Version, Error> {
    match minor {
        Some(0) => Ok(Version::Http10),
        Some(1) => Ok(Version::Http11),
        _ => Err(Error::UnsupportedVersion),
    }
}

/// Header values are bytes; anything that is not UTF-8 is kept lossily.
fn headers(raw: &[httparse::Header<'_>]) -> Headers {
    raw.iter()
        .map(|h| (h.name, String::from_utf8_lossy(h.value).into_owned()))
        .collect()
}
