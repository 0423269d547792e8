//! How a message's body is delimited, decided from its head (RFC 9112 §6.3).

use super::error::Error;
use super::headers::Headers;
use super::Method;

/// How the end of a body is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// There is no body (HEAD responses, 1xx, 204, 304, requests without length).
    NoBody,
    /// Exactly this many bytes follow the head.
    ContentLength(u64),
    /// The chunked transfer coding; `Transfer-Encoding: chunked` wins over `Content-Length`.
    Chunked,
    /// The body runs until the connection closes (responses only).
    CloseDelimited,
}

/// The framing of a response to a request made with `method`.
pub(crate) fn response_framing(
    method: &Method,
    status: u16,
    headers: &Headers,
) -> Result<Framing, Error> {
    if *method == Method::Head || (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(Framing::NoBody);
    }
    if is_chunked(headers)? {
        return Ok(Framing::Chunked);
    }
    Ok(match content_length(headers)? {
        Some(n) => Framing::ContentLength(n),
        None => Framing::CloseDelimited,
    })
}

/// The framing of a request; a request without length headers has no body.
pub(crate) fn request_framing(headers: &Headers) -> Result<Framing, Error> {
    if is_chunked(headers)? {
        return Ok(Framing::Chunked);
    }
    Ok(match content_length(headers)? {
        Some(n) => Framing::ContentLength(n),
        None => Framing::NoBody,
    })
}

/// Whether the body is chunked: `Transfer-Encoding` absent is `false`, exactly one
/// `chunked` coding is `true`, anything else (gzip, identity, chunked twice) is an error.
fn is_chunked(headers: &Headers) -> Result<bool, Error> {
    if !headers.contains("transfer-encoding") {
        return Ok(false);
    }
    let mut codings = headers
        .get_all("transfer-encoding")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|c| !c.is_empty());
    match (codings.next(), codings.next()) {
        (Some(c), None) if c.eq_ignore_ascii_case("chunked") => Ok(true),
        _ => Err(Error::UnsupportedTransferEncoding),
    }
}

/// The `Content-Length`, if any; repeated equal values (`5, 5`) are one value.
fn content_length(headers: &Headers) -> Result<Option<u64>, Error> {
    let mut length = None;
    for value in headers.get_all("content-length").flat_map(|v| v.split(',')) {
        let value = value.trim();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidContentLength);
        }
        let n: u64 = value.parse().map_err(|_| Error::InvalidContentLength)?;
        match length {
            Some(previous) if previous != n => return Err(Error::ConflictingContentLength),
            _ => length = Some(n),
        }
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().copied().collect()
    }

    #[test]
    fn responses_without_body() {
        let h = headers(&[("content-length", "10")]);
        assert_eq!(
            response_framing(&Method::Head, 200, &h),
            Ok(Framing::NoBody)
        );
        for status in [100, 103, 204, 304] {
            assert_eq!(
                response_framing(&Method::Get, status, &h),
                Ok(Framing::NoBody)
            );
        }
    }

    #[test]
    fn chunked_wins_over_content_length() {
        let h = headers(&[("Content-Length", "10"), ("Transfer-Encoding", "Chunked")]);
        assert_eq!(
            response_framing(&Method::Get, 200, &h),
            Ok(Framing::Chunked)
        );
        assert_eq!(request_framing(&h), Ok(Framing::Chunked));
    }

    #[test]
    fn content_length_values() {
        let get = |pairs: &[(&str, &str)]| response_framing(&Method::Get, 200, &headers(pairs));
        assert_eq!(
            get(&[("content-length", "0")]),
            Ok(Framing::ContentLength(0))
        );
        assert_eq!(
            get(&[("content-length", "5, 5"), ("content-length", "5")]),
            Ok(Framing::ContentLength(5))
        );
        assert_eq!(
            get(&[("content-length", "5"), ("content-length", "6")]),
            Err(Error::ConflictingContentLength)
        );
        for bad in ["", "+5", "-1", "5 5", "0x10", "18446744073709551616"] {
            assert_eq!(
                get(&[("content-length", bad)]),
                Err(Error::InvalidContentLength),
                "{bad:?}"
            );
        }
        assert_eq!(get(&[]), Ok(Framing::CloseDelimited));
        assert_eq!(request_framing(&headers(&[])), Ok(Framing::NoBody));
    }

    #[test]
    fn only_plain_chunked_transfer_encoding() {
        for bad in ["gzip", "gzip, chunked", "chunked, chunked", "", "identity"] {
            assert_eq!(
                request_framing(&headers(&[("transfer-encoding", bad)])),
                Err(Error::UnsupportedTransferEncoding),
                "{bad:?}"
            );
        }
    }
}
