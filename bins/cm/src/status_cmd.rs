//! `cm status [--json] [--check]`: what cm sees — its version, the config files and their
//! errors, the providers it has credentials for (masked), the default model, its
//! directories, how many sessions it keeps and which model catalog it uses.
//!
//! Nothing here prints a key: a key is shown as `mask`'s first and last four characters,
//! and `--check`'s error messages pass through [`Secrets::redact`]. `--check` asks each
//! provider with a credential (and each configured local server) for its model list — the
//! cheapest request that proves the endpoint and key work — and exits 1 if any failed. A
//! stored OAuth login is first made ready as `cm run` would (refreshed when due; Copilot's
//! exchanged for its API token), so the check proves the login too.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use cm_host::{CredentialStore, Credentials, Dirs, SessionStore, StoredCredential, Workspace};
use cm_proto::auth::api_key::mask;
use cm_proto::config::{expand_env, Config, ModelRef};
use cm_proto::model::listing::{models_request, parse_model_ids};
use cm_proto::provider::profile::{self, AuthKind};
use cm_proto::time::UnixMillis;
use lexopt::prelude::*;
use serde_json::{json, Value};

use crate::args::{usage_error, Command};
use crate::exit::{Failure, Status};
use crate::providers::{KeySource, Provider};
use crate::renewal::Renewal;
use crate::secrets::Secrets;
use crate::sessions_cmd::utc_minutes;
use crate::{catalog_cache, config_files, fetch_once, help, providers};

/// How long one provider has to answer `--check`.
const CHECK_LIMIT: Duration = Duration::from_secs(15);

/// The options of `cm status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusArgs {
    /// `--json`: one JSON object.
    pub json: bool,
    /// `--check`: ask every provider with a credential.
    pub check: bool,
}

/// Parses the arguments after `cm status`.
pub fn parse(parser: &mut lexopt::Parser) -> Result<Command, Failure> {
    let mut args = StatusArgs::default();
    while let Some(arg) = parser
        .next()
        .map_err(|e| usage_error(e, "cm status --help"))?
    {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(help::STATUS)),
            Long("json") => args.json = true,
            Long("check") => args.check = true,
            other => {
                return Err(Failure::usage(format!(
                    "unexpected {} for `cm status`; it takes --json and --check",
                    describe(other)
                )))
            }
        }
    }
    Ok(Command::Status(args))
}

fn describe(arg: lexopt::Arg<'_>) -> String {
    match arg {
        Value(v) => format!("`{}`", v.to_string_lossy()),
        other => other.unexpected().to_string(),
    }
}

/// Runs `cm status` and says how cm exits.
pub fn main(args: &StatusArgs) -> Status {
    let env = |name: &str| std::env::var(name).ok();
    let report = match gather(&env) {
        Ok(report) => report,
        Err(failure) => {
            eprintln!("cm: {}", failure.message);
            return failure.status;
        }
    };
    let checks = if args.check {
        Some(check(&report, &env))
    } else {
        None
    };
    let text = if args.json {
        format!("{}\n", to_json(&report, checks.as_deref()))
    } else {
        to_text(&report, checks.as_deref())
    };
    // Keys never appear: masked above, and any that slipped into a message is redacted.
    let text = report.secrets.redact(&text).into_owned();
    if let Err(e) = io::stdout().lock().write_all(text.as_bytes()) {
        eprintln!("cm: cannot write the output: {e}");
        return Status::Failed;
    }
    let failed = checks
        .as_ref()
        .is_some_and(|c| c.iter().any(|c| c.result.is_err()))
        || (args.check && report.files.iter().any(|f| f.error.is_some()));
    if failed {
        Status::Failed
    } else {
        Status::Done
    }
}

/// One config file cm reads.
#[derive(Debug, Clone)]
struct ConfigFile {
    path: PathBuf,
    exists: bool,
    error: Option<String>,
}

/// A provider cm has a credential for (or a configured local server that needs none).
#[derive(Debug, Clone)]
struct ProviderStatus {
    id: String,
    method: &'static str,
    source: String,
    shown: String,
}

#[derive(Debug)]
struct Report {
    files: Vec<ConfigFile>,
    config: Config,
    stored: Credentials,
    stored_error: Option<String>,
    providers: Vec<ProviderStatus>,
    model: Result<(String, String), String>,
    dirs: Dirs,
    sessions: Result<usize, String>,
    catalog: String,
    catalog_note: Option<String>,
    secrets: Secrets,
}

fn gather(env: &dyn Fn(&str) -> Option<String>) -> Result<Report, Failure> {
    let dirs = Dirs::from_env(env).map_err(|e| Failure::usage(e.to_string()))?;
    let cwd = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .map_err(|e| Failure::usage(format!("cannot use the working directory: {e}")))?;
    let root = Workspace::detect(&cwd)
        .map(|w| w.root().to_path_buf())
        .unwrap_or_else(|_| cwd.clone());

    let mut candidates = vec![dirs.config_file()];
    candidates.extend(config_files::project_file(&cwd, &root));
    let mut files = Vec::new();
    let mut layers = Vec::new();
    for path in candidates {
        match config_files::read_layer(&path) {
            Ok(Some(layer)) => {
                layers.push(layer);
                files.push(ConfigFile {
                    path,
                    exists: true,
                    error: None,
                });
            }
            Ok(None) => files.push(ConfigFile {
                path,
                exists: false,
                error: None,
            }),
            Err(failure) => files.push(ConfigFile {
                path,
                exists: true,
                error: failure.message.lines().next().map(str::to_string),
            }),
        }
    }
    let config = Config::from_layers(layers);

    let (stored, stored_error) = match CredentialStore::new(&dirs.data).load() {
        Ok(stored) => (stored, None),
        Err(e) => (Credentials::default(), Some(e.to_string())),
    };
    let mut secret_values: Vec<(String, String)> = std::env::vars().collect();
    let providers = credentials(&config, &stored, env, &mut secret_values);

    let stored_ids: Vec<&str> = stored.providers.keys().map(String::as_str).collect();
    let key_found = |name: &str| {
        env(name).or_else(|| {
            providers::DEFAULT_MODELS
                .iter()
                .find(|(var, model)| {
                    *var == name
                        && stored_ids
                            .iter()
                            .any(|id| model.split('/').next() == Some(*id))
                })
                .map(|_| "stored".to_string())
        })
    };
    let model = match providers::choose_model(None, &config, &key_found) {
        Ok(model) => {
            let why = if config.model().is_some() {
                "from config".to_string()
            } else {
                "the default for the key found".to_string()
            };
            Ok((model.to_string(), why))
        }
        Err(_) => Err("none: set \"model\" in config or a provider key".to_string()),
    };
    let sessions = SessionStore::new(dirs.sessions())
        .list()
        .map(|list| list.len())
        .map_err(|e| e.to_string());
    let (catalog, catalog_note) = catalog_cache::load(&dirs.data);
    let catalog = catalog.source().to_string();
    Ok(Report {
        files,
        config,
        stored,
        stored_error,
        providers,
        model,
        dirs,
        sessions,
        catalog,
        catalog_note,
        secrets: Secrets::gather(None, secret_values),
    })
}

/// The providers with a credential, in the order of `known_ids`; every key seen is added
/// to `secrets` so the output can be checked for it.
fn credentials(
    config: &Config,
    stored: &Credentials,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: &mut Vec<(String, String)>,
) -> Vec<ProviderStatus> {
    let mut ids = providers::known_ids(config);
    for id in stored.providers.keys() {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    let mut rows = Vec::new();
    for id in &ids {
        let written = config.provider(id).and_then(|p| p.api_key.clone());
        let from_config = written.as_deref().map(|w| expand_env(w, env));
        let env_var = providers::key_env(id, config);
        let from_env = env_var
            .as_ref()
            .and_then(|var| env(var).filter(|v| !v.is_empty()).map(|v| (var.clone(), v)));
        let literal = written
            .as_deref()
            .is_some_and(|w| !w.trim_start().starts_with("{env:"));
        match (&from_config, &from_env) {
            (Some(Ok(key)), _) if literal && !key.is_empty() => {
                secrets.push((format!("CONFIG_{id}_KEY"), key.clone()));
                rows.push(ProviderStatus {
                    id: id.clone(),
                    method: "api-key",
                    source: "config".into(),
                    shown: mask(key),
                });
            }
            (_, Some((var, key))) => {
                secrets.push((format!("{var}_KEY"), key.clone()));
                rows.push(ProviderStatus {
                    id: id.clone(),
                    method: "api-key",
                    source: format!("env {var}"),
                    shown: mask(key),
                });
            }
            _ => {}
        }
        let shadowed = rows.last().is_some_and(|r| &r.id == id);
        match stored.providers.get(id) {
            Some(StoredCredential::ApiKey { key }) => {
                secrets.push((format!("STORED_{id}_KEY"), key.expose().to_string()));
                rows.push(ProviderStatus {
                    id: id.clone(),
                    method: "api-key",
                    source: "store".into(),
                    shown: format!(
                        "{}{}",
                        mask(key.expose()),
                        if shadowed { " (unused: env wins)" } else { "" }
                    ),
                });
            }
            Some(StoredCredential::Oauth { expires_at, .. }) => rows.push(ProviderStatus {
                id: id.clone(),
                method: "oauth",
                source: "store".into(),
                shown: match expires_at {
                    Some(at) => format!("expires {} UTC", utc_minutes(UnixMillis(*at))),
                    None => "does not expire".into(),
                },
            }),
            None => {}
        }
        let local = profile::profile(id).is_some_and(|p| p.auth == AuthKind::None);
        let configured = config.provider(id).is_some();
        if !rows.iter().any(|r| &r.id == id) && configured && (local || written.is_none()) {
            rows.push(ProviderStatus {
                id: id.clone(),
                method: "none",
                source: "config".into(),
                shown: "no key needed".into(),
            });
        }
    }
    rows
}

/// The outcome of asking one provider.
#[derive(Debug, Clone)]
struct Check {
    provider: String,
    url: String,
    result: Result<usize, String>,
}

fn check(report: &Report, env: &dyn Fn(&str) -> Option<String>) -> Vec<Check> {
    let mut ids: Vec<&str> = Vec::new();
    for row in &report.providers {
        if !ids.contains(&row.id.as_str()) {
            ids.push(&row.id);
        }
    }
    let mut handles = Vec::new();
    for id in ids {
        let resolved = ModelRef::parse(&format!("{id}/check"))
            .map_err(|e| e.to_string())
            .and_then(|model| {
                providers::resolve(&model, &report.config, env).map_err(|f| f.message)
            })
            .map(|p| p.with_stored(report.stored.providers.get(id)))
            .and_then(|p| renewed(report, p));
        let provider = match resolved {
            Ok(p) if p.credential.is_some() => p,
            Ok(p) => {
                let message = p.missing_key_message();
                handles.push((
                    id.to_string(),
                    String::new(),
                    std::thread::spawn(move || Err(message)),
                ));
                continue;
            }
            Err(message) => {
                handles.push((
                    id.to_string(),
                    String::new(),
                    std::thread::spawn(move || Err(message)),
                ));
                continue;
            }
        };
        let mut endpoint = provider.endpoint.clone();
        endpoint.credential = provider.credential.clone();
        let request = models_request(provider.format, &endpoint);
        let url = request.url.clone();
        let format = provider.format;
        let secrets = Secrets::gather(provider.credential.as_ref(), []);
        let handle = std::thread::spawn(move || match fetch_once::send(request, CHECK_LIMIT) {
            Ok(response) if response.head.status == 200 => parse_model_ids(&response.body)
                .map(|ids| ids.len())
                .map_err(|e| e.to_string()),
            Ok(response) => {
                let error = format.classify_error(
                    response.head.status,
                    &response.head.headers,
                    &response.body,
                );
                Err(secrets.redact(&format!("HTTP {error}")).into_owned())
            }
            Err(e) => Err(e.to_string()),
        });
        handles.push((id.to_string(), url, handle));
    }
    handles
        .into_iter()
        .map(|(provider, url, handle)| Check {
            provider,
            url,
            result: handle
                .join()
                .unwrap_or_else(|_| Err("the check failed".into())),
        })
        .collect()
}

/// A stored OAuth login made ready as `cm run` makes it: refreshed when due, and for
/// Copilot exchanged for the API token and base URL.
fn renewed(report: &Report, mut provider: Provider) -> Result<Provider, String> {
    if !(provider.oauth && provider.source == Some(KeySource::Store)) {
        return Ok(provider);
    }
    let Some(login) = report.stored.providers.get(&provider.id) else {
        return Ok(provider);
    };
    let store = CredentialStore::new(&report.dirs.data);
    let base = provider.endpoint.base_url.clone();
    let renewal = Renewal::from_store(&provider.id, login, &report.config, store, &base)
        .map_err(|f| f.message)?;
    if let Some(renewal) = renewal {
        let (credential, base) = renewal.first_use()?;
        if let Some(base) = base {
            provider.endpoint.base_url = base;
        }
        provider.credential = Some(credential);
    }
    Ok(provider)
}

fn to_text(report: &Report, checks: Option<&[Check]>) -> String {
    let mut text = format!("cm {}\n", env!("CARGO_PKG_VERSION"));
    text.push_str("\nconfig files:\n");
    for file in &report.files {
        let state = match (&file.error, file.exists) {
            (Some(error), _) => format!("error: {error}"),
            (None, true) => "ok".into(),
            (None, false) => "not there (optional)".into(),
        };
        text.push_str(&format!("  {}  {state}\n", file.path.display()));
    }
    text.push_str("\ndefault model: ");
    match &report.model {
        Ok((model, why)) => text.push_str(&format!("{model} ({why})\n")),
        Err(why) => text.push_str(&format!("{why}\n")),
    }
    text.push_str("\nproviders:\n");
    if report.providers.is_empty() {
        text.push_str("  none with a credential; store a key with `cm auth login PROVIDER`\n");
    }
    let w0 = report
        .providers
        .iter()
        .map(|p| p.id.len())
        .max()
        .unwrap_or(0);
    let w1 = report
        .providers
        .iter()
        .map(|p| p.source.len())
        .max()
        .unwrap_or(0);
    for p in &report.providers {
        text.push_str(&format!(
            "  {:w0$}  {:7}  {:w1$}  {}\n",
            p.id, p.method, p.source, p.shown
        ));
    }
    if let Some(error) = &report.stored_error {
        text.push_str(&format!("  stored logins unreadable: {error}\n"));
    }
    if let Some(checks) = checks {
        text.push_str("\ncheck:\n");
        if checks.is_empty() {
            text.push_str("  nothing to check: no provider has a credential\n");
        }
        for c in checks {
            match &c.result {
                Ok(n) => {
                    text.push_str(&format!("  {}  ok ({n} models at {})\n", c.provider, c.url))
                }
                Err(e) => text.push_str(&format!("  {}  FAILED: {e}\n", c.provider)),
            }
        }
    }
    let dirs = &report.dirs;
    text.push_str(&format!(
        "\ndirectories:\n  config  {}\n  data    {}\n  state   {}\n",
        dirs.config.display(),
        dirs.data.display(),
        dirs.state.display()
    ));
    match &report.sessions {
        Ok(n) => text.push_str(&format!(
            "\nsessions: {n} in {}\n",
            dirs.sessions().display()
        )),
        Err(e) => text.push_str(&format!("\nsessions: unreadable: {e}\n")),
    }
    text.push_str(&format!("model catalog: {}\n", report.catalog));
    if let Some(note) = &report.catalog_note {
        text.push_str(&format!("  {note}\n"));
    }
    text
}

fn to_json(report: &Report, checks: Option<&[Check]>) -> Value {
    let dirs = &report.dirs;
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "config_files": report.files.iter().map(|f| json!({
            "path": f.path.display().to_string(),
            "exists": f.exists,
            "error": f.error,
        })).collect::<Vec<_>>(),
        "default_model": report.model.as_ref().ok().map(|(m, _)| m.clone()),
        "providers": report.providers.iter().map(|p| json!({
            "id": p.id,
            "method": p.method,
            "source": p.source,
            "key": p.shown,
        })).collect::<Vec<_>>(),
        "stored_logins_error": report.stored_error,
        "directories": {
            "config": dirs.config.display().to_string(),
            "data": dirs.data.display().to_string(),
            "state": dirs.state.display().to_string(),
            "sessions": dirs.sessions().display().to_string(),
        },
        "sessions": report.sessions.as_ref().ok(),
        "catalog": report.catalog,
        "checks": checks.map(|checks| checks.iter().map(|c| match &c.result {
            Ok(n) => json!({"provider": c.provider, "ok": true, "url": c.url, "models": n}),
            Err(e) => json!({"provider": c.provider, "ok": false, "url": c.url, "error": e}),
        }).collect::<Vec<_>>()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cm_host::Secret;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn options_and_help() {
        let parse_words =
            |words: &[&str]| crate::args::parse(words.iter().map(std::ffi::OsString::from));
        assert_eq!(
            parse_words(&["status", "--check", "--json"]),
            Ok(Command::Status(StatusArgs {
                json: true,
                check: true
            }))
        );
        assert_eq!(
            parse_words(&["help", "status"]),
            Ok(Command::Help(help::STATUS))
        );
        assert_eq!(
            parse_words(&["help", "init"]),
            Ok(Command::Help(help::INIT))
        );
        assert_eq!(
            parse_words(&["help", "models"]),
            Ok(Command::Help(help::MODELS))
        );
        assert!(parse_words(&["status", "now"])
            .unwrap_err()
            .message
            .contains("--json and --check"));
    }

    #[test]
    fn credentials_are_listed_masked_with_their_source() {
        let config = Config::from_layers([cm_proto::config::parse(
            "cm.json",
            r#"{"provider": {"ollama": {"base_url": "http://127.0.0.1:9/v1"},
                "router": {"base_url": "http://x/v1", "api_key": "literal-key-0123456789"}}}"#,
        )
        .unwrap()]);
        let mut stored = Credentials::default();
        stored.providers.insert(
            "openai".into(),
            StoredCredential::ApiKey {
                key: Secret::new("sk-proj-storedsecret-9999"),
            },
        );
        let mut secrets = Vec::new();
        let rows = credentials(
            &config,
            &stored,
            &env(&[("ANTHROPIC_API_KEY", "sk-ant-envsecret-1234")]),
            &mut secrets,
        );
        let shown: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.source.as_str(), r.shown.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("anthropic", "env ANTHROPIC_API_KEY", "sk-a…1234"),
                ("openai", "store", "sk-p…9999"),
                ("ollama", "config", "no key needed"),
                ("router", "config", "lite…6789"),
            ]
        );
        assert_eq!(secrets.len(), 3, "every key seen is kept for redaction");
    }
}
