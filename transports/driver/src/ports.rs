//! The ports a driver routes the agent's outputs to.

use std::sync::mpsc::Sender;

use cm_host::{SessionLog, StoreError};
use cm_proto::agent::{AskId, Event, HttpId, Question, ToolRunId};
use cm_proto::http::Request;
use cm_proto::session::Record;
use cm_proto::tool::webfetch::{FetchError, FetchLimits, Fetched};
use cm_proto::tool::ToolInvocation;

use crate::Input;

/// Runs HTTP exchanges in the background and reports them as [`Input`]s.
pub trait HttpClient {
    /// Starts sending `request`; its head, body chunks and end (or error) go to `inputs`
    /// under `id`, in order, as they arrive. Never blocks on the network.
    fn start(&mut self, id: HttpId, request: Request, inputs: Sender<Input>);
    /// Stops exchange `id` promptly; what it sends afterwards, if anything, is ignored.
    fn cancel(&mut self, id: HttpId);
}

/// Runs tools in the background and reports each outcome as [`Input::ToolDone`].
pub trait ToolRunner {
    /// Starts `invocation`; exactly one `ToolDone(id, ..)` follows unless it is cancelled.
    fn start(&mut self, id: ToolRunId, invocation: ToolInvocation, inputs: Sender<Input>);
    /// Stops run `id` (kills its processes); its outcome is no longer wanted.
    fn cancel(&mut self, id: ToolRunId);
}

/// Fetches web pages for `webfetch`, blocking the calling (worker) thread; the crate with
/// the HTTP client implements it, so cm-driver and cm-host need none.
pub trait WebFetcher: Send + Sync {
    /// GETs `url` within `limits`: at most `max_bytes` of body (more sets
    /// [`Fetched::truncated`] and is not read), all of it within `timeout`, at most
    /// `max_redirects` redirects. `cancelled` is polled between reads; once it says true
    /// the fetch ends with [`FetchError::Aborted`].
    fn fetch(
        &self,
        url: &str,
        limits: &FetchLimits,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Fetched, FetchError>;
}

/// What a person sees: events as they happen, and permission questions.
pub trait Ui {
    /// Shows one event (text deltas, tool summaries, retries, usage, errors).
    fn show(&mut self, event: &Event);
    /// Puts `question` to the user; the answer comes back later as
    /// [`Input::Answer`]`(id, ..)` on `inputs` (a UI without a person may send it at once).
    fn ask(&mut self, id: AskId, question: &Question, inputs: &Sender<Input>);
}

/// Where session records go; `append` returns only once the record is durable.
pub trait RecordSink {
    /// Appends one record.
    fn append(&mut self, record: &Record) -> Result<(), StoreError>;
}

impl RecordSink for SessionLog {
    fn append(&mut self, record: &Record) -> Result<(), StoreError> {
        SessionLog::append(self, record)
    }
}

/// In memory, for tests and for sessions nobody keeps.
impl RecordSink for Vec<Record> {
    fn append(&mut self, record: &Record) -> Result<(), StoreError> {
        self.push(record.clone());
        Ok(())
    }
}
