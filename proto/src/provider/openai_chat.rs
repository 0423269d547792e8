//! (stub; being written)

use super::{ApiError, ChatRequest, DecodeError, Endpoint, StreamEvent};
use crate::http::{Headers, Method, Request};
use crate::sse;

/// Builds the request.
pub fn build_request(endpoint: &Endpoint, request: &ChatRequest) -> Request {
    let _ = request;
    Request {
        method: Method::Post,
        url: endpoint.base_url.clone(),
        headers: Headers::new(),
        body: Vec::new(),
    }
}

/// Decodes a body.
pub fn decode_body(body: &[u8]) -> Result<Vec<StreamEvent>, DecodeError> {
    let _ = body;
    Ok(Vec::new())
}

/// Classifies an error.
pub fn classify_error(status: u16, headers: &Headers, body: &[u8]) -> ApiError {
    ApiError::classify(Some(status), headers, None, None, body)
}

/// The stream decoder.
#[derive(Debug, Default)]
pub struct StreamDecoder {}

impl StreamDecoder {
    /// A new decoder.
    pub fn new() -> StreamDecoder {
        StreamDecoder {}
    }
}

impl super::StreamDecoder for StreamDecoder {
    fn decode(
        &mut self,
        event: &sse::Event,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), DecodeError> {
        let _ = (event, out);
        Ok(())
    }
    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        let _ = out;
        Ok(())
    }
}
