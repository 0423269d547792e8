//! The HTTP/1.1 response decoder: any bytes in any chunking, never a panic, never a
//! body larger than its input, and the same head and body whatever the chunking.
#![no_main]

use cm_proto::http::{Limits, Method, ResponseDecoder};
use libfuzzer_sys::fuzz_target;

/// Decodes head and body feeding at most `chunk` new bytes at a time.
fn decode(input: &[u8], chunk: usize) -> Option<(u16, Vec<u8>)> {
    let limits = Limits {
        max_head_bytes: 4096,
        max_headers: 16,
        ..Limits::default()
    };
    let mut decoder = ResponseDecoder::with_limits(Method::Get, limits);
    let mut end = 0;
    let (used, head) = loop {
        end = (end + chunk).min(input.len());
        match decoder.decode_head(&input[..end]) {
            Ok(Some(found)) => break found,
            Ok(None) if end < input.len() => continue,
            _ => return None,
        }
    };
    let mut body = decoder.body_decoder()?;
    let mut out = Vec::new();
    let mut rest = &input[used..];
    while !rest.is_empty() && !body.is_done() {
        let piece = &rest[..chunk.min(rest.len())];
        let n = body.decode(piece, &mut out).ok()?;
        assert!(n <= piece.len());
        if n == 0 && !body.is_done() {
            break;
        }
        rest = &rest[n..];
    }
    if !body.is_done() {
        body.finish_eof().ok()?;
    }
    assert!(out.len() <= input.len());
    Some((head.status, out))
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let whole = decode(input, input.len().max(1));
    let chunked = decode(input, usize::from(split).max(1));
    if let (Some(a), Some(b)) = (&whole, &chunked) {
        assert_eq!(a, b, "chunking changed the decoded response");
    }
});
