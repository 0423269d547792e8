// The `WebFetcher` contract, shared by every HTTP client's tests: `include!`d by
// transports/ureq/tests/webfetch.rs and transports/smol/tests/webfetch.rs, each of which
// defines `fn fetcher() -> impl WebFetcher` first. A tiny server on 127.0.0.1 serves
// pages, redirects, a huge body, a body that never ends and binary content.
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use cm_driver::WebFetcher;
use cm_proto::message::ToolOutput;
use cm_proto::tool::webfetch::{self, FetchError, FetchLimits, WEBFETCH_MAX_BYTES};
use serde_json::json;

/// Serves every connection on its own thread; returns `http://127.0.0.1:PORT`.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            thread::spawn(move || {
                let _ = respond(stream);
            });
        }
    });
    base
}

fn respond(mut stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
    let head = |status: &str, headers: &str| {
        format!("HTTP/1.1 {status}\r\n{headers}Connection: close\r\n\r\n")
    };
    if let Some(n) = path.strip_prefix("/r/") {
        let n: u32 = n.parse().unwrap_or(0);
        if n == 0 {
            let body = "landed";
            let headers = format!(
                "Content-Type: text/plain\r\nContent-Length: {}\r\n",
                body.len()
            );
            return stream.write_all(format!("{}{body}", head("200 OK", &headers)).as_bytes());
        }
        let headers = format!("Location: /r/{}\r\nContent-Length: 0\r\n", n - 1);
        return stream.write_all(head("302 Found", &headers).as_bytes());
    }
    match path.as_str() {
        "/page" => {
            let body = "<!DOCTYPE html><html><head><title>T</title><script>x()</script></head>\
                        <body><nav>menu</nav><h1>Docs</h1><p>Read <a href=\"/more\">more</a>.</p>\
                        </body></html>";
            let headers = format!(
                "Content-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n",
                body.len()
            );
            stream.write_all(format!("{}{body}", head("200 OK", &headers)).as_bytes())
        }
        "/text" => {
            let body = "plain <not html>\n";
            let headers = format!(
                "Content-Type: text/plain\r\nContent-Length: {}\r\n",
                body.len()
            );
            stream.write_all(format!("{}{body}", head("200 OK", &headers)).as_bytes())
        }
        "/binary" => {
            let body = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
            let headers = format!(
                "Content-Type: image/png\r\nContent-Length: {}\r\n",
                body.len()
            );
            stream.write_all(head("200 OK", &headers).as_bytes())?;
            stream.write_all(body)
        }
        "/big" => {
            // 50 MB, streamed until the client hangs up.
            let total: usize = 50 * 1024 * 1024;
            let headers = format!("Content-Type: text/plain\r\nContent-Length: {total}\r\n");
            stream.write_all(head("200 OK", &headers).as_bytes())?;
            let chunk = vec![b'x'; 64 * 1024];
            let mut sent = 0;
            while sent < total {
                stream.write_all(&chunk)?;
                sent += chunk.len();
            }
            Ok(())
        }
        "/hang" => {
            // Promises a body, sends a little, then never finishes.
            stream.write_all(
                head(
                    "200 OK",
                    "Content-Type: text/html\r\nContent-Length: 100000\r\n",
                )
                .as_bytes(),
            )?;
            stream.write_all(b"<p>start")?;
            stream.flush()?;
            thread::sleep(Duration::from_secs(60));
            Ok(())
        }
        "/silent" => {
            // Never even answers.
            thread::sleep(Duration::from_secs(60));
            Ok(())
        }
        _ => stream.write_all(head("404 Not Found", "Content-Length: 0\r\n").as_bytes()),
    }
}

fn text_of(outcome: &cm_proto::tool::ToolOutcome) -> &str {
    match &outcome.content[..] {
        [ToolOutput::Text { text }] => text,
        other => panic!("{other:?}"),
    }
}

/// Runs the tool as the ToolHost does: arguments → fetch → outcome.
fn webfetch_tool(input: serde_json::Value) -> cm_proto::tool::ToolOutcome {
    let fetcher = fetcher();
    webfetch::run(&input, |request| {
        WebFetcher::fetch(&fetcher, &request.url, &request.limits, &|| false)
    })
}

#[test]
fn html_is_fetched_and_converted_to_markdown() {
    let base = serve();
    let outcome = webfetch_tool(json!({"url": format!("{base}/page")}));
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(
        text_of(&outcome),
        format!("# Docs\n\nRead [more]({base}/more).")
    );
    let text = webfetch_tool(json!({"url": format!("{base}/page"), "format": "text"}));
    assert_eq!(text_of(&text), "Docs\n\nRead more.");
}

#[test]
fn text_is_passed_as_it_is() {
    let base = serve();
    let outcome = webfetch_tool(json!({"url": format!("{base}/text")}));
    assert_eq!(text_of(&outcome), "plain <not html>\n");
}

#[test]
fn five_redirects_are_followed_and_a_sixth_is_refused() {
    let base = serve();
    let limits = FetchLimits::default();
    let fetched = fetcher().fetch(&format!("{base}/r/5"), &limits).unwrap();
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, b"landed");
    assert_eq!(fetched.url, format!("{base}/r/0"));

    let refused = fetcher().fetch(&format!("{base}/r/6"), &limits);
    assert_eq!(refused, Err(FetchError::TooManyRedirects { limit: 5 }));
    let outcome = webfetch_tool(json!({"url": format!("{base}/r/6")}));
    assert!(outcome.is_error);
    assert!(text_of(&outcome).ends_with("more than 5 redirects; not followed further"));
}

#[test]
fn a_50_mb_body_is_cut_at_5_mb_with_a_note() {
    let base = serve();
    let started = Instant::now();
    let fetched = fetcher()
        .fetch(&format!("{base}/big"), &FetchLimits::default())
        .unwrap();
    assert!(fetched.truncated);
    assert_eq!(fetched.body.len() as u64, WEBFETCH_MAX_BYTES);
    assert!(started.elapsed() < Duration::from_secs(20));

    let outcome = webfetch_tool(json!({"url": format!("{base}/big")}));
    assert!(!outcome.is_error);
    let text = text_of(&outcome);
    assert!(
        text.contains("[the response is larger than 5 MB; only its first 5242880 bytes were read]")
    );
    assert!(text.len() < 200 * 1024, "the model gets a bounded result");
}

#[test]
fn a_response_that_never_finishes_times_out_within_the_limit() {
    let base = serve();
    let limits = FetchLimits {
        timeout: Duration::from_millis(800),
        ..FetchLimits::default()
    };
    for path in ["/hang", "/silent"] {
        let started = Instant::now();
        let result = fetcher().fetch(&format!("{base}{path}"), &limits);
        let took = started.elapsed();
        assert_eq!(
            result,
            Err(FetchError::TimedOut {
                limit: limits.timeout
            }),
            "{path}"
        );
        assert!(took >= Duration::from_millis(700), "{path}: {took:?}");
        assert!(took < Duration::from_secs(5), "{path}: {took:?}");
    }
}

#[test]
fn non_http_urls_are_refused_without_a_request() {
    for url in ["file:///etc/passwd", "ftp://127.0.0.1/x", "127.0.0.1/page"] {
        let result = fetcher().fetch(url, &FetchLimits::default());
        assert_eq!(result, Err(FetchError::NotHttp { url: url.into() }));
    }
}

#[test]
fn binary_content_is_refused_with_its_type() {
    let base = serve();
    let outcome = webfetch_tool(json!({"url": format!("{base}/binary")}));
    assert!(outcome.is_error);
    assert_eq!(
        text_of(&outcome),
        format!(
            "webfetch {base}/binary: the content is binary (image/png, 16 bytes); \
             only text, HTML and JSON can be fetched"
        )
    );
}

#[test]
fn an_error_status_is_an_error_outcome() {
    let base = serve();
    let outcome = webfetch_tool(json!({"url": format!("{base}/missing")}));
    assert!(outcome.is_error);
    assert_eq!(
        text_of(&outcome),
        format!("webfetch {base}/missing: the server answered HTTP 404")
    );
}

#[test]
fn a_cancelled_fetch_stops_reading() {
    let base = serve();
    let result = WebFetcher::fetch(
        &fetcher(),
        &format!("{base}/big"),
        &FetchLimits::default(),
        &|| true,
    );
    assert_eq!(result, Err(FetchError::Aborted));
}
