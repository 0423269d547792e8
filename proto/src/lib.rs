//! cm-proto: the protocol core of cm, with no I/O.
//!
//! Callers feed this crate bytes, results and the current time; it answers with what
//! should happen next. The same code therefore runs under a blocking client, an async
//! runtime, a browser and a fuzzer.
//!
//! In scope: Server-Sent Events parsing ([`sse`]), an HTTP/1.1 codec ([`http`]), the
//! provider-neutral conversation model ([`message`]), and the wire formats of the model
//! providers ([`provider`]): request builders, stream decoders, error classification.
//! Settings: the JSONC configuration ([`config`]), permission rules ([`permission`]) and
//! the model catalog with prices ([`model`]); config files arrive as text.
//!
//! Logins: API keys, OAuth (PKCE, device flow, token exchange) and refresh ([`auth`]).
//!
//! On top of them: the agent's turn loop as a state machine ([`agent`]), the session
//! records it writes and replays ([`session`]), and the tools' specs and pure logic —
//! file tools over a file-system trait, patches, todos ([`tool`]).
//!
//! Out of scope: sockets, TLS, files, processes, threads, clocks and randomness. Time
//! arrives as a value ([`time`]); entropy and hashes are passed in by the caller.
//!
//! A typical stream: bytes → [`sse::Parser`] → [`sse::Event`] → a provider's
//! `StreamDecoder` → [`provider::StreamEvent`]s → [`provider::MessageAssembler`] →
//! a finished assistant [`message::Message`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod agent;
pub mod auth;
pub mod base64;
pub mod config;
pub mod http;
pub mod message;
pub mod model;
pub mod permission;
pub mod provider;
pub mod session;
pub mod sse;
pub mod time;
pub mod tool;
