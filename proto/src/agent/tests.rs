//! Scenarios on a virtual clock: a scripted provider feeding literal Anthropic SSE bytes
//! in chosen chunks, a fake tool host, scripted answers, and a bounded step count so a
//! stuck agent fails the test instead of hanging it.

use std::collections::VecDeque;

use serde_json::{json, Value};

use super::*;
use crate::http::{Headers, Request};
use crate::message::ToolCall;
use crate::model::Price;
use crate::permission::{Action, Reason, Rules};
use crate::provider::{Endpoint, ErrorKind, WireFormat};
use crate::session::{replay, Verdict};
use crate::tool::{FileChange, PermissionNeed, ToolInvocation, ToolSpec};

// ---- literal provider bytes ---------------------------------------------------------

fn sse_event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

fn message_start() -> String {
    sse_event(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
            "role": "assistant", "model": "claude-test", "content": [], "stop_reason": null,
            "usage": {"input_tokens": 100, "output_tokens": 1}}}),
    )
}

fn text_block(index: usize, pieces: &[&str]) -> String {
    let mut s = sse_event(
        "content_block_start",
        json!({"type": "content_block_start", "index": index,
               "content_block": {"type": "text", "text": ""}}),
    );
    for piece in pieces {
        s += &sse_event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index,
                   "delta": {"type": "text_delta", "text": piece}}),
        );
    }
    s + &sse_event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": index}),
    )
}

fn tool_block(index: usize, id: &str, name: &str, arguments: &str) -> String {
    sse_event(
        "content_block_start",
        json!({"type": "content_block_start", "index": index,
               "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
    ) + &sse_event(
        "content_block_delta",
        json!({"type": "content_block_delta", "index": index,
               "delta": {"type": "input_json_delta", "partial_json": arguments}}),
    ) + &sse_event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": index}),
    )
}

fn message_end(stop_reason: &str) -> String {
    sse_event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop_reason},
               "usage": {"output_tokens": 20}}),
    ) + &sse_event("message_stop", json!({"type": "message_stop"}))
}

/// A complete text answer.
fn text_stream(pieces: &[&str]) -> String {
    message_start() + &text_block(0, pieces) + &message_end("end_turn")
}

/// A complete answer calling tools: (id, name, arguments).
fn tools_stream(calls: &[(&str, &str, &str)]) -> String {
    let mut s = message_start();
    for (i, (id, name, args)) in calls.iter().enumerate() {
        s += &tool_block(i, id, name, args);
    }
    s + &message_end("tool_use")
}

/// Splits a stream into one chunk per SSE event.
fn per_event(stream: &str) -> Vec<Vec<u8>> {
    stream
        .split_inclusive("\n\n")
        .map(|s| s.as_bytes().to_vec())
        .collect()
}

// ---- the scripted provider ----------------------------------------------------------

/// How a scripted response ends after its chunks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ending {
    Clean,
    Reset,
    Stall,
}

/// One scripted answer to a request.
#[derive(Debug, Clone)]
enum Reply {
    /// No response byte: the connection fails `after` ms after the request.
    ConnectFail,
    /// A complete non-200 response.
    Status {
        status: u16,
        headers: Vec<(&'static str, &'static str)>,
        body: String,
    },
    /// 200 with `content-type`, then `chunks` 10 ms apart, then `ending`.
    Body {
        content_type: &'static str,
        chunks: Vec<Vec<u8>>,
        ending: Ending,
    },
}

impl Reply {
    fn sse(stream: String) -> Reply {
        Reply::Body {
            content_type: "text/event-stream",
            chunks: per_event(&stream),
            ending: Ending::Clean,
        }
    }

    fn text(pieces: &[&str]) -> Reply {
        Reply::sse(text_stream(pieces))
    }

    fn tools(calls: &[(&str, &str, &str)]) -> Reply {
        Reply::sse(tools_stream(calls))
    }

    /// The same reply, its `message_start` reporting `input` tokens instead of 100.
    fn using(self, input: u64) -> Reply {
        match self {
            Reply::Body {
                content_type,
                chunks,
                ending,
            } => Reply::Body {
                content_type,
                chunks: chunks
                    .into_iter()
                    .map(|c| {
                        String::from_utf8_lossy(&c)
                            .replace("\"input_tokens\":100", &format!("\"input_tokens\":{input}"))
                            .into_bytes()
                    })
                    .collect(),
                ending,
            },
            other => other,
        }
    }

    /// Anthropic's answer to an input longer than the model's context.
    fn too_long() -> Reply {
        Reply::Status {
            status: 400,
            headers: vec![],
            body: json!({"type": "error", "error": {"type": "invalid_request_error",
                "message": "prompt is too long: 210000 tokens > 200000 maximum"}})
            .to_string(),
        }
    }

    fn status(status: u16, headers: Vec<(&'static str, &'static str)>, error_type: &str) -> Reply {
        Reply::Status {
            status,
            headers,
            body: json!({"type": "error", "error": {"type": error_type, "message": "scripted"}})
                .to_string(),
        }
    }
}

/// Delay between scripted events: head, chunks, end.
const TICK: u64 = 10;

#[derive(Debug)]
enum Input {
    Head(HttpId, ResponseHead),
    Body(HttpId, Vec<u8>),
    End(HttpId),
    Error(HttpId, TransportError),
    ToolDone(ToolRunId, ToolOutcome),
    Abort,
}

type ToolHost = Box<dyn FnMut(&ToolInvocation) -> (u64, ToolOutcome)>;

struct Harness {
    agent: Agent,
    now: Millis,
    script: VecDeque<Reply>,
    host: ToolHost,
    answers: VecDeque<Decision>,
    credential: Option<Credential>,
    pending: Vec<(Millis, u64, Input)>,
    seq: u64,
    log: Vec<Output>,
    requests: Vec<(Millis, Request)>,
    runs: Vec<(Millis, ToolInvocation)>,
    done: Option<Outcome>,
    /// Inputs delivered before the run counts as stuck.
    bound: usize,
}

fn tool(name: &str, permission: &str, subject: &str, exclusive: bool) -> ToolDef {
    ToolDef {
        spec: ToolSpec {
            name: name.into(),
            description: format!("the {name} tool"),
            input_schema: json!({"type": "object"}),
        },
        permission: permission.into(),
        subject: Some(subject.into()),
        exclusive,
    }
}

fn config() -> AgentConfig {
    let mut config = AgentConfig::new(
        "anthropic",
        WireFormat::Anthropic,
        Endpoint {
            base_url: "http://mock".into(),
            credential: None,
            headers: Headers::new(),
            quirks: Default::default(),
        },
        "claude-test",
    );
    config.tools = vec![
        tool("read", "read", "path", false),
        tool("glob", "read", "pattern", false),
        tool("edit", "edit", "path", true),
        tool("bash", "bash", "command", true),
    ];
    config.price = Some(Price {
        input: 3.0,
        output: 15.0,
        cache_read: 0.3,
        cache_write: 3.75,
    });
    config.credential_env = Some("ANTHROPIC_API_KEY".into());
    config.permissions = Box::new(Rules::new());
    config
}

/// A host whose tools answer `ok <name> <input>` after 100 ms.
fn echo_host() -> ToolHost {
    Box::new(|inv: &ToolInvocation| {
        (
            100,
            ToolOutcome::text(
                format!("ok {} {}", inv.name, inv.input),
                format!("{} done", inv.name),
            ),
        )
    })
}

impl Harness {
    fn new(script: Vec<Reply>) -> Harness {
        Harness::with(config(), script)
    }

    fn with(config: AgentConfig, script: Vec<Reply>) -> Harness {
        Harness {
            agent: Agent::new(config, Vec::new(), 42),
            now: Millis(1_000),
            script: script.into(),
            host: echo_host(),
            answers: VecDeque::new(),
            credential: Some(Credential::ApiKey("sk-test".into())),
            pending: Vec::new(),
            seq: 0,
            log: Vec::new(),
            requests: Vec::new(),
            runs: Vec::new(),
            done: None,
            bound: 500,
        }
    }

    fn answers(mut self, answers: Vec<Decision>) -> Harness {
        self.answers = answers.into();
        self
    }

    fn host(
        mut self,
        host: impl FnMut(&ToolInvocation) -> (u64, ToolOutcome) + 'static,
    ) -> Harness {
        self.host = Box::new(host);
        self
    }

    fn abort_at(mut self, at: u64) -> Harness {
        self.schedule(Millis(at), Input::Abort);
        self
    }

    fn schedule(&mut self, at: Millis, input: Input) {
        self.seq += 1;
        self.pending.push((at, self.seq, input));
    }

    /// Submits `prompt` and drives the agent until `Done`, failing after `bound` inputs.
    fn run(&mut self, prompt: &str) -> Outcome {
        self.done = None;
        self.agent
            .submit(
                vec![Part::text(prompt)],
                self.now,
                UnixMillis(1_700_000_000_000),
            )
            .expect("idle agent accepts a prompt");
        self.settle()
    }

    /// Asks for a compaction and drives the agent until `Done`.
    fn compact(&mut self) -> Outcome {
        self.done = None;
        self.agent
            .compact(self.now, UnixMillis(1_700_000_000_000))
            .expect("idle agent compacts");
        self.settle()
    }

    fn settle(&mut self) -> Outcome {
        for _ in 0..self.bound {
            self.drain();
            if let Some(outcome) = self.done.take() {
                assert!(
                    self.agent.poll_output().is_none(),
                    "Done is the last output"
                );
                return outcome;
            }
            self.step();
        }
        panic!(
            "the agent did not settle within {} inputs; log: {:#?}",
            self.bound, self.log
        );
    }

    fn drain(&mut self) {
        while let Some(out) = self.agent.poll_output() {
            self.log.push(out.clone());
            self.route(out);
        }
    }

    fn route(&mut self, out: Output) {
        let now = self.now;
        match out {
            Output::NeedCredential { provider } => {
                assert_eq!(provider, "anthropic");
                self.agent.handle_credential(self.credential.clone(), now);
            }
            Output::Http { id, request } => {
                self.requests.push((now, request));
                let reply = self
                    .script
                    .pop_front()
                    .unwrap_or_else(|| panic!("unscripted request #{}", self.requests.len()));
                self.serve(id, reply);
            }
            Output::CancelHttp { id } => self.pending.retain(|(_, _, i)| !input_is_http(i, id)),
            Output::Tool { id, invocation } => {
                self.runs.push((now, invocation.clone()));
                let (latency, outcome) = (self.host)(&invocation);
                self.schedule(now.add_ms(latency), Input::ToolDone(id, outcome));
            }
            Output::CancelTool { id } => self
                .pending
                .retain(|(_, _, i)| !matches!(i, Input::ToolDone(t, _) if *t == id)),
            Output::Ask { id, .. } => {
                let decision = self.answers.pop_front().expect("a scripted answer");
                self.agent.handle_answer(id, decision, now);
            }
            Output::Event(_) | Output::Record(_) => {}
            Output::Done(outcome) => {
                assert!(self.done.is_none(), "Done twice");
                self.done = Some(outcome);
            }
        }
    }

    fn serve(&mut self, id: HttpId, reply: Reply) {
        let mut t = self.now.add_ms(TICK);
        match reply {
            Reply::ConnectFail => self.schedule(
                t,
                Input::Error(id, TransportError::Connect("refused".into())),
            ),
            Reply::Status {
                status,
                headers,
                body,
            } => {
                let mut h = Headers::new();
                h.push("content-type", "application/json");
                for (k, v) in headers {
                    h.push(k, v);
                }
                self.schedule(t, Input::Head(id, head(status, h)));
                self.schedule(t, Input::Body(id, body.into_bytes()));
                self.schedule(t, Input::End(id));
            }
            Reply::Body {
                content_type,
                chunks,
                ending,
            } => {
                let mut h = Headers::new();
                h.push("content-type", content_type);
                self.schedule(t, Input::Head(id, head(200, h)));
                for chunk in chunks {
                    t = t.add_ms(TICK);
                    self.schedule(t, Input::Body(id, chunk));
                }
                t = t.add_ms(TICK);
                match ending {
                    Ending::Clean => self.schedule(t, Input::End(id)),
                    Ending::Reset => {
                        self.schedule(t, Input::Error(id, TransportError::Reset("eof".into())))
                    }
                    Ending::Stall => {}
                }
            }
        }
    }

    /// Advances the clock to the next input or deadline and delivers it.
    fn step(&mut self) {
        let next = self
            .pending
            .iter()
            .enumerate()
            .min_by_key(|(_, (at, seq, _))| (*at, *seq))
            .map(|(i, (at, _, _))| (i, *at));
        match (next, self.agent.poll_timeout()) {
            (Some((_, at)), Some(deadline)) if deadline < at => self.fire(deadline),
            (None, Some(deadline)) => self.fire(deadline),
            (Some((i, at)), _) => {
                self.now = self.now.max(at);
                let (_, _, input) = self.pending.remove(i);
                self.deliver(input);
            }
            (None, None) => panic!(
                "stuck: no input scheduled and no deadline; log: {:#?}",
                self.log
            ),
        }
    }

    fn fire(&mut self, deadline: Millis) {
        self.now = self.now.max(deadline);
        self.agent.handle_timeout(self.now);
    }

    fn deliver(&mut self, input: Input) {
        let now = self.now;
        match input {
            Input::Head(id, h) => self.agent.handle_http_head(id, h, now),
            Input::Body(id, b) => self.agent.handle_http_body(id, &b, now),
            Input::End(id) => self.agent.handle_http_end(id, now),
            Input::Error(id, e) => self.agent.handle_http_error(id, e, now),
            Input::ToolDone(id, o) => self.agent.handle_tool_result(id, o, now),
            Input::Abort => self.agent.abort(now),
        }
    }

    // ---- what happened ----

    fn events(&self) -> Vec<&Event> {
        self.log
            .iter()
            .filter_map(|o| match o {
                Output::Event(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn records(&self) -> Vec<Record> {
        self.log
            .iter()
            .filter_map(|o| match o {
                Output::Record(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    fn text_shown(&self) -> String {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::TextDelta { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    fn retries(&self) -> Vec<(u32, u64, String)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Retry {
                    attempt,
                    delay_ms,
                    reason,
                } => Some((*attempt, *delay_ms, reason.clone())),
                _ => None,
            })
            .collect()
    }

    fn questions(&self) -> Vec<Question> {
        self.log
            .iter()
            .filter_map(|o| match o {
                Output::Ask { question, .. } => Some(question.clone()),
                _ => None,
            })
            .collect()
    }

    /// The tool results of history message `index`, as (call id, is_error, text).
    fn results_at(&self, index: usize) -> Vec<(String, bool, String)> {
        results_of(&self.agent.history()[index])
    }

    /// The JSON body of request `n`.
    fn request_body(&self, n: usize) -> Value {
        serde_json::from_slice(&self.requests[n].1.body).expect("request bodies are JSON")
    }

    fn position(&self, what: impl Fn(&Output) -> bool) -> usize {
        self.log
            .iter()
            .position(what)
            .expect("the output was emitted")
    }

    /// Replaying the records gives the live history, and that history is valid.
    fn assert_replays(&self) {
        let state = replay(&self.records());
        assert_eq!(
            state.history,
            self.agent.history(),
            "replay equals the live history"
        );
        assert!(!state.repaired, "a finished turn leaves nothing to repair");
        assert_valid(self.agent.history());
    }
}

fn head(status: u16, headers: Headers) -> ResponseHead {
    ResponseHead {
        status,
        reason: String::new(),
        headers,
    }
}

fn input_is_http(input: &Input, id: HttpId) -> bool {
    matches!(input, Input::Head(i, _) | Input::Body(i, _) | Input::End(i) | Input::Error(i, _) if *i == id)
}

fn results_of(message: &Message) -> Vec<(String, bool, String)> {
    message
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::ToolResult(r) => Some((r.call_id.clone(), r.is_error, r.text())),
            _ => None,
        })
        .collect()
}

/// Every assistant tool call is answered, in order, by the next message; roles alternate.
fn assert_valid(history: &[Message]) {
    for (i, pair) in history.windows(2).enumerate() {
        assert_ne!(
            pair[0].role, pair[1].role,
            "roles alternate at {i}: {history:#?}"
        );
    }
    for (i, message) in history.iter().enumerate() {
        let calls: Vec<&ToolCall> = message.tool_calls().collect();
        if calls.is_empty() {
            continue;
        }
        let next = history
            .get(i + 1)
            .unwrap_or_else(|| panic!("tool calls of message {i} unanswered"));
        let answered: Vec<String> = results_of(next).into_iter().map(|r| r.0).collect();
        let asked: Vec<String> = calls.iter().map(|c| c.id.clone()).collect();
        assert_eq!(answered, asked, "results answer the calls in order");
    }
}

fn failed(outcome: &Outcome) -> &AgentError {
    match &outcome.end {
        End::Failed(e) => e,
        other => panic!("expected a failure, got {other:?}"),
    }
}

// ---- scenarios ------------------------------------------------------------------------

#[test]
fn text_only_turn() {
    let mut h = Harness::new(vec![Reply::text(&["Hel", "lo!"])]);
    let outcome = h.run("hi");
    assert_eq!(outcome.end, End::Completed);
    assert_eq!(outcome.steps, 1);
    assert_eq!(h.text_shown(), "Hello!");
    assert_eq!(
        h.agent.history(),
        &[Message::user("hi"), Message::assistant("Hello!")]
    );
    assert_eq!(outcome.usage.input_tokens, 100);
    assert_eq!(outcome.usage.output_tokens, 20);
    let cost = outcome.cost.expect("priced model");
    assert!((cost - (100.0 * 3.0 + 20.0 * 15.0) / 1e6).abs() < 1e-12);
    let body = h.request_body(0);
    assert_eq!(body["model"], "claude-test");
    assert_eq!(body["stream"], true);
    assert_eq!(h.requests[0].1.headers.get("x-api-key"), Some("sk-test"));
    let kinds: Vec<&str> = h
        .records()
        .iter()
        .map(|r| match &r.entry {
            Entry::Message(_) => "message",
            Entry::Usage(_) => "usage",
            Entry::TurnEnd(_) => "turn_end",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["message", "message", "usage", "turn_end"]);
    h.assert_replays();
}

#[test]
fn the_stop_reason_of_an_empty_answer_reaches_the_outcome() {
    let mut h = Harness::new(vec![Reply::sse(message_start() + &message_end("refusal"))]);
    let outcome = h.run("hi");
    assert_eq!(outcome.end, End::Completed);
    assert_eq!(outcome.stop_reason, Some(StopReason::Refusal));
    assert_eq!(
        h.agent.history(),
        &[Message::user("hi")],
        "nothing empty enters the history"
    );
    let mut h = Harness::new(vec![Reply::text(&["ok"])]);
    assert_eq!(h.run("hi").stop_reason, Some(StopReason::EndTurn));
}

#[test]
fn read_then_edit_then_done() {
    let mut h = Harness::new(vec![
        Reply::tools(&[("t1", "read", r#"{"path":"src/a.rs"}"#)]),
        Reply::tools(&[("t2", "edit", r#"{"path":"src/a.rs","old":"x","new":"y"}"#)]),
        Reply::text(&["Done."]),
    ])
    .answers(vec![Decision::AllowOnce])
    .host(|inv| match inv.name.as_str() {
        "read" => (5, ToolOutcome::text("1: x", "read src/a.rs")),
        _ => {
            let mut o = ToolOutcome::text("edited", "edit src/a.rs");
            o.changes.push(FileChange {
                path: "src/a.rs".into(),
                before: Some(b"x".to_vec()),
                after: Some(b"y".to_vec()),
            });
            (5, o)
        }
    });
    let outcome = h.run("change x to y");
    assert_eq!(outcome.end, End::Completed);
    assert_eq!(outcome.steps, 3);
    let names: Vec<&str> = h.runs.iter().map(|(_, i)| i.name.as_str()).collect();
    assert_eq!(names, ["read", "edit"]);
    assert_eq!(h.questions().len(), 1, "only edit asks");
    assert_eq!(h.questions()[0].permission, "edit");
    assert_eq!(h.questions()[0].subject, "src/a.rs");
    assert_eq!(h.agent.history().len(), 6);
    assert_eq!(h.results_at(2), [("t1".into(), false, "1: x".into())]);
    let body = h.request_body(1).to_string();
    assert!(
        body.contains("tool_result") && body.contains("1: x"),
        "{body}"
    );
    assert!(
        h.records().iter().any(|r| matches!(&r.entry,
        Entry::FileChange(c) if c.call_id == "t2" && c.change.after.as_deref() == Some(&b"y"[..])))
    );
    h.assert_replays();
}

#[test]
fn three_parallel_calls_complete_out_of_order_and_answer_in_model_order() {
    let mut h = Harness::new(vec![
        Reply::tools(&[
            ("a", "read", r#"{"path":"slow"}"#),
            ("b", "read", r#"{"path":"fast"}"#),
            ("c", "bash", r#"{"command":"cargo test"}"#),
            ("d", "glob", r#"{"pattern":"*.rs"}"#),
        ]),
        Reply::text(&["ok"]),
    ])
    .answers(vec![Decision::AllowOnce])
    .host(|inv| {
        let latency = match inv.call_id.as_str() {
            "a" => 300,
            "b" => 10,
            "c" => 50,
            _ => 5,
        };
        (
            latency,
            ToolOutcome::text(format!("out {}", inv.call_id), "done"),
        )
    });
    assert_eq!(h.run("go").end, End::Completed);
    let started: Vec<(u64, &str)> = h
        .runs
        .iter()
        .map(|(t, i)| (t.0, i.call_id.as_str()))
        .collect();
    let t0 = started[0].0;
    assert_eq!(started[0], (t0, "a"));
    assert_eq!(started[1], (t0, "b"), "shared calls start together");
    assert_eq!(
        started[2],
        (t0 + 300, "c"),
        "exclusive waits for every earlier call"
    );
    assert_eq!(
        started[3],
        (t0 + 350, "d"),
        "a later shared call waits for the exclusive one"
    );
    let done: Vec<String> = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::ToolDone { call_id, .. } => Some(call_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(done, ["b", "a", "c", "d"], "completion order");
    let ids: Vec<String> = h.results_at(2).into_iter().map(|r| r.0).collect();
    assert_eq!(ids, ["a", "b", "c", "d"], "results in the model's order");
    h.assert_replays();
}

#[test]
fn malformed_json_arguments_are_answered_and_the_model_recovers() {
    let mut h = Harness::new(vec![
        Reply::tools(&[("t1", "read", r#"{"path": "a"#)]),
        Reply::tools(&[("t2", "read", r#"{"path": "a"}"#)]),
        Reply::text(&["fine"]),
    ]);
    assert_eq!(h.run("read a").end, End::Completed);
    assert_eq!(h.runs.len(), 1, "the malformed call never ran");
    let (id, is_error, text) = h.results_at(2).remove(0);
    assert_eq!(id, "t1");
    assert!(is_error);
    assert!(text.contains("not valid JSON"), "{text}");
    assert!(h.request_body(1).to_string().contains("not valid JSON"));
    assert!(h.records().iter().any(|r| matches!(&r.entry,
        Entry::ToolCall(c) if c.call_id == "t1" && c.verdict == Verdict::Invalid)));
    h.assert_replays();
}

#[test]
fn unknown_tool_is_answered_with_the_list_of_tools() {
    let mut h = Harness::new(vec![
        Reply::tools(&[("t1", "grep", r#"{"pattern":"x"}"#)]),
        Reply::text(&["sorry"]),
    ]);
    assert_eq!(h.run("find x").end, End::Completed);
    assert!(h.runs.is_empty());
    let (_, is_error, text) = h.results_at(2).remove(0);
    assert!(is_error);
    assert_eq!(
        text,
        "unknown tool `grep`; the available tools are: read, glob, edit, bash"
    );
    h.assert_replays();
}

fn edit_twice() -> Vec<Reply> {
    vec![
        Reply::tools(&[("e1", "edit", r#"{"path":"a.rs"}"#)]),
        Reply::tools(&[("e2", "edit", r#"{"path":"a.rs"}"#)]),
        Reply::text(&["done"]),
    ]
}

#[test]
fn permission_allow_once_asks_again_next_time() {
    let mut h = Harness::new(edit_twice()).answers(vec![Decision::AllowOnce, Decision::AllowOnce]);
    assert_eq!(h.run("edit").end, End::Completed);
    assert_eq!(h.questions().len(), 2);
    assert_eq!(h.runs.len(), 2);
    let by_user = h
        .records()
        .iter()
        .filter(|r| {
            matches!(&r.entry, Entry::ToolCall(c)
            if c.verdict == Verdict::Allow && c.by == Some(session::DecidedBy::User))
        })
        .count();
    assert_eq!(by_user, 2);
    h.assert_replays();
}

#[test]
fn permission_allow_always_holds_for_the_session() {
    let mut h = Harness::new(edit_twice()).answers(vec![Decision::AllowAlways]);
    assert_eq!(h.run("edit").end, End::Completed);
    assert_eq!(
        h.questions().len(),
        1,
        "the second edit of a.rs is allowed by the grant"
    );
    assert_eq!(h.runs.len(), 2);
    h.assert_replays();
}

#[test]
fn permission_deny_with_message_reaches_the_model() {
    let mut h = Harness::new(edit_twice()).answers(vec![
        Decision::Deny {
            message: Some("edit b.rs instead".into()),
        },
        Decision::Deny { message: None },
    ]);
    assert_eq!(h.run("edit").end, End::Completed);
    assert!(h.runs.is_empty(), "denied calls never run");
    let (_, is_error, text) = h.results_at(2).remove(0);
    assert!(is_error);
    assert!(
        text.contains("the user denied permission `edit` on `a.rs`"),
        "{text}"
    );
    assert!(text.ends_with("the user says: edit b.rs instead"), "{text}");
    let (_, is_error, text) = h.results_at(4).remove(0);
    assert!(is_error, "a denial without a message still tells the model");
    assert!(text.starts_with("the user denied permission"), "{text}");
    h.assert_replays();
}

#[test]
fn a_rule_that_denies_answers_without_asking() {
    let mut config = config();
    let mut rules = Rules::new();
    rules.add("bash", "rm *", Action::Deny);
    config.permissions = Box::new(rules);
    let mut h = Harness::with(
        config,
        vec![
            Reply::tools(&[("b1", "bash", r#"{"command":"rm -rf /"}"#)]),
            Reply::text(&["ok"]),
        ],
    );
    assert_eq!(h.run("clean").end, End::Completed);
    assert!(h.questions().is_empty());
    assert!(h.runs.is_empty());
    assert!(h.results_at(2)[0]
        .2
        .contains("denied by the configured rules"));
    assert!(h
        .records()
        .iter()
        .any(|r| matches!(&r.entry, Entry::ToolCall(c)
        if c.verdict == Verdict::Deny
            && c.reason == Some(Reason::Rule { pattern: "rm *".into() }))));
}

#[test]
fn a_bash_redirect_to_a_file_also_needs_edit() {
    let mut config = config();
    let mut rules = Rules::new();
    rules.add("bash", "ls*", Action::Allow);
    rules.add("edit", "out.txt", Action::Deny);
    config.permissions = Box::new(rules);
    let mut h = Harness::with(
        config,
        vec![
            Reply::tools(&[("b1", "bash", r#"{"command":"ls > out.txt"}"#)]),
            Reply::text(&["ok"]),
        ],
    );
    assert_eq!(h.run("list").end, End::Completed);
    assert!(
        h.runs.is_empty(),
        "the redirect's edit check denied the call"
    );
    let text = &h.results_at(2)[0].2;
    assert!(text.contains("`edit` on `out.txt`"), "{text}");
    let audited: Vec<_> = h
        .records()
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::ToolCall(c) => Some((c.permission.clone(), c.verdict)),
            _ => None,
        })
        .collect();
    assert_eq!(
        audited,
        [
            (Some("bash".to_string()), Verdict::Allow),
            (Some("edit".to_string()), Verdict::Deny)
        ]
    );
}

#[test]
fn apply_patch_checks_edit_for_every_path_it_touches() {
    let mut config = config();
    config.tools.push(crate::tool::apply_patch_def());
    let mut rules = Rules::new();
    rules.add("edit", "src/*", Action::Allow);
    rules.add("edit", "secrets/*", Action::Deny);
    config.permissions = Box::new(rules);
    let patch =
        "*** Begin Patch\n*** Add File: src/a.rs\n+a\n*** Add File: secrets/key\n+k\n*** End Patch";
    let args = serde_json::json!({ "patch": patch }).to_string();
    let mut h = Harness::with(
        config,
        vec![
            Reply::tools(&[("p1", "apply_patch", args.as_str())]),
            Reply::text(&["ok"]),
        ],
    );
    assert_eq!(h.run("patch").end, End::Completed);
    assert!(h.runs.is_empty(), "one denied path stops the whole patch");
    let text = &h.results_at(2)[0].2;
    assert!(text.contains("`edit` on `secrets/key`"), "{text}");
}

#[test]
fn yes_mode_allows_asks_and_the_audit_says_so() {
    let mut config = config();
    let mut rules = Rules::new();
    rules.set_yes(true);
    config.permissions = Box::new(rules);
    let mut h = Harness::with(config, edit_twice());
    assert_eq!(h.run("edit").end, End::Completed);
    assert!(h.questions().is_empty());
    assert_eq!(h.runs.len(), 2);
    let yes = h
        .records()
        .iter()
        .filter(|r| matches!(&r.entry, Entry::ToolCall(c) if c.by == Some(session::DecidedBy::Yes)))
        .count();
    assert_eq!(yes, 2);
}

#[test]
fn external_directory_need_asks_then_reissues_with_the_grant() {
    let mut h = Harness::new(vec![
        Reply::tools(&[("t1", "read", r#"{"path":"/etc/hosts"}"#)]),
        Reply::text(&["read it"]),
    ])
    .answers(vec![Decision::AllowOnce])
    .host(|inv| {
        if inv.granted.iter().any(|g| g == "external_directory") {
            (
                5,
                ToolOutcome::text("127.0.0.1 localhost", "read /etc/hosts"),
            )
        } else {
            let mut o = ToolOutcome::error("outside the workspace");
            o.needs = Some(PermissionNeed {
                permission: "external_directory".into(),
                subject: "/etc/hosts".into(),
            });
            (5, o)
        }
    });
    assert_eq!(h.run("read /etc/hosts").end, End::Completed);
    let q = h.questions();
    assert_eq!(q.len(), 1);
    assert_eq!(
        (q[0].permission.as_str(), q[0].subject.as_str()),
        ("external_directory", "/etc/hosts")
    );
    assert_eq!(h.runs.len(), 2);
    assert!(h.runs[0].1.granted.is_empty());
    assert_eq!(h.runs[1].1.granted, ["external_directory"]);
    assert_eq!(
        h.results_at(2),
        [("t1".into(), false, "127.0.0.1 localhost".into())]
    );
    h.assert_replays();
}

#[test]
fn abort_mid_stream_keeps_the_partial_message_and_answers_open_calls() {
    // The head comes at +10, then one event every 10 ms: abort after the text and the
    // start of a tool call, before the stream ends.
    let stream = message_start()
        + &text_block(0, &["Let me ", "look"])
        + &tool_block(1, "t1", "read", r#"{"path":"a"}"#);
    let mut h = Harness::new(vec![Reply::Body {
        content_type: "text/event-stream",
        chunks: per_event(&stream),
        ending: Ending::Stall,
    }])
    .abort_at(1_000 + 10 + 10 * 7 + 5);
    let outcome = h.run("look");
    assert_eq!(outcome.end, End::Aborted);
    assert!(h.log.iter().any(|o| matches!(o, Output::CancelHttp { .. })));
    let history = h.agent.history();
    assert_eq!(history.len(), 3);
    assert_eq!(history[1].text(), "Let me look");
    assert_eq!(h.results_at(2)[0].2, tool_calls::ABORTED);
    assert!(h
        .records()
        .iter()
        .any(|r| matches!(&r.entry, Entry::Message(m) if m.aborted)));
    assert!(h.runs.is_empty());
    h.assert_replays();
}

#[test]
fn abort_mid_tool_cancels_it_and_keeps_finished_results() {
    let mut h = Harness::new(vec![Reply::tools(&[
        ("fast", "read", r#"{"path":"a"}"#),
        ("slow", "read", r#"{"path":"b"}"#),
    ])])
    .host(|inv| {
        (
            if inv.call_id == "fast" { 10 } else { 10_000 },
            ToolOutcome::text("content", "read"),
        )
    })
    .abort_at(5_000);
    assert_eq!(h.run("read both").end, End::Aborted);
    let cancelled = h.position(|o| matches!(o, Output::CancelTool { .. }));
    assert!(cancelled < h.position(|o| matches!(o, Output::Done(_))));
    assert_eq!(
        h.results_at(2),
        [
            ("fast".into(), false, "content".into()),
            ("slow".into(), true, tool_calls::ABORTED.into())
        ]
    );
    h.assert_replays();
    // The next turn continues from a valid history.
    h.script.push_back(Reply::text(&["again"]));
    assert_eq!(h.run("continue").end, End::Completed);
    h.assert_replays();
}

#[test]
fn max_steps_ends_the_turn_with_a_valid_history() {
    let mut config = config();
    config.limits.max_steps = 2;
    let mut h = Harness::with(
        config,
        vec![
            Reply::tools(&[("t1", "read", r#"{"path":"1"}"#)]),
            Reply::tools(&[("t2", "read", r#"{"path":"2"}"#)]),
        ],
    );
    let outcome = h.run("loop");
    assert_eq!(outcome.end, End::MaxSteps);
    assert_eq!(outcome.steps, 2);
    assert_eq!(h.requests.len(), 2);
    assert_eq!(h.agent.history().len(), 5);
    h.assert_replays();
    // A new prompt joins the trailing tool results, so roles still alternate.
    h.script.push_back(Reply::text(&["ok"]));
    assert_eq!(h.run("stop").end, End::Completed);
    assert_eq!(h.agent.history().len(), 6);
    h.assert_replays();
}

#[test]
fn the_same_call_three_times_asks_about_a_doom_loop() {
    let same = r#"{"path":"a"}"#;
    let mut h = Harness::new(vec![
        Reply::tools(&[("t1", "read", same)]),
        Reply::tools(&[("t2", "read", same)]),
        Reply::tools(&[("t3", "read", same)]),
        Reply::text(&["I'll stop"]),
    ])
    .answers(vec![Decision::Deny {
        message: Some("you are looping".into()),
    }]);
    assert_eq!(h.run("read").end, End::Completed);
    let q = h.questions();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].permission, "doom_loop");
    assert_eq!(q[0].call_id, "t3");
    assert_eq!(h.runs.len(), 2, "the third call did not run");
    assert!(h.results_at(6)[0].2.contains("you are looping"));
    h.assert_replays();
}

#[test]
fn rate_limit_with_retry_after_waits_as_asked() {
    let mut h = Harness::new(vec![
        Reply::status(429, vec![("retry-after", "3")], "rate_limit_error"),
        Reply::text(&["ok"]),
    ]);
    assert_eq!(h.run("hi").end, End::Completed);
    let retries = h.retries();
    assert_eq!(retries.len(), 1);
    assert_eq!((retries[0].0, retries[0].1), (2, 3_000));
    assert!(retries[0].2.contains("429"), "{}", retries[0].2);
    let failed_at = h.requests[0].0.add_ms(TICK);
    assert_eq!(
        h.requests[1].0,
        failed_at.add_ms(3_000),
        "delay honoured on the clock"
    );
    h.assert_replays();
}

#[test]
fn overloaded_twice_then_success_backs_off_exponentially() {
    let mut h = Harness::new(vec![
        Reply::status(529, vec![], "overloaded_error"),
        Reply::status(529, vec![], "overloaded_error"),
        Reply::text(&["finally"]),
    ]);
    assert_eq!(h.run("hi").end, End::Completed);
    let retries = h.retries();
    assert_eq!(retries.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 3]);
    assert!((500..=1_000).contains(&retries[0].1), "{retries:?}");
    assert!((1_000..=2_000).contains(&retries[1].1), "{retries:?}");
    assert_eq!(h.text_shown(), "finally");
    assert_eq!(
        h.agent.history().len(),
        2,
        "failed attempts leave no trace in the history"
    );
    h.assert_replays();
}

#[test]
fn disconnect_before_the_first_byte_is_retried() {
    let mut h = Harness::new(vec![Reply::ConnectFail, Reply::text(&["ok"])]);
    assert_eq!(h.run("hi").end, End::Completed);
    assert_eq!(h.retries().len(), 1);
    assert!(h.retries()[0].2.contains("connection failed"));
    h.assert_replays();
}

#[test]
fn disconnect_after_text_fails_the_turn_and_keeps_the_partial_text() {
    let stream = message_start() + &text_block(0, &["Half an ", "answer"]);
    let mut h = Harness::new(vec![Reply::Body {
        content_type: "text/event-stream",
        chunks: per_event(&stream),
        ending: Ending::Reset,
    }]);
    let outcome = h.run("hi");
    let error = failed(&outcome);
    assert!(
        matches!(error, AgentError::StreamBroken { cause }
        if matches!(**cause, AgentError::Transport(TransportError::Reset(_)))),
        "{error:?}"
    );
    assert_eq!(h.requests.len(), 1, "not silently repeated");
    assert!(h.retries().is_empty());
    assert_eq!(h.agent.history()[1].text(), "Half an answer");
    assert!(h
        .records()
        .iter()
        .any(|r| matches!(&r.entry, Entry::Message(m) if m.incomplete)));
    assert!(h.events().iter().any(|e| matches!(e, Event::Error { .. })));
    h.assert_replays();
}

#[test]
fn a_silent_stream_times_out_and_is_retried_when_nothing_was_shown() {
    let mut h = Harness::new(vec![
        Reply::Body {
            content_type: "text/event-stream",
            chunks: per_event(&message_start()),
            ending: Ending::Stall,
        },
        Reply::text(&["ok"]),
    ]);
    assert_eq!(h.run("hi").end, End::Completed);
    let retries = h.retries();
    assert_eq!(retries.len(), 1);
    assert!(
        retries[0].2.contains("no data for 120000 ms"),
        "{retries:?}"
    );
    // The last byte came at +20; the idle deadline fired 120 s later.
    let retry_at = h.requests[0].0.add_ms(20 + 120_000);
    assert_eq!(h.requests[1].0, retry_at.add_ms(retries[0].1));
    assert!(h.log.iter().any(|o| matches!(o, Output::CancelHttp { .. })));
}

#[test]
fn a_silent_stream_after_text_fails() {
    let stream = message_start() + &text_block(0, &["partial"]);
    let mut h = Harness::new(vec![Reply::Body {
        content_type: "text/event-stream",
        chunks: per_event(&stream),
        ending: Ending::Stall,
    }]);
    let outcome = h.run("hi");
    assert!(
        matches!(failed(&outcome), AgentError::StreamBroken { cause }
        if **cause == AgentError::Idle { timeout_ms: 120_000 })
    );
    assert_eq!(h.agent.history()[1].text(), "partial");
    h.assert_replays();
}

#[test]
fn a_stream_cut_before_its_terminal_event_is_truncated() {
    let stream = message_start() + &text_block(0, &["cut"]);
    let mut h = Harness::new(vec![Reply::Body {
        content_type: "text/event-stream",
        chunks: per_event(&stream),
        ending: Ending::Clean,
    }]);
    let outcome = h.run("hi");
    assert!(
        matches!(failed(&outcome), AgentError::StreamBroken { cause }
        if matches!(**cause, AgentError::Decode(crate::provider::DecodeError::Truncated { .. })))
    );
    h.assert_replays();
}

#[test]
fn a_last_event_without_its_blank_line_still_counts() {
    let stream = text_stream(&["whole"]);
    let stream = stream.strip_suffix('\n').expect("ends with a blank line");
    let mut h = Harness::new(vec![Reply::Body {
        content_type: "text/event-stream",
        chunks: vec![stream.as_bytes().to_vec()],
        ending: Ending::Clean,
    }]);
    assert_eq!(h.run("hi").end, End::Completed);
    assert_eq!(h.text_shown(), "whole");
}

#[test]
fn any_chunking_of_the_stream_gives_the_same_turn() {
    let stream = text_stream(&["α", "β"]);
    let bytes = stream.as_bytes();
    for size in [1, 2, 3, 7, 64, bytes.len()] {
        let mut h = Harness::new(vec![Reply::Body {
            content_type: "text/event-stream",
            chunks: bytes.chunks(size).map(<[u8]>::to_vec).collect(),
            ending: Ending::Clean,
        }]);
        h.bound = bytes.len() + 10;
        assert_eq!(h.run("hi").end, End::Completed, "chunk size {size}");
        assert_eq!(h.agent.history()[1].text(), "αβ", "chunk size {size}");
    }
}

#[test]
fn a_whole_json_body_is_decoded_like_a_stream() {
    let body = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [{"type": "text", "text": "not streamed"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 5, "output_tokens": 2}});
    let mut h = Harness::new(vec![Reply::Body {
        content_type: "application/json",
        chunks: vec![body.to_string().into_bytes()],
        ending: Ending::Clean,
    }]);
    let outcome = h.run("hi");
    assert_eq!(outcome.end, End::Completed);
    assert_eq!(h.agent.history()[1].text(), "not streamed");
    assert_eq!(outcome.usage.output_tokens, 2);
}

#[test]
fn missing_credential_names_the_variable_and_the_login_command() {
    let mut h = Harness::new(vec![]);
    h.credential = None;
    let outcome = h.run("hi");
    let error = failed(&outcome);
    assert_eq!(
        *error,
        AgentError::CredentialMissing {
            provider: "anthropic".into(),
            env_var: Some("ANTHROPIC_API_KEY".into())
        }
    );
    let text = error.to_string();
    assert!(
        text.contains("ANTHROPIC_API_KEY") && text.contains("cm auth login"),
        "{text}"
    );
    assert!(h.requests.is_empty());
    assert_eq!(
        h.agent.history(),
        &[Message::user("hi")],
        "the prompt is kept"
    );
    h.assert_replays();
}

#[test]
fn attempts_are_capped() {
    let mut config = config();
    config.limits.max_attempts = 3;
    let mut h = Harness::with(
        config,
        vec![
            Reply::status(503, vec![], "api_error"),
            Reply::status(503, vec![], "api_error"),
            Reply::status(503, vec![], "api_error"),
        ],
    );
    let outcome = h.run("hi");
    assert!(matches!(
        failed(&outcome),
        AgentError::RetriesExhausted { attempts: 3, .. }
    ));
    assert_eq!(h.requests.len(), 3);
    assert_eq!(h.retries().len(), 2);
    assert!(failed(&outcome)
        .to_string()
        .starts_with("gave up after 3 attempts"));
}

#[test]
fn model_not_found_is_said_plainly_and_not_retried() {
    let mut h = Harness::new(vec![Reply::status(404, vec![], "not_found_error")]);
    let outcome = h.run("hi");
    let error = failed(&outcome);
    assert!(
        matches!(error, AgentError::Provider { error, .. } if error.kind == ErrorKind::NotFound)
    );
    let text = error.to_string();
    assert!(
        text.contains("model `claude-test` was not found at provider `anthropic`"),
        "{text}"
    );
    assert!(text.contains("cm models"), "{text}");
    assert_eq!(h.requests.len(), 1);
}

#[test]
fn an_error_status_cut_mid_body_is_still_classified_by_its_status() {
    let mut h = Harness::new(vec![]);
    h.agent
        .submit(vec![Part::text("hi")], Millis(0), UnixMillis(0))
        .expect("idle");
    h.agent
        .handle_credential(Some(Credential::ApiKey("k".into())), Millis(0));
    let id = std::iter::from_fn(|| h.agent.poll_output())
        .find_map(|o| match o {
            Output::Http { id, .. } => Some(id),
            _ => None,
        })
        .expect("a request");
    h.agent
        .handle_http_head(id, head(400, Headers::new()), Millis(1));
    h.agent.handle_http_body(
        id,
        br#"{"type":"error","error":{"type":"invalid_"#,
        Millis(2),
    );
    h.agent
        .handle_http_error(id, TransportError::Reset("eof".into()), Millis(3));
    let outputs: Vec<Output> = std::iter::from_fn(|| h.agent.poll_output()).collect();
    assert!(!outputs
        .iter()
        .any(|o| matches!(o, Output::Event(Event::Retry { .. }))));
    let Some(Output::Done(outcome)) = outputs.last() else {
        panic!("{outputs:?}")
    };
    assert!(
        matches!(failed(outcome), AgentError::Provider { error, .. } if error.status == Some(400))
    );
}

#[test]
fn records_precede_the_outputs_that_depend_on_them() {
    let mut h = Harness::new(vec![
        Reply::tools(&[("t1", "read", r#"{"path":"a"}"#)]),
        Reply::text(&["done"]),
    ]);
    assert_eq!(h.run("go").end, End::Completed);
    let user_record = h.position(|o| {
        matches!(o, Output::Record(r)
        if matches!(&r.entry, Entry::Message(m) if m.message == Message::user("go")))
    });
    let first_http = h.position(|o| matches!(o, Output::Http { .. }));
    assert!(
        user_record < first_http,
        "the prompt is durable before the request"
    );
    let assistant_record = h.position(|o| {
        matches!(o, Output::Record(r)
        if matches!(&r.entry, Entry::Message(m) if m.message.role == Role::Assistant))
    });
    let tool = h.position(|o| matches!(o, Output::Tool { .. }));
    assert!(
        assistant_record < tool,
        "the calls are durable before they run"
    );
    let result_record = h.position(|o| {
        matches!(o, Output::Record(r)
        if matches!(&r.entry, Entry::ToolResult(t) if t.call_id == "t1"))
    });
    let results_message = h.position(|o| {
        matches!(o, Output::Record(r)
        if matches!(&r.entry, Entry::Message(m) if !results_of(&m.message).is_empty()))
    });
    let second_http = h
        .log
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, Output::Http { .. }))
        .nth(1)
        .map(|(i, _)| i)
        .expect("two requests");
    assert!(result_record < results_message && results_message < second_http);
    let turn_end =
        h.position(|o| matches!(o, Output::Record(r) if matches!(r.entry, Entry::TurnEnd(_))));
    assert_eq!(
        turn_end + 1,
        h.log.len() - 1,
        "turn_end is the record right before Done"
    );
    // Wall-clock stamps follow the virtual clock from the submit's anchor.
    let records = h.records();
    assert_eq!(records[0].at, UnixMillis(1_700_000_000_000));
    assert!(records.windows(2).all(|w| w[0].at <= w[1].at));
}

#[test]
fn usage_and_cost_add_up_per_request_turn_and_session() {
    let mut h = Harness::new(vec![
        Reply::tools(&[("t1", "read", r#"{"path":"a"}"#)]),
        Reply::text(&["done"]),
        Reply::text(&["again"]),
    ]);
    let first = h.run("one");
    assert_eq!(first.usage.input_tokens, 200);
    let second = h.run("two");
    assert_eq!(second.usage.input_tokens, 100);
    assert_eq!(h.agent.session_usage().input_tokens, 300);
    let last_usage = h
        .events()
        .into_iter()
        .rev()
        .find_map(|e| match e {
            Event::Usage {
                request,
                turn,
                session,
                session_cost,
                ..
            } => Some((
                request.input_tokens,
                turn.input_tokens,
                session.input_tokens,
                *session_cost,
            )),
            _ => None,
        })
        .expect("usage events");
    assert_eq!((last_usage.0, last_usage.1, last_usage.2), (100, 100, 300));
    let state = replay(&h.records());
    assert_eq!(state.usage, h.agent.session_usage());
    assert_eq!(state.cost, h.agent.session_cost());
    assert_eq!(state.cost, last_usage.3);
    assert_eq!(state.turns, 2);
    // A resumed agent carries the totals on.
    let resumed = Agent::resume(config(), &state, 1);
    assert_eq!(resumed.history(), h.agent.history());
    assert_eq!(resumed.session_usage(), h.agent.session_usage());
}

#[test]
fn submit_while_busy_is_refused_and_stale_input_is_ignored() {
    let mut h = Harness::new(vec![Reply::text(&["ok"])]);
    h.agent
        .submit(vec![Part::text("a")], Millis(0), UnixMillis(0))
        .expect("idle");
    assert_eq!(
        h.agent
            .submit(vec![Part::text("b")], Millis(0), UnixMillis(0)),
        Err(TurnInProgress)
    );
    // Input for ids the agent never issued changes nothing.
    h.agent.handle_http_end(HttpId(999), Millis(1));
    h.agent
        .handle_tool_result(ToolRunId(999), ToolOutcome::default(), Millis(1));
    h.agent
        .handle_answer(AskId(999), Decision::AllowOnce, Millis(1));
    let outputs: Vec<Output> = std::iter::from_fn(|| h.agent.poll_output()).collect();
    assert!(
        matches!(outputs.last(), Some(Output::NeedCredential { .. })),
        "{outputs:?}"
    );
}

#[test]
fn events_serialize_with_a_type_tag() {
    let e = Event::Retry {
        attempt: 2,
        reason: "429".into(),
        delay_ms: 3000,
    };
    assert_eq!(
        serde_json::to_value(&e).expect("plain data"),
        json!({"type": "retry", "attempt": 2, "reason": "429", "delay_ms": 3000})
    );
    let d = Decision::Deny { message: None };
    assert_eq!(
        serde_json::to_value(&d).expect("plain data"),
        json!({"type": "deny"})
    );
}

#[test]
fn the_loop_is_the_same_over_openai_chat() {
    let chat = |lines: &[Value]| {
        let mut s: String = lines.iter().map(|l| format!("data: {l}\n\n")).collect();
        s += "data: [DONE]\n\n";
        Reply::sse(s)
    };
    let mut config = config();
    config.provider = "openai".into();
    config.format = WireFormat::OpenaiChat;
    config.endpoint.base_url = "http://mock/v1".into();
    let mut h = Harness::with(
        config,
        vec![
            chat(&[
                json!({"id": "c1", "model": "gpt-x", "choices": [{"index": 0, "delta": {"role": "assistant",
                    "tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                    "function": {"name": "read", "arguments": ""}}]}}]}),
                json!({"id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0,
                    "function": {"arguments": "{\"path\":\"a\"}"}}]}}]}),
                json!({"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
                json!({"id": "c1", "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5}}),
            ]),
            chat(&[
                json!({"id": "c2", "choices": [{"index": 0, "delta": {"content": "it says ok"}}]}),
                json!({"id": "c2", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            ]),
        ],
    );
    // The harness's credential check expects "anthropic"; route by hand.
    h.agent
        .submit(vec![Part::text("read a")], Millis(0), UnixMillis(0))
        .expect("idle");
    let mut steps = 0;
    let outcome = loop {
        steps += 1;
        assert!(steps < 200, "did not settle");
        let mut done = None;
        while let Some(out) = h.agent.poll_output() {
            h.log.push(out.clone());
            match out {
                Output::NeedCredential { provider } => {
                    assert_eq!(provider, "openai");
                    h.agent
                        .handle_credential(Some(Credential::ApiKey("sk".into())), h.now);
                }
                Output::Done(o) => done = Some(o),
                other => h.route(other),
            }
        }
        if let Some(o) = done {
            break o;
        }
        h.step();
    };
    assert_eq!(outcome.end, End::Completed);
    assert_eq!(h.runs[0].1.input, json!({"path": "a"}));
    assert_eq!(h.requests[0].1.url, "http://mock/v1/chat/completions");
    let second = h.request_body(1).to_string();
    assert!(
        second.contains(r#""role":"tool""#) && second.contains("call_1"),
        "{second}"
    );
    assert_eq!(h.agent.history()[3].text(), "it says ok");
    h.assert_replays();
}

#[test]
fn abort_while_backing_off_ends_the_turn_without_a_request() {
    let mut h = Harness::new(vec![Reply::status(
        429,
        vec![("retry-after", "30")],
        "rate_limit_error",
    )])
    .abort_at(1_000 + 5_000);
    assert_eq!(h.run("hi").end, End::Aborted);
    assert_eq!(h.requests.len(), 1, "the retry never went out");
    assert_eq!(h.agent.poll_timeout(), None);
    assert!(h.agent.is_idle());
    h.assert_replays();
}

// ---- context: pruning and compaction ------------------------------------------------

/// A host whose `read` answers `file <path>: ` and 4,000 bytes (about 1,000 tokens).
fn big_read_host(inv: &ToolInvocation) -> (u64, ToolOutcome) {
    let path = inv.input["path"].as_str().unwrap_or_default();
    let text = format!("file {path}: {}", "x".repeat(4_000));
    (5, ToolOutcome::text(text, "read"))
}

fn read_reply(id: &str, path: &str) -> Reply {
    Reply::tools(&[(id, "read", &format!(r#"{{"path":"{path}"}}"#))])
}

impl Harness {
    fn compaction_events(&self) -> Vec<Event> {
        self.events()
            .into_iter()
            .filter(|e| {
                matches!(
                    e,
                    Event::Pruned { .. } | Event::CompactionStart { .. } | Event::Compacted { .. }
                )
            })
            .cloned()
            .collect()
    }

    fn compactions(&self) -> Vec<session::CompactionRecord> {
        self.records()
            .into_iter()
            .filter_map(|r| match r.entry {
                Entry::Compaction(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    /// The text of every part of the first message of request `n`, joined.
    fn first_message_text(&self, n: usize) -> String {
        self.request_body(n)["messages"][0]["content"]
            .as_array()
            .map(|parts| {
                parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .unwrap_or_default()
    }

    /// Asserts request `n` is a summarisation request: no tools, the summariser's
    /// system prompt, one user message ending with the instruction.
    fn assert_summary_request(&self, n: usize) {
        let body = self.request_body(n);
        assert!(body.get("tools").is_none(), "no tools: {body}");
        assert!(body.get("tool_choice").is_none(), "{body}");
        assert!(
            body["system"].to_string().contains(SUMMARY_SYSTEM),
            "{body}"
        );
        let messages = body["messages"].as_array().expect("messages");
        assert_eq!(messages.len(), 1, "{body}");
        assert_eq!(messages[0]["role"], "user");
        assert!(
            self.first_message_text(n).ends_with(SUMMARY_INSTRUCTION),
            "{body}"
        );
    }
}

#[test]
fn past_90_percent_old_tool_outputs_are_pruned_and_replay_matches() {
    let mut config = config();
    config.context_window = Some(10_000);
    let mut h = Harness::with(
        config,
        vec![
            read_reply("t1", "1").using(1_000),
            read_reply("t2", "2").using(2_100),
            read_reply("t3", "3").using(3_200),
            read_reply("t4", "4").using(4_300),
            // 8,600 reported + ~1,000 for t5's output passes 9,000: prune before request 6.
            read_reply("t5", "5").using(8_600),
            Reply::text(&["done"]),
        ],
    )
    .host(big_read_host);
    assert_eq!(h.run("read them all").end, End::Completed);
    assert_eq!(h.requests.len(), 6);
    for n in 1..5 {
        assert!(
            h.request_body(n).to_string().contains("file 1: xxx"),
            "below 90 % nothing is pruned (request {n})"
        );
    }
    let last = h.request_body(5).to_string();
    assert!(!last.contains("file 1: xxx"), "t1's output is gone");
    assert!(last.contains(PRUNED_TEXT), "{last}");
    for path in 2..=5 {
        assert!(
            last.contains(&format!("file {path}: xxx")),
            "the current step's result and the 3 newest others stay ({path})"
        );
    }
    assert_eq!(
        h.results_at(2),
        [("t1".into(), false, PRUNED_TEXT.into())],
        "the call is still answered"
    );
    let saved = (4_008 - PRUNED_TEXT.len() as u64) / 4;
    assert_eq!(
        h.compaction_events(),
        [Event::Pruned {
            results: 1,
            saved_tokens: saved
        }],
        "no compaction: pruning was enough"
    );
    let prune = h.position(|o| {
        matches!(o, Output::Record(r) if matches!(&r.entry,
        Entry::Prune(p) if p.call_ids == ["t1"] && p.text == PRUNED_TEXT))
    });
    let sixth = h
        .log
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, Output::Http { .. }))
        .nth(5)
        .map(|(i, _)| i)
        .expect("six requests");
    assert!(prune < sixth, "the prune is durable before the request");
    assert!(
        h.agent.context_estimate() < 9_000,
        "{}",
        h.agent.context_estimate()
    );
    h.assert_replays();
}

#[test]
fn past_95_percent_after_pruning_the_conversation_is_summarised_first() {
    let mut config = config();
    config.context_window = Some(10_000);
    let mut h = Harness::with(
        config,
        vec![
            read_reply("t1", "1").using(9_800),
            Reply::text(&["The user asked to read 1; it is all x."]),
            Reply::text(&["done"]),
        ],
    )
    .host(big_read_host);
    let outcome = h.run("go");
    assert_eq!(outcome.end, End::Completed);
    assert_eq!((outcome.steps, h.requests.len()), (2, 3));
    h.assert_summary_request(1);
    assert!(h.first_message_text(1).contains("file 1: xxx"));
    let retried = h.first_message_text(2);
    assert!(retried.starts_with(SUMMARY_HEADER), "{retried}");
    assert!(
        retried.contains("it is all x.") && retried.ends_with("|go"),
        "{retried}"
    );
    assert_eq!(
        h.request_body(2)["messages"].as_array().map(Vec::len),
        Some(1)
    );
    assert!(
        h.request_body(2).get("tools").is_some(),
        "the turn goes on with its tools"
    );
    assert_eq!(
        h.text_shown(),
        "done",
        "the summary is not shown as an answer"
    );
    let trigger = CompactionTrigger::Threshold;
    assert_eq!(
        h.compaction_events(),
        [
            Event::CompactionStart { trigger },
            Event::Compacted {
                trigger,
                summary: "The user asked to read 1; it is all x.".into(),
                replaced: 3
            }
        ]
    );
    h.assert_replays();
}

#[test]
fn context_too_long_is_recovered_once_by_a_summary_and_the_request_retried() {
    let mut h = Harness::new(vec![
        read_reply("t1", "a"),
        Reply::text(&["a says ok"]),
        Reply::too_long(),
        Reply::text(&["Read a; it says ok."]),
        Reply::text(&["answer two"]),
    ]);
    assert_eq!(h.run("one").end, End::Completed);
    let outcome = h.run("two");
    assert_eq!(outcome.end, End::Completed);
    assert_eq!(h.requests.len(), 5);
    assert!(h.retries().is_empty(), "an overflow is not retried as is");

    h.assert_summary_request(3);
    let transcript = h.first_message_text(3);
    for seen in [
        "## User\none",
        "[tool call `read`: {\"path\":\"a\"}]",
        "a says ok",
        "two",
    ] {
        assert!(transcript.contains(seen), "{seen} in {transcript}");
    }
    let summary = "Read a; it says ok.";
    let compacted = context::compacted_history(summary, &[Part::text("two")]);
    assert_eq!(h.agent.history()[0], compacted[0]);
    assert_eq!(h.agent.history()[1], Message::assistant("answer two"));
    assert_eq!(h.agent.history().len(), 2);
    assert_eq!(
        h.request_body(4)["messages"].as_array().map(Vec::len),
        Some(1),
        "the retried request carries the compacted history"
    );
    assert_eq!(h.first_message_text(4), {
        let Part::Text { text } = &compacted[0].parts[0] else {
            unreachable!()
        };
        format!("{text}|two")
    });

    let records = h.compactions();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (
            records[0].trigger,
            records[0].summary.as_str(),
            records[0].replaced
        ),
        (CompactionTrigger::Overflow, summary, 5)
    );
    assert_eq!(records[0].history, compacted);
    let record_at =
        h.position(|o| matches!(o, Output::Record(r) if matches!(r.entry, Entry::Compaction(_))));
    let fifth = h
        .log
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, Output::Http { .. }))
        .nth(4)
        .map(|(i, _)| i)
        .expect("five requests");
    assert!(
        record_at < fifth,
        "the compaction is durable before the retried request"
    );
    assert_eq!(
        outcome.usage.input_tokens, 200,
        "the summary request counts in the turn"
    );
    assert_eq!(
        serde_json::to_value(Event::CompactionStart {
            trigger: CompactionTrigger::Overflow
        })
        .expect("plain data"),
        json!({"type": "compaction_start", "trigger": "overflow"})
    );
    h.assert_replays();
}

#[test]
fn a_second_overflow_in_the_same_turn_fails_it_without_a_third_request() {
    let mut h = Harness::new(vec![
        Reply::too_long(),
        Reply::text(&["summary"]),
        Reply::too_long(),
    ]);
    let outcome = h.run("huge");
    let error = failed(&outcome);
    assert!(
        matches!(error, AgentError::ContextOverflow { reason: OverflowReason::AlreadyCompacted,
            detail: Some(d), .. } if d.contains("prompt is too long")),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("still too long for `claude-test` after compacting it once this turn")
            && text.contains("start a new session"),
        "{text}"
    );
    assert_eq!(h.requests.len(), 3, "never a third model request");
    assert_eq!(h.compactions().len(), 1);
    h.assert_replays();
}

#[test]
fn with_compaction_off_an_overflow_fails_at_once() {
    let mut config = config();
    config.compaction = false;
    config.context_window = Some(1_000);
    let mut h = Harness::with(config, vec![Reply::too_long()]);
    let outcome = h.run("huge");
    let error = failed(&outcome);
    assert!(matches!(
        error,
        AgentError::ContextOverflow {
            reason: OverflowReason::CompactionOff,
            ..
        }
    ));
    let text = error.to_string();
    assert!(
        text.contains("compaction is off") && text.contains("cm run --compact"),
        "{text}"
    );
    assert_eq!(h.requests.len(), 1);
    assert!(h.compaction_events().is_empty());
    assert_eq!(h.agent.history(), &[Message::user("huge")]);
    h.assert_replays();
}

#[test]
fn the_summary_request_itself_too_long_fails_the_turn() {
    let mut h = Harness::new(vec![Reply::too_long(), Reply::too_long()]);
    let outcome = h.run("huge");
    assert!(matches!(
        failed(&outcome),
        AgentError::ContextOverflow {
            reason: OverflowReason::SummaryTooLong,
            ..
        }
    ));
    assert_eq!(h.requests.len(), 2);
    assert_eq!(h.agent.history(), &[Message::user("huge")]);
    h.assert_replays();
}

#[test]
fn a_summary_request_is_retried_like_any_request() {
    let mut h = Harness::new(vec![
        Reply::too_long(),
        Reply::status(529, vec![], "overloaded_error"),
        Reply::text(&["summary"]),
        Reply::text(&["done"]),
    ]);
    assert_eq!(h.run("hi").end, End::Completed);
    assert_eq!(h.retries().len(), 1);
    h.assert_summary_request(2);
    assert_eq!(h.agent.history().len(), 2);
    h.assert_replays();
}

#[test]
fn compact_on_demand_replaces_the_history_with_the_summary() {
    let mut idle = Harness::new(vec![]);
    let outcome = idle.compact();
    assert_eq!((outcome.end, outcome.steps), (End::Completed, 0));
    assert!(idle.requests.is_empty(), "nothing to compact");

    let mut h = Harness::new(vec![
        Reply::text(&["hello"]),
        Reply::text(&["We greeted each other."]),
        Reply::text(&["ok"]),
    ]);
    assert_eq!(h.run("hi").end, End::Completed);
    let outcome = h.compact();
    assert_eq!((outcome.end.clone(), outcome.steps), (End::Completed, 0));
    assert_eq!(h.requests.len(), 2);
    h.assert_summary_request(1);
    assert_eq!(
        h.agent.history(),
        context::compacted_history("We greeted each other.", &[])
    );
    assert!(h.compaction_events().contains(&Event::Compacted {
        trigger: CompactionTrigger::Manual,
        summary: "We greeted each other.".into(),
        replaced: 2
    }));
    h.assert_replays();
    let mut busy = Harness::new(vec![]);
    busy.agent
        .submit(vec![Part::text("x")], Millis(0), UnixMillis(0))
        .expect("idle");
    assert_eq!(
        busy.agent.compact(Millis(0), UnixMillis(0)),
        Err(TurnInProgress)
    );
    // The next prompt joins the summary message.
    assert_eq!(h.run("what now?").end, End::Completed);
    let first = h.first_message_text(2);
    assert!(
        first.starts_with(SUMMARY_HEADER) && first.ends_with("|what now?"),
        "{first}"
    );
    h.assert_replays();
}

#[test]
fn abort_during_summarisation_leaves_the_history_as_it_was() {
    let summary = message_start() + &text_block(0, &["Half a sum"]);
    let mut h = Harness::new(vec![
        Reply::text(&["hello"]),
        Reply::too_long(),
        Reply::Body {
            content_type: "text/event-stream",
            chunks: per_event(&summary),
            ending: Ending::Stall,
        },
    ]);
    assert_eq!(h.run("one").end, End::Completed);
    // "two" fails at +10, the summary request goes out then; its text arrives from +30.
    let abort_at = h.now.add_ms(TICK * 6);
    h.schedule(abort_at, Input::Abort);
    assert_eq!(h.run("two").end, End::Aborted);
    assert_eq!(h.requests.len(), 3);
    assert!(h.log.iter().any(|o| matches!(o, Output::CancelHttp { .. })));
    assert_eq!(
        h.agent.history(),
        &[
            Message::user("one"),
            Message::assistant("hello"),
            Message::user("two")
        ],
        "no partial summary, no compaction"
    );
    assert!(h.compactions().is_empty());
    assert!(!h.text_shown().contains("Half"));
    h.assert_replays();
    h.script.push_back(Reply::text(&["fine"]));
    assert_eq!(h.run("three").end, End::Completed);
    h.assert_replays();
}

#[test]
fn todowrite_display_reaches_the_ui_and_the_history_rebuilds_the_list() {
    let mut config = config();
    config.tools.push(crate::tool::todowrite_def());
    let list =
        r#"{"todos":[{"id":"1","content":"plan","status":"in_progress","priority":"high"}]}"#;
    let mut todos = Vec::new();
    let mut h = Harness::with(
        config,
        vec![
            Reply::tools(&[("w1", "todowrite", list)]),
            Reply::text(&["Planned."]),
        ],
    )
    .host(move |inv| {
        (
            1,
            crate::tool::todo::run(&mut todos, &inv.name, &inv.input).unwrap(),
        )
    });
    let outcome = h.run("plan it");
    assert_eq!(outcome.end, End::Completed);
    let shown: Vec<&Value> = h
        .log
        .iter()
        .filter_map(|o| match o {
            Output::Event(Event::ToolDone {
                display: Some(display),
                ..
            }) => Some(display),
            _ => None,
        })
        .collect();
    assert_eq!(
        shown.len(),
        1,
        "todowrite asks no permission and is shown once"
    );
    assert_eq!(shown[0]["todos"][0]["status"], "in_progress");
    let rebuilt = crate::tool::todo::from_history(h.agent.history());
    assert_eq!(rebuilt.len(), 1);
    assert_eq!(rebuilt[0].content, "plan");
    let event = serde_json::to_value(h.log.iter().find_map(|o| match o {
        Output::Event(e @ Event::ToolDone { .. }) => Some(e.clone()),
        _ => None,
    }))
    .unwrap();
    assert_eq!(event["display"]["todos"][0]["id"], "1");
}
