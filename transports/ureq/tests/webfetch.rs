//! `webfetch` over ureq against a tiny server on 127.0.0.1: conversion, redirects, the
//! size and time limits, refused URLs and types.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use cm_ureq::{ClientOptions, UreqFetcher};

fn fetcher() -> UreqFetcher {
    UreqFetcher::new(ClientOptions::default())
}

include!("../../driver/tests/support/webfetch_contract.rs");
