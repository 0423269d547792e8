//! One HTTP exchange, waited for: the login and refresh requests that must finish before
//! cm can go on. It runs on the same client as the agent's requests (proxies, CA roots).

use std::sync::mpsc;
use std::time::{Duration, Instant};

use cm_driver::{HttpClient, Input};
use cm_proto::agent::HttpId;
use cm_proto::http::{Request, ResponseHead};
use cm_ureq::{ClientOptions, UreqClient};

/// The most body bytes kept from an authorization server's answer.
const MAX_BODY: usize = 1024 * 1024;

/// How long one authorization request may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Why an exchange gave no response; the message names the host, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError(pub String);

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Sends `request` and returns the response head and body (at most 1 MiB is kept).
pub fn fetch(request: Request) -> Result<(ResponseHead, Vec<u8>), FetchError> {
    let host = host_of(&request.url);
    let mut client = UreqClient::new(ClientOptions::from_env());
    let (sender, receiver) = mpsc::channel();
    let id = HttpId(0);
    client.start(id, request, sender);
    let deadline = Instant::now() + TIMEOUT;
    let mut head = None;
    let mut body = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let input = match receiver.recv_timeout(left) {
            Ok(input) => input,
            Err(_) => {
                client.cancel(id);
                return Err(FetchError(format!("{host} did not answer in time")));
            }
        };
        match input {
            Input::HttpHead(_, h) => head = Some(h),
            Input::HttpBody(_, bytes) => {
                let room = MAX_BODY.saturating_sub(body.len());
                body.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
            Input::HttpEnd(_) => {
                return head
                    .map(|h| (h, body))
                    .ok_or_else(|| FetchError(format!("{host} sent no response")))
            }
            Input::HttpError(_, e) => return Err(FetchError(format!("{host}: {e}"))),
            _ => {}
        }
    }
}

/// `https://host:port` of a URL, for messages.
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    host.rsplit('@').next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_is_named_without_path_or_user_info() {
        assert_eq!(
            host_of("https://github.com/login/device/code"),
            "github.com"
        );
        assert_eq!(host_of("http://u:p@127.0.0.1:9/x?y"), "127.0.0.1:9");
        assert_eq!(host_of("nonsense"), "nonsense");
    }
}
