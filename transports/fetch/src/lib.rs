//! cm-fetch: the browser driver of cm's agent over web-sys fetch (wasm32).
//!
//! A browser has no thread to block on, so the loop is turned inside out: every input
//! (a response chunk, a tool result, a timer, the user's click) is pushed to
//! [`Driver::feed`], which hands it to the agent and routes the agent's outputs — HTTP
//! to an [`Io`], tools, events, questions and records to a [`Host`] — then arms one timer
//! for the agent's next deadline. Inputs that arrive while the driver is busy (a tool
//! that answers at once, a callback that calls back in) wait in a queue and are handled
//! in order before it returns; after each batch the driver calls the `notify` hook with
//! nothing borrowed, so a page's callbacks may call straight back in.
//!
//! The pump is target-independent and tested natively. On wasm32 [`FetchIo`] supplies
//! the browser's side: `fetch` with the response body read from its `ReadableStream`
//! chunk by chunk, an `AbortController` per exchange, `setTimeout` for deadlines,
//! `performance.now()` and `Date.now()` for time, and [`random_seed`] from
//! `crypto.getRandomValues`; [`fetch_page`] serves the `webfetch` tool.
#![forbid(unsafe_code)]

mod failure;
mod pump;
#[cfg(target_arch = "wasm32")]
mod web;

pub use failure::describe_fetch_failure;
pub use pump::{Driver, Feed, Host, Input, Io};
#[cfg(target_arch = "wasm32")]
pub use web::{fetch_page, now, random_seed, wall_clock, FetchIo};
