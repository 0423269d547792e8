//! cm-mock: serve a scripted conversation on 127.0.0.1 until killed.
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use cm_mock::{Config, MockServer, OAuthScript, Script};

const HELP: &str = "\
cm-mock: a scripted mock model provider (Anthropic and OpenAI wire formats) on 127.0.0.1

Usage: cm-mock [--script FILE] [--oauth FILE] [--port N] [--log FILE] [--quiet]

Options:
  --script FILE  the JSON script of turns to answer with (default: none, so every model
                 request is answered 500 \"script exhausted\")
  --oauth FILE   how the mock authorization endpoints behave (JSON; default: every
                 login succeeds at once)
  --port N       the port on 127.0.0.1 (default 0: any free port)
  --log FILE     append one JSON line per request to FILE
  -q, --quiet    do not print a line per request to stderr
  -h, --help     print this help
  -V, --version  print the version

The first line on stdout is `cm-mock listening on http://127.0.0.1:PORT`.
Endpoints: POST /v1/messages, /v1/chat/completions, /v1/responses; GET /health, /v1/models;
OAuth: /login/device/code, /login/oauth/access_token, /oauth/{authorize,token,revoke},
/copilot_internal/v2/token, /.well-known/oauth-authorization-server.
The script format is described in conformance/README.md.
";

struct Args {
    script: Option<PathBuf>,
    oauth: Option<PathBuf>,
    port: u16,
    log: Option<PathBuf>,
    quiet: bool,
}

fn parse_args() -> Result<Option<Args>, lexopt::Error> {
    use lexopt::prelude::*;
    let mut args = Args {
        script: None,
        oauth: None,
        port: 0,
        log: None,
        quiet: false,
    };
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("script") => args.script = Some(parser.value()?.into()),
            Long("oauth") => args.oauth = Some(parser.value()?.into()),
            Long("port") => args.port = parser.value()?.parse()?,
            Long("log") => args.log = Some(parser.value()?.into()),
            Short('q') | Long("quiet") => args.quiet = true,
            Short('h') | Long("help") => {
                print!("{HELP}");
                return Ok(None);
            }
            Short('V') | Long("version") => {
                println!("cm-mock {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(Some(args))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cm-mock: {e}\nTry `cm-mock --help`.");
            return ExitCode::from(2);
        }
    };
    let script = match &args.script {
        Some(path) => match Script::load(path) {
            Ok(script) => script,
            Err(e) => {
                eprintln!("cm-mock: {e}");
                return ExitCode::from(2);
            }
        },
        None => Script::default(),
    };
    let oauth = match &args.oauth {
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
        {
            Ok(oauth) => oauth,
            Err(e) => {
                eprintln!("cm-mock: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => OAuthScript::default(),
    };
    let config = Config {
        script,
        oauth,
        port: args.port,
        log_path: args.log,
        print_requests: !args.quiet,
    };
    let mut server = match MockServer::start_with(config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("cm-mock: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "cm-mock listening on {}", server.url());
    let _ = stdout.flush();
    server.wait();
    ExitCode::SUCCESS
}
