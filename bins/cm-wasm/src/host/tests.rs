//! A whole conversation through the real driver and host, with the network faked.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cm_fetch::{Driver, Io};
use cm_proto::agent::{Agent, Decision, HttpId};
use cm_proto::http::{Headers, Request, ResponseHead};
use cm_proto::message::Part;
use cm_proto::session::replay;
use cm_proto::time::{Millis, UnixMillis};
use serde_json::json;

use super::*;
use crate::config::PageConfig;
use crate::store::MemoryKv;

#[derive(Default)]
struct Net {
    requests: Vec<(HttpId, Request)>,
}

struct FakeIo {
    net: Rc<RefCell<Net>>,
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
        self.net.borrow_mut().requests.push((id, request));
    }
    fn cancel_http(&mut self, _id: HttpId) {}
    fn arm_timer(&mut self, _deadline: Option<Millis>, _feed: Feed) {}
}

struct Page {
    driver: Driver<BrowserHost, FakeIo>,
    net: Rc<RefCell<Net>>,
    outbox: Outbox,
    clock: Rc<Cell<u64>>,
}

fn page(kv: MemoryKv) -> Page {
    let config = PageConfig::from_json(
        r#"{"provider": "anthropic", "baseUrl": "http://127.0.0.1:9", "key": "sk-ant-test", "model": "claude-test"}"#,
    )
    .unwrap();
    let outbox = Outbox::default();
    let host = BrowserHost::new(
        Box::new(kv),
        "s1".into(),
        config.label(),
        config.credential(),
        Rc::clone(&outbox),
    );
    let agent = Agent::new(config.agent_config().unwrap(), Vec::new(), 3);
    let net = Rc::new(RefCell::new(Net::default()));
    let clock = Rc::new(Cell::new(0));
    let io = FakeIo {
        net: Rc::clone(&net),
        clock: Rc::clone(&clock),
    };
    Page {
        driver: Driver::new(agent, host, io, Box::new(|| {})),
        net,
        outbox,
        clock,
    }
}

fn sse(events: &[serde_json::Value]) -> String {
    events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap_or("")))
        .collect()
}

fn start(id: &str) -> serde_json::Value {
    json!({"type": "message_start", "message": {"id": id, "model": "claude-test",
        "usage": {"input_tokens": 10, "output_tokens": 1}}})
}

fn end(stop: &str) -> Vec<serde_json::Value> {
    vec![
        json!({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 5}}),
        json!({"type": "message_stop"}),
    ]
}

fn tool_turn(call: &str, name: &str, input: serde_json::Value) -> String {
    let mut events = vec![
        start("msg_t"),
        json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "tool_use", "id": call, "name": name, "input": {}}}),
        json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": input.to_string()}}),
        json!({"type": "content_block_stop", "index": 0}),
    ];
    events.extend(end("tool_use"));
    sse(&events)
}

fn text_turn(text: &str) -> String {
    let mut events = vec![
        start("msg_x"),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        json!({"type": "content_block_stop", "index": 0}),
    ];
    events.extend(end("end_turn"));
    sse(&events)
}

impl Page {
    /// Answers the newest request with `body`, in 13-byte chunks.
    fn answer(&self, body: &str) {
        let (id, _) = self.net.borrow().requests.last().cloned().unwrap();
        let mut headers = Headers::new();
        headers.push("content-type", "text/event-stream");
        let head = ResponseHead {
            status: 200,
            reason: "OK".into(),
            headers,
        };
        self.driver.feed(Input::HttpHead(id, head));
        for piece in body.as_bytes().chunks(13) {
            self.clock.set(self.clock.get() + 1);
            self.driver.feed(Input::HttpBody(id, piece.to_vec()));
        }
        self.driver.feed(Input::HttpEnd(id));
    }

    fn events(&self) -> Vec<Value> {
        self.outbox.borrow_mut().drain(..).collect()
    }
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

#[test]
fn a_conversation_edits_a_virtual_file_after_permission_and_is_saved() {
    let kv = MemoryKv::default();
    let page = page(kv);
    page.driver
        .with(|_, host| host.workspace.add_file("notes.txt", b"todo: buy milk\n"))
        .unwrap()
        .unwrap();
    page.driver
        .feed(Input::Submit(vec![Part::text("fix my notes")]));
    let first = page.net.borrow().requests[0].1.clone();
    assert_eq!(
        first
            .headers
            .get("anthropic-dangerous-direct-browser-access"),
        Some("true")
    );
    assert_eq!(first.headers.get("x-api-key"), Some("sk-ant-test"));

    page.answer(&tool_turn("toolu_r", "read", json!({"path": "notes.txt"})));
    page.answer(&tool_turn(
        "toolu_e",
        "edit",
        json!({"path": "notes.txt", "old_string": "milk", "new_string": "oat milk"}),
    ));
    let events = page.events();
    let asked = of_type(&events, "permission_asked");
    assert_eq!(asked.len(), 1, "read is allowed, edit asks: {events:?}");
    assert_eq!(asked[0]["question"]["permission"], "edit");
    let ask_id = asked[0]["id"].as_u64().unwrap();

    page.driver
        .feed(Input::Answer(AskId(ask_id), Decision::AllowOnce));
    let events = page.events();
    assert_eq!(
        of_type(&events, "files_changed")[0]["paths"],
        json!(["notes.txt"])
    );
    let done: Vec<_> = of_type(&events, "tool_done");
    assert_eq!(done[0]["name"], "edit");
    assert_eq!(done[0]["is_error"], false);

    page.answer(&text_turn("Done: **oat milk**."));
    let events = page.events();
    let text: String = of_type(&events, "text_delta")
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert_eq!(text, "Done: **oat milk**.");
    assert_eq!(of_type(&events, "turn_end")[0]["end"], "completed");

    let (file, history, records) = page
        .driver
        .with(|agent, host| {
            let file = host.workspace.file("notes.txt").map(<[u8]>::to_vec);
            let records = host.store().load("s1").unwrap();
            (file, agent.history().to_vec(), records)
        })
        .unwrap();
    assert_eq!(file.as_deref(), Some(&b"todo: buy oat milk\n"[..]));
    assert_eq!(replay(&records).history, history);
    let listed = page.driver.with(|_, host| host.store().list()).unwrap();
    assert_eq!(listed[0].title, "fix my notes");
    assert_eq!(listed[0].model, "anthropic/claude-test");
}

#[test]
fn a_full_store_is_reported_and_the_session_keeps_what_was_saved() {
    // Room for the user's message record and the index, not for the answer.
    let page = page(MemoryKv::with_quota(Some(1_000)));
    page.driver.feed(Input::Submit(vec![Part::text("hello")]));
    page.answer(&text_turn(&"long answer ".repeat(100)));
    let events = page.events();
    let notice = of_type(&events, "notice");
    assert_eq!(notice.len(), 1, "{events:?}");
    assert!(notice[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("the browser's storage for this page is full"));
    let records = page
        .driver
        .with(|_, host| host.store().load("s1").unwrap())
        .unwrap();
    assert_eq!(
        replay(&records).history.len(),
        1,
        "only the prompt was saved"
    );
}

#[test]
fn a_provider_error_mid_stream_is_shown_and_the_session_goes_on() {
    let page = page(MemoryKv::default());
    page.driver.feed(Input::Submit(vec![Part::text("hello")]));
    let broken = sse(&[
        start("msg_1"),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Partial"}}),
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": "mock failure"}}),
    ]);
    page.answer(&broken);
    let events = page.events();
    let end = of_type(&events, "turn_end");
    assert_eq!(end[0]["end"], "failed", "{events:?}");
    assert!(end[0]["error"].as_str().unwrap().contains("mock failure"));
    assert_eq!(of_type(&events, "error").len(), 1);

    page.driver.feed(Input::Submit(vec![Part::text("again")]));
    page.answer(&text_turn("Fine now."));
    let events = page.events();
    assert_eq!(of_type(&events, "turn_end")[0]["end"], "completed");
    let records = page
        .driver
        .with(|_, host| host.store().load("s1").unwrap())
        .unwrap();
    let history = replay(&records).history;
    assert!(history.iter().any(|m| m.text().contains("Partial")));
    assert!(history.iter().any(|m| m.text() == "Fine now."));
}
