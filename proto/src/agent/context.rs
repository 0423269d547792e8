//! Keeping the conversation inside the model's context window: how full the next
//! request will be, which old tool outputs to prune, and the summarisation request that
//! compaction sends.
//!
//! The estimate of the next request's input is the input the provider reported for the
//! last request (cache reads and writes included), plus one token per [`BYTES_PER_TOKEN`]
//! bytes the history gained since, minus the same for what it lost (pruned outputs).
//! Text counts its UTF-8 bytes, a tool call its name and arguments, an image
//! [`IMAGE_BYTES`], reasoning its readable text. Without a reported baseline (the first
//! request, a resumed session, after compaction) the whole history, the system prompt
//! and the tool specs are counted the same way. It is a guess on purpose: cheap, never
//! below what the provider last said, and corrected by every response.

use crate::message::{Message, Part, ToolOutput, Usage};
use crate::tool::ToolDef;

/// Bytes of text counted as one token.
pub(crate) const BYTES_PER_TOKEN: u64 = 4;
/// What an image counts as, in bytes (about 1,600 tokens).
pub(crate) const IMAGE_BYTES: u64 = 6_400;
/// Pruning starts past this share of the window, in percent.
pub(crate) const PRUNE_PERCENT: u64 = 90;
/// Compaction starts past this share of the window (after pruning), in percent.
pub(crate) const COMPACT_PERCENT: u64 = 95;
/// Tool results kept whole besides those of the last message, newest first.
pub(crate) const KEEP_RESULTS: usize = 3;

/// What a pruned tool result says instead of its output.
pub const PRUNED_TEXT: &str = "[output pruned to save context: this result was removed from \
the conversation; call the tool again if you need it]";

/// The system prompt of the summarisation request.
pub const SUMMARY_SYSTEM: &str = "You summarise a coding session so that the work can \
continue from your summary alone. You never call tools.";

/// The instruction that ends the summarisation request.
pub const SUMMARY_INSTRUCTION: &str = "Summarise the conversation above; it will be replaced \
by your summary, so the work must be able to continue from it alone. Include: the user's \
requests and goals, in their words where it matters; what has been done (files read, created \
or changed, and how); facts found that are still needed (paths, names, commands, errors and \
their fixes); decisions made and why; what remains to do, and the immediate next step. Be \
specific and brief. Answer with the summary only, as plain text.";

/// How the summary message of a compacted history begins.
pub const SUMMARY_HEADER: &str =
    "[Summary of earlier work: the conversation before this point was compacted to save context]";

/// What follows the summary when a turn was running: its request comes next.
const CONTINUE_NOTE: &str =
    "The request being worked on follows; continue it from where the summary leaves off.";

/// The most of one tool result's text put into the summarisation transcript.
const TRANSCRIPT_RESULT_BYTES: usize = 4_000;
/// The most of one tool call's arguments put into the transcript.
const TRANSCRIPT_ARGS_BYTES: usize = 1_000;
/// The transcript's share of the window, in percent, when the window is known.
const TRANSCRIPT_PERCENT: u64 = 60;

/// The input the provider last reported, and the size of the history it was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Baseline {
    tokens: u64,
    bytes: u64,
}

/// Tracks the reported input of past requests to estimate the next one.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    baseline: Option<Baseline>,
    /// The history size of the request in flight.
    sent_bytes: Option<u64>,
}

impl Tracker {
    /// A conversation request with a history of `bytes` was sent.
    pub(crate) fn sent(&mut self, bytes: u64) {
        self.sent_bytes = Some(bytes);
    }

    /// The request in flight reported `usage`; a zero input (not reported) changes nothing.
    pub(crate) fn reported(&mut self, usage: &Usage) {
        let tokens = total_input(usage);
        if let (Some(bytes), true) = (self.sent_bytes, tokens > 0) {
            self.baseline = Some(Baseline { tokens, bytes });
        }
    }

    /// The history was replaced: only a count of it can tell its size now.
    pub(crate) fn reset(&mut self) {
        *self = Tracker::default();
    }

    /// The estimated input tokens of a request with a history of `history_bytes`;
    /// `fixed_bytes` (system prompt and tools) counts only without a baseline.
    pub(crate) fn estimate(&self, history_bytes: u64, fixed_bytes: u64) -> u64 {
        match self.baseline {
            Some(base) => base
                .tokens
                .saturating_add(history_bytes / BYTES_PER_TOKEN)
                .saturating_sub(base.bytes / BYTES_PER_TOKEN),
            None => history_bytes.saturating_add(fixed_bytes) / BYTES_PER_TOKEN,
        }
    }
}

/// Input tokens, cached or not, without overflow.
fn total_input(usage: &Usage) -> u64 {
    usage
        .input_tokens
        .saturating_add(usage.cache_read_tokens)
        .saturating_add(usage.cache_write_tokens)
}

/// Whether `tokens` is past `percent` % of `window`.
pub(crate) fn past(tokens: u64, window: u64, percent: u64) -> bool {
    u128::from(tokens) * 100 > u128::from(window) * u128::from(percent)
}

/// The counted size of a history, in bytes.
pub(crate) fn history_bytes(history: &[Message]) -> u64 {
    history
        .iter()
        .flat_map(|m| &m.parts)
        .fold(0u64, |n, part| n.saturating_add(part_bytes(part)))
}

/// The counted size of the system prompt and the tool specs, in bytes.
pub(crate) fn fixed_bytes(system: Option<&str>, tools: &[ToolDef]) -> u64 {
    tools.iter().fold(len(system.unwrap_or_default()), |n, t| {
        n.saturating_add(len(&t.spec.name))
            .saturating_add(len(&t.spec.description))
            .saturating_add(len(&t.spec.input_schema.to_string()))
    })
}

fn part_bytes(part: &Part) -> u64 {
    match part {
        Part::Text { text } => len(text),
        Part::Reasoning(r) => len(&r.text),
        Part::Image(_) => IMAGE_BYTES,
        Part::ToolCall(call) => len(&call.name).saturating_add(len(&call.arguments)),
        Part::ToolResult(result) => result
            .content
            .iter()
            .fold(0u64, |n, item| n.saturating_add(output_bytes(item))),
    }
}

fn output_bytes(item: &ToolOutput) -> u64 {
    match item {
        ToolOutput::Text { text } => len(text),
        ToolOutput::Image(_) => IMAGE_BYTES,
    }
}

fn len(text: &str) -> u64 {
    u64::try_from(text.len()).unwrap_or(u64::MAX)
}

/// The tool results to prune, by call id, and the bytes pruning them saves.
///
/// Every result is a candidate except those in the last message (the step just answered)
/// and the [`KEEP_RESULTS`] newest of the rest; a result no larger than the stub (one
/// already pruned, a short answer) is left alone.
pub(crate) fn prunable(history: &[Message]) -> (Vec<String>, u64) {
    let older = history.split_last().map_or(&[][..], |(_, rest)| rest);
    let results: Vec<(&str, u64)> = older
        .iter()
        .flat_map(|m| &m.parts)
        .filter_map(|part| match part {
            Part::ToolResult(r) => Some((r.call_id.as_str(), part_bytes(part))),
            _ => None,
        })
        .collect();
    let candidates = results.len().saturating_sub(KEEP_RESULTS);
    let stub = len(PRUNED_TEXT);
    let mut saved = 0u64;
    let ids = results
        .iter()
        .take(candidates)
        .filter(|(_, bytes)| *bytes > stub)
        .map(|(id, bytes)| {
            saved = saved.saturating_add(bytes - stub);
            (*id).to_string()
        })
        .collect();
    (ids, saved)
}

/// The one user message of the summarisation request: the history as a transcript,
/// then [`SUMMARY_INSTRUCTION`].
///
/// Reasoning is left out, tool outputs and arguments are cut to a few kilobytes each,
/// and with a known `window` the transcript keeps to [`TRANSCRIPT_PERCENT`] % of it: the
/// first message (often an earlier summary) and then the newest messages that fit, so
/// the request itself cannot overflow the way the conversation did.
pub(crate) fn summary_prompt(history: &[Message], window: Option<u64>) -> Message {
    let blocks: Vec<String> = history.iter().map(render).collect();
    let budget = window.map_or(usize::MAX, |w| {
        let bytes = w.saturating_mul(TRANSCRIPT_PERCENT) / 100 * BYTES_PER_TOKEN;
        usize::try_from(bytes).unwrap_or(usize::MAX)
    });
    let mut out = String::from("Here is the conversation so far.\n\n");
    if let Some((first, rest)) = blocks.split_first() {
        let first = cut(first, budget / 4);
        let mut room = budget.saturating_sub(first.len());
        let mut kept = rest
            .iter()
            .rev()
            .take_while(|b| match room.checked_sub(b.len()) {
                Some(left) => {
                    room = left;
                    true
                }
                None => false,
            })
            .collect::<Vec<_>>();
        kept.reverse();
        out.push_str(&first);
        let omitted = rest.len() - kept.len();
        if omitted > 0 {
            out.push_str(&format!(
                "[... {omitted} messages omitted to fit the context window ...]\n\n"
            ));
        }
        for block in kept {
            out.push_str(block);
        }
    }
    out.push_str("---\n\n");
    out.push_str(SUMMARY_INSTRUCTION);
    Message::user(out)
}

/// One message as transcript text.
fn render(message: &Message) -> String {
    let mut out = match message.role {
        crate::message::Role::User => String::from("## User\n"),
        crate::message::Role::Assistant => String::from("## Assistant\n"),
    };
    for part in &message.parts {
        match part {
            Part::Text { text } => out.push_str(text),
            Part::Reasoning(_) => continue,
            Part::Image(_) => out.push_str("[image]"),
            Part::ToolCall(call) => {
                out.push_str(&format!(
                    "[tool call `{}`: {}]",
                    call.name,
                    cut(&call.arguments, TRANSCRIPT_ARGS_BYTES)
                ));
            }
            Part::ToolResult(result) => {
                let error = if result.is_error { " (error)" } else { "" };
                let images = result
                    .content
                    .iter()
                    .filter(|c| matches!(c, ToolOutput::Image(_)))
                    .count();
                let mut text = cut(&result.text(), TRANSCRIPT_RESULT_BYTES);
                for _ in 0..images {
                    text.push_str(" [image]");
                }
                out.push_str(&format!("[result of `{}`{error}: {text}]", result.name));
            }
        }
        out.push('\n');
    }
    out.push('\n');
    out
}

/// `text` cut to at most `max` bytes on a character boundary, saying how much was cut.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} [... {} bytes cut ...]", &text[..end], text.len() - end)
}

/// The history after compaction: one user message with the marked summary, followed by
/// the running turn's request (`prompt`) when there is one.
pub(crate) fn compacted_history(summary: &str, prompt: &[Part]) -> Vec<Message> {
    let mut text = format!("{SUMMARY_HEADER}\n\n{summary}");
    if !prompt.is_empty() {
        text.push_str("\n\n");
        text.push_str(CONTINUE_NOTE);
    }
    let mut parts = vec![Part::text(text)];
    parts.extend(prompt.iter().cloned());
    vec![Message {
        role: crate::message::Role::User,
        parts,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Image, Origin, Role, ToolCall, ToolResult};

    fn call(id: &str) -> Part {
        Part::ToolCall(ToolCall {
            id: id.into(),
            name: "read".into(),
            arguments: r#"{"path":"a"}"#.into(),
            item_id: None,
            signature: None,
            origin: Origin::default(),
        })
    }

    fn result(id: &str, text: &str) -> Part {
        Part::ToolResult(ToolResult {
            call_id: id.into(),
            name: "read".into(),
            content: vec![ToolOutput::Text { text: text.into() }],
            is_error: false,
        })
    }

    /// A history of `n` steps, each a call and its result of `size` bytes.
    fn steps(n: usize, size: usize) -> Vec<Message> {
        let mut history = vec![Message::user("go")];
        for i in 0..n {
            let id = format!("c{i}");
            history.push(Message {
                role: Role::Assistant,
                parts: vec![call(&id)],
            });
            history.push(Message {
                role: Role::User,
                parts: vec![result(&id, &"x".repeat(size))],
            });
        }
        history
    }

    #[test]
    fn the_estimate_follows_the_reported_input_and_the_bytes_since() {
        let mut tracker = Tracker::default();
        assert_eq!(
            tracker.estimate(4_000, 400),
            1_100,
            "no baseline: all bytes"
        );
        tracker.sent(4_000);
        tracker.reported(&Usage {
            input_tokens: 200,
            cache_read_tokens: 1_000,
            cache_write_tokens: 300,
            ..Usage::default()
        });
        assert_eq!(
            tracker.estimate(4_000, 400),
            1_500,
            "the provider's count wins"
        );
        assert_eq!(
            tracker.estimate(8_000, 400),
            2_500,
            "plus a token per 4 new bytes"
        );
        assert_eq!(tracker.estimate(0, 400), 500, "pruning lowers it");
        tracker.sent(8_000);
        tracker.reported(&Usage::default());
        assert_eq!(
            tracker.estimate(8_000, 0),
            2_500,
            "an unreported input keeps the old baseline"
        );
        tracker.reset();
        assert_eq!(tracker.estimate(8_000, 0), 2_000);
        let huge = Usage {
            input_tokens: u64::MAX,
            cache_read_tokens: u64::MAX,
            ..Usage::default()
        };
        tracker.sent(0);
        tracker.reported(&huge);
        assert_eq!(tracker.estimate(u64::MAX, u64::MAX), u64::MAX);
        assert!(past(u64::MAX, u64::MAX, 95) && !past(90, 100, 90) && past(91, 100, 90));
    }

    #[test]
    fn images_count_as_a_fixed_size_not_their_base64() {
        let image = Part::Image(Image::Base64 {
            media_type: "image/png".into(),
            data: "A".repeat(1_000_000),
        });
        let history = vec![Message {
            role: Role::User,
            parts: vec![Part::text("look"), image],
        }];
        assert_eq!(history_bytes(&history), 4 + IMAGE_BYTES);
    }

    #[test]
    fn pruning_spares_the_last_message_and_the_newest_results() {
        let history = steps(6, 1_000);
        let (ids, saved) = prunable(&history);
        // c5 is in the last message; c2, c3, c4 are the newest of the rest.
        assert_eq!(ids, ["c0", "c1"]);
        assert_eq!(saved, 2 * (1_000 - PRUNED_TEXT.len() as u64));
        assert_eq!(prunable(&steps(4, 1_000)).0, Vec::<String>::new());
        assert_eq!(
            prunable(&steps(6, 10)).0,
            Vec::<String>::new(),
            "outputs shorter than the stub stay"
        );
        let mut pruned = history.clone();
        crate::session::prune_results(&mut pruned, &ids, PRUNED_TEXT);
        assert_eq!(
            prunable(&pruned).0,
            Vec::<String>::new(),
            "pruning twice prunes nothing"
        );
        assert_eq!(prunable(&[]).0, Vec::<String>::new());
    }

    #[test]
    fn the_transcript_cuts_big_outputs_and_keeps_the_first_and_newest_messages() {
        let mut history = steps(3, 10_000);
        history[0] = Message::user("first request");
        let whole = summary_prompt(&history, None).text();
        assert!(whole.starts_with("Here is the conversation so far.\n\n## User\nfirst request\n"));
        assert!(
            whole.contains("[tool call `read`: {\"path\":\"a\"}]"),
            "{whole}"
        );
        assert!(whole.contains("[... 6000 bytes cut ...]"), "{whole}");
        assert!(whole.ends_with(SUMMARY_INSTRUCTION));
        assert!(!whole.contains("omitted"));
        // 2,500 tokens → a 6,000-byte transcript: the first message, then the newest that fit.
        let tight = summary_prompt(&history, Some(2_500)).text();
        assert!(tight.contains("first request"));
        assert!(
            tight.contains("messages omitted to fit the context window"),
            "{tight}"
        );
        assert!(tight.len() < 6_000 + 1_000, "{}", tight.len());
        let last = history.last().map(render).unwrap_or_default();
        assert!(tight.contains(&last), "the newest message is kept");
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        assert_eq!(cut("ααα", 3), "α [... 4 bytes cut ...]");
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("é", 0), " [... 2 bytes cut ...]");
    }

    #[test]
    fn the_compacted_history_is_one_marked_user_message() {
        let alone = compacted_history("did x", &[]);
        assert_eq!(
            alone,
            vec![Message::user(format!("{SUMMARY_HEADER}\n\ndid x"))]
        );
        let running = compacted_history("did x", &[Part::text("now y")]);
        assert_eq!(running.len(), 1);
        assert_eq!(running[0].parts.len(), 2);
        assert!(running[0].text().contains(CONTINUE_NOTE));
        assert_eq!(running[0].parts[1], Part::text("now y"));
    }
}
