//! The bounds every decoder enforces, so no input can make it buffer without end.

/// Size limits for decoding heads and bodies.
///
/// Defaults: 64 KiB of head, 100 headers, 4 KiB chunk-size lines, no body limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest head in bytes, counting any 1xx interim heads before the final one; also
    /// bounds the trailer section of a chunked body.
    pub max_head_bytes: usize,
    /// Most header lines in one head.
    pub max_headers: usize,
    /// Largest body in bytes; a `Content-Length` or chunk size over it is rejected before
    /// its bytes are read.
    pub max_body_bytes: Option<u64>,
    /// Longest chunk-size line (size plus extensions) in bytes.
    pub max_chunk_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head_bytes: 64 * 1024,
            max_headers: 100,
            max_body_bytes: None,
            max_chunk_line_bytes: 4096,
        }
    }
}
