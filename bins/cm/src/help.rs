//! The help texts. They teach: what a command does, examples, where config lives, which
//! environment variables matter, and the exit codes.

/// `cm --help`.
pub const MAIN: &str = "\
cm — an AI coding assistant for the terminal

It reads, edits and tests your project with a language model (Anthropic, OpenAI, or any
OpenAI-compatible server), asks before it changes anything, and keeps every session on disk.

Usage:
  cm, cm tui [OPTIONS]        the full-screen UI in this project (see `cm tui --help`)
  cm chat                     chat line by line (plain terminal output, works anywhere)
  cm run [OPTIONS] [PROMPT]   run one prompt in this project (see `cm run --help`)
  cm sessions [COMMAND]       list, show, export or delete sessions (`cm sessions --help`)
  cm auth [COMMAND]           store, list or remove provider keys (`cm auth --help`)
  cm serve [OPTIONS]          an HTTP API for editors and scripts (`cm serve --help`)
  cm models [COMMAND]         the models cm knows, their limits and prices (`cm models --help`)
  cm status [--check]         config, credentials (masked), directories; --check tries them
  cm init                     have the model write AGENTS.md for this repository
  cm help [COMMAND]           show help for a command
  cm --version                print the version

Examples:
  cm run \"why does the parser test fail?\"
  git diff | cm run \"review this change\"
  cm run -c \"now add a test for it\"          continue the last session here
  cm run --model openai/gpt-5 --yes \"fix the build\"
  cm run \"why does @src/parse.rs reject this?\" -f error.log   attach files
  cm                                          the UI: type a prompt, /help for the keys
  cm tui -c                                   the UI on the newest session here

Try it without a key or network:  scripts/demo.sh   (a scripted model, clearly labelled)

Environment:
  ANTHROPIC_API_KEY, OPENAI_API_KEY     provider keys
  ANTHROPIC_BASE_URL, OPENAI_BASE_URL   other endpoints (OpenAI's includes /v1)
  XDG_CONFIG_HOME, XDG_DATA_HOME        where config and sessions live
  CM_LOG=debug                          write a debug log (like --debug) to
                                        $XDG_STATE_HOME/cm/log/cm-<date>.log

Config: ~/.config/cm/config.json, then the nearest cm.json up to the git root.
Sessions: ~/.local/share/cm/sessions/<id>.jsonl
";

/// `cm run --help`.
pub const RUN: &str = "\
cm run — run one prompt: the model reads, edits and tests your project until it is done

Usage: cm run [OPTIONS] [PROMPT]...

The prompt is the words after the options. Text piped on stdin is the prompt when no
words are given, and is appended to them as context when both are.

Options:
  -m, --model PROVIDER/MODEL  the model, e.g. anthropic/claude-sonnet-4-5, openai/gpt-5,
                              ollama/qwen3 (a provider declared in config)
  -c, --continue              continue the newest session started in this directory
  -s, --session ID            continue the session ID
      --format text|json      text (default): the answer on stdout, progress on stderr;
                              json: one event object per line on stdout (see README.md)
  -y, --yes                   allow every action that would ask (never one a rule denies)
      --max-steps N           stop after N model requests in this turn (default 50)
  -q, --quiet                 print only the answer (and errors)
  -f, --file FILE             attach FILE (repeatable): text inline with its path, images
                              as images when the model accepts them
      --effort low|medium|high  how hard the model thinks (a thinking budget or a
                              reasoning effort, whichever the API takes)
      --compact               summarise the session first (with -c or --session); with
                              no prompt, only that
      --debug                 log requests (keys redacted), responses and steps to
                              $XDG_STATE_HOME/cm/log/cm-<date>.log (also CM_LOG=debug)
  -h, --help                  print this help

Examples:
  cm run \"add a --verbose flag to the CLI and test it\"
  cat error.log | cm run \"what causes this?\"
  cm run --format json \"list the TODOs\" | jq -r 'select(.type==\"text_delta\").text'
  cm run -- \"-v is ignored, why?\"         a prompt starting with '-' goes after --
  cm run \"explain @src/lib.rs\"             @path attaches a project file (if it exists)
  cm run -f shot.png -f log.txt \"why?\"     attach files explicitly
  cm run --effort high \"find the race\"     think harder (slower, more tokens)
  cm run -c --compact                       shrink the last session to a summary

Permissions: reading is allowed; edits, commands and paths outside the project ask
first. Without a terminal a question is denied; allow with --yes or a config rule.

Config (JSON with comments), ~/.config/cm/config.json and then ./cm.json, later wins:
  {
    \"model\": \"anthropic/claude-sonnet-4-5\",
    \"permission\": {\"edit\": \"allow\", \"bash\": {\"cargo test*\": \"allow\", \"rm *\": \"deny\"}},
    \"limits\": {\"max_steps\": 50, \"retries\": 8, \"idle_timeout_s\": 120},
    \"provider\": {
      \"openai\": {\"api\": \"openai-chat\"},
      \"ollama\": {\"api\": \"openai-chat\", \"base_url\": \"http://localhost:11434/v1\",
                 \"models\": {\"qwen3\": {\"context\": 32768, \"output\": 8192}}},
      \"router\": {\"base_url\": \"https://openrouter.ai/api/v1\", \"api_key\": \"{env:OPENROUTER_API_KEY}\"}
    }
  }

Environment:
  ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL (without /v1), OPENAI_API_KEY, OPENAI_BASE_URL
  (with /v1), XDG_CONFIG_HOME, XDG_DATA_HOME (sessions in $XDG_DATA_HOME/cm/sessions)

Exit codes: 0 done · 1 the task failed · 2 usage or configuration error · 130 interrupted
(Ctrl-C stops the turn and saves the session; a second Ctrl-C exits at once)
";

/// `cm sessions --help`.
pub const SESSIONS: &str = "\
cm sessions — the conversations cm keeps on disk

Usage:
  cm sessions list [--json]                     newest first: id, title, directory,
                                                last update, messages
  cm sessions show ID                           the conversation as readable text
  cm sessions export ID [--format json|markdown]
                                                json (default): {\"info\", \"messages\"},
                                                the conversation as the model sees it;
                                                markdown: a transcript with tool calls
  cm sessions delete ID [--yes]                 remove it (asks first on a terminal)

Examples:
  cm sessions list
  cm sessions show ses_0m3k2j1h0abcdefghij | less
  cm sessions export ses_0m3k2j1h0abcdefghij --format markdown > session.md
  cm run --session ses_0m3k2j1h0abcdefghij \"go on\"   continue one

A session's title is the first line of its first prompt. A session another cm is using
cannot be deleted. Sessions live in $XDG_DATA_HOME/cm/sessions (~/.local/share/cm/sessions).
";

/// `cm auth --help`.
pub const AUTH: &str = "\
cm auth — the provider keys and logins cm keeps for you

Usage:
  cm auth login [PROVIDER]     store an API key: typed without echo on a terminal, else the
                               first line of stdin; nothing is sent anywhere. Without
                               PROVIDER, a terminal shows a list to choose from.
                               OAuth providers (github-copilot, or an \"oauth\" object in
                               config) sign in instead: a code to enter, or a browser page
  cm auth logout [PROVIDER]    remove one stored key or login, or all of them (asks on a
                               terminal); an OAuth token is revoked where the server can
  cm auth list                 provider, method, source (env or store) and the key as its
                               first and last 4 characters, or the token's expiry

Examples:
  cm auth login anthropic
  printf '%s\\n' \"$KEY\" | cm auth login anthropic
  cm auth list
  cm auth logout openai
  CM_NO_BROWSER=1 cm auth login github-copilot    # print the URL, open nothing

An environment variable (ANTHROPIC_API_KEY, OPENAI_API_KEY, or a config's {env:VAR}) wins
over a stored key. Keys live in $XDG_DATA_HOME/cm/auth.json (~/.local/share/cm/auth.json),
readable by you only. A key with spaces or control characters is refused (exit 2); one with
an unusual prefix is stored with a warning, since gateways issue their own.
";

/// `cm tui --help`.
pub const TUI: &str = "\
cm tui — the full-screen UI: a conversation with the model in this project

Usage: cm tui [OPTIONS]      (`cm` alone on a terminal does the same)

Type a prompt and press Enter; Alt+Enter (or Shift+Enter where the terminal reports it)
starts a new line. Answers stream in as markdown; each tool call is a card with its state
and, for edits, a diff. cm asks before it runs a command or changes a file.

Options (as for `cm run`):
  -m, --model PROVIDER/MODEL  the model
  -c, --continue              open the newest session started in this directory
  -s, --session ID            open the session ID
  -y, --yes                   allow every action that would ask
      --max-steps N           model requests per turn (default 50)
      --effort LEVEL          low, medium or high reasoning
      --debug                 write the debug log

Commands: /sessions (or Ctrl-X L), /new, /model, /compact, /mouse, /help, /exit
Keys: Ctrl-C stops the running turn (twice exits); Ctrl-D on an empty prompt exits; Esc
closes a dialog; PgUp/PgDn scroll; Ctrl-O shows reasoning and long diffs.

Environment:
  NO_COLOR=1         no colours
  CM_THEME=light     colours for a light background (dark is the default)
  CM_MOUSE=1         start with /mouse on: the wheel scrolls (the terminal's own
                     selection then needs Shift held, in most terminals)

Exit codes: 0 left normally, 1 the terminal failed, 2 usage or config error.
";

/// `cm serve --help`.
pub const SERVE: &str = "\
cm serve — a local HTTP API: editors, scripts and web pages run cm sessions over HTTP

Usage: cm serve [--host 127.0.0.1] [--port 4096|0] [--token TOKEN]

Options:
      --host ADDRESS   the address to listen on (default 127.0.0.1); any other than a
                       loopback address needs an explicit token
  -p, --port PORT      the port (default 4096); 0 picks a free one
      --token TOKEN    the bearer token clients send (else CM_SERVER_TOKEN, else a random
                       one, written to $XDG_DATA_HOME/cm/serve/<port>.json and never printed)
  -h, --help           print this help

On start cm prints one line, `cm serve listening on http://HOST:PORT`. Clients send
`Authorization: Bearer TOKEN` on every request but GET /health. Read the token file
({\"url\", \"token\", \"pid\"}, readable by you only; removed on exit):

  cm serve &
  TOKEN=$(jq -r .token ~/.local/share/cm/serve/4096.json)
  curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:4096/sessions

The API (JSON; the whole description at GET /openapi.json):
  GET    /health                          no token needed
  GET    /sessions   POST /sessions       {\"directory\", \"model\"} both optional
  GET    /sessions/ID   DELETE /sessions/ID
  GET    /sessions/ID/messages
  POST   /sessions/ID/messages            {\"text\", \"model\"}; ?wait=true for the answer
  POST   /sessions/ID/abort
  POST   /sessions/ID/permissions/ASK     {\"answer\": \"once\"|\"always\"|\"deny\"}
  GET    /events   GET /sessions/ID/events   Server-Sent Events (Last-Event-ID resumes)
  GET    /models   GET /openapi.json

Safety: requests must name 127.0.0.1, localhost or [::1] (or a name in config
\"server.hosts\") in Host, and a browser's Origin must be in \"server.cors\". Permission
rules apply as in `cm run`: a question becomes a permission_asked event and waits for
the answer. SIGINT or SIGTERM stops cleanly (running turns are aborted and saved).

Config: {\"server\": {\"hosts\": [\"cm.internal\"], \"cors\": [\"http://localhost:5173\"]}}
";

/// `cm models --help`.
pub const MODELS: &str = "\
cm models — the models cm knows: context, output limit, prices and what they can do

Usage:
  cm models [list] [--provider ID] [--json]   every known model, or one provider's
  cm models info MODEL [--json]               one model in full; MODEL is PROVIDER/MODEL
                                              or a bare id (an id several providers
                                              have lists them, exit 2)
  cm models refresh                           fetch the current catalog from models.dev

Examples:
  cm models list --provider anthropic
  cm models info claude-sonnet-4-5
  cm models info gpt-4.1                     two providers have it: exit 2, both listed
  cm models info github-copilot/gpt-4.1
  cm models list --provider ollama            the models your local Ollama serves
  cm models --json | jq -r '.models[].id'

Columns: CONTEXT and OUTPUT in tokens; prices in US dollars per million tokens for
input/output and cache read/write; CAN lists tools, reasoning and images. A model marked
(config) has settings from config over the catalog's; (server) came from a local server.

The catalog is built in (a dated snapshot of models.dev's data, named at the bottom of
the list) and works offline. `refresh` saves models.dev's current one in
$XDG_DATA_HOME/cm/models.json and cm uses it over the built-in one from then on; when
offline it fails (exit 1) and changes nothing. CM_MODELS_URL fetches from elsewhere.
Local servers (ollama, lmstudio, llama-cpp) are asked for their models at their base URL
(config provider.ID.base_url, else the default port on 127.0.0.1) and are given 300 ms.

Models the catalog lacks work too (cm run --model ID/MODEL); give their limits and prices
in config:
  \"provider\": {\"ollama\": {\"models\": {\"qwen3\": {\"context\": 32768, \"output\": 8192,
               \"price\": {\"input\": 0, \"output\": 0}, \"images\": false}}}}

Exit codes: 0 done · 1 refresh failed · 2 unknown or ambiguous model or provider
";

/// `cm status --help`.
pub const STATUS: &str = "\
cm status — what cm sees: version, config files, credentials, default model, directories

Usage: cm status [--json] [--check]

Shows:
  the config files read (and any error in them, as file:line:column),
  the default model and why it is the default,
  each provider with a credential: method, source (env VAR, config or store) and the
  key as its first and last 4 characters only,
  where cm keeps config, data and state, and how many sessions it keeps,
  which model catalog is in use.

Options:
  --json    one JSON object (keys: version, config_files, default_model, providers,
            directories, sessions, catalog, checks)
  --check   also ask each provider with a credential (and each configured local server)
            for its model list, the cheapest request there is; reports ok or why not,
            and exits 1 if any failed (or a config file has an error)

Examples:
  cm status
  cm status --check          after `cm auth login`, to see that the key works
  cm status --json | jq .providers

Exit codes: 0 done · 1 a check failed · 2 usage error
";

/// `cm init --help`.
pub const INIT: &str = "\
cm init — let the model study this repository and write AGENTS.md

Usage: cm init [--model PROVIDER/MODEL] [--yes] [--write-config] [-q]

AGENTS.md tells coding agents (cm included: it reads AGENTS.md into its system prompt)
how to build and test the project, how it is laid out and which conventions it follows.
cm init runs one agent task, like `cm run`, that reads the README, the build files and
some sources, then writes AGENTS.md at the repository root. Writing AGENTS.md is allowed
without asking; any other change or command asks first, as in `cm run`.

Options:
  -m, --model PROVIDER/MODEL   the model (default: as for `cm run`)
  -y, --yes, --force           replace an existing AGENTS.md without asking (without a
                               terminal, cm init refuses to replace one otherwise)
      --write-config           record the model in the project's cm.json (\"model\")
  -q, --quiet                  print only the model's answer

Examples:
  cm init
  cm init --model openai/gpt-5 --write-config
  cm init --yes                 regenerate AGENTS.md

Exit codes: 0 done (or kept as it was) · 1 the task failed or wrote nothing ·
2 usage or configuration error, or AGENTS.md exists without a terminal or --yes ·
130 interrupted
";
