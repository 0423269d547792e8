//! cm-host: where cm's tools run.
//!
//! Planned (agent and tools issues): the search tools generic over cm-proto's file-system
//! trait, and with the default `native` feature the real machine: files confined to the
//! workspace, processes, sessions and credentials on disk. Empty until then.
#![forbid(unsafe_code)]
