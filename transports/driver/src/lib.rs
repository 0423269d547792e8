//! cm-driver: what every driver of cm's agent shares, whatever its I/O.
//!
//! A driver owns the clock, the network, the tools and the user; the agent
//! (`cm_proto::agent::Agent`) owns every decision. [`Driver::run`] pumps one turn: it
//! drains the agent's outputs and routes each to its port — requests to an
//! [`HttpClient`], tool runs to a [`ToolRunner`], events and questions to a [`Ui`],
//! records to a [`RecordSink`] (durably, before anything later) — then waits on one
//! channel of [`Input`]s until the agent's next deadline and feeds back what came.
//!
//! Every source of input (HTTP workers, tool workers, the UI's answers, Ctrl-C) holds a
//! clone of the same `std::sync::mpsc::Sender<Input>`, so the loop has exactly one place
//! to wait. The [`Runtime`] gives the loop its clock, its wait and its worker threads;
//! [`StdRuntime`] is the real one. [`ToolHost`] runs the built-in tools on the local
//! machine through cm-host. [`ClientOptions`] is what every driver's HTTP client reads
//! from the environment (proxies, trust roots); [`feed`] and [`abandon`] are the loop's
//! pieces an async driver reuses.
#![forbid(unsafe_code)]

mod client_options;
mod driver;
mod input;
mod ports;
mod runtime;
mod tool_host;

pub use client_options::{ClientOptions, TrustRoots, SYSTEM_BUNDLES};
pub use driver::{abandon, feed, Driver, DriverError};
pub use input::Input;
pub use ports::{HttpClient, RecordSink, ToolRunner, Ui, WebFetcher};
pub use runtime::{Runtime, StdRuntime};
pub use tool_host::ToolHost;
