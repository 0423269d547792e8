//! cm-ureq: the blocking driver of cm's agent — [`UreqClient`], an
//! [`HttpClient`](cm_driver::HttpClient) over ureq with rustls (ring).
//!
//! Each exchange runs on its own thread with its own ureq agent, so that cancelling it
//! ([`ureq::Agent::shutdown`]) interrupts exactly that exchange, even in the middle of a
//! blocked read. Bodies are forwarded in the pieces the socket delivers them (at most
//! 16 KiB each), never buffered whole. Statuses are not errors: a 429 or 500 arrives as
//! a head and a body like a 200, and the agent classifies it.
//!
//! Configuration comes from the environment as curl reads it ([`ClientOptions::from_env`]):
//! `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` (either case) and `NO_PROXY`; trust roots
//! from `SSL_CERT_FILE`, else the system's CA bundle, else the bundled Mozilla roots.
//! [`UreqFetcher`] is the [`WebFetcher`](cm_driver::WebFetcher) behind the `webfetch`
//! tool, with the same configuration. Everything else (the loop, the tools) is in
//! cm-driver.
#![forbid(unsafe_code)]

mod client;
mod fetch;

pub use client::UreqClient;
pub use cm_driver::{ClientOptions, TrustRoots, SYSTEM_BUNDLES};
pub use fetch::UreqFetcher;
