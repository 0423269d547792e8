//! cm-smol: the async driver of cm's agent on smol — many sessions in one process.
//!
//! A [`SmolDriver`] runs one session's turns: [`SmolDriver::run_turn`] is an async fn that
//! pumps the agent as cm-driver's blocking `Driver` does (same [`cm_driver::feed`], same
//! record-before-anything-later rule), but waits on an async-channel of
//! [`Input`](cm_driver::Input)s until the agent's next deadline. Requests become tasks
//! of a shared [`SmolClient`] (HTTP/1.1 with cm-proto's codec over smol's sockets, TLS by
//! futures-rustls with ring, keep-alive per origin, `CONNECT` through `HTTPS_PROXY`);
//! dropping a task closes its connection. Tools run on blocking threads through
//! cm-driver's `ToolHost`. What the agent reports is fanned out as [`Update`]s to every
//! subscriber of the driver's [`Handle`], which also answers questions and aborts.
//! Dropping a turn's future aborts the turn and still writes its last records.
//!
//! For blocking callers, [`BlockingSmolClient`] puts a [`SmolClient`] behind cm-driver's
//! `HttpClient` (for its blocking `Driver`), and [`SmolFetcher`] is `webfetch`'s
//! `WebFetcher` on one.
#![forbid(unsafe_code)]

mod blocking;
mod client;
mod connect;
mod driver;
mod fanout;
mod fetch;
mod pool;
mod runtime;
mod tls;

pub use blocking::BlockingSmolClient;
pub use client::SmolClient;
pub use driver::{CredentialFn, Exchanges, Handle, SmolDriver, Update};
pub use fanout::Fanout;
pub use fetch::SmolFetcher;
pub use runtime::SmolRuntime;
