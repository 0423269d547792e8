//! cm-wasm: cm in the browser, as a wasm-bindgen package.
//!
//! A page creates an agent from its settings ([`config`]), sends messages, gets events
//! through a callback ([`host`]), answers permission questions, aborts, and lists and
//! reloads sessions kept in `localStorage` ([`store`]). The tools run on a virtual
//! workspace ([`workspace`]) with the CLI's own tool code. cm-fetch drives the agent;
//! the JavaScript API itself exists on wasm32 only (module `api`), the rest builds and
//! is tested natively.
#![forbid(unsafe_code)]

#[cfg(target_arch = "wasm32")]
mod api;
pub mod config;
pub mod host;
#[cfg(target_arch = "wasm32")]
mod local_storage;
pub mod store;
pub mod workspace;

#[cfg(target_arch = "wasm32")]
pub use api::{delete_session, list_sessions, max_file_bytes, storage_available, Cm};
