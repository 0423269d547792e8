//! The stream decoder's typed fast path: a `GenerateContentResponse` of the usual shape
//! parsed straight into borrowing structs (see [`crate::provider::typed`]).
//!
//! The usual shape is text and thought parts, a finish reason and usage. A response with
//! anything else, or anything the `Value` path would read differently, fails
//! [`FastResponse::parse`] and takes the `Value` path: an `error`, a `promptFeedback`, a
//! part without `text` (function calls, inline data, a bare signature) or with
//! `"text": null`, a field of an unexpected type, a duplicate key.

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

use super::stream::Counters;
use crate::provider::typed::{present, Object, Text};

/// A streamed response of the usual shape.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FastResponse<'a> {
    #[serde(default, borrow)]
    pub(super) candidates: Option<Vec<Object<FastCandidate<'a>>>>,
    #[serde(default)]
    pub(super) usage_metadata: Option<Object<FastUsage>>,
    #[serde(default, borrow)]
    pub(super) model_version: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) response_id: Option<Text<'a>>,
    #[serde(default)]
    error: Option<IgnoredAny>,
    #[serde(default, deserialize_with = "present")]
    prompt_feedback: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FastCandidate<'a> {
    #[serde(default)]
    pub(super) index: Option<u64>,
    #[serde(default, borrow)]
    pub(super) content: Option<Object<FastContent<'a>>>,
    #[serde(default, borrow)]
    pub(super) finish_reason: Option<Text<'a>>,
}

#[derive(Deserialize)]
pub(super) struct FastContent<'a> {
    #[serde(default, borrow)]
    pub(super) parts: Option<Vec<Object<FastPart<'a>>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FastPart<'a> {
    /// Required to be a string when present: the `Value` path reads `null` as an empty
    /// text part, `Option` would read it as no text.
    #[serde(default, borrow, deserialize_with = "string")]
    pub(super) text: Option<Text<'a>>,
    #[serde(default)]
    pub(super) thought: Option<bool>,
    #[serde(default, borrow)]
    pub(super) thought_signature: Option<Text<'a>>,
    #[serde(default, deserialize_with = "present")]
    function_call: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FastUsage {
    #[serde(default)]
    prompt_token_count: Option<u64>,
    #[serde(default)]
    cached_content_token_count: Option<u64>,
    #[serde(default)]
    candidates_token_count: Option<u64>,
    #[serde(default)]
    thoughts_token_count: Option<u64>,
    #[serde(default)]
    total_token_count: Option<u64>,
}

/// A present field that must be a string (`null` is an error).
fn string<'de: 'a, 'a, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Text<'a>>, D::Error> {
    Text::deserialize(deserializer).map(Some)
}

impl<'a> FastResponse<'a> {
    /// The response, if `data` is one of the usual shape (see the module documentation).
    pub(super) fn parse(data: &'a str) -> Option<FastResponse<'a>> {
        let Object(response) = serde_json::from_str::<Object<FastResponse<'a>>>(data).ok()?;
        let usual_part = |part: &FastPart<'_>| part.text.is_some() && !part.function_call;
        let usual = response.error.is_none()
            && !response.prompt_feedback
            && response
                .candidates
                .iter()
                .flatten()
                .filter_map(|candidate| candidate.0.content.as_ref())
                .flat_map(|content| content.0.parts.iter().flatten())
                .all(|part| usual_part(&part.0));
        usual.then_some(response)
    }
}

impl FastUsage {
    pub(super) fn counters(&self) -> Counters {
        Counters {
            prompt: self.prompt_token_count,
            cached: self.cached_content_token_count,
            candidates: self.candidates_token_count,
            thoughts: self.thoughts_token_count,
            total: self.total_token_count,
        }
    }
}
