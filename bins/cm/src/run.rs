//! `cm run`: one prompt, one turn, from the command line to the exit code.
//!
//! [`prepare`] does everything that can fail before the model is asked — the workspace,
//! the config, the provider and its key — then the prompt and its attachments are read,
//! so those failures exit 2 without touching a session. [`Prepared::open`] opens the
//! session, and [`crate::drive::Turns`] runs the compaction (`--compact`) and the turn
//! through cm-driver and maps how it ended to the exit code. The chat reuses both.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use cm_host::search::search_defs;
use cm_host::{CredentialStore, Dirs, SessionStore, Workspace};
use cm_proto::agent::{Agent, AgentConfig, End, Limits};
use cm_proto::provider::{Effort, ReasoningConfig};
use cm_proto::time::UnixMillis;
use cm_proto::tool::{builtin_defs, todoread_def, todowrite_def, webfetch_def};

use crate::args::RunArgs;
use crate::debug_log::{self, DebugLog};
use crate::drive::Turns;
use crate::exit::{Failure, Status};
use crate::output::{Mode, Ui};
use crate::providers::{self, KeySource, Provider};
use crate::renewal::Renewal;
use crate::secrets::Secrets;
use crate::sessions::{self, Choice, NewSession};
use crate::system_prompt::{self, Environment};
use crate::{attach, config_files, prompt};

/// Runs `cm run` and returns how cm exits.
pub fn main(args: &RunArgs) -> Status {
    let mut ui = Ui::to_terminal(Mode::new(args.format, args.quiet));
    match run(args, &mut ui) {
        Ok(status) => status,
        Err(failure) => {
            ui.fatal(&failure.message);
            failure.status
        }
    }
}

fn run(args: &RunArgs, ui: &mut Ui) -> Result<Status, Failure> {
    let prepared = prepare(args, ui)?;
    let piped = read_piped_stdin()?;
    let nothing_piped = piped.as_deref().is_none_or(|p| p.trim().is_empty());
    let prompt = if args.compact && args.prompt.is_none() && nothing_piped {
        None
    } else {
        Some(prompt::combine(args.prompt.as_deref(), piped.as_deref())?)
    };
    // Attachments are read before the session is touched or any request is sent.
    let parts = match &prompt {
        Some(text) => Some(attach::build(
            text,
            &args.files,
            &prepared.cwd,
            &prepared.workspace,
            prepared.provider.images,
        )?),
        None if !args.files.is_empty() => {
            return Err(Failure::usage(
                "-f attaches files to a prompt; give one too: cm run -f FILE \"...\"",
            ))
        }
        None => None,
    };
    let choice = match (&args.session, args.continue_last) {
        (Some(id), _) => Choice::Id(id.clone()),
        (None, true) => Choice::Newest,
        (None, false) => Choice::New,
    };
    let mut turns = prepared.open(&choice, prompt.as_deref().unwrap_or(""), ui)?;
    if args.compact {
        let status = turns.compact(ui)?;
        if status != Status::Done {
            return Ok(status);
        }
    }
    match parts {
        Some(parts) => turns.turn(parts, ui),
        None => Ok(Status::Done),
    }
}

/// Everything a session needs before its first prompt: the provider, the workspace and
/// the agent's configuration.
#[derive(Debug)]
pub struct Prepared {
    /// The agent's configuration (the session's history is added when it opens).
    pub config: AgentConfig,
    /// The provider (for credentials).
    pub provider: Provider,
    /// The workspace root.
    pub workspace: Workspace,
    /// The working directory, canonical.
    pub cwd: PathBuf,
    /// Where sessions are kept.
    pub store: SessionStore,
    /// The debug log, when wanted.
    pub debug: Option<DebugLog>,
}

impl Prepared {
    /// Opens (or creates, titled after `prompt`) the chosen session and wires its agent.
    pub fn open(self, choice: &Choice, prompt: &str, ui: &mut Ui) -> Result<Turns, Failure> {
        let session = sessions::open(
            &self.store,
            choice,
            &NewSession {
                directory: &self.cwd,
                provider: &self.provider.id,
                model: &self.provider.model,
                prompt,
                at: wall_clock(),
                entropy: entropy(),
            },
        )?;
        ui.session(
            session.log.id().as_str(),
            session.resumed,
            &self.provider.id,
            &self.provider.model,
        );
        if let Some(log) = &self.debug {
            log.line(&format!(
                "session {} ({}), model {}/{}",
                session.log.id(),
                if session.resumed { "resumed" } else { "new" },
                self.provider.id,
                self.provider.model
            ));
        }
        let agent = Agent::resume(self.config, &session.state, entropy());
        Turns::new(agent, &self.provider, session, self.workspace, self.debug)
    }
}

/// The reasoning setting: `--effort`, else the model's `"effort"` in config, else none.
pub fn reasoning(flag: Option<Effort>, configured: Option<Effort>) -> Option<ReasoningConfig> {
    flag.or(configured).map(|effort| ReasoningConfig {
        effort,
        budget_tokens: None,
    })
}

/// Loads config, provider and workspace, and builds the agent's configuration.
pub fn prepare(args: &RunArgs, ui: &mut Ui) -> Result<Prepared, Failure> {
    let cwd = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .map_err(|e| Failure::usage(format!("cannot use the working directory: {e}")))?;
    prepare_in(cwd, args, ui)
}

/// [`prepare`] for a session working in `cwd` (canonical), as `cm serve` opens them.
pub fn prepare_in(cwd: PathBuf, args: &RunArgs, ui: &mut Ui) -> Result<Prepared, Failure> {
    let env = |name: &str| std::env::var(name).ok();
    let workspace = Workspace::detect(&cwd)
        .map_err(|e| Failure::usage(format!("cannot use the working directory: {e}")))?;
    let dirs = Dirs::from_process_env().map_err(|e| Failure::usage(e.to_string()))?;
    let loaded = config_files::load(&dirs.config_file(), &cwd, workspace.root())?;
    let config = &loaded.config;
    let (catalog, note) = crate::catalog_cache::load(&dirs.data);
    if let Some(note) = note {
        ui.note(&note);
    }
    crate::catalog_cache::install(catalog);

    // Read once: a corrupt file is moved aside by the first read, and its error is kept.
    let stored = CredentialStore::new(&dirs.data).load();
    let stored_ids: Vec<&str> = match &stored {
        Ok(c) => c.providers.keys().map(String::as_str).collect(),
        Err(_) => Vec::new(),
    };
    // A stored key chooses the default model as its variable would.
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
    let model = providers::choose_model(args.model.as_deref(), config, &key_found)?;
    let mut provider = providers::resolve(&model, config, &env)?;
    match &stored {
        Ok(c) => {
            let login = c.providers.get(&provider.id);
            provider = provider.with_stored(login);
        }
        Err(e) if provider.credential.is_none() => {
            return Err(Failure::usage(format!(
                "cannot read the stored logins: {e}"
            )))
        }
        Err(e) => ui.note(&format!("ignoring the stored logins: {e}")),
    }
    if provider.credential.is_none() {
        return Err(Failure::usage(provider.missing_key_message()));
    }
    if let (Ok(c), Some(KeySource::Store), true) = (&stored, &provider.source, provider.oauth) {
        if let Some(login) = c.providers.get(&provider.id) {
            let store = CredentialStore::new(&dirs.data);
            let base = provider.endpoint.base_url.clone();
            if let Some(renewal) = Renewal::from_store(&provider.id, login, config, store, &base)? {
                let (credential, base) = renewal.first_use().map_err(Failure::failed)?;
                if let Some(base) = base {
                    provider.endpoint.base_url = base;
                }
                provider.credential = Some(credential);
                provider.renewal = Some(renewal);
            }
        }
    }
    let debug = if debug_log::wanted(args.debug, env("CM_LOG").as_deref()) {
        match DebugLog::open(
            &dirs.state,
            Secrets::from_process(provider.credential.as_ref()),
        ) {
            Ok(log) => {
                ui.note(&format!("debug log: {}", log.path().display()));
                Some(log)
            }
            Err(e) => {
                ui.note(&format!("cannot open the debug log: {e}"));
                None
            }
        }
    } else {
        None
    };

    if provider.price.is_none() {
        ui.note(&format!(
            "cm does not know the price of `{}`, so costs are not shown; the request is sent as is \
             (set one in config: provider.{}.models.\"{}\".price)",
            provider.model, provider.id, provider.model
        ));
    }

    let mut rules = config.permission_rules();
    rules.set_yes(args.yes);
    let max_steps = args
        .max_steps
        .map(u64::from)
        .unwrap_or_else(|| config.max_steps());
    let limits = Limits {
        max_steps: u32::try_from(max_steps).unwrap_or(u32::MAX).max(1),
        max_attempts: u32::try_from(config.retries().saturating_add(1)).unwrap_or(u32::MAX),
        idle_timeout_ms: config.idle_timeout_ms(),
        ..Limits::default()
    };
    let environment = Environment::gather(&cwd, workspace.root());
    let mut agent_config = AgentConfig::new(
        provider.id.clone(),
        provider.format,
        provider.endpoint.clone(),
        provider.model.clone(),
    );
    agent_config.system = Some(system_prompt::render(&environment));
    agent_config.tools = builtin_defs();
    agent_config.tools.extend(search_defs());
    agent_config
        .tools
        .extend([todowrite_def(), todoread_def(), webfetch_def()]);
    agent_config.context_window = provider.context;
    agent_config.compaction = config.compaction();
    agent_config.limits = limits;
    agent_config.price = provider.price;
    agent_config.credential_env = provider.key_env.clone();
    agent_config.max_output_tokens = provider
        .output_limit
        .map(|limit| u32::try_from(limit.min(32_000)).unwrap_or(32_000));
    agent_config.reasoning = reasoning(
        args.effort,
        config
            .model_config(&provider.id, &provider.model)
            .and_then(|m| m.effort),
    );
    agent_config.permissions = Box::new(rules);
    if let Some(log) = &debug {
        log.line(&format!(
            "config: provider {} ({:?}) at {}, model {}, reasoning {:?}, context {:?}, key from {}",
            provider.id,
            provider.format,
            debug_log::redact_url(&provider.endpoint.base_url),
            provider.model,
            agent_config.reasoning.map(|r| r.effort),
            provider.context,
            provider
                .source
                .as_ref()
                .map_or_else(|| "nowhere".to_string(), |s| s.to_string())
        ));
    }

    Ok(Prepared {
        config: agent_config,
        provider,
        workspace,
        cwd,
        store: SessionStore::new(dirs.sessions()),
        debug,
    })
}

/// How a turn's end maps to the exit code.
pub fn status_of(end: &End) -> Status {
    match end {
        End::Completed => Status::Done,
        End::Aborted => Status::Interrupted,
        End::MaxSteps | End::Failed(_) => Status::Failed,
    }
}

/// Reads stdin when it is not a terminal; `None` when it is.
fn read_piped_stdin() -> Result<Option<String>, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    stdin
        .lock()
        .take(prompt::STDIN_LIMIT as u64 + 1024 * 1024)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
    Ok(Some(prompt::decode_piped(&bytes)))
}

/// Now, by the system clock.
pub fn wall_clock() -> UnixMillis {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    UnixMillis(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

/// 64 random bits from the kernel, or from the clock and the process id if that fails.
pub fn entropy() -> u64 {
    let mut bytes = [0u8; 8];
    let from_kernel = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok();
    if from_kernel {
        return u64::from_le_bytes(bytes);
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_the_configured_effort_and_none_means_no_reasoning() {
        assert_eq!(reasoning(None, None), None);
        assert_eq!(
            reasoning(None, Some(Effort::Low)),
            Some(ReasoningConfig {
                effort: Effort::Low,
                budget_tokens: None
            })
        );
        assert_eq!(
            reasoning(Some(Effort::High), Some(Effort::Low)).map(|r| r.effort),
            Some(Effort::High)
        );
    }
}
