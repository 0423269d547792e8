//! cm-smol: the async driver of cm's agent on smol.
#![forbid(unsafe_code)]

mod client;
mod connect;
mod driver;
mod fanout;
mod pool;
mod runtime;
mod tls;

pub use client::SmolClient;
pub use driver::{Credentials, Handle, SmolDriver, Update};
pub use fanout::Fanout;
pub use runtime::SmolRuntime;
