//! The HTTP/1.1 request decoder (the server side): pipelined requests from any bytes,
//! never a panic, consumed counts always within the input.
#![no_main]

use cm_proto::http::{Limits, RequestDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let decoder = RequestDecoder::new(Limits {
        max_head_bytes: 4096,
        max_headers: 16,
        max_body_bytes: Some(64 * 1024),
        ..Limits::default()
    });
    let mut rest = data;
    for _ in 0..8 {
        let Ok(Some((used, head))) = decoder.decode_head(rest) else {
            return;
        };
        assert!(used > 0 && used <= rest.len());
        rest = &rest[used..];
        let Ok(mut body) = decoder.body_decoder(&head) else {
            return;
        };
        let mut out = Vec::new();
        let Ok(n) = body.decode(rest, &mut out) else {
            return;
        };
        assert!(n <= rest.len());
        if !body.is_done() {
            return;
        }
        rest = &rest[n..];
    }
});
