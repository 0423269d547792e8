//! The gemini stream decoder behind the SSE parser: any bytes, never a panic; the
//! assembled message is always buildable.
#![no_main]

mod common;

use cm_proto::provider::WireFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| common::decode_stream(WireFormat::Gemini, data));
