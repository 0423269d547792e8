//! `webfetch` on SmolClient against a tiny server on 127.0.0.1: conversion, redirects, the
//! size and time limits, refused URLs and types.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use cm_smol::{SmolClient, SmolFetcher};

fn fetcher() -> SmolFetcher {
    SmolFetcher::new(SmolClient::new(cm_driver::ClientOptions::from_lookup(
        |_| None,
    )))
}

include!("../../driver/tests/support/webfetch_contract.rs");
