use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cm_proto::agent::{AgentConfig, End};
use cm_proto::http::Headers;
use cm_proto::message::Message;
use cm_proto::provider::{Endpoint, WireFormat};
use cm_proto::tool::todoread_def;

use super::*;

#[derive(Default)]
struct Log {
    http: Vec<(HttpId, Request)>,
    cancelled: Vec<HttpId>,
    timer: Option<Millis>,
    events: Vec<Event>,
    records: usize,
    tools: Vec<String>,
    done: Vec<End>,
    failures: Vec<String>,
    notified: usize,
}

struct FakeIo {
    log: Rc<RefCell<Log>>,
    clock: Rc<Cell<u64>>,
}

impl Io for FakeIo {
    fn now(&self) -> Millis {
        Millis(self.clock.get())
    }
    fn wall_clock(&self) -> UnixMillis {
        UnixMillis(1_700_000_000_000 + self.clock.get())
    }
    fn start_http(&mut self, id: HttpId, request: Request, _feed: Feed) {
        self.log.borrow_mut().http.push((id, request));
    }
    fn cancel_http(&mut self, id: HttpId) {
        self.log.borrow_mut().cancelled.push(id);
    }
    fn arm_timer(&mut self, deadline: Option<Millis>, _feed: Feed) {
        self.log.borrow_mut().timer = deadline;
    }
}

struct FakeHost {
    log: Rc<RefCell<Log>>,
    /// Records accepted before the store reports itself full.
    room: usize,
}

impl Host for FakeHost {
    fn credential(&mut self, _provider: &str) -> Option<Credential> {
        Some(Credential::ApiKey("sk-test".into()))
    }
    fn record(&mut self, _record: &Record) -> Result<(), String> {
        let mut log = self.log.borrow_mut();
        if log.records == self.room {
            return Err("storage is full".into());
        }
        log.records += 1;
        Ok(())
    }
    fn show(&mut self, event: &Event) {
        self.log.borrow_mut().events.push(event.clone());
    }
    fn ask(&mut self, _id: AskId, _question: &Question) {}
    fn start_tool(&mut self, id: ToolRunId, invocation: ToolInvocation, feed: Feed) {
        self.log.borrow_mut().tools.push(invocation.name);
        // Answers before returning, as the browser's file tools do.
        feed.feed(Input::ToolDone(
            id,
            ToolOutcome::text("no todos", "todoread"),
        ));
    }
    fn cancel_tool(&mut self, _id: ToolRunId) {}
    fn done(&mut self, outcome: &Outcome) {
        self.log.borrow_mut().done.push(outcome.end.clone());
    }
    fn fail(&mut self, message: &str) {
        self.log.borrow_mut().failures.push(message.to_string());
    }
}

struct Rig {
    driver: Driver<FakeHost, FakeIo>,
    log: Rc<RefCell<Log>>,
    clock: Rc<Cell<u64>>,
}

fn rig(room: usize) -> Rig {
    let log = Rc::new(RefCell::new(Log::default()));
    let clock = Rc::new(Cell::new(0));
    let endpoint = Endpoint {
        base_url: "http://127.0.0.1:9".into(),
        ..Endpoint::default()
    };
    let mut config = AgentConfig::new("anthropic", WireFormat::Anthropic, endpoint, "m");
    config.tools = vec![todoread_def()];
    let agent = Agent::new(config, Vec::new(), 1);
    let host = FakeHost {
        log: Rc::clone(&log),
        room,
    };
    let io = FakeIo {
        log: Rc::clone(&log),
        clock: Rc::clone(&clock),
    };
    let notified = Rc::clone(&log);
    let notify = Box::new(move || notified.borrow_mut().notified += 1);
    Rig {
        driver: Driver::new(agent, host, io, notify),
        log,
        clock,
    }
}

fn sse_head() -> ResponseHead {
    let mut headers = Headers::new();
    headers.push("content-type", "text/event-stream");
    ResponseHead {
        status: 200,
        reason: "OK".into(),
        headers,
    }
}

const TEXT_STREAM: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",",
    "\"model\":\"m\",\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,",
    "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,",
    "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":",
    "{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

const TOOL_STREAM: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_0\",",
    "\"model\":\"m\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,",
    "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"todoread\",\"input\":{}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,",
    "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":",
    "{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":2}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

/// Feeds `stream` to exchange `id` in pieces of `size` bytes, then ends it.
fn stream(rig: &Rig, id: HttpId, stream: &str, size: usize) {
    rig.driver.feed(Input::HttpHead(id, sse_head()));
    for piece in stream.as_bytes().chunks(size) {
        rig.clock.set(rig.clock.get() + 1);
        rig.driver.feed(Input::HttpBody(id, piece.to_vec()));
    }
    rig.driver.feed(Input::HttpEnd(id));
}

#[test]
fn a_streamed_answer_fed_chunk_by_chunk_completes_the_turn() {
    for size in [1, 7, 64, TEXT_STREAM.len()] {
        let rig = rig(usize::MAX);
        rig.driver.feed(Input::Submit(vec![Part::text("hi")]));
        let (id, request) = rig.log.borrow().http[0].clone();
        assert_eq!(request.url, "http://127.0.0.1:9/v1/messages");
        assert_eq!(rig.log.borrow().timer, Some(Millis(120_000)));

        stream(&rig, id, TEXT_STREAM, size);
        let log = rig.log.borrow();
        let text: String = log
            .events
            .iter()
            .filter_map(|e| match e {
                Event::TextDelta { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "Hello", "chunk size {size}");
        assert_eq!(log.done, [End::Completed]);
        assert_eq!(log.timer, None, "no deadline once idle");
        assert!(log.notified >= 3);
        drop(log);
        let history = rig.driver.with(|agent, _| agent.history().to_vec());
        assert_eq!(
            history,
            Some(vec![Message::user("hi"), Message::assistant("Hello")])
        );
    }
}

#[test]
fn a_tool_that_answers_at_once_is_queued_and_the_next_request_follows() {
    let rig = rig(usize::MAX);
    rig.driver.feed(Input::Submit(vec![Part::text("todos?")]));
    let first = rig.log.borrow().http[0].0;
    stream(&rig, first, TOOL_STREAM, 50);
    assert_eq!(rig.log.borrow().tools, ["todoread"]);
    let (second, request) = rig.log.borrow().http[1].clone();
    assert_ne!(first, second);
    assert!(String::from_utf8_lossy(&request.body).contains("no todos"));
    stream(&rig, second, TEXT_STREAM, 50);
    assert_eq!(rig.log.borrow().done, [End::Completed]);
}

#[test]
fn interrupt_cancels_the_exchange_and_ends_the_turn_aborted() {
    let rig = rig(usize::MAX);
    rig.driver.feed(Input::Submit(vec![Part::text("hi")]));
    let id = rig.log.borrow().http[0].0;
    rig.driver.feed(Input::HttpHead(id, sse_head()));
    rig.driver.feed(Input::Interrupt);
    let log = rig.log.borrow();
    assert_eq!(log.cancelled, [id]);
    assert_eq!(log.done, [End::Aborted]);
    drop(log);
    // A late chunk of the cancelled exchange and a second interrupt change nothing.
    rig.driver
        .feed(Input::HttpBody(id, TEXT_STREAM.as_bytes().to_vec()));
    rig.driver.feed(Input::Interrupt);
    assert_eq!(rig.log.borrow().done, [End::Aborted]);
}

#[test]
fn a_message_while_a_turn_runs_is_refused_and_the_turn_goes_on() {
    let rig = rig(usize::MAX);
    rig.driver.feed(Input::Submit(vec![Part::text("one")]));
    rig.driver.feed(Input::Submit(vec![Part::text("two")]));
    assert_eq!(rig.log.borrow().failures.len(), 1);
    let id = rig.log.borrow().http[0].0;
    stream(&rig, id, TEXT_STREAM, 100);
    assert_eq!(rig.log.borrow().done, [End::Completed]);
}

#[test]
fn a_record_that_cannot_be_stored_aborts_the_turn_and_writes_nothing_more() {
    // The user's message is stored; the assistant's is refused.
    let rig = rig(1);
    rig.driver.feed(Input::Submit(vec![Part::text("hi")]));
    let id = rig.log.borrow().http[0].0;
    stream(&rig, id, TEXT_STREAM, 100);
    let log = rig.log.borrow();
    assert_eq!(log.records, 1);
    assert_eq!(log.failures, ["storage is full"]);
    // The answer had fully arrived, so the turn still ends once; nothing else is stored.
    assert_eq!(log.done.len(), 1);
    assert_eq!(log.timer, None);
}

#[test]
fn the_timer_feeds_a_timeout_that_fails_a_silent_exchange() {
    let rig = rig(usize::MAX);
    rig.driver.feed(Input::Submit(vec![Part::text("hi")]));
    let id = rig.log.borrow().http[0].0;
    rig.driver.feed(Input::HttpHead(id, sse_head()));
    let deadline = rig.log.borrow().timer.unwrap_or_default();
    rig.clock.set(deadline.0);
    rig.driver.feed(Input::Timeout);
    // An idle stream is retried: a new exchange starts after the backoff.
    let log = rig.log.borrow();
    assert!(log.cancelled.contains(&id));
    assert!(log.events.iter().any(|e| matches!(e, Event::Retry { .. })));
}

#[test]
fn with_is_refused_while_the_driver_is_busy_and_a_dropped_driver_ignores_its_feed() {
    let rig = rig(usize::MAX);
    let feed = rig.driver.feeder();
    assert_eq!(rig.driver.with(|agent, _| agent.is_idle()), Some(true));
    drop(rig.driver);
    feed.feed(Input::Interrupt);
    Feed::detached().feed(Input::Interrupt);
}
