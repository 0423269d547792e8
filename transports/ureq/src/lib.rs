//! cm-ureq: the blocking driver of cm's agent over ureq.
//!
//! Planned (agent issue): send the core's HTTP requests with ureq (rustls), feed response
//! bodies to the agent chunk by chunk, run tools on worker threads, bound every wait by
//! the agent's deadlines. Empty until then, so the workspace shows its final layout.
#![forbid(unsafe_code)]
