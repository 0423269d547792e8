//! Driver::run with an in-memory HTTP client: ordering, log failures, misuse.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use cm_driver::{Driver, DriverError, HttpClient, Input, RecordSink, StdRuntime, ToolRunner, Ui};
use cm_host::StoreError;
use cm_proto::agent::{Agent, AgentConfig, AskId, End, Event, HttpId, Question, ToolRunId};
use cm_proto::http::{Headers, Request, ResponseHead};
use cm_proto::message::{Message, Part};
use cm_proto::provider::{Credential, Endpoint, WireFormat};
use cm_proto::session::Record;
use cm_proto::tool::ToolInvocation;

type Journal = Arc<Mutex<Vec<&'static str>>>;

const ANSWER: &str = concat!(
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

/// Answers every request at once with [`ANSWER`], in two pieces.
struct CannedHttp(Journal);

impl HttpClient for CannedHttp {
    fn start(&mut self, id: HttpId, _request: Request, inputs: Sender<Input>) {
        self.0.lock().unwrap().push("http");
        let mut headers = Headers::new();
        headers.push("content-type", "text/event-stream");
        let head = ResponseHead {
            status: 200,
            reason: "OK".into(),
            headers,
        };
        let (a, b) = ANSWER.as_bytes().split_at(100);
        for input in [
            Input::HttpHead(id, head),
            Input::HttpBody(id, a.to_vec()),
            Input::HttpBody(id, b.to_vec()),
            Input::HttpEnd(id),
        ] {
            inputs.send(input).unwrap();
        }
    }

    fn cancel(&mut self, _id: HttpId) {
        self.0.lock().unwrap().push("cancel http");
    }
}

struct NoTools;

impl ToolRunner for NoTools {
    fn start(&mut self, _id: ToolRunId, _invocation: ToolInvocation, _inputs: Sender<Input>) {
        panic!("no tool calls in these tests")
    }
    fn cancel(&mut self, _id: ToolRunId) {}
}

#[derive(Default)]
struct Shown(Vec<Event>);

impl Ui for Shown {
    fn show(&mut self, event: &Event) {
        self.0.push(event.clone());
    }
    fn ask(&mut self, _id: AskId, _question: &Question, _inputs: &Sender<Input>) {
        panic!("no questions in these tests")
    }
}

/// Keeps records, or refuses them once `fail` is set.
struct Sink {
    journal: Journal,
    records: Vec<Record>,
    fail: bool,
}

impl RecordSink for Sink {
    fn append(&mut self, record: &Record) -> Result<(), StoreError> {
        if self.fail {
            return Err(StoreError::Serialize {
                id: cm_host::SessionId::generate(cm_proto::time::UnixMillis(0), 0),
                message: "disk full".into(),
            });
        }
        self.journal.lock().unwrap().push("record");
        self.records.push(record.clone());
        Ok(())
    }
}

fn setup() -> (Agent, Driver<CannedHttp, NoTools>, Journal) {
    let endpoint = Endpoint {
        base_url: "https://api.example.invalid".into(),
        ..Endpoint::default()
    };
    let config = AgentConfig::new("anthropic", WireFormat::Anthropic, endpoint, "m");
    let journal = Journal::default();
    let driver = Driver::new(
        Arc::new(StdRuntime::new()),
        CannedHttp(journal.clone()),
        NoTools,
    );
    (Agent::new(config, Vec::new(), 1), driver, journal)
}

fn key(_: &str) -> Option<Credential> {
    Some(Credential::ApiKey("k".into()))
}

#[test]
fn a_turn_completes_and_its_prompt_is_durable_before_the_request() {
    let (mut agent, mut driver, journal) = setup();
    let mut sink = Sink {
        journal: journal.clone(),
        records: Vec::new(),
        fail: false,
    };
    let mut ui = Shown::default();
    let outcome = driver
        .run_turn(
            &mut agent,
            vec![Part::text("hi")],
            &mut ui,
            &mut sink,
            &mut key,
        )
        .unwrap();
    assert_eq!(outcome.end, End::Completed);
    assert_eq!(journal.lock().unwrap()[..2], ["record", "http"]);
    assert!(ui.0.contains(&Event::TextDelta {
        text: "Hello".into()
    }));
    assert_eq!(
        agent.history(),
        [Message::user("hi"), Message::assistant("Hello")]
    );
    assert_eq!(
        cm_proto::session::replay(&sink.records).history,
        agent.history()
    );
}

#[test]
fn a_record_that_cannot_be_stored_stops_the_turn_before_any_request() {
    let (mut agent, mut driver, journal) = setup();
    let mut sink = Sink {
        journal: journal.clone(),
        records: Vec::new(),
        fail: true,
    };
    let result = driver.run_turn(
        &mut agent,
        vec![Part::text("hi")],
        &mut Shown::default(),
        &mut sink,
        &mut key,
    );
    assert!(matches!(result, Err(DriverError::Log(_))), "{result:?}");
    assert!(
        !journal.lock().unwrap().contains(&"http"),
        "nothing is sent unrecorded"
    );
    assert!(agent.is_idle());
}

#[test]
fn running_without_a_submitted_turn_is_an_error_not_a_hang() {
    let (mut agent, mut driver, journal) = setup();
    let mut sink = Sink {
        journal,
        records: Vec::new(),
        fail: false,
    };
    let result = driver.run(&mut agent, &mut Shown::default(), &mut sink, &mut key);
    assert!(matches!(result, Err(DriverError::Idle)), "{result:?}");
}
