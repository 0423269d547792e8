//! The browser's side of the loop through web-sys: `fetch` with streamed bodies,
//! `AbortController`, `setTimeout`, the browser's clocks and its entropy.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use cm_proto::agent::{HttpId, TransportError};
use cm_proto::http::{Headers, Request, ResponseHead};
use cm_proto::time::{Millis, UnixMillis};
use cm_proto::tool::webfetch::{check_url, FetchError, FetchLimits, Fetched};
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AbortController, AbortSignal, ReadableStreamDefaultReader, RequestInit, Response};

use crate::{describe_fetch_failure, Feed, Input, Io};

/// Headers the browser sets itself and does not let a page set.
const BROWSER_OWNED: [&str; 7] = [
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "accept-encoding",
    "user-agent",
];

/// Monotonic time from `performance.now()`.
pub fn now() -> Millis {
    let ms = web_sys::window()
        .and_then(|window| window.performance())
        .map_or(0.0, |performance| performance.now());
    Millis(whole_ms(ms))
}

/// Wall-clock time from `Date.now()`.
pub fn wall_clock() -> UnixMillis {
    UnixMillis(whole_ms(js_sys::Date::now()))
}

/// 64 random bits from `crypto.getRandomValues` (from `Math.random` only where the
/// page has no `crypto`, which a secure context always has).
pub fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    let filled = web_sys::window()
        .and_then(|window| window.crypto().ok())
        .is_some_and(|crypto| crypto.get_random_values_with_u8_array(&mut bytes).is_ok());
    if !filled {
        let a = whole_ms(js_sys::Math::random() * 4_294_967_296.0);
        let b = whole_ms(js_sys::Math::random() * 4_294_967_296.0);
        return (a << 32) ^ b ^ wall_clock().0;
    }
    u64::from_le_bytes(bytes)
}

/// Milliseconds as a whole number; negative, NaN and infinite count as 0.
fn whole_ms(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        // `as` saturates from f64; the value is finite and positive.
        ms as u64
    } else {
        0
    }
}

/// The [`Io`] of a page: `fetch` for HTTP, one `setTimeout` for the agent's deadline.
#[derive(Default)]
pub struct FetchIo {
    running: Rc<RefCell<HashMap<HttpId, AbortController>>>,
    timer: Option<i32>,
    on_timer: Option<Closure<dyn FnMut()>>,
}

impl FetchIo {
    /// An `Io` with nothing running.
    pub fn new() -> FetchIo {
        FetchIo::default()
    }
}

impl std::fmt::Debug for FetchIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchIo")
            .field("running", &self.running.borrow().len())
            .field("timer", &self.timer)
            .finish()
    }
}

impl Io for FetchIo {
    fn now(&self) -> Millis {
        now()
    }

    fn wall_clock(&self) -> UnixMillis {
        wall_clock()
    }

    fn start_http(&mut self, id: HttpId, request: Request, feed: Feed) {
        let controller = match AbortController::new() {
            Ok(controller) => controller,
            Err(error) => {
                let message = format!("cannot start a request: {}", error_text(&error));
                feed.feed(Input::HttpError(id, TransportError::Connect(message)));
                return;
            }
        };
        let signal = controller.signal();
        self.running.borrow_mut().insert(id, controller);
        let running = Rc::clone(&self.running);
        spawn_local(async move {
            exchange(id, &request, &signal, &feed).await;
            running.borrow_mut().remove(&id);
        });
    }

    fn cancel_http(&mut self, id: HttpId) {
        let controller = self.running.borrow_mut().remove(&id);
        if let Some(controller) = controller {
            controller.abort();
        }
    }

    fn arm_timer(&mut self, deadline: Option<Millis>, feed: Feed) {
        let Some(window) = web_sys::window() else {
            return;
        };
        if let Some(handle) = self.timer.take() {
            window.clear_timeout_with_handle(handle);
        }
        let Some(deadline) = deadline else {
            return;
        };
        // One closure serves every arming; it feeds the same driver each time.
        let callback = self
            .on_timer
            .get_or_insert_with(|| Closure::<dyn FnMut()>::new(move || feed.feed(Input::Timeout)));
        // A timer never fires early; the extra millisecond keeps `now` past the deadline.
        let delay = deadline.since(now()).saturating_add(1);
        let delay = i32::try_from(delay).unwrap_or(i32::MAX);
        self.timer = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                callback.as_ref().unchecked_ref(),
                delay,
            )
            .ok();
    }
}

impl Drop for FetchIo {
    fn drop(&mut self) {
        for (_, controller) in self.running.borrow_mut().drain() {
            controller.abort();
        }
        if let (Some(window), Some(handle)) = (web_sys::window(), self.timer.take()) {
            window.clear_timeout_with_handle(handle);
        }
    }
}

/// Runs one exchange, feeding its head, each body chunk as the reader yields it, and
/// its end or error. After an abort it feeds nothing.
async fn exchange(id: HttpId, request: &Request, signal: &AbortSignal, feed: &Feed) {
    let response = match send(request, signal).await {
        Ok(response) => response,
        Err(error) => {
            if !signal.aborted() {
                let message = describe_fetch_failure(&request.url, &error_text(&error));
                feed.feed(Input::HttpError(id, TransportError::Connect(message)));
            }
            return;
        }
    };
    feed.feed(Input::HttpHead(id, head_of(&response)));
    let Some(body) = response.body() else {
        feed.feed(Input::HttpEnd(id));
        return;
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    loop {
        match read_chunk(&reader).await {
            Ok(Some(bytes)) => feed.feed(Input::HttpBody(id, bytes)),
            Ok(None) => {
                feed.feed(Input::HttpEnd(id));
                return;
            }
            Err(error) => {
                if !signal.aborted() {
                    feed.feed(Input::HttpError(id, TransportError::Reset(error)));
                }
                return;
            }
        }
    }
}

/// The next chunk of a body; `None` at its end.
async fn read_chunk(reader: &ReadableStreamDefaultReader) -> Result<Option<Vec<u8>>, String> {
    let chunk = JsFuture::from(reader.read())
        .await
        .map_err(|error| error_text(&error))?;
    let done = Reflect::get(&chunk, &JsValue::from_str("done"))
        .ok()
        .and_then(|done| done.as_bool())
        .unwrap_or(true);
    if done {
        return Ok(None);
    }
    let value = Reflect::get(&chunk, &JsValue::from_str("value")).unwrap_or(JsValue::UNDEFINED);
    Ok(Some(
        value
            .dyn_into::<Uint8Array>()
            .map(|array| array.to_vec())
            .unwrap_or_default(),
    ))
}

/// Starts `request` with `fetch`; resolves once the response head is in.
async fn send(request: &Request, signal: &AbortSignal) -> Result<Response, JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let headers = web_sys::Headers::new()?;
    for (name, value) in request.headers.iter() {
        if !BROWSER_OWNED.contains(&name.to_ascii_lowercase().as_str()) {
            headers.append(name, value)?;
        }
    }
    let init = RequestInit::new();
    init.set_method(request.method.as_str());
    init.set_headers(&headers);
    if !request.body.is_empty() {
        init.set_body(&Uint8Array::from(request.body.as_slice()));
    }
    init.set_signal(Some(signal));
    let response = JsFuture::from(window.fetch_with_str_and_init(&request.url, &init)).await?;
    response.dyn_into::<Response>()
}

/// The status line and headers of `response`.
fn head_of(response: &Response) -> ResponseHead {
    let mut headers = Headers::new();
    if let Ok(Some(entries)) = js_sys::try_iter(&response.headers()) {
        for entry in entries.flatten() {
            let pair = js_sys::Array::from(&entry);
            if let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                headers.push(name, value);
            }
        }
    }
    ResponseHead {
        status: response.status(),
        reason: response.status_text(),
        headers,
    }
}

/// A JavaScript error as text: its `message` (with its name), or its string form.
fn error_text(error: &JsValue) -> String {
    if let Some(error) = error.dyn_ref::<js_sys::Error>() {
        let name = String::from(error.name());
        let message = String::from(error.message());
        return format!("{name}: {message}");
    }
    error
        .as_string()
        .unwrap_or_else(|| "unknown error".to_string())
}

/// GETs `url` for the `webfetch` tool within `limits`; `controller` cancels it.
///
/// The browser follows redirects itself (so `max_redirects` is its own), and the page
/// can only read what the server's CORS headers allow; a refusal reads as
/// [`FetchError::Connect`] naming CORS.
pub async fn fetch_page(
    url: &str,
    limits: &FetchLimits,
    controller: &AbortController,
) -> Result<Fetched, FetchError> {
    check_url(url)?;
    let timed_out = Rc::new(Cell::new(false));
    let flag = Rc::clone(&timed_out);
    let aborter = controller.clone();
    let on_timeout = Closure::once(move || {
        flag.set(true);
        aborter.abort();
    });
    let window = web_sys::window();
    let timeout_ms = i32::try_from(limits.timeout.as_millis()).unwrap_or(i32::MAX);
    let timer = window.as_ref().and_then(|window| {
        window
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                on_timeout.as_ref().unchecked_ref(),
                timeout_ms,
            )
            .ok()
    });
    let result = read_page(url, limits.max_bytes, &controller.signal()).await;
    if let (Some(window), Some(timer)) = (window, timer) {
        window.clear_timeout_with_handle(timer);
    }
    drop(on_timeout);
    result.map_err(|error| {
        if timed_out.get() {
            FetchError::TimedOut {
                limit: limits.timeout,
            }
        } else if controller.signal().aborted() {
            FetchError::Aborted
        } else {
            error
        }
    })
}

async fn read_page(url: &str, max_bytes: u64, signal: &AbortSignal) -> Result<Fetched, FetchError> {
    let request = Request {
        method: cm_proto::http::Method::Get,
        url: url.to_string(),
        headers: Headers::new(),
        body: Vec::new(),
    };
    let response = send(&request, signal)
        .await
        .map_err(|error| FetchError::Connect {
            message: describe_fetch_failure(url, &error_text(&error)),
        })?;
    let head = head_of(&response);
    let mut fetched = Fetched {
        url: match response.url() {
            final_url if final_url.is_empty() => url.to_string(),
            final_url => final_url,
        },
        status: head.status,
        content_type: head.headers.get("content-type").map(str::to_string),
        body: Vec::new(),
        truncated: false,
    };
    let Some(body) = response.body() else {
        return Ok(fetched);
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let cap = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    while let Some(chunk) = read_chunk(&reader)
        .await
        .map_err(|message| FetchError::Read { message })?
    {
        let room = cap.saturating_sub(fetched.body.len());
        if chunk.len() > room {
            fetched
                .body
                .extend_from_slice(chunk.get(..room).unwrap_or(&[]));
            fetched.truncated = true;
            // Not read further; the promise of the cancel is not waited for.
            let _ = reader.cancel();
            break;
        }
        fetched.body.extend_from_slice(&chunk);
    }
    Ok(fetched)
}
