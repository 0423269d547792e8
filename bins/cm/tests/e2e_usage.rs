//! The real `cm` binary on bad input that never reaches a model: usage and configuration
//! errors exit 2 and say what to do instead.

mod common;

use common::Sandbox;

#[test]
fn version_and_help_teach_the_commands() {
    let sandbox = Sandbox::new("help");
    let version = sandbox.cm(&["--version"]);
    version.expect_code(0);
    assert!(version.stdout.starts_with("cm "), "{}", version.stdout);
    let help = sandbox.cm(&["run", "--help"]);
    help.expect_code(0);
    for want in [
        "--model",
        "--continue",
        "--format",
        "Exit codes",
        "ANTHROPIC_API_KEY",
        "cm.json",
    ] {
        assert!(help.stdout.contains(want), "cm run --help lacks {want}");
    }
}

#[test]
fn a_usage_error_exits_2_and_says_what_to_type() {
    let sandbox = Sandbox::new("usage");
    let run = sandbox.cm(&["run", "--max-step", "3", "hi"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("did you mean --max-steps?"),
        "{}",
        run.stderr
    );
    let unknown = sandbox.cm(&["fix", "it"]);
    unknown.expect_code(2);
    assert!(
        unknown.stderr.contains("cm run \"fix ...\""),
        "{}",
        unknown.stderr
    );
}

#[test]
fn an_unknown_provider_lists_the_known_ones() {
    let mut sandbox = Sandbox::new("unknown-provider");
    sandbox.env("ANTHROPIC_API_KEY", "k");
    sandbox.write(
        "cm.json",
        r#"{"provider": {"ollama": {"base_url": "http://127.0.0.1:1/v1"}}}"#,
    );
    let run = sandbox.cm(&["run", "--model", "olama/qwen3", "hi"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(
            "unknown provider `olama`; the known providers are anthropic, openai, google, \
             github-copilot, mistral, ollama, lmstudio, llama-cpp, openrouter, groq, deepseek, \
             xai, togetherai, fireworks-ai, cerebras"
        ),
        "{}",
        run.stderr
    );
    assert!(
        sandbox.session_files().is_empty(),
        "no session for a usage error"
    );
}

#[test]
fn missing_credentials_name_the_variable_and_auth_login() {
    let sandbox = Sandbox::new("no-key");
    let run = sandbox.cm(&["run", "--model", "openai/gpt-5", "hi"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("set OPENAI_API_KEY") && run.stderr.contains("cm auth login"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_config_error_names_file_line_and_column() {
    let mut sandbox = Sandbox::new("bad-config");
    sandbox.env("ANTHROPIC_API_KEY", "k");
    sandbox.global_config("{\n  // mine\n  \"limits\": {\"max_step\": 5}\n}");
    let run = sandbox.cm(&["run", "hi"]);
    run.expect_code(2);
    let file = sandbox.root().join("config/cm/config.json");
    assert!(
        run.stderr.contains(&format!(
            "{}:3:14: unknown key \"max_step\"",
            file.display()
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean \"max_steps\"?"),
        "{}",
        run.stderr
    );
}

#[test]
fn no_prompt_says_how_to_give_one() {
    let mut sandbox = Sandbox::new("no-prompt");
    sandbox.env("ANTHROPIC_API_KEY", "k");
    let run = sandbox.cm(&["run"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("echo \"explain src/main.rs\" | cm run"),
        "{}",
        run.stderr
    );
}

#[test]
fn continue_without_a_session_says_so() {
    let mut sandbox = Sandbox::new("no-session");
    sandbox.env("ANTHROPIC_API_KEY", "k");
    let run = sandbox.cm(&["run", "-c", "go on"]);
    run.expect_code(2);
    assert!(run.stderr.contains("nothing to continue"), "{}", run.stderr);
}
