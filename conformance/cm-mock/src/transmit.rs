//! Sending a [`Reply`] on a socket, applying its transport faults on the way: a delay
//! before the first byte, a stall after the head, trickled writes, a cut after N body
//! bytes, or no answer at all.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cm_proto::http::{
    encode_chunk, encode_last_chunk, encode_response, encode_sse_head, reason_phrase, Headers,
};

use crate::respond::{Reply, ReplyBody};
use crate::script::StreamFraming;

/// What the connection can do after a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// Read the next request.
    KeepAlive,
    /// Close: the body was close-delimited, cut, stalled or dropped, or the server stops.
    Close,
}

/// Sleeps for `duration`, waking early (and saying so) when `stop` is set.
pub(crate) fn sleep_unless_stopped(duration: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + duration;
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(10)));
    }
}

/// Writes `reply`; errors are the peer going away.
pub(crate) fn transmit(
    stream: &mut TcpStream,
    reply: &Reply,
    stop: &AtomicBool,
) -> io::Result<After> {
    let fault = &reply.fault;
    if let Some(ms) = fault.delay_before_first_byte_ms {
        if !sleep_unless_stopped(Duration::from_millis(ms), stop) {
            return Ok(After::Close);
        }
    }
    if fault.drop {
        return Ok(After::Close);
    }
    let (head, pieces, framing) = match &reply.body {
        ReplyBody::Whole(body) => {
            let mut bytes = Vec::new();
            encode_response(reply.status, "", &reply.headers, body, &mut bytes)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let head_len = bytes.len() - body.len();
            bytes.truncate(head_len);
            (bytes, vec![body.clone()], None)
        }
        ReplyBody::Stream { events, framing } => {
            let head = match framing {
                StreamFraming::Chunked => chunked_head(reply.status, &reply.headers),
                StreamFraming::Close => {
                    let mut head = Vec::new();
                    encode_sse_head(reply.status, &reply.headers, &mut head)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                    head
                }
            };
            (head, events.clone(), Some(*framing))
        }
    };
    stream.write_all(&head)?;
    stream.flush()?;
    if fault.stall {
        wait_for_peer_to_leave(stream, stop);
        return Ok(After::Close);
    }

    let pieces = match fault.trickle {
        Some(trickle) => pieces
            .concat()
            .chunks(trickle.bytes.max(1))
            .map(<[u8]>::to_vec)
            .collect(),
        None => pieces,
    };
    let interval = fault.trickle.map(|t| Duration::from_millis(t.interval_ms));
    let limit = fault.disconnect_after_bytes;
    let mut sent: u64 = 0;
    for (i, piece) in pieces.iter().enumerate() {
        if let (Some(interval), true) = (interval, i > 0) {
            if !sleep_unless_stopped(interval, stop) {
                return Ok(After::Close);
            }
        }
        let room = limit.map_or(u64::MAX, |limit| limit.saturating_sub(sent));
        let take = piece.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let data = &piece[..take];
        let mut out = Vec::with_capacity(take + 16);
        match framing {
            Some(StreamFraming::Chunked) => encode_chunk(data, &mut out),
            _ => out.extend_from_slice(data),
        }
        stream.write_all(&out)?;
        stream.flush()?;
        sent = sent.saturating_add(take as u64);
        if limit.is_some_and(|limit| sent >= limit) {
            return Ok(After::Close);
        }
    }
    match framing {
        None => Ok(if reply.close {
            After::Close
        } else {
            After::KeepAlive
        }),
        Some(StreamFraming::Chunked) => {
            let mut out = Vec::new();
            encode_last_chunk(&mut out);
            stream.write_all(&out)?;
            stream.flush()?;
            Ok(if reply.close {
                After::Close
            } else {
                After::KeepAlive
            })
        }
        Some(StreamFraming::Close) => Ok(After::Close),
    }
}

/// The head of an event stream sent with `Transfer-Encoding: chunked`, which, unlike the
/// close-delimited stream of `encode_sse_head`, leaves the connection reusable.
fn chunked_head(status: u16, headers: &Headers) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    if !headers.contains("content-type") {
        head.push_str("Content-Type: text/event-stream\r\n");
    }
    head.push_str("Cache-Control: no-cache\r\n");
    for (name, value) in headers.iter() {
        let owned = ["content-length", "transfer-encoding", "cache-control"]
            .iter()
            .any(|o| name.eq_ignore_ascii_case(o));
        // Header text was checked when the script or fixture was loaded.
        if !owned && !value.contains(['\r', '\n']) && !name.contains(['\r', '\n', ':']) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("Transfer-Encoding: chunked\r\n\r\n");
    head.into_bytes()
}

/// Holds a stalled connection open, reading and ignoring whatever comes, until the peer
/// closes it or the server stops.
pub(crate) fn wait_for_peer_to_leave(stream: &mut TcpStream, stop: &AtomicBool) {
    let mut scratch = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut scratch) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => return,
        }
    }
}

/// Whether a read error is the read timeout that lets a connection check for shutdown.
pub(crate) fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}
