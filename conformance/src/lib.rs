//! cm-conformance: tests of cm against recorded provider streams and a mock provider.
//!
//! The tests live in `tests/`; this library holds what they share: finding the recorded
//! fixtures in `../shared/fixtures/recorded` and turning each into SSE bytes ([`fixtures`]).
#![forbid(unsafe_code)]

pub mod fixtures;

pub use fixtures::{load_all, Fixture, FixtureError, FixtureKind, Interaction};
