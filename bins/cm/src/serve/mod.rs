//! `cm serve`: the HTTP API on smol.
//!
//! [`main`] checks the options, loads the config (`server.hosts`, `server.cors`), binds,
//! writes the token file, prints the one stdout line and runs the accept loop until
//! SIGINT or SIGTERM. Each connection is a task ([`conn`]): proto's codec decodes the
//! requests, the [`guard`] admits them, the [`router`] finds the endpoint and [`api`]
//! answers. Sessions ([`sessions`]) run their turns through a [`engine::TurnEngine`]
//! and publish what happens to the event [`sse::Hub`], which the event streams read.
//! [`limits`] bounds everything a client controls; [`openapi`] describes the API from
//! the route table.

mod api;
mod conn;
mod engine;
mod guard;
mod limits;
mod openapi;
mod router;
mod sessions;
mod sse;
mod token_file;

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cm_driver::ClientOptions;
use cm_host::{Dirs, SessionStore, Workspace};
use cm_proto::config::Config;
use cm_proto::http::RequestDecoder;
use cm_smol::SmolClient;
use serde_json::{json, Value};
use smol::future::FutureExt;

use crate::args::ServeArgs;
use crate::exit::{Failure, Status};
use crate::{config_files, providers};
use guard::Guard;
use limits::ServeLimits;
use sessions::Sessions;
use sse::Hub;
use token_file::TokenFile;

/// How long a stopping server waits for aborted turns to save their records.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What every connection shares.
pub struct App {
    guard: Guard,
    limits: ServeLimits,
    decoder: RequestDecoder,
    hub: Arc<Hub>,
    sessions: Arc<Sessions>,
    models: Value,
    connections: AtomicUsize,
    stopping: AtomicBool,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Whether the server is shutting down (answers then close their connection).
    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// Runs `cm serve` and returns how cm exits.
pub fn main(args: &ServeArgs) -> Status {
    match serve(args) {
        Ok(()) => Status::Done,
        Err(failure) => {
            eprintln!("cm: {failure}");
            failure.status
        }
    }
}

fn serve(args: &ServeArgs) -> Result<(), Failure> {
    let env = |name: &str| std::env::var(name).ok();
    let limits = ServeLimits::from_env(env);
    let explicit = args
        .token
        .clone()
        .or_else(|| env("CM_SERVER_TOKEN").filter(|t| !t.is_empty()));
    if let Some(token) = &explicit {
        check_token(token)?;
    }
    let loopback = is_loopback(&args.host);
    if !loopback && explicit.is_none() {
        return Err(Failure::usage(format!(
            "listening on {} would let other machines reach cm; give a token for them to \
             send: cm serve --host {} --token \"$(openssl rand -hex 32)\" (or set \
             CM_SERVER_TOKEN), or keep the default --host 127.0.0.1",
            args.host, args.host
        )));
    }

    let cwd = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .map_err(|e| Failure::usage(format!("cannot use the working directory: {e}")))?;
    let workspace = Workspace::detect(&cwd)
        .map_err(|e| Failure::usage(format!("cannot use the working directory: {e}")))?;
    let dirs = Dirs::from_process_env().map_err(|e| Failure::usage(e.to_string()))?;
    let config = config_files::load(&dirs.config_file(), &cwd, workspace.root())?.config;

    let listener = TcpListener::bind((args.host.as_str(), args.port)).map_err(|e| {
        Failure::failed(format!(
            "cannot listen on {}:{}: {e}; pick another port with --port (0 picks a free one)",
            args.host, args.port
        ))
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| Failure::failed(format!("cannot read the listening address: {e}")))?
        .port();
    let url = format!("http://{}:{port}", url_host(&args.host));

    let (token, _token_file) = match explicit {
        Some(token) => (token, None),
        None => {
            let token = random_token()?;
            let file = TokenFile::write(&dirs.data.join("serve"), port, &url, &token)
                .map_err(|e| Failure::failed(format!("cannot write the token file: {e}")))?;
            eprintln!("cm serve: the token is in {}", file.path().display());
            (token, Some(file))
        }
    };
    let signals = signal_pipe()
        .map_err(|e| Failure::failed(format!("cannot handle SIGINT and SIGTERM: {e}")))?;

    let mut hosts: Vec<String> = config.server_hosts().iter().map(|h| h.0.clone()).collect();
    if !loopback
        && !args
            .host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified())
    {
        hosts.push(url_host(&args.host).to_ascii_lowercase());
    }
    let cors = config.server_cors().iter().map(|o| o.0.clone()).collect();
    let hub = Arc::new(Hub::new(
        limits.replay_events,
        limits.replay_bytes,
        limits.subscriber_queue,
    ));
    let sessions = Arc::new(Sessions::new(
        SessionStore::new(dirs.sessions()),
        cwd,
        Arc::new(engine::SmolEngine::new(SmolClient::new(
            ClientOptions::from_env(),
        ))),
        Arc::clone(&hub),
    ));
    let app = Arc::new(App {
        guard: Guard::new(token, port, hosts, cors),
        limits,
        decoder: RequestDecoder::new(limits.codec()),
        hub,
        sessions,
        models: models(&config),
        connections: AtomicUsize::new(0),
        stopping: AtomicBool::new(false),
    });

    let listener = smol::net::TcpListener::try_from(listener)
        .map_err(|e| Failure::failed(format!("cannot listen: {e}")))?;
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "cm serve listening on {url}");
    let _ = stdout.flush();
    smol::block_on(run(app, listener, signals));
    eprintln!("cm serve: stopped");
    Ok(())
}

enum Next {
    Connection(std::io::Result<(smol::net::TcpStream, std::net::SocketAddr)>),
    Signal,
}

/// Accepts connections until a signal, then shuts down.
async fn run(app: Arc<App>, listener: smol::net::TcpListener, signals: smol::Async<UnixStream>) {
    loop {
        let next = smol::future::or(async { Next::Connection(listener.accept().await) }, async {
            let _ = signals.readable().await;
            Next::Signal
        })
        .await;
        match next {
            Next::Signal => break,
            Next::Connection(Err(error)) => {
                // Out of file descriptors and the like: wait a little instead of spinning.
                eprintln!("cm serve: accept failed: {error}");
                smol::Timer::after(Duration::from_millis(50)).await;
            }
            Next::Connection(Ok((stream, _))) => {
                let _ = stream.set_nodelay(true);
                let task_app = Arc::clone(&app);
                let open = app.connections.fetch_add(1, Ordering::SeqCst);
                smol::spawn(async move {
                    if open >= task_app.limits.max_connections {
                        refuse_busy(stream).await;
                    } else {
                        // A bug on one connection must not take the executor down with it.
                        let served = AssertUnwindSafe(conn::serve(stream, Arc::clone(&task_app)))
                            .catch_unwind()
                            .await;
                        if served.is_err() {
                            eprintln!("cm serve: a connection failed unexpectedly");
                        }
                    }
                    task_app.connections.fetch_sub(1, Ordering::SeqCst);
                })
                .detach();
            }
        }
    }
    drop(listener);
    eprintln!("cm serve: stopping; aborting running turns");
    app.stopping.store(true, Ordering::SeqCst);
    app.sessions.shut_down(SHUTDOWN_GRACE).await;
    app.hub.close();
    // Let answers to waiting requests go out.
    let deadline = Instant::now() + Duration::from_secs(1);
    while app.connections.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        smol::Timer::after(Duration::from_millis(10)).await;
    }
}

async fn refuse_busy(mut stream: smol::net::TcpStream) {
    use smol::io::AsyncWriteExt;
    let body = b"{\"error\":\"too many connections; try again later\"}\n";
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
         Connection: close\r\nRetry-After: 1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let write = async {
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(body).await;
    };
    smol::future::or(write, smol::Timer::after(Duration::from_secs(1)).map_unit()).await;
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

trait MapUnit {
    fn map_unit(self) -> impl std::future::Future<Output = ()>;
}

impl MapUnit for smol::Timer {
    async fn map_unit(self) {
        self.await;
    }
}

/// A socket that becomes readable when SIGINT or SIGTERM arrives.
fn signal_pipe() -> std::io::Result<smol::Async<UnixStream>> {
    let (read, write) = UnixStream::pair()?;
    signal_hook::low_level::pipe::register(signal_hook::consts::SIGINT, write.try_clone()?)?;
    signal_hook::low_level::pipe::register(signal_hook::consts::SIGTERM, write)?;
    smol::Async::new(read)
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || url_host(host)
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The host as it appears in a URL: IPv6 addresses in brackets.
fn url_host(host: &str) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
        _ => host.to_string(),
    }
}

fn check_token(token: &str) -> Result<(), Failure> {
    if token.len() < 8 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Failure::usage(
            "the token must be at least 8 printable characters without spaces; \
             make one with: openssl rand -hex 32",
        ));
    }
    Ok(())
}

/// 256 random bits from the kernel, as hex.
fn random_token() -> Result<String, Failure> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| {
            Failure::failed(format!(
                "cannot make a token (/dev/urandom: {e}); pass one with --token"
            ))
        })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The `/models` answer: the catalog, the configured models and the default.
fn models(config: &Config) -> Value {
    let mut list: Vec<Value> = crate::catalog_cache::current()
        .models()
        .iter()
        .map(|m| {
            json!({
                "id": format!("{}/{}", m.provider, m.id),
                "provider": m.provider,
                "model": m.id,
                "context": m.info.context,
                "output": m.info.output,
                "images": m.info.images,
            })
        })
        .collect();
    for (provider, settings) in config.providers() {
        for (model, settings) in &settings.models {
            let id = format!("{provider}/{model}");
            if list.iter().any(|m| m["id"] == id.as_str()) {
                continue;
            }
            list.push(json!({
                "id": id,
                "provider": provider,
                "model": model,
                "context": settings.context,
                "output": settings.output,
                "images": settings.images,
            }));
        }
    }
    json!({
        "default": config.model().map(|m| m.to_string()),
        "providers": providers::known_ids(config),
        "models": list,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses() {
        for host in ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["0.0.0.0", "::", "192.168.1.2", "example.com"] {
            assert!(!is_loopback(host), "{host}");
        }
        assert_eq!(url_host("::1"), "[::1]");
        assert_eq!(url_host("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn tokens_are_long_and_printable() {
        let token = random_token().unwrap();
        assert_eq!(token.len(), 64);
        assert!(check_token(&token).is_ok());
        assert_ne!(token, random_token().unwrap());
        assert!(check_token("short").is_err());
        assert!(check_token("has a space in it").is_err());
    }

    #[test]
    fn models_list_the_catalog_and_configured_ones() {
        let layer = cm_proto::config::parse(
            "cm.json",
            r#"{"model": "ollama/qwen3", "provider": {"ollama": {"api": "openai-chat",
                "base_url": "http://localhost:11434/v1", "models": {"qwen3": {"context": 32768}}}}}"#,
        )
        .unwrap();
        let value = models(&Config::from_layers([layer]));
        assert_eq!(value["default"], "ollama/qwen3");
        let ids: Vec<&str> = value["models"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["id"].as_str())
            .collect();
        assert!(ids.contains(&"ollama/qwen3"));
        assert!(ids.iter().any(|id| id.starts_with("anthropic/")));
    }
}
