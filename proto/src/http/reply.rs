//! The server side, encoding: whole responses with a `Content-Length`, `100 Continue`, and
//! the short error responses a server sends when a request cannot be decoded.

use super::error::Error;
use super::field::{all_or_nothing, is_field_text, write_field, write_fields_except};
use super::headers::Headers;

/// The standard reason phrase of a status, or `""` for one this codec does not name.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Whether a response with this status never has a body (RFC 9112 §6.3).
fn forbids_body(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

/// Appends `HTTP/1.1 <status> <reason>\r\n`; an empty reason becomes the standard one.
pub(crate) fn write_status_line(status: u16, reason: &str, out: &mut Vec<u8>) -> Result<(), Error> {
    if !(100..=999).contains(&status) {
        return Err(Error::InvalidStatus(status));
    }
    if !is_field_text(reason) {
        return Err(Error::InvalidReason);
    }
    let reason = if reason.is_empty() {
        reason_phrase(status)
    } else {
        reason
    };
    out.extend_from_slice(format!("HTTP/1.1 {status} {reason}\r\n").as_bytes());
    Ok(())
}

/// Appends a complete response: status line, `headers`, `Content-Length`, then `body`.
///
/// The codec owns `Content-Length` and `Transfer-Encoding`; such headers given here are not
/// sent. 1xx, 204 and 304 responses get no `Content-Length` and must have an empty body.
/// On error `out` is left as it was.
pub fn encode_response(
    status: u16,
    reason: &str,
    headers: &Headers,
    body: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    if forbids_body(status) && !body.is_empty() {
        return Err(Error::BodyNotAllowed { status });
    }
    all_or_nothing(out, |out| {
        write_status_line(status, reason, out)?;
        write_fields_except(headers, &["content-length", "transfer-encoding"], out)?;
        if !forbids_body(status) {
            write_field("Content-Length", &body.len().to_string(), out)?;
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        Ok(())
    })
}

/// Appends `HTTP/1.1 100 Continue`, the answer to [`RequestHead::expects_continue`]
/// when the server wants the body.
///
/// [`RequestHead::expects_continue`]: super::RequestHead::expects_continue
pub fn encode_continue(out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
}

/// Appends a short error response that closes the connection: the status, its reason as a
/// plain-text body, and `Connection: close`.
pub fn encode_error_response(status: u16, out: &mut Vec<u8>) -> Result<(), Error> {
    let mut headers = Headers::new();
    headers.push("Content-Type", "text/plain; charset=utf-8");
    headers.push("Connection", "close");
    let body = format!("{}\n", reason_phrase(status));
    encode_response(status, "", &headers, body.as_bytes(), out)
}

/// The status a server answers a request that failed to decode with: 431 for an oversized
/// head, 413 for an oversized body, 505 for another HTTP version, 501 for an unknown
/// transfer coding, 400 otherwise.
pub fn status_for(error: &Error) -> u16 {
    match error {
        Error::HeadTooLarge { .. } | Error::TooManyHeaders { .. } => 431,
        Error::BodyTooLarge { .. } => 413,
        Error::UnsupportedVersion => 505,
        Error::UnsupportedTransferEncoding => 501,
        _ => 400,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_with_content_length() {
        let headers: Headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", "99"),
        ]
        .into_iter()
        .collect();
        let mut out = Vec::new();
        encode_response(200, "", &headers, b"{}", &mut out).unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
    }

    #[test]
    fn bodiless_statuses_get_no_content_length() {
        let mut out = Vec::new();
        encode_response(204, "", &Headers::new(), b"", &mut out).unwrap();
        assert_eq!(out, b"HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(
            encode_response(304, "", &Headers::new(), b"x", &mut out),
            Err(Error::BodyNotAllowed { status: 304 })
        );
    }

    #[test]
    fn refuses_to_split_the_head() {
        let mut out = b"kept".to_vec();
        let evil: Headers = [("X-A", "1\r\nSet-Cookie: x")].into_iter().collect();
        assert_eq!(
            encode_response(200, "", &evil, b"", &mut out),
            Err(Error::InvalidHeaderField { name: "X-A".into() })
        );
        assert_eq!(
            encode_response(200, "OK\r\n", &Headers::new(), b"", &mut out),
            Err(Error::InvalidReason)
        );
        assert_eq!(
            encode_response(1000, "", &Headers::new(), b"", &mut out),
            Err(Error::InvalidStatus(1000))
        );
        assert_eq!(out, b"kept");
    }

    #[test]
    fn error_responses_close_the_connection() {
        let mut out = Vec::new();
        encode_error_response(status_for(&Error::BodyTooLarge { limit: 1 }), &mut out).unwrap();
        assert_eq!(
            out,
            &b"HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n\
               Connection: close\r\nContent-Length: 18\r\n\r\nContent Too Large\n"[..]
        );
        assert_eq!(status_for(&Error::TooManyHeaders { limit: 1 }), 431);
        assert_eq!(status_for(&Error::InvalidChunkSize), 400);
        out.clear();
        encode_continue(&mut out);
        assert_eq!(out, b"HTTP/1.1 100 Continue\r\n\r\n");
    }
}
