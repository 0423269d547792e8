//! The server side of Server-Sent Events: the response head and the events.
//!
//! Framing choice: the stream is close-delimited. The head says `Connection: close` and
//! carries neither `Content-Length` nor `Transfer-Encoding`; the server writes events as
//! they happen and ends the stream by closing the connection. Every client, HTTP/1.0
//! included, reads that, and no chunk framing wraps the events.

use super::error::Error;
use super::field::{all_or_nothing, write_field, write_fields_except};
use super::headers::Headers;
use super::reply::write_status_line;

/// Appends the head of an event stream: the status, `Content-Type: text/event-stream`,
/// `Cache-Control: no-cache`, `Connection: close`, then `headers`.
///
/// The codec owns those three headers and the length headers; such headers given here are
/// not sent. On error `out` is left as it was.
pub fn encode_sse_head(status: u16, headers: &Headers, out: &mut Vec<u8>) -> Result<(), Error> {
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return Err(Error::BodyNotAllowed { status });
    }
    all_or_nothing(out, |out| {
        write_status_line(status, "", out)?;
        write_field("Content-Type", "text/event-stream", out)?;
        write_field("Cache-Control", "no-cache", out)?;
        write_field("Connection", "close", out)?;
        write_fields_except(
            headers,
            &[
                "content-type",
                "cache-control",
                "connection",
                "content-length",
                "transfer-encoding",
            ],
            out,
        )?;
        out.extend_from_slice(b"\r\n");
        Ok(())
    })
}

/// Appends one event: `event:` and `id:` lines when given, one `data:` line per line of
/// `data` (split on `\r\n`, `\n` or `\r`, so a parser rebuilds it with `\n`), and the blank
/// line that dispatches it.
///
/// An event name or id containing CR or LF (or an id containing NUL, which parsers ignore)
/// is an [`Error::InvalidSseField`] rather than being rewritten: an id is echoed back in
/// `Last-Event-ID`, so a silently changed one would break resumption. On error `out` is
/// left as it was.
pub fn encode_sse_event(
    event: Option<&str>,
    data: &str,
    id: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    if event.is_some_and(|e| e.contains(['\r', '\n'])) {
        return Err(Error::InvalidSseField { field: "event" });
    }
    if id.is_some_and(|i| i.contains(['\r', '\n', '\0'])) {
        return Err(Error::InvalidSseField { field: "id" });
    }
    if let Some(event) = event {
        write_line("event: ", event, out);
    }
    if let Some(id) = id {
        write_line("id: ", id, out);
    }
    for line in lines(data) {
        write_line("data: ", line, out);
    }
    out.push(b'\n');
    Ok(())
}

/// Appends a comment, which clients ignore: a heartbeat that keeps proxies from timing
/// the stream out. Each line of `text` becomes one `: ` line.
pub fn encode_sse_comment(text: &str, out: &mut Vec<u8>) {
    for line in lines(text) {
        write_line(": ", line, out);
    }
    out.push(b'\n');
}

fn write_line(prefix: &str, value: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(value.as_bytes());
    out.push(b'\n');
}

/// Splits on `\r\n`, `\n` and `\r`; `""` is one empty line and a trailing break yields a
/// final empty line, so every line break in the text survives the round trip.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            None => {
                rest = None;
                Some(current)
            }
            Some(at) => {
                let skip = if current[at..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[at + skip..]);
                Some(&current[..at])
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event: Option<&str>, data: &str, id: Option<&str>) -> Result<String, Error> {
        let mut out = Vec::new();
        encode_sse_event(event, data, id, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn event_with_name_id_and_one_line() {
        assert_eq!(
            event(Some("message_start"), "{\"a\":1}", Some("7")).unwrap(),
            "event: message_start\nid: 7\ndata: {\"a\":1}\n\n"
        );
        assert_eq!(event(None, "", None).unwrap(), "data: \n\n");
    }

    #[test]
    fn multi_line_data_becomes_several_data_lines() {
        assert_eq!(
            event(None, "one\ntwo\r\nthree\rfour\n", None).unwrap(),
            "data: one\ndata: two\ndata: three\ndata: four\ndata: \n\n"
        );
        assert_eq!(event(None, " lead", None).unwrap(), "data:  lead\n\n");
    }

    #[test]
    fn line_breaks_in_name_or_id_are_errors() {
        assert_eq!(
            event(Some("a\nb"), "x", None),
            Err(Error::InvalidSseField { field: "event" })
        );
        assert_eq!(
            event(None, "x", Some("1\r")),
            Err(Error::InvalidSseField { field: "id" })
        );
        assert_eq!(
            event(None, "x", Some("1\0")),
            Err(Error::InvalidSseField { field: "id" })
        );
    }

    #[test]
    fn comments_and_head() {
        let mut out = Vec::new();
        encode_sse_comment("ping", &mut out);
        assert_eq!(out, b": ping\n\n");

        out.clear();
        let headers: Headers = [("X-Session", "s1"), ("Content-Type", "text/plain")]
            .into_iter()
            .collect();
        encode_sse_head(200, &headers, &mut out).unwrap();
        assert_eq!(
            out,
            &b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\
               Connection: close\r\nX-Session: s1\r\n\r\n"[..]
        );
        assert_eq!(
            encode_sse_head(204, &headers, &mut out),
            Err(Error::BodyNotAllowed { status: 204 })
        );
    }
}
