//! What a turn answers, independent of wire format: the model, reasoning, text, tool calls,
//! usage and stop reason, with ids generated for the request being served.

use crate::script::{Turn, UsageSpec};

/// One generated answer, rendered by each format's module.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// A number unique to the request, for ids.
    pub(crate) seq: u64,
    pub(crate) model: String,
    pub(crate) reasoning: Option<String>,
    pub(crate) text: Option<String>,
    pub(crate) calls: Vec<Call>,
    pub(crate) usage: UsageSpec,
    pub(crate) stop: Stop,
    /// Seconds since the Unix epoch, for `created` fields.
    pub(crate) created: u64,
}

/// A tool call with its id chosen.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// The scripted id, if any; each format otherwise makes one in its own style.
    pub(crate) id: Option<String>,
    pub(crate) name: String,
    pub(crate) arguments: String,
}

/// Why the answer stops, mapped onto each format's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    EndTurn,
    ToolUse,
    MaxTokens,
    /// A value passed through as the format's own stop reason.
    Other(String),
}

/// The model named when neither the script nor the request names one.
pub(crate) const DEFAULT_MODEL: &str = "cm-mock-scripted";

impl Answer {
    /// The answer `turn` gives to request number `seq`, which asked for `requested_model`.
    pub(crate) fn new(
        turn: &Turn,
        seq: u64,
        requested_model: Option<&str>,
        created: u64,
    ) -> Answer {
        let model = turn
            .model
            .clone()
            .or_else(|| requested_model.map(str::to_string))
            .unwrap_or_else(|| DEFAULT_MODEL.to_string());
        let calls: Vec<Call> = turn
            .tool_calls
            .iter()
            .map(|spec| Call {
                id: spec.id.clone(),
                name: spec.name.clone(),
                arguments: spec.arguments_text(),
            })
            .collect();
        let stop = match turn.stop_reason.as_deref() {
            None if calls.is_empty() => Stop::EndTurn,
            None => Stop::ToolUse,
            Some("end_turn" | "stop" | "completed") => Stop::EndTurn,
            Some("tool_use" | "tool_calls") => Stop::ToolUse,
            Some("max_tokens" | "length" | "max_output_tokens") => Stop::MaxTokens,
            Some(other) => Stop::Other(other.to_string()),
        };
        let usage = turn.usage.unwrap_or_else(|| default_usage(turn, &calls));
        Answer {
            seq,
            model,
            reasoning: turn.reasoning.clone(),
            text: turn.text.clone(),
            calls,
            usage,
            stop,
            created,
        }
    }

    /// The id of call `i` in the style `prefix` (`toolu_`, `call_`).
    pub(crate) fn call_id(&self, i: usize, prefix: &str) -> String {
        match &self.calls[i].id {
            Some(id) => id.clone(),
            None => format!("{prefix}mock{:04}{i:02}", self.seq),
        }
    }
}

/// Plausible counts: about four characters a token.
fn default_usage(turn: &Turn, calls: &[Call]) -> UsageSpec {
    let chars = turn.text.as_deref().map_or(0, str::len)
        + turn.reasoning.as_deref().map_or(0, str::len)
        + calls
            .iter()
            .map(|c| c.name.len() + c.arguments.len())
            .sum::<usize>();
    UsageSpec {
        input_tokens: 100,
        output_tokens: (chars / 4 + 1) as u64,
        reasoning_tokens: turn
            .reasoning
            .as_deref()
            .map_or(0, |r| (r.len() / 4 + 1) as u64),
        ..UsageSpec::default()
    }
}

/// Splits `text` into pieces of at most `max` bytes on character boundaries, as a model
/// streams it; an empty text is one empty piece.
pub(crate) fn pieces(text: &str, max: usize) -> Vec<&str> {
    let max = max.max(1);
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut at = max;
        while !rest.is_char_boundary(at) {
            at += 1;
        }
        let (head, tail) = rest.split_at(at);
        out.push(head);
        rest = tail;
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest);
    }
    out
}

/// Size of streamed text deltas.
pub(crate) const TEXT_PIECE: usize = 12;
/// Size of streamed tool-argument fragments: small, so keys and escapes are split.
pub(crate) const ARGUMENT_PIECE: usize = 7;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_split_on_char_boundaries() {
        assert_eq!(pieces("abcdef", 4), ["abcd", "ef"]);
        assert_eq!(pieces("", 4), [""]);
        assert_eq!(pieces("ééé", 3), ["éé", "é"]);
        assert_eq!(pieces("ééé", 3).concat(), "ééé");
    }

    #[test]
    fn stop_reason_defaults_follow_tool_calls() {
        let turn: Turn = serde_json::from_str(r#"{"tool_calls": [{"name": "ls"}]}"#).unwrap();
        let answer = Answer::new(&turn, 3, Some("m"), 0);
        assert_eq!(answer.stop, Stop::ToolUse);
        assert_eq!(answer.call_id(0, "toolu_"), "toolu_mock000300");
        assert_eq!(answer.model, "m");
        let turn: Turn = serde_json::from_str(r#"{"text": "x", "stop_reason": "length"}"#).unwrap();
        assert_eq!(Answer::new(&turn, 0, None, 0).stop, Stop::MaxTokens);
    }
}
