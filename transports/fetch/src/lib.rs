//! cm-fetch: the browser driver of cm's agent over web-sys fetch (wasm32).
//!
//! Planned (browser issue): streamed fetch bodies fed to the agent, AbortController for
//! abort, browser timers for deadlines. Empty until then.
#![forbid(unsafe_code)]
