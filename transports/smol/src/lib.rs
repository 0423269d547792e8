//! cm-smol: the async driver of cm's agent on smol.
//!
//! Planned (serve issue): an HTTP/1.1 client over smol's TCP streams using cm-proto's
//! codec, TLS with futures-rustls, many sessions in one process. Empty until then.
#![forbid(unsafe_code)]
