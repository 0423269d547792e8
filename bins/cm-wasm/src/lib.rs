//! cm-wasm: cm in the browser, as a wasm-bindgen package.
//!
//! Planned (browser issue): a JavaScript API to create an agent, send messages, receive
//! events and answer permission questions, over a virtual file system. Empty until then.
#![forbid(unsafe_code)]
