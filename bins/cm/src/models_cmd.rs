//! `cm models [list] [--provider ID] [--json]`, `cm models info MODEL [--json]` and
//! `cm models refresh`: which models cm knows, what they cost and what they can do.
//!
//! The catalog is the built-in snapshot with the last refresh laid over it
//! ([`crate::catalog_cache`]), plus the models written in config (whose settings win over
//! the catalog's, field by field). Nothing here needs the network except two things: the
//! local servers (ollama, lmstudio, llama-cpp) are asked for their models, each within
//! [`PROBE_LIMIT`] and all at once, and their answer is only added to the list; and
//! `refresh` fetches models.dev's `api.json` (or `$CM_MODELS_URL`) and keeps it only if it
//! parses, so a failed refresh changes nothing.

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use cm_host::{Dirs, Workspace};
use cm_proto::config::{Config, ModelRef};
use cm_proto::model::listing::{models_request, parse_model_ids};
use cm_proto::model::{self, Catalog, ModelInfo, Source};
use cm_proto::provider::profile::{self, AuthKind};
use cm_proto::time::UnixMillis;
use lexopt::prelude::*;
use serde_json::{json, Value};

use crate::args::{text_value, usage_error, Command};
use crate::exit::{Failure, Status};
use crate::fetch_once::{self, GetError};
use crate::sessions_cmd::utc_minutes;
use crate::{catalog_cache, config_files, help, providers};

/// How long a local server has to answer its model list, connection included.
pub const PROBE_LIMIT: Duration = Duration::from_millis(300);

/// How long `refresh` waits for models.dev.
const REFRESH_LIMIT: Duration = Duration::from_secs(30);

/// Where `refresh` fetches the catalog unless `$CM_MODELS_URL` says otherwise.
pub const MODELS_DEV_URL: &str = "https://models.dev/api.json";

/// `cm models ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelsCommand {
    /// The known models, of one provider or all.
    List {
        /// `--provider ID`.
        provider: Option<String>,
        /// `--json`.
        json: bool,
    },
    /// One model in full.
    Info {
        /// `provider/model` or a bare model id.
        model: String,
        /// `--json`.
        json: bool,
    },
    /// Fetch the current catalog from models.dev.
    Refresh,
}

/// Parses the arguments after `cm models`.
pub fn parse(parser: &mut lexopt::Parser) -> Result<Command, Failure> {
    let mut words: Vec<String> = Vec::new();
    let mut provider = None;
    let mut json = false;
    while let Some(arg) = parser
        .next()
        .map_err(|e| usage_error(e, "cm models --help"))?
    {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(help::MODELS)),
            Long("json") => json = true,
            Short('p') | Long("provider") => {
                provider = Some(text_value(parser, "--provider", "--provider anthropic")?);
            }
            Value(word) => words.push(word.to_string_lossy().into_owned()),
            other => {
                return Err(Failure::usage(format!(
                    "unknown option {} for `cm models`; see `cm models --help`",
                    other.unexpected()
                )))
            }
        }
    }
    let mut words = words.into_iter();
    let action = words.next();
    let argument = words.next();
    if let Some(extra) = words.next() {
        return Err(Failure::usage(format!(
            "unexpected `{extra}`; see `cm models --help`"
        )));
    }
    let listing = matches!(action.as_deref(), None | Some("list") | Some("ls"));
    if provider.is_some() && !listing {
        return Err(Failure::usage("--provider goes with `cm models list`"));
    }
    let command = match (action.as_deref(), argument) {
        (None | Some("list") | Some("ls"), None) => ModelsCommand::List { provider, json },
        (Some("info"), Some(model)) => ModelsCommand::Info { model, json },
        (Some("info"), None) => {
            return Err(Failure::usage(
                "`cm models info` needs a model: cm models info anthropic/claude-sonnet-4-5",
            ))
        }
        (Some("refresh"), None) => ModelsCommand::Refresh,
        (Some("list") | Some("ls") | Some("refresh"), Some(extra)) => {
            return Err(Failure::usage(format!(
                "unexpected `{extra}`; to list one provider's models type: cm models list --provider {extra}"
            )))
        }
        (None, Some(_)) => return Err(Failure::usage("see `cm models --help`")),
        (Some(other), _) => {
            return Err(Failure::usage(format!(
                "unknown models command `{other}`; the commands are list, info and refresh\n\
                 to see one model, type: cm models info {other}"
            )))
        }
    };
    Ok(Command::Models(command))
}

/// Runs a `cm models` command and says how cm exits.
pub fn main(command: &ModelsCommand) -> Status {
    let result = context().and_then(|context| {
        let mut out = io::stdout().lock();
        match command {
            ModelsCommand::List { provider, json } => {
                list(&context, provider.as_deref(), *json, &mut out)
            }
            ModelsCommand::Info { model, json } => info(&context, model, *json, &mut out),
            ModelsCommand::Refresh => refresh(&context.data, &mut out),
        }
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
    config: Config,
    catalog: Catalog,
    data: std::path::PathBuf,
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
    let (catalog, note) = catalog_cache::load(&dirs.data);
    if let Some(note) = note {
        eprintln!("cm: {note}");
    }
    Ok(Context {
        config,
        catalog,
        data: dirs.data,
    })
}

/// Where a listed model's facts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The catalog alone.
    Catalog,
    /// Config (over the catalog's entry, if any).
    Config,
    /// Only a local server's list: nothing known but its id.
    Server,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Catalog => "catalog",
            Origin::Config => "config",
            Origin::Server => "server",
        }
    }
}

#[derive(Debug, Clone)]
struct Row {
    provider: String,
    model: String,
    name: Option<String>,
    info: ModelInfo,
    release_date: Option<String>,
    origin: Origin,
}

impl Row {
    fn to_json(&self) -> Value {
        let info = &self.info;
        json!({
            "provider": self.provider,
            "model": self.model,
            "id": format!("{}/{}", self.provider, self.model),
            "name": self.name,
            "context": info.context,
            "output": info.output,
            "price": info.price.map(|p| json!({
                "input": p.input,
                "output": p.output,
                "cache_read": p.cache_read,
                "cache_write": p.cache_write,
            })),
            "tools": info.tools,
            "reasoning": info.reasoning,
            "images": info.images,
            "release_date": self.release_date,
            "source": self.origin.as_str(),
        })
    }
}

/// What asking a local server gave.
#[derive(Debug, Clone)]
struct Probe {
    provider: String,
    url: String,
    result: Result<Vec<String>, String>,
}

/// The providers in list order: the built-ins, then the configured ones.
fn provider_ids(config: &Config) -> Vec<String> {
    providers::known_ids(config)
}

/// The rows of one provider: catalog models, then configured ones it lacks, each with
/// the config's settings applied.
fn rows_of(context: &Context, provider: &str) -> Vec<Row> {
    let configured = context
        .config
        .provider(provider)
        .map(|p| p.models.clone())
        .unwrap_or_default();
    let mut rows: Vec<Row> = context
        .catalog
        .provider_models(provider)
        .map(|m| {
            let config = configured.get(&m.id);
            Row {
                provider: provider.to_string(),
                model: m.id.clone(),
                name: m.name.clone(),
                info: model::apply_config(Some(m.info), config).unwrap_or(m.info),
                release_date: m.release_date.clone(),
                origin: if config.is_some() {
                    Origin::Config
                } else {
                    Origin::Catalog
                },
            }
        })
        .collect();
    for (id, config) in &configured {
        if rows.iter().any(|r| &r.model == id) {
            continue;
        }
        let catalog = context.catalog.get(provider, id);
        rows.push(Row {
            provider: provider.to_string(),
            model: id.clone(),
            name: catalog.and_then(|m| m.name.clone()),
            info: model::apply_config(catalog.map(|m| m.info), Some(config)).unwrap_or_default(),
            release_date: catalog.and_then(|m| m.release_date.clone()),
            origin: Origin::Config,
        });
    }
    rows
}

fn is_local(provider: &str) -> bool {
    profile::profile(provider).is_some_and(|p| p.auth == AuthKind::None)
}

/// Asks every local server in `ids` for its models, all at once, each within
/// [`PROBE_LIMIT`].
fn probe_local(context: &Context, ids: &[String]) -> Vec<Probe> {
    let env = |name: &str| std::env::var(name).ok();
    let mut handles = Vec::new();
    for id in ids.iter().filter(|id| is_local(id)) {
        let Ok(model) = ModelRef::parse(&format!("{id}/probe")) else {
            continue;
        };
        let provider = match providers::resolve(&model, &context.config, &env) {
            Ok(provider) => provider,
            Err(failure) => {
                let message = failure.message;
                handles.push((
                    id.clone(),
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
        let handle = std::thread::spawn(move || match fetch_once::send(request, PROBE_LIMIT) {
            Ok(response) if response.head.status == 200 => {
                parse_model_ids(&response.body).map_err(|e| e.to_string())
            }
            Ok(response) => Err(format!("the server answered HTTP {}", response.head.status)),
            Err(e @ GetError::TimedOut(_)) => Err(format!("no server answered ({e})")),
            Err(e) => Err(format!("no server ({e})")),
        });
        handles.push((id.clone(), url, handle));
    }
    handles
        .into_iter()
        .map(|(provider, url, handle)| Probe {
            provider,
            url,
            result: handle
                .join()
                .unwrap_or_else(|_| Err("the probe failed".into())),
        })
        .collect()
}

fn list(
    context: &Context,
    provider: Option<&str>,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let ids = provider_ids(&context.config);
    let ids: Vec<String> = match provider {
        Some(id) if ids.iter().any(|k| k == id) => vec![id.to_string()],
        Some(id) => return Err(unknown_provider(id, &ids)),
        None => ids,
    };
    let probes = probe_local(context, &ids);
    let mut rows: Vec<Row> = Vec::new();
    for id in &ids {
        rows.extend(rows_of(context, id));
        if let Some(Probe {
            result: Ok(served), ..
        }) = probes.iter().find(|p| &p.provider == id)
        {
            for model in served {
                if !rows.iter().any(|r| &r.provider == id && &r.model == model) {
                    rows.push(Row {
                        provider: id.clone(),
                        model: model.clone(),
                        name: None,
                        info: ModelInfo::default(),
                        release_date: None,
                        origin: Origin::Server,
                    });
                }
            }
        }
    }
    let written = if json {
        let servers: Vec<Value> = probes
            .iter()
            .map(|p| match &p.result {
                Ok(models) => json!({"provider": p.provider, "url": p.url, "answered": true,
                                     "models": models.len()}),
                Err(error) => json!({"provider": p.provider, "url": p.url, "answered": false,
                                     "error": error}),
            })
            .collect();
        let value = json!({
            "catalog": source_json(context.catalog.source()),
            "models": rows.iter().map(Row::to_json).collect::<Vec<_>>(),
            "servers": servers,
        });
        writeln!(out, "{value}")
    } else {
        for probe in &probes {
            // Listing everything, an absent server nobody configured is no news.
            let wanted = provider.is_some() || context.config.provider(&probe.provider).is_some();
            if let (Err(error), true) = (&probe.result, wanted) {
                eprintln!(
                    "cm: {}: {} at {}; showing configured models only",
                    probe.provider, error, probe.url
                );
            }
        }
        out.write_all(table(&rows, &ids, context.catalog.source()).as_bytes())
    };
    written.map_err(|e| Failure::failed(format!("cannot write the output: {e}")))
}

fn source_json(source: &Source) -> Value {
    json!({"source": source.to_string(), "detail": serde_json::to_value(source).unwrap_or(Value::Null)})
}

fn table(rows: &[Row], ids: &[String], source: &Source) -> String {
    let mut text = String::new();
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            let i = &r.info;
            [
                format!("{}/{}", r.provider, r.model),
                i.context.map_or("-".into(), tokens),
                i.output.map_or("-".into(), tokens),
                i.price.map_or("-".into(), |p| {
                    format!("{}/{}", dollars(p.input), dollars(p.output))
                }),
                i.price.map_or("-".into(), |p| {
                    format!("{}/{}", dollars(p.cache_read), dollars(p.cache_write))
                }),
                capabilities(i, r.origin),
            ]
        })
        .collect();
    let header = [
        "MODEL",
        "CONTEXT",
        "OUTPUT",
        "$/M IN/OUT",
        "$/M CACHE R/W",
        "CAN",
    ];
    let width = |n: usize| {
        cells
            .iter()
            .map(|c| c[n].chars().count())
            .chain([header[n].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..6).map(width).collect();
    let line = |c: [&str; 6]| {
        let mut l = format!(
            "{:w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {:>w4$}  {}",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            c[5],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
        );
        l.truncate(l.trim_end().len());
        l.push('\n');
        l
    };
    if cells.is_empty() {
        let which = match ids {
            [one] => format!("provider `{one}`"),
            _ => "any provider".into(),
        };
        text.push_str(&format!(
            "no models known for {which}; name one in config (provider.ID.models) or use any \
             id the provider serves: cm run --model ID/MODEL\n"
        ));
    } else {
        text.push_str(&line(header));
        for c in &cells {
            text.push_str(&line([&c[0], &c[1], &c[2], &c[3], &c[4], &c[5]]));
        }
    }
    text.push_str(&format!(
        "\ncatalog: {source}; `cm models info MODEL` shows one, `cm models refresh` updates it\n"
    ));
    text
}

fn capabilities(info: &ModelInfo, origin: Origin) -> String {
    let mut can: Vec<&str> = Vec::new();
    if info.tools == Some(true) {
        can.push("tools");
    }
    if info.reasoning == Some(true) {
        can.push("reasoning");
    }
    if info.images == Some(true) {
        can.push("images");
    }
    let mut text = can.join(",");
    if origin != Origin::Catalog {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&format!("({})", origin.as_str()));
    }
    text
}

/// Tokens for people: `200k`, `1.0M`, `512`.
fn tokens(n: u64) -> String {
    if n >= 1_000_000 {
        format!("{:.1}M", n as f64 / 1e6)
    } else if n >= 1_000 {
        format!("{}k", (n + 500) / 1_000)
    } else {
        n.to_string()
    }
}

/// A price in dollars without trailing zeros: `3`, `0.125`, `1.25`.
fn dollars(price: f64) -> String {
    let text = format!("{price:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".into()
    } else {
        text.to_string()
    }
}

fn unknown_provider(id: &str, known: &[String]) -> Failure {
    Failure::usage(format!(
        "unknown provider `{id}`; the known providers are {}\n\
         a server of your own can be declared in cm.json: \
         \"provider\": {{\"{id}\": {{\"base_url\": \"http://localhost:8000/v1\"}}}}",
        known.join(", ")
    ))
}

fn info(context: &Context, wanted: &str, json: bool, out: &mut dyn Write) -> Result<(), Failure> {
    let row = find(context, wanted)?;
    let written = if json {
        writeln!(out, "{}", row.to_json())
    } else {
        out.write_all(describe(&row, context.catalog.source()).as_bytes())
    };
    written.map_err(|e| Failure::failed(format!("cannot write the output: {e}")))
}

/// The one model `wanted` names: `provider/model`, or a bare id known to one provider.
fn find(context: &Context, wanted: &str) -> Result<Row, Failure> {
    let ids = provider_ids(&context.config);
    if let Some((provider, model)) = wanted.split_once('/') {
        if ids.iter().any(|k| k == provider) {
            let rows = rows_of(context, provider);
            if let Some(row) = rows.iter().find(|r| r.model == model) {
                return Ok(row.clone());
            }
            if let Some(m) = context.catalog.get(provider, model) {
                return Ok(rows
                    .into_iter()
                    .find(|r| r.model == m.id)
                    .unwrap_or_else(|| Row {
                        provider: provider.into(),
                        model: m.id.clone(),
                        name: m.name.clone(),
                        info: m.info,
                        release_date: m.release_date.clone(),
                        origin: Origin::Catalog,
                    }));
            }
            // `anthropic/claude-sonnet-4.5` may be an OpenRouter id written bare.
            return match bare_matches(context, &ids, wanted).as_slice() {
                [] => Err(unknown_model(context, provider, model)),
                [one] => Ok(one.clone()),
                many => Err(ambiguous(wanted, many)),
            };
        }
    }
    let matches = bare_matches(context, &ids, wanted);
    match matches.as_slice() {
        [one] => Ok(one.clone()),
        [] => match wanted.split_once('/') {
            Some((provider, _)) => Err(unknown_provider(provider, &ids)),
            None => Err(unknown_bare(context, &ids, wanted)),
        },
        many => Err(ambiguous(wanted, many)),
    }
}

fn ambiguous(wanted: &str, many: &[Row]) -> Failure {
    let names: Vec<String> = many
        .iter()
        .map(|r| format!("  {}/{}", r.provider, r.model))
        .collect();
    Failure::usage(format!(
        "`{wanted}` is a model of {} providers; say which:\n{}\n\
         e.g. cm models info {}/{}",
        many.len(),
        names.join("\n"),
        many[0].provider,
        many[0].model
    ))
}

fn bare_matches(context: &Context, ids: &[String], model: &str) -> Vec<Row> {
    ids.iter()
        .filter_map(|id| {
            let rows = rows_of(context, id);
            let exact = rows.iter().find(|r| r.model == model).cloned();
            exact.or_else(|| {
                let m = context.catalog.get(id, model)?;
                rows.into_iter().find(|r| r.model == m.id)
            })
        })
        .collect()
}

fn unknown_model(context: &Context, provider: &str, model: &str) -> Failure {
    let near: Vec<String> = rows_of(context, provider)
        .into_iter()
        .filter(|r| similar(&r.model, model))
        .map(|r| format!("{}/{}", r.provider, r.model))
        .take(5)
        .collect();
    let hint = if near.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", near.join(", "))
    };
    let local = if is_local(provider) {
        format!(
            "\n{provider} serves whatever is installed: `cm models list --provider {provider}` asks it"
        )
    } else {
        String::new()
    };
    Failure::usage(format!(
        "cm does not know the model `{model}` of provider `{provider}`{hint}\n\
         list the known ones: cm models list --provider {provider}\n\
         cm can still use it (cm run --model {provider}/{model}); its limits and prices can be \
         set in config under provider.{provider}.models.\"{model}\"{local}"
    ))
}

fn unknown_bare(context: &Context, ids: &[String], model: &str) -> Failure {
    let near: Vec<String> = ids
        .iter()
        .flat_map(|id| rows_of(context, id))
        .filter(|r| similar(&r.model, model))
        .map(|r| format!("{}/{}", r.provider, r.model))
        .take(5)
        .collect();
    let hint = if near.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", near.join(", "))
    };
    Failure::usage(format!(
        "no provider has a model `{model}` in the catalog{hint}\n\
         list them: cm models list (or cm models list --provider ID); \
         a model is named PROVIDER/MODEL, e.g. anthropic/claude-sonnet-4-5"
    ))
}

/// Whether `candidate` looks like what was typed: one contains the other, ignoring case
/// and punctuation.
fn similar(candidate: &str, typed: &str) -> bool {
    let squash = |s: &str| {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let (c, t) = (squash(candidate), squash(typed));
    !t.is_empty() && (c.contains(&t) || (t.contains(&c) && c.len() >= 3))
}

fn describe(row: &Row, source: &Source) -> String {
    let info = &row.info;
    let yes_no = |v: Option<bool>| match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    let id = format!("{}/{}", row.provider, row.model);
    let mut text = match &row.name {
        Some(name) => format!("{id}  ({name})\n"),
        None => format!("{id}\n"),
    };
    let limit = |n: Option<u64>| n.map_or("unknown".into(), |n| format!("{n} tokens"));
    text.push_str(&format!("  context     {}\n", limit(info.context)));
    text.push_str(&format!("  output      {}\n", limit(info.output)));
    match info.price {
        Some(p) => text.push_str(&format!(
            "  price       ${} input, ${} output, ${} cache read, ${} cache write \
             (per million tokens)\n",
            dollars(p.input),
            dollars(p.output),
            dollars(p.cache_read),
            dollars(p.cache_write)
        )),
        None => text.push_str("  price       unknown (costs are not shown)\n"),
    }
    text.push_str(&format!("  tools       {}\n", yes_no(info.tools)));
    text.push_str(&format!("  reasoning   {}\n", yes_no(info.reasoning)));
    text.push_str(&format!("  images      {}\n", yes_no(info.images)));
    if let Some(date) = &row.release_date {
        text.push_str(&format!("  released    {date}\n"));
    }
    let from = match row.origin {
        Origin::Catalog => format!("catalog: {source}"),
        Origin::Config => format!("config, over the catalog: {source}"),
        Origin::Server => "the server's model list".into(),
    };
    text.push_str(&format!("  source      {from}\n"));
    text.push_str(&format!("  use it      cm run --model {id} \"...\"\n"));
    text
}

/// Fetches the catalog and keeps it for later runs; a failure leaves the old one.
fn refresh(data: &Path, out: &mut dyn Write) -> Result<(), Failure> {
    let url = std::env::var("CM_MODELS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| MODELS_DEV_URL.to_string());
    let builtin = model::builtin().source().to_string();
    let nothing_changed = |why: String| {
        Failure::failed(format!(
            "cannot refresh the model catalog from {url}: {why}\n\
             nothing was changed; cm goes on with the catalog it has (built in: {builtin})"
        ))
    };
    let response =
        fetch_once::get(&url, REFRESH_LIMIT).map_err(|e| nothing_changed(e.to_string()))?;
    if response.head.status != 200 {
        return Err(nothing_changed(format!("HTTP {}", response.head.status)));
    }
    let text = String::from_utf8_lossy(&response.body);
    let fetched = Catalog::parse(&text)
        .map_err(|e| nothing_changed(e.to_string()))?
        .retain_providers(|id| profile::profile(id).is_some_and(|p| p.auth != AuthKind::None));
    if fetched.models().is_empty() {
        return Err(nothing_changed(
            "it lists no model of a provider cm knows".into(),
        ));
    }
    let now = crate::run::wall_clock();
    let fetched = fetched.with_source(Source {
        url: Some(url.clone()),
        fetched: Some(utc_minutes(UnixMillis(now.0))),
        data: Some("models.dev (MIT)".into()),
        ..Source::default()
    });
    let file = catalog_cache::path(data);
    write_atomically(&file, fetched.to_json().as_bytes())
        .map_err(|e| Failure::failed(format!("cannot save {}: {e}", file.display())))?;
    let providers = {
        let mut ids: Vec<&str> = fetched
            .models()
            .iter()
            .map(|m| m.provider.as_str())
            .collect();
        ids.dedup();
        ids.len()
    };
    writeln!(
        out,
        "fetched {} models of {providers} providers from {url}\nsaved to {}; \
         cm uses it over the built-in catalog from now on",
        fetched.models().len(),
        file.display()
    )
    .map_err(|e| Failure::failed(format!("cannot write the output: {e}")))
}

/// Writes `bytes` to a temporary file beside `target`, syncs it and renames it over
/// `target`, so a reader sees the old file or the new one, never half of one.
fn write_atomically(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = target
        .parent()
        .ok_or_else(|| io::Error::other("no parent directory"))?;
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(
        ".{}.{}.tmp",
        catalog_cache::FILE,
        std::process::id()
    ));
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, target)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn parse_words(words: &[&str]) -> Result<Command, Failure> {
        crate::args::parse(words.iter().map(OsString::from))
    }

    fn context(config: &str) -> Context {
        Context {
            config: Config::from_layers([cm_proto::config::parse("cm.json", config).unwrap()]),
            catalog: model::builtin().clone(),
            data: std::path::PathBuf::from("/nonexistent"),
        }
    }

    #[test]
    fn the_subcommands_and_their_options() {
        assert_eq!(
            parse_words(&["models"]),
            Ok(Command::Models(ModelsCommand::List {
                provider: None,
                json: false
            }))
        );
        assert_eq!(
            parse_words(&["models", "list", "--provider", "ollama", "--json"]),
            Ok(Command::Models(ModelsCommand::List {
                provider: Some("ollama".into()),
                json: true
            }))
        );
        assert_eq!(
            parse_words(&["models", "info", "gpt-5"]),
            Ok(Command::Models(ModelsCommand::Info {
                model: "gpt-5".into(),
                json: false
            }))
        );
        assert_eq!(
            parse_words(&["models", "refresh"]),
            Ok(Command::Models(ModelsCommand::Refresh))
        );
        assert_eq!(
            parse_words(&["models", "--help"]),
            Ok(Command::Help(help::MODELS))
        );
        let no_model = parse_words(&["models", "info"]).unwrap_err();
        assert!(no_model.message.contains("cm models info anthropic/"));
        let typo = parse_words(&["models", "claude"]).unwrap_err();
        assert!(
            typo.message.contains("cm models info claude"),
            "{}",
            typo.message
        );
    }

    #[test]
    fn a_bare_id_finds_its_one_provider_or_lists_the_candidates() {
        let c = context("{}");
        let one = find(&c, "claude-sonnet-4-5").unwrap();
        assert_eq!(
            (one.provider.as_str(), one.origin),
            ("anthropic", Origin::Catalog)
        );
        let many = find(&c, "gpt-4.1").unwrap_err();
        assert_eq!(many.status, Status::Usage);
        assert!(
            many.message.contains("  openai/gpt-4.1")
                && many.message.contains("  github-copilot/gpt-4.1"),
            "{}",
            many.message
        );
        let dated = find(&c, "anthropic/claude-sonnet-4-5-20991231").unwrap();
        assert_eq!(dated.model, "claude-sonnet-4-5");
        let openrouter = find(&c, "anthropic/claude-sonnet-4.5").unwrap();
        assert_eq!(openrouter.provider, "openrouter");
        let hosted = find(&c, "openai/gpt-oss-120b").unwrap_err();
        assert!(
            hosted.message.contains("  groq/openai/gpt-oss-120b"),
            "{}",
            hosted.message
        );
    }

    #[test]
    fn unknown_models_and_providers_say_what_to_type() {
        let c = context("{}");
        let model = find(&c, "anthropic/claude-sonet").unwrap_err();
        assert!(
            model
                .message
                .contains("cm models list --provider anthropic"),
            "{}",
            model.message
        );
        let provider = find(&c, "antropic/claude").unwrap_err();
        assert!(
            provider.message.contains("unknown provider `antropic`"),
            "{}",
            provider.message
        );
        let bare = find(&c, "sonnet-4-5").unwrap_err();
        assert!(bare.message.contains("did you mean"), "{}", bare.message);
        assert!(
            bare.message.contains("anthropic/claude-sonnet-4-5"),
            "{}",
            bare.message
        );
    }

    #[test]
    fn config_overrides_and_custom_models_are_listed() {
        let c = context(
            r#"{"provider": {
                "anthropic": {"models": {"claude-sonnet-4-5": {"context": 1000000}}},
                "ollama": {"models": {"qwen3": {"context": 32768, "images": false}}}}}"#,
        );
        let sonnet = find(&c, "anthropic/claude-sonnet-4-5").unwrap();
        assert_eq!(
            (sonnet.info.context, sonnet.origin),
            (Some(1_000_000), Origin::Config)
        );
        assert_eq!(
            sonnet.info.output,
            Some(64_000),
            "the rest from the catalog"
        );
        let qwen = find(&c, "qwen3").unwrap();
        assert_eq!(
            (qwen.provider.as_str(), qwen.info.context),
            ("ollama", Some(32_768))
        );
        let json = qwen.to_json();
        assert_eq!(json["source"], "config");
        assert_eq!(json["id"], "ollama/qwen3");
        assert_eq!(json["price"], Value::Null);
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(tokens(200_000), "200k");
        assert_eq!(tokens(1_047_576), "1.0M");
        assert_eq!(tokens(512), "512");
        assert_eq!(dollars(3.0), "3");
        assert_eq!(dollars(0.125), "0.125");
        assert_eq!(dollars(0.0), "0");
        assert_eq!(dollars(1.25), "1.25");
    }
}
