//! The model's tool calls of one step: validated, cleared by permission checks, run in a
//! safe order, and answered together in the model's order.
//!
//! Each call becomes a slot. A malformed or unknown call is answered at once with an
//! error the model can act on. A valid call carries a queue of permission checks: a
//! `doom_loop` check when it repeats the previous two calls exactly, then its tool's own
//! permission on the tool's subject argument; a [`PermissionNeed`](crate::tool::PermissionNeed)
//! reported by the host appends one more and sends the call back through the checks.
//! One question is open at a time, in model order. Cleared calls run as soon as the
//! order allows: an exclusive call waits for every earlier call and runs alone; a shared
//! call waits only for earlier exclusive calls.

use std::collections::VecDeque;

use serde_json::Value;

use crate::message::{Message, Part, Role, ToolCall, ToolResult};
use crate::permission::{Action, Reason};
use crate::session::{
    DecidedBy, Entry, FileChangeRecord, MessageRecord, ToolCallRecord, ToolResultRecord, Verdict,
};
use crate::time::Millis;
use crate::tool::{ToolDef, ToolInvocation, ToolOutcome};

use super::output::{AskId, Decision, End, Event, Output, Question, ToolRunId};
use super::{Agent, Phase};

/// The result text of a call the user's abort left unanswered.
pub(crate) const ABORTED: &str = "aborted: the user interrupted the turn before this call finished";

/// The permission asked about a call that repeats the previous two exactly.
pub(crate) const DOOM_LOOP: &str = "doom_loop";

/// The tool calls of one step.
#[derive(Debug)]
pub(crate) struct Batch {
    slots: Vec<Slot>,
    asking: Option<AskId>,
}

#[derive(Debug)]
struct Slot {
    call: ToolCall,
    input: Value,
    exclusive: bool,
    checks: VecDeque<Check>,
    granted: Vec<String>,
    state: SlotState,
    result: Option<ToolResult>,
    started: Option<Millis>,
}

#[derive(Debug, Clone)]
struct Check {
    permission: String,
    subject: String,
    /// Allowing it adds the permission to the invocation's `granted` list.
    grants: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Checking,
    Asking(AskId),
    Ready,
    Running(ToolRunId),
    Done,
}

/// Checks a call against the tools: its arguments must be a JSON object and its tool must
/// exist. The error is the text the model receives.
pub(crate) fn validate<'a>(
    call: &ToolCall,
    tools: &'a [ToolDef],
) -> Result<(&'a ToolDef, Value), String> {
    let Some(def) = tools.iter().find(|t| t.spec.name == call.name) else {
        let names: Vec<&str> = tools.iter().map(|t| t.spec.name.as_str()).collect();
        let list = if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        };
        return Err(format!(
            "unknown tool `{}`; the available tools are: {list}",
            call.name
        ));
    };
    let input = call.parse_arguments().map_err(|e| {
        format!(
            "the arguments of `{}` are not valid JSON ({e}); call it again with one JSON \
             object matching its schema",
            call.name
        )
    })?;
    if !input.is_object() {
        return Err(format!(
            "the arguments of `{}` must be a JSON object, not {}; call it again with an \
             object matching its schema",
            call.name,
            json_kind(&input)
        ));
    }
    Ok((def, input))
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether `name`+`input` equals each of the last two calls.
fn repeats(recent: &[(String, Value)], name: &str, input: &Value) -> bool {
    recent.len() >= 2
        && recent[recent.len() - 2..]
            .iter()
            .all(|(n, i)| n == name && i == input)
}

fn denied_text(check: &Check, by: DecidedBy, message: Option<&str>) -> String {
    let what = if check.subject.is_empty() {
        format!("`{}`", check.permission)
    } else {
        format!("`{}` on `{}`", check.permission, check.subject)
    };
    let mut text = match by {
        DecidedBy::User => format!("the user denied permission {what}; the call did not run"),
        DecidedBy::Rule | DecidedBy::Yes => {
            format!("permission {what} is denied by the configured rules; the call did not run")
        }
    };
    match message {
        Some(m) if !m.trim().is_empty() => {
            text.push_str("\nthe user says: ");
            text.push_str(m.trim());
        }
        _ if by == DecidedBy::User => {
            text.push_str("; do not repeat it unchanged — ask the user if unsure how to go on")
        }
        _ => {}
    }
    text
}

impl Agent {
    /// Begins the tool phase for the calls of the assistant message just recorded.
    pub(crate) fn start_tools(&mut self, calls: Vec<ToolCall>, now: Millis) {
        let mut slots = Vec::with_capacity(calls.len());
        let mut invalid = Vec::new();
        for call in calls {
            match validate(&call, &self.config.tools) {
                Ok((def, input)) => {
                    let mut checks = VecDeque::new();
                    if repeats(&self.recent, &call.name, &input) {
                        checks.push_back(Check {
                            permission: DOOM_LOOP.into(),
                            subject: call.name.clone(),
                            grants: false,
                        });
                    }
                    for subject in def.subjects(&input) {
                        checks.push_back(Check {
                            permission: def.permission.clone(),
                            subject,
                            grants: false,
                        });
                    }
                    self.recent.push((call.name.clone(), input.clone()));
                    slots.push(Slot {
                        exclusive: def.exclusive,
                        call,
                        input,
                        checks,
                        granted: Vec::new(),
                        state: SlotState::Checking,
                        result: None,
                        started: None,
                    });
                }
                Err(text) => {
                    invalid.push((slots.len(), text.clone()));
                    slots.push(Slot {
                        call,
                        input: Value::Null,
                        exclusive: false,
                        checks: VecDeque::new(),
                        granted: Vec::new(),
                        state: SlotState::Checking,
                        result: None,
                        started: None,
                    });
                }
            }
        }
        for (i, text) in invalid {
            if let Some(slot) = slots.get_mut(i) {
                self.record(Entry::ToolCall(ToolCallRecord {
                    call_id: slot.call.id.clone(),
                    name: slot.call.name.clone(),
                    arguments: slot.call.arguments.clone(),
                    permission: None,
                    subject: None,
                    verdict: Verdict::Invalid,
                    by: None,
                    reason: None,
                    message: Some(text.clone()),
                }));
                self.complete(slot, ToolOutcome::error(text), now);
            }
        }
        self.pump_tools(
            Batch {
                slots,
                asking: None,
            },
            now,
        );
    }

    /// Runs checks and starts what may start; ends the step when every call is answered.
    fn pump_tools(&mut self, mut batch: Batch, now: Millis) {
        for i in 0..batch.slots.len() {
            self.clear_checks(&mut batch, i, now);
        }
        self.start_runnable(&mut batch, now);
        if batch.slots.iter().all(|s| s.state == SlotState::Done) {
            self.answer_step(batch);
        } else {
            self.phase = Phase::Tools(batch);
        }
    }

    /// Applies the policy to slot `i`'s checks until one needs an answer or all pass.
    fn clear_checks(&mut self, batch: &mut Batch, i: usize, now: Millis) {
        let Some(slot) = batch.slots.get_mut(i) else {
            return;
        };
        if slot.state != SlotState::Checking {
            return;
        }
        while let Some(check) = slot.checks.front().cloned() {
            let evaluation = self
                .config
                .permissions
                .evaluate(&check.permission, &check.subject);
            // What the line also does (a bash redirect writing a file needs `edit`) is
            // checked after it, each need once.
            for need in &evaluation.also_needs {
                let queued = slot
                    .checks
                    .iter()
                    .any(|c| c.permission == need.permission && c.subject == need.subject);
                if !queued {
                    slot.checks.push_back(Check {
                        permission: need.permission.clone(),
                        subject: need.subject.clone(),
                        grants: false,
                    });
                }
            }
            let by = match evaluation.reason {
                Reason::Yes { .. } => DecidedBy::Yes,
                _ => DecidedBy::Rule,
            };
            let reason = Some(evaluation.reason);
            match evaluation.action {
                Action::Allow => {
                    self.audit(slot, &check, Verdict::Allow, by, reason, None);
                    pass(slot, &check);
                }
                Action::Deny => {
                    self.audit(slot, &check, Verdict::Deny, by, reason, None);
                    let text = denied_text(&check, DecidedBy::Rule, None);
                    self.complete(slot, ToolOutcome::error(text), now);
                    return;
                }
                Action::Ask => {
                    if batch.asking.is_none() {
                        let id = AskId(self.fresh_id());
                        let question = Question {
                            permission: check.permission.clone(),
                            subject: check.subject.clone(),
                            tool: slot.call.name.clone(),
                            call_id: slot.call.id.clone(),
                            arguments: slot.call.arguments.clone(),
                        };
                        self.emit(Event::PermissionAsked {
                            id,
                            question: question.clone(),
                        });
                        self.outputs.push_back(Output::Ask { id, question });
                        slot.state = SlotState::Asking(id);
                        batch.asking = Some(id);
                    }
                    return;
                }
            }
        }
        slot.state = SlotState::Ready;
    }

    /// Starts every ready call the order allows.
    fn start_runnable(&mut self, batch: &mut Batch, now: Millis) {
        let running = |s: &Slot| matches!(s.state, SlotState::Running(_));
        let mut any_running = batch.slots.iter().any(running);
        let mut exclusive_running = batch.slots.iter().any(|s| s.exclusive && running(s));
        for i in 0..batch.slots.len() {
            let (earlier, rest) = batch.slots.split_at_mut(i);
            let Some(slot) = rest.first_mut() else {
                break;
            };
            if slot.state != SlotState::Ready {
                continue;
            }
            let may_start = if slot.exclusive {
                !any_running && earlier.iter().all(|s| s.state == SlotState::Done)
            } else {
                !exclusive_running
                    && earlier
                        .iter()
                        .all(|s| !s.exclusive || s.state == SlotState::Done)
            };
            if !may_start {
                continue;
            }
            let id = ToolRunId(self.fresh_id());
            slot.state = SlotState::Running(id);
            slot.started = Some(now);
            any_running = true;
            exclusive_running |= slot.exclusive;
            self.emit(Event::ToolRunning {
                call_id: slot.call.id.clone(),
                name: slot.call.name.clone(),
            });
            self.outputs.push_back(Output::Tool {
                id,
                invocation: ToolInvocation {
                    call_id: slot.call.id.clone(),
                    name: slot.call.name.clone(),
                    input: slot.input.clone(),
                    granted: slot.granted.clone(),
                },
            });
        }
    }

    pub(crate) fn tool_finished(&mut self, id: ToolRunId, outcome: ToolOutcome, now: Millis) {
        let Phase::Tools(mut batch) = std::mem::take(&mut self.phase) else {
            return;
        };
        let Some(slot) = batch
            .slots
            .iter_mut()
            .find(|s| s.state == SlotState::Running(id))
        else {
            self.phase = Phase::Tools(batch);
            return;
        };
        match outcome.needs.clone() {
            Some(need) if slot.granted.contains(&need.permission) => {
                let text = format!(
                    "the tool asked again for `{}`, which it was already granted",
                    need.permission
                );
                self.complete(slot, ToolOutcome::error(text), now);
            }
            Some(need) => {
                slot.checks.push_back(Check {
                    permission: need.permission,
                    subject: need.subject,
                    grants: true,
                });
                slot.state = SlotState::Checking;
            }
            None => self.complete(slot, outcome, now),
        }
        self.pump_tools(batch, now);
    }

    pub(crate) fn answered(&mut self, id: AskId, decision: Decision, now: Millis) {
        let Phase::Tools(mut batch) = std::mem::take(&mut self.phase) else {
            return;
        };
        let Some(slot) = batch
            .slots
            .iter_mut()
            .find(|s| s.state == SlotState::Asking(id))
        else {
            self.phase = Phase::Tools(batch);
            return;
        };
        batch.asking = None;
        self.emit(Event::PermissionAnswered {
            id,
            decision: decision.clone(),
        });
        if let Some(check) = slot.checks.front().cloned() {
            match decision {
                Decision::AllowOnce => {
                    self.audit(slot, &check, Verdict::Allow, DecidedBy::User, None, None);
                    pass(slot, &check);
                    slot.state = SlotState::Checking;
                }
                Decision::AllowAlways => {
                    self.config
                        .permissions
                        .grant(&check.permission, &check.subject);
                    self.audit(slot, &check, Verdict::Allow, DecidedBy::User, None, None);
                    pass(slot, &check);
                    slot.state = SlotState::Checking;
                }
                Decision::Deny { message } => {
                    let m = message.as_deref();
                    self.audit(slot, &check, Verdict::Deny, DecidedBy::User, None, m);
                    let text = denied_text(&check, DecidedBy::User, m);
                    self.complete(slot, ToolOutcome::error(text), now);
                }
            }
        }
        self.pump_tools(batch, now);
    }

    /// Cancels running calls and answers every open one as aborted.
    pub(crate) fn abort_tools(&mut self, mut batch: Batch, now: Millis) {
        for slot in &mut batch.slots {
            match slot.state {
                SlotState::Done => continue,
                SlotState::Running(id) => self.outputs.push_back(Output::CancelTool { id }),
                _ => {}
            }
            self.complete(slot, ToolOutcome::error(ABORTED), now);
        }
        self.push_results(batch);
    }

    /// Records the results message and moves on to the next step.
    fn answer_step(&mut self, batch: Batch) {
        self.push_results(batch);
        if self.turn.step >= self.config.limits.max_steps {
            self.finish(End::MaxSteps);
        } else {
            self.start_step();
        }
    }

    fn push_results(&mut self, batch: Batch) {
        let parts = batch
            .slots
            .into_iter()
            .filter_map(|s| s.result.map(Part::ToolResult))
            .collect();
        self.push_history(MessageRecord::plain(Message {
            role: Role::User,
            parts,
        }));
    }

    /// Gives slot its result: file changes and the result are recorded, then shown.
    fn complete(&mut self, slot: &mut Slot, outcome: ToolOutcome, now: Millis) {
        for change in &outcome.changes {
            self.record(Entry::FileChange(FileChangeRecord {
                call_id: slot.call.id.clone(),
                change: change.clone(),
            }));
        }
        self.record_result(&slot.call.id, &slot.call.name, &outcome);
        self.emit(Event::ToolDone {
            call_id: slot.call.id.clone(),
            name: slot.call.name.clone(),
            summary: outcome.summary.clone(),
            is_error: outcome.is_error,
            duration_ms: slot.started.map_or(0, |t| now.since(t)),
            display: outcome.display.clone(),
        });
        slot.result = Some(ToolResult {
            call_id: slot.call.id.clone(),
            name: slot.call.name.clone(),
            content: outcome.content,
            is_error: outcome.is_error,
        });
        slot.state = SlotState::Done;
    }

    pub(crate) fn record_result(&mut self, call_id: &str, name: &str, outcome: &ToolOutcome) {
        self.record(Entry::ToolResult(ToolResultRecord {
            call_id: call_id.to_string(),
            name: name.to_string(),
            is_error: outcome.is_error,
            summary: outcome.summary.clone(),
            content: outcome.content.clone(),
        }));
    }

    fn audit(
        &mut self,
        slot: &Slot,
        check: &Check,
        verdict: Verdict,
        by: DecidedBy,
        reason: Option<Reason>,
        message: Option<&str>,
    ) {
        self.record(Entry::ToolCall(ToolCallRecord {
            call_id: slot.call.id.clone(),
            name: slot.call.name.clone(),
            arguments: slot.call.arguments.clone(),
            permission: Some(check.permission.clone()),
            subject: Some(check.subject.clone()),
            verdict,
            by: Some(by),
            reason,
            message: message.map(str::to_string),
        }));
    }
}

/// Marks the slot's first check as passed.
fn pass(slot: &mut Slot, check: &Check) {
    slot.checks.pop_front();
    if check.grants && !slot.granted.contains(&check.permission) {
        slot.granted.push(check.permission.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Origin;
    use crate::tool::ToolSpec;
    use serde_json::json;

    fn def(name: &str) -> ToolDef {
        ToolDef {
            spec: ToolSpec {
                name: name.into(),
                description: String::new(),
                input_schema: json!({"type": "object"}),
            },
            permission: "read".into(),
            subject: Some("path".into()),
            exclusive: false,
        }
    }

    fn call(name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            id: "c".into(),
            name: name.into(),
            arguments: arguments.into(),
            item_id: None,
            signature: None,
            origin: Origin::default(),
        }
    }

    #[test]
    fn validation_names_what_is_wrong() {
        let tools = [def("read"), def("edit")];
        let err = validate(&call("bash", "{}"), &tools).unwrap_err();
        assert_eq!(
            err,
            "unknown tool `bash`; the available tools are: read, edit"
        );
        let err = validate(&call("read", r#"{"path": "a"#), &tools).unwrap_err();
        assert!(
            err.starts_with("the arguments of `read` are not valid JSON (EOF"),
            "{err}"
        );
        let err = validate(&call("read", "[1]"), &tools).unwrap_err();
        assert!(err.contains("must be a JSON object, not an array"), "{err}");
        let (d, input) = validate(&call("read", r#"{"path":"a"}"#), &tools).unwrap();
        assert_eq!(d.spec.name, "read");
        assert_eq!(d.subjects(&input), ["a"]);
        let (_, empty) = validate(&call("read", ""), &tools).unwrap();
        assert_eq!(
            empty,
            json!({}),
            "no arguments at all count as an empty object"
        );
    }

    #[test]
    fn doom_loop_needs_two_identical_predecessors() {
        let a = ("read".to_string(), json!({"path": "a"}));
        let b = ("read".to_string(), json!({"path": "b"}));
        assert!(!repeats(std::slice::from_ref(&a), "read", &a.1));
        assert!(!repeats(&[a.clone(), b.clone()], "read", &a.1));
        assert!(repeats(&[b, a.clone(), a.clone()], "read", &a.1));
        assert!(!repeats(&[a.clone(), a.clone()], "edit", &a.1));
    }

    #[test]
    fn denial_texts_tell_the_model_who_refused() {
        let check = Check {
            permission: "edit".into(),
            subject: "a.rs".into(),
            grants: false,
        };
        let t = denied_text(&check, DecidedBy::User, None);
        assert!(
            t.starts_with("the user denied permission `edit` on `a.rs`"),
            "{t}"
        );
        let t = denied_text(&check, DecidedBy::User, Some("use b.rs instead"));
        assert!(t.ends_with("the user says: use b.rs instead"), "{t}");
        let t = denied_text(&check, DecidedBy::Rule, None);
        assert!(t.contains("denied by the configured rules"), "{t}");
    }
}
