//! `cm auth login | logout | list`: provider keys and OAuth logins in the credential store.
//!
//! OAuth providers (github-copilot, and any with an `oauth` object in config) log in
//! through [`crate::oauth_login`]; `logout` revokes their token where the server has a
//! revocation endpoint, and removes it locally even when revoking fails.
//!
//! A key is read without echo from the terminal (via `stty`, restored afterwards and on
//! Ctrl-C), or as the first line of stdin when stdin is not a terminal. It is validated
//! with `proto::auth::api_key` and stored with no network call. Nothing here prints a key:
//! `list` shows [`mask`]ed keys, errors name files and providers only.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::process::{Command, Stdio};

use cm_host::{CredentialStore, Dirs, Secret, StoredCredential, Workspace};
use cm_proto::auth::api_key::{mask, validate};
use cm_proto::auth::pkce::TokenHint;
use cm_proto::config::Config;
use cm_proto::time::UnixMillis;

use crate::args::AuthCommand;
use crate::config_files;
use crate::exit::{Failure, Status};
use crate::fetch_once::{fetch, host_of};
use crate::oauth_settings::{self, COPILOT};
use crate::sessions_cmd::utc_minutes;
use crate::{oauth_login, providers};

/// The longest line read as a key; anything longer is not a key.
const MAX_KEY_BYTES: u64 = 16 * 1024;

/// Runs a `cm auth` command and says how cm exits.
pub fn main(command: &AuthCommand) -> Status {
    let result = context().and_then(|context| match command {
        AuthCommand::Login { provider } => login(&context, provider.as_deref()),
        AuthCommand::Logout { provider, yes } => logout(&context, provider.as_deref(), *yes),
        AuthCommand::List => list(&context, &mut io::stdout().lock()),
    });
    match result {
        Ok(()) => Status::Done,
        Err(failure) => {
            eprintln!("cm: {}", failure.message);
            failure.status
        }
    }
}

struct Context {
    store: CredentialStore,
    config: Config,
}

fn context() -> Result<Context, Failure> {
    let dirs = Dirs::from_process_env().map_err(|e| Failure::usage(e.to_string()))?;
    let cwd = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .map_err(|e| Failure::usage(format!("cannot use the working directory: {e}")))?;
    let root = Workspace::detect(&cwd)
        .map(|w| w.root().to_path_buf())
        .unwrap_or_else(|_| cwd.clone());
    let config = config_files::load(&dirs.config_file(), &cwd, &root)?.config;
    Ok(Context {
        store: CredentialStore::new(&dirs.data),
        config,
    })
}

fn env_key(id: &str, config: &Config) -> Option<(String, String)> {
    let var = providers::key_env(id, config)?;
    let value = std::env::var(&var).ok().filter(|v| !v.is_empty())?;
    Some((var, value))
}

fn login(context: &Context, provider: Option<&str>) -> Result<(), Failure> {
    let known = providers::known_ids(&context.config);
    let interactive = io::stdin().is_terminal();
    let id = match provider {
        Some(id) if known.iter().any(|k| k == id) => id.to_string(),
        Some(id) => {
            return Err(Failure::usage(format!(
                "unknown provider `{id}`; the known providers are {}",
                known.join(", ")
            )))
        }
        None if interactive => pick(&known)?,
        None => {
            return Err(Failure::usage(format!(
                "name the provider: cm auth login PROVIDER (one of {}), e.g.\n\
                 printf '%s\\n' \"$KEY\" | cm auth login anthropic",
                known.join(", ")
            )))
        }
    };
    if oauth_settings::uses_oauth(&id, &context.config) {
        return login_oauth(context, &id);
    }
    let key = if interactive {
        read_hidden(&format!("API key for {id} (input hidden): "))?
    } else {
        first_line(&mut io::stdin().lock())?
    };
    match validate(&key, providers::key_prefixes(&id)) {
        Ok(Some(warning)) => eprintln!("cm: warning: {warning}"),
        Ok(None) => {}
        Err(e) => return Err(Failure::usage(format!("{e}; nothing was stored"))),
    }
    let login = StoredCredential::ApiKey {
        key: Secret::new(key.as_str()),
    };
    context
        .store
        .update(
            |corrupt| eprintln!("cm: {corrupt}; writing a new file"),
            |c| c.providers.insert(id.clone(), login),
        )
        .map_err(|e| Failure::failed(format!("the key was not stored: {e}")))?;
    println!(
        "stored the API key for {id} ({}) in {}",
        mask(&key),
        context.store.path().display()
    );
    if let Some((var, _)) = env_key(&id, &context.config) {
        eprintln!("cm: note: {var} is set and is used instead while it is");
    }
    Ok(())
}

fn login_oauth(context: &Context, id: &str) -> Result<(), Failure> {
    let mut settings = oauth_settings::settings(id, &context.config)?;
    let logged_in = oauth_login::login(&mut settings)?;
    let token = logged_in.token;
    let expires_at = token.expires_at.map(|at| at.0);
    let login = StoredCredential::Oauth {
        access: Secret::new(token.access),
        refresh: token.refresh.map(Secret::new),
        expires_at,
        client_id: logged_in.registered_client,
    };
    context
        .store
        .update(
            |corrupt| eprintln!("cm: {corrupt}; writing a new file"),
            |c| c.providers.insert(id.to_string(), login),
        )
        .map_err(|e| Failure::failed(format!("the login was not stored: {e}")))?;
    let expiry = match expires_at {
        Some(at) => format!(", expires {} UTC", utc_minutes(UnixMillis(at))),
        None => String::new(),
    };
    println!(
        "logged in to {id}{expiry}; the token is stored in {}",
        context.store.path().display()
    );
    Ok(())
}

/// Revokes `id`'s OAuth token where its server allows it; says what happened on stderr.
fn revoke(context: &Context, id: &str, stored: &StoredCredential) {
    let StoredCredential::Oauth {
        access,
        refresh,
        client_id,
        ..
    } = stored
    else {
        return;
    };
    if !oauth_settings::uses_oauth(id, &context.config) {
        return;
    }
    let settings = oauth_settings::settings(id, &context.config).and_then(|mut s| {
        if s.client_id.is_none() {
            s.client_id = client_id.clone();
        }
        s.discover()?;
        Ok(s)
    });
    if settings.as_ref().is_ok_and(|s| s.revoke_url.is_none()) {
        let hint = if id == COPILOT {
            "; to revoke it, visit https://github.com/settings/applications"
        } else {
            ""
        };
        eprintln!("cm: {id} has no revocation endpoint: the token is only removed here{hint}");
        return;
    }
    let client = match settings.and_then(|s| s.oauth_client("")) {
        Ok(client) => client,
        Err(e) => {
            eprintln!(
                "cm: the {id} token was not revoked ({}); removing it here",
                e.message
            );
            return;
        }
    };
    let (token, hint) = match refresh {
        Some(refresh) => (refresh, TokenHint::RefreshToken),
        None => (access, TokenHint::AccessToken),
    };
    let Some(request) = client.revocation_request(token.expose(), hint) else {
        return;
    };
    let host = host_of(&request.url);
    match fetch(request) {
        Ok((head, body)) => match client.handle_revocation_response(&head, &body) {
            Ok(()) => eprintln!("cm: revoked the {id} token at {host}"),
            Err(e) => eprintln!(
                "cm: {host} did not revoke the {id} token ({e}); it is removed here anyway"
            ),
        },
        Err(e) => {
            eprintln!("cm: could not revoke the {id} token ({e}); it is removed here anyway")
        }
    }
}

fn logout(context: &Context, provider: Option<&str>, yes: bool) -> Result<(), Failure> {
    let stored = context
        .store
        .load()
        .map_err(|e| Failure::failed(e.to_string()))?;
    let ids: Vec<String> = match provider {
        Some(id) => vec![id.to_string()],
        None => stored.providers.keys().cloned().collect(),
    };
    if provider.is_none() && !ids.is_empty() && !yes && io::stdin().is_terminal() {
        eprint!(
            "remove the stored credentials of {}? [y/N] ",
            ids.join(", ")
        );
        let _ = io::stderr().flush();
        let mut answer = String::new();
        let _ = io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("cm: nothing removed");
            return Ok(());
        }
    }
    for id in &ids {
        if let Some(login) = stored.providers.get(id) {
            revoke(context, id, login);
        }
    }
    let removed = context
        .store
        .update(
            |_| {},
            |c| {
                ids.iter()
                    .filter(|id| c.providers.remove(id.as_str()).is_some())
                    .cloned()
                    .collect::<Vec<_>>()
            },
        )
        .map_err(|e| Failure::failed(e.to_string()))?;
    if removed.is_empty() {
        match provider {
            Some(id) => println!("no stored key or login for {id}"),
            None => println!("no stored keys or logins"),
        }
    } else {
        println!("removed the stored credential of {}", removed.join(", "));
    }
    for id in &ids {
        if let Some((var, _)) = env_key(id, &context.config) {
            eprintln!("cm: note: {var} is still set in the environment");
        }
    }
    Ok(())
}

fn list(context: &Context, out: &mut dyn Write) -> Result<(), Failure> {
    let stored = context
        .store
        .load()
        .map_err(|e| Failure::failed(e.to_string()))?;
    let mut ids = providers::known_ids(&context.config);
    for id in stored.providers.keys() {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    let mut rows: Vec<[String; 4]> = Vec::new();
    for id in &ids {
        let from_env = env_key(id, &context.config);
        if let Some((var, value)) = &from_env {
            rows.push([
                id.clone(),
                "api-key".into(),
                format!("env {var}"),
                mask(value),
            ]);
        }
        let shadowed = if from_env.is_some() {
            " (unused: env wins)"
        } else {
            ""
        };
        match stored.providers.get(id) {
            Some(StoredCredential::ApiKey { key }) => rows.push([
                id.clone(),
                "api-key".into(),
                "store".into(),
                format!("{}{shadowed}", mask(key.expose())),
            ]),
            Some(StoredCredential::Oauth { expires_at, .. }) => rows.push([
                id.clone(),
                "oauth".into(),
                "store".into(),
                match expires_at {
                    Some(at) => format!("expires {} UTC{shadowed}", utc_minutes(UnixMillis(*at))),
                    None => format!("does not expire{shadowed}"),
                },
            ]),
            None => {}
        }
    }
    let written = if rows.is_empty() {
        writeln!(
            out,
            "no credentials; store one with `cm auth login PROVIDER` or set ANTHROPIC_API_KEY"
        )
    } else {
        let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
        let (w0, w1, w2) = (width(0).max(8), width(1).max(6), width(2).max(6));
        let mut text = format!(
            "{:w0$}  {:w1$}  {:w2$}  KEY\n",
            "PROVIDER", "METHOD", "SOURCE"
        );
        for [id, method, source, shown] in &rows {
            text.push_str(&format!("{id:w0$}  {method:w1$}  {source:w2$}  {shown}\n"));
        }
        out.write_all(text.as_bytes())
    };
    written.map_err(|e| Failure::failed(format!("cannot write the output: {e}")))
}

/// A numbered list of the known providers on stderr; the answer is a number or an id.
fn pick(known: &[String]) -> Result<String, Failure> {
    eprintln!("Which provider?");
    for (n, id) in known.iter().enumerate() {
        eprintln!("  {}. {id}", n + 1);
    }
    eprint!("number or id: ");
    let _ = io::stderr().flush();
    let mut answer = String::new();
    io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::usage(format!("cannot read the answer: {e}")))?;
    let answer = answer.trim();
    let chosen = match answer.parse::<usize>() {
        Ok(n) => n.checked_sub(1).and_then(|i| known.get(i)),
        Err(_) => known.iter().find(|id| id.as_str() == answer),
    };
    chosen.cloned().ok_or_else(|| {
        Failure::usage(format!(
            "`{answer}` is not one of the providers; type e.g. `cm auth login {}`",
            known.first().map_or("anthropic", String::as_str)
        ))
    })
}

/// The first line of `input` without its line ending; the rest is not read.
fn first_line(input: &mut dyn BufRead) -> Result<String, Failure> {
    let mut line = Vec::new();
    input
        .take(MAX_KEY_BYTES)
        .read_until(b'\n', &mut line)
        .map_err(|e| Failure::usage(format!("cannot read the key from stdin: {e}")))?;
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    String::from_utf8(line)
        .map_err(|_| Failure::usage("the key is not valid UTF-8; nothing was stored"))
}

/// Reads a line from the terminal with echo off, byte by byte so Ctrl-C cancels at once
/// and the terminal's settings come back whatever happens.
fn read_hidden(prompt: &str) -> Result<String, Failure> {
    let cannot = |e: io::Error| {
        Failure::usage(format!(
            "cannot read the key without echo ({e}); pipe it instead: \
             printf '%s\\n' \"$KEY\" | cm auth login PROVIDER"
        ))
    };
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(cannot)?;
    let stty = |args: &[&str]| -> io::Result<String> {
        let output = Command::new("stty")
            .args(args)
            .stdin(tty.try_clone()?)
            .stderr(Stdio::null())
            .output()?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
        } else {
            Err(io::Error::other("stty failed"))
        }
    };
    let saved = stty(&["-g"]).map_err(cannot)?;
    stty(&["-echo", "-icanon", "-isig", "min", "1", "time", "0"]).map_err(cannot)?;
    let mut writer = &tty;
    let _ = writer.write_all(prompt.as_bytes());
    let _ = writer.flush();
    let mut key = Vec::new();
    let mut cancelled = false;
    for byte in io::BufReader::new(&tty).bytes() {
        match byte {
            Ok(b'\r' | b'\n') => break,
            Ok(0x03 | 0x04) | Err(_) => {
                cancelled = true;
                break;
            }
            Ok(0x7f | 0x08) => {
                // Backspace: drop the last character, not just its last byte.
                while let Some(b) = key.pop() {
                    if b & 0xC0 != 0x80 {
                        break;
                    }
                }
            }
            Ok(b) => {
                if key.len() < MAX_KEY_BYTES as usize {
                    key.push(b);
                }
            }
        }
    }
    let _ = stty(&[saved.as_str()]);
    let _ = writer.write_all(b"\n");
    if cancelled {
        return Err(Failure {
            status: Status::Interrupted,
            message: "cancelled; nothing was stored".into(),
        });
    }
    String::from_utf8(key)
        .map_err(|_| Failure::usage("the key is not valid UTF-8; nothing was stored"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_of_stdin_is_the_key_without_its_line_ending() {
        let read = |text: &str| first_line(&mut io::Cursor::new(text.as_bytes().to_vec()));
        assert_eq!(read("sk-ant-abc\nsecond line\n").unwrap(), "sk-ant-abc");
        assert_eq!(read("sk-ant-abc\r\n").unwrap(), "sk-ant-abc");
        assert_eq!(read("sk-ant-abc").unwrap(), "sk-ant-abc");
        assert_eq!(read("").unwrap(), "");
        assert_eq!(
            read("sk abc \n").unwrap(),
            "sk abc ",
            "validation refuses it later"
        );
    }
}
