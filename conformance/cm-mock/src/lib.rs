//! cm-mock: a scripted mock model provider on 127.0.0.1 for cm's end-to-end tests.
//!
//! It speaks HTTP/1.1 (cm-proto's codec, one thread per connection, keep-alive) and
//! answers Anthropic `POST /v1/messages`, OpenAI `POST /v1/chat/completions` and
//! `POST /v1/responses`, and Gemini `POST /v1beta/models/{model}:streamGenerateContent`
//! and `:generateContent`, streamed or whole, from a [`Script`]: a list of turns taken in
//! order by successive model requests. A turn answers with text, reasoning and tool calls
//! in the endpoint's real wire shape, replays a recorded fixture byte for byte, or fails on
//! purpose (an error status, a delay, a trickle, a cut, a stall). Every request is logged
//! ([`LoggedRequest`]) in memory and optionally to a JSON Lines file.
//!
//! The same port serves mock authorization endpoints (device flow, PKCE, refresh,
//! revocation, a Copilot-style token exchange) as an [`OAuthScript`] says.
//!
//! It never listens on anything but 127.0.0.1, and it is not a provider simulator: it
//! answers what the script says, whatever the request asks for. The script format and the
//! log are documented in `conformance/README.md`.
//!
//! ```no_run
//! use cm_mock::{MockServer, Script};
//!
//! let script = Script::from_json(r#"[{"text": "Hello from the mock."}]"#)?;
//! let mut server = MockServer::start(script);
//! let base_url = server.url(); // http://127.0.0.1:PORT
//! // ... point cm at base_url and run it ...
//! assert_eq!(server.requests().len(), 1);
//! server.shutdown();
//! # Ok::<(), cm_mock::ScriptError>(())
//! ```
#![forbid(unsafe_code)]

mod answer;
mod cors;
mod expect;
mod log;
mod oauth;
mod respond;
mod script;
mod server;
mod transmit;
mod wire;

pub use log::LoggedRequest;
pub use oauth::{AuthorizeOutcome, DeviceOutcome, OAuthScript};
pub use script::{
    Expectation, Expectations, Fault, HeaderExpectation, JsonExpectation, ReplaySpec, Script,
    ScriptError, StreamFraming, ToolCallSpec, Trickle, Turn, UsageSpec,
};
pub use server::{Config, MockServer};
