//! `cm auth login PROVIDER` for OAuth providers: the device flow (the user types a code
//! on another device while cm polls) and the authorization code flow with PKCE (the
//! browser comes back to a one-shot listener on 127.0.0.1), then the token exchange where
//! the provider has one (Copilot), so a login without access fails now, not on first use.
//!
//! The browser is opened with `xdg-open` (`open` on macOS) unless `CM_NO_BROWSER` is set;
//! the URL is always printed. `CM_LOGIN_TIMEOUT_S` bounds the wait for the browser (300 s).
//! `CM_DEVICE_SECOND_MS` makes one second of the server's polling interval last that many
//! milliseconds (for tests against a mock server).

use std::io::{IsTerminal, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cm_proto::auth::device::{DeviceError, Poll};
use cm_proto::auth::pkce::Verifier;
use cm_proto::auth::registration::{parse_registration, ClientMetadata};
use cm_proto::auth::Token;
use cm_proto::time::Millis;
use ring::rand::{SecureRandom, SystemRandom};

use crate::exit::{Failure, Status};
use crate::fetch_once::{fetch, host_of};
use crate::oauth_settings::OAuthSettings;
use crate::run::wall_clock;

/// How long the browser may take to come back, unless `CM_LOGIN_TIMEOUT_S` says.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

/// The longest a device login is polled when the server names no expiry.
const DEVICE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A finished login.
#[derive(Debug)]
pub struct LoggedIn {
    /// The token (for Copilot, the GitHub token, whose exchange was checked).
    pub token: Token,
    /// The client id cm registered for this login, when the config named none.
    pub registered_client: Option<String>,
}

/// Logs in as `settings` say.
pub fn login(settings: &mut OAuthSettings) -> Result<LoggedIn, Failure> {
    settings.discover()?;
    let can_register = !settings.is_device_flow() && settings.registration_url.is_some();
    if !can_register {
        settings.client_id()?;
    }
    let mut registered_client = None;
    let token = if settings.is_device_flow() {
        device(settings)?
    } else {
        pkce(settings, &mut registered_client)?
    };
    if let Some(exchange) = settings.exchange() {
        let (head, body) = fetch(exchange.request(&token.access))
            .map_err(|e| Failure::failed(format!("the token exchange failed: {e}")))?;
        exchange
            .handle_response(&head, &body, wall_clock())
            .map_err(|e| Failure::failed(e.to_string()))?;
    }
    Ok(LoggedIn {
        token,
        registered_client,
    })
}

fn network(what: &str) -> impl Fn(crate::fetch_once::FetchError) -> Failure + '_ {
    move |e| Failure::failed(format!("{what}: {e}"))
}

/// A clock for polling whose seconds may be shortened (`CM_DEVICE_SECOND_MS`).
struct PollClock {
    start: Instant,
    second_ms: u64,
}

impl PollClock {
    fn new() -> PollClock {
        let second_ms = std::env::var("CM_DEVICE_SECOND_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .unwrap_or(1000);
        PollClock {
            start: Instant::now(),
            second_ms,
        }
    }

    fn now(&self) -> Millis {
        let real = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        Millis(real.saturating_mul(1000) / self.second_ms)
    }

    fn sleep_until(&self, at: Millis) {
        let left = at.0.saturating_sub(self.now().0);
        std::thread::sleep(Duration::from_millis(
            left.saturating_mul(self.second_ms) / 1000,
        ));
    }
}

fn device(settings: &OAuthSettings) -> Result<Token, Failure> {
    let client = settings.device_client()?;
    let start = client.start();
    let host = host_of(&client.device_authorization_endpoint);
    let (head, body) = fetch(start.request()).map_err(network("cannot start the device login"))?;
    let clock = PollClock::new();
    let mut polling = start
        .handle_response(&head, &body, clock.now())
        .map_err(|e| Failure::failed(format!("{host} refused the device login: {e}")))?;
    let url = polling
        .verification_uri_complete()
        .unwrap_or(polling.verification_uri())
        .to_string();
    eprintln!(
        "To log in to {}, open {}\nand enter the code: {}",
        settings.provider,
        printable(polling.verification_uri()),
        printable(polling.user_code())
    );
    open_browser(&url);
    let tty = std::io::stderr().is_terminal();
    if !tty {
        eprintln!("waiting for the login to be approved...");
    }
    let started = Instant::now();
    let frames = ['|', '/', '-', '\\'];
    let mut polls = 0usize;
    loop {
        clock.sleep_until(polling.poll_timeout());
        if started.elapsed() > DEVICE_TIMEOUT {
            return Err(Failure::failed(format!(
                "the login was not approved within {} minutes; run `cm auth login {}` again",
                DEVICE_TIMEOUT.as_secs() / 60,
                settings.provider
            )));
        }
        polls += 1;
        if tty {
            eprint!(
                "\r{} waiting for the login to be approved ({} s) ",
                frames[polls % frames.len()],
                started.elapsed().as_secs()
            );
            let _ = std::io::stderr().flush();
        }
        let interval = polling.interval_ms();
        let (head, body) = fetch(polling.poll_request()).map_err(network("polling failed"))?;
        let result = polling.handle_response(&head, &body, clock.now(), wall_clock());
        if tty {
            eprint!("\r\x1b[K");
        }
        match result {
            Ok(Poll::Done(token)) => return Ok(token),
            Ok(Poll::Pending(next)) => {
                if next.interval_ms() > interval {
                    eprintln!(
                        "{host} asked to poll more slowly: every {} s now",
                        next.interval_ms() / 1000
                    );
                }
                polling = next;
            }
            Err(DeviceError::Denied) => {
                return Err(Failure::failed(format!(
                    "the {} login was denied in the browser; run `cm auth login {}` to try again",
                    settings.provider, settings.provider
                )))
            }
            Err(DeviceError::Expired) => {
                return Err(Failure::failed(format!(
                    "the code expired before the login was approved; run `cm auth login {}` \
                     and enter the new code sooner",
                    settings.provider
                )))
            }
            Err(e) => return Err(Failure::failed(format!("{host}: {e}"))),
        }
    }
}

/// `text` from a server without control characters, so it cannot drive the terminal.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// Random bytes from the operating system.
fn random(n: usize) -> Result<Vec<u8>, Failure> {
    let mut bytes = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Failure::failed("no random numbers from the operating system"))?;
    Ok(bytes)
}

/// Registers cm as a public client for `redirect_uri` (RFC 7591) and returns its id.
fn register(settings: &OAuthSettings, redirect_uri: &str) -> Result<String, Failure> {
    let endpoint = settings.registration_url.clone().unwrap_or_default();
    let mut metadata = ClientMetadata::cm(redirect_uri);
    metadata.scopes = settings.scopes.clone();
    let (head, body) =
        fetch(metadata.request(&endpoint)).map_err(network("the client registration failed"))?;
    let client = parse_registration(&head, &body).map_err(|e| {
        Failure::failed(format!(
            "{} refused to register cm as a client ({e}); set provider.{}.oauth.client_id",
            host_of(&endpoint),
            settings.provider
        ))
    })?;
    eprintln!(
        "registered cm with {} as client {}",
        host_of(&endpoint),
        printable(&client.client_id)
    );
    Ok(client.client_id)
}

fn pkce(settings: &mut OAuthSettings, registered: &mut Option<String>) -> Result<Token, Failure> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Failure::failed(format!("cannot listen on 127.0.0.1 for the login: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| Failure::failed(format!("cannot listen on 127.0.0.1: {e}")))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    if settings.client_id.is_none() {
        let client_id = register(settings, &redirect_uri)?;
        settings.client_id = Some(client_id.clone());
        *registered = Some(client_id);
    }
    let client = settings.oauth_client(&redirect_uri)?;
    let verifier = Verifier::from_entropy(&random(32)?)
        .map_err(|e| Failure::failed(format!("cannot start the login: {e}")))?;
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_str().as_bytes());
    let mut sha256 = [0u8; 32];
    sha256.copy_from_slice(digest.as_ref());
    let request = client
        .authorize(verifier.with_challenge(sha256), &random(16)?)
        .map_err(|e| Failure::failed(format!("cannot start the login: {e}")))?;
    eprintln!(
        "To log in to {}, open this URL in a browser:\n  {}",
        settings.provider,
        request.url()
    );
    open_browser(request.url());
    eprintln!("waiting for the browser to come back to http://127.0.0.1:{port}/callback ...");
    let target = wait_for_callback(&listener)?;
    let exchange = request.handle_callback(&target).map_err(|e| {
        Failure::failed(format!(
            "the {} login failed: {e} (`cm auth login {}`)",
            settings.provider, settings.provider
        ))
    })?;
    let (head, body) = fetch(exchange.request()).map_err(network("the code exchange failed"))?;
    exchange
        .handle_response(&head, &body, wall_clock())
        .map_err(|e| Failure::failed(format!("the code exchange failed: {e}")))
}

/// Answers requests on the loopback listener until one reaches `/callback`; returns its
/// request target (path and query).
fn wait_for_callback(listener: &TcpListener) -> Result<String, Failure> {
    let timeout = std::env::var("CM_LOGIN_TIMEOUT_S")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(BROWSER_TIMEOUT, Duration::from_secs);
    let deadline = Instant::now() + timeout;
    listener
        .set_nonblocking(true)
        .map_err(|e| Failure::failed(format!("cannot wait for the browser: {e}")))?;
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let Some(target) = read_target(&mut stream) else {
                    continue;
                };
                if target.split('?').next() != Some("/callback") {
                    respond(&mut stream, "404 Not Found", "Not the login callback.");
                    continue;
                }
                let refused = target.contains("error=");
                let page = if refused {
                    "The login was not completed. Go back to the terminal for details."
                } else {
                    "cm received the login. You can close this tab and go back to the terminal."
                };
                respond(&mut stream, "200 OK", page);
                return Ok(target);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(Failure {
                        status: Status::Failed,
                        message: format!(
                            "no answer from the browser within {} s; run `cm auth login` again",
                            timeout.as_secs()
                        ),
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(Failure::failed(format!("cannot wait for the browser: {e}"))),
        }
    }
}

/// The target of a `GET` request line, once the head has arrived.
fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buffer).ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.lines().next()?.split(' ');
    match (words.next(), words.next()) {
        (Some("GET"), Some(target)) => Some(target.to_string()),
        _ => None,
    }
}

fn respond(stream: &mut TcpStream, status: &str, text: &str) {
    let body = format!("<!doctype html><title>cm</title><p>{text}</p>\n");
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// Opens `url` in the user's browser, unless `CM_NO_BROWSER` is set; failures are silent
/// (the URL was printed).
fn open_browser(url: &str) {
    if std::env::var_os("CM_NO_BROWSER").is_some() {
        return;
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let _ = Command::new(opener)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_loses_its_control_characters() {
        assert_eq!(printable("WDJB-MJHT"), "WDJB-MJHT");
        assert_eq!(printable("\x1b]0;owned\x07AB\r\nCD"), "]0;ownedABCD");
    }

    #[test]
    fn a_callback_request_line_gives_its_target() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .write_all(b"GET /favicon.ico HTTP/1.1\r\nhost: x\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .write_all(b"GET /callback?code=c&state=s HTTP/1.1\r\nhost: x\r\n\r\n")
                .unwrap();
            let mut second = String::new();
            let _ = stream.read_to_string(&mut second);
            (answer, second)
        });
        let target = wait_for_callback(&listener).unwrap();
        assert_eq!(target, "/callback?code=c&state=s");
        let (first, second) = client.join().unwrap();
        assert!(first.starts_with("HTTP/1.1 404"));
        assert!(second.starts_with("HTTP/1.1 200") && second.contains("close this tab"));
    }
}
