//! cm-smol: the async driver of cm's agent on smol.
#![forbid(unsafe_code)]

mod client;
mod connect;
mod pool;
mod tls;

pub use client::SmolClient;
