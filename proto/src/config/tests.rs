use super::*;
use crate::permission::Action;

fn layer(text: &str) -> Layer {
    parse("cm.json", text).unwrap()
}

/// The error message for a config text.
fn error(text: &str) -> String {
    parse("cm.json", text).unwrap_err().to_string()
}

#[test]
fn a_full_config_with_comments_and_trailing_commas() {
    let text = r#"{
  // the default model
  "$schema": "https://example.invalid/cm.schema.json",
  "model": "anthropic/claude-sonnet-4-5",
  /* a local server */
  "provider": {
    "ollama": {
      "api": "openai-chat",
      "base_url": "http://localhost:11434/v1",
      "api_key": "{env:OLLAMA_KEY}",
      "headers": {"X-Title": "cm",},
      "models": {
        "qwen3": {"context": 32768, "output": 8192, "price": {"input": 0, "output": 0.5}},
      },
    },
  },
  "permission": {"edit": "allow", "bash": {"git status*": "allow", "rm *": "deny",}},
  "limits": {"max_steps": 20, "retries": 3, "idle_timeout_s": 30},
}"#;
    let layer = layer(text);
    assert_eq!(
        layer.model,
        Some(ModelRef {
            provider: "anthropic".into(),
            model: "claude-sonnet-4-5".into()
        })
    );
    let ollama = &layer.provider["ollama"];
    assert_eq!(ollama.api, Some(Api::OpenaiChat));
    assert_eq!(
        ollama.base_url.as_deref(),
        Some("http://localhost:11434/v1")
    );
    // Kept as written; the caller expands it.
    assert_eq!(ollama.api_key.as_deref(), Some("{env:OLLAMA_KEY}"));
    assert_eq!(ollama.headers["X-Title"], "cm");
    let qwen = &ollama.models["qwen3"];
    assert_eq!((qwen.context, qwen.output), (Some(32768), Some(8192)));
    let price = qwen.price.clone().unwrap();
    assert_eq!(
        (price.input, price.output, price.cache_read),
        (Some(0.0), Some(0.5), None)
    );
    assert_eq!(
        layer.permission["edit"],
        PermissionSetting::Action(Action::Allow)
    );
    assert_eq!(
        layer.permission["bash"],
        PermissionSetting::Patterns(vec![
            ("git status*".into(), Action::Allow),
            ("rm *".into(), Action::Deny),
        ])
    );
    let config = Config::from_layers([layer]);
    assert_eq!(
        (
            config.max_steps(),
            config.retries(),
            config.idle_timeout_ms()
        ),
        (20, 3, 30_000)
    );
}

#[test]
fn an_empty_object_gives_the_defaults() {
    let config = Config::from_layers([layer("{}")]);
    assert_eq!(config.model(), None);
    assert_eq!(config.max_steps(), 50);
    assert_eq!(config.retries(), 8);
    assert_eq!(config.idle_timeout_ms(), 120_000);
    assert_eq!(config.permission_rules(), Rules::new());
    assert_eq!(Config::from_layers([]), config);
}

#[test]
fn pattern_order_is_kept_as_written() {
    // Sorted order would put "* -r" first; the file's order is what decides ties.
    let layer = layer(r#"{"permission": {"bash": {"rm *": "allow", "* -r": "ask"}}}"#);
    let rules = Config::from_layers([layer]).permission_rules();
    assert_eq!(rules.evaluate("bash", "rm -r").action, Action::Ask);
}

#[test]
fn a_wrong_type_names_the_key_the_place_and_an_example() {
    let text = "{\n  \"limits\": {},\n\n  \"model\": 5\n}";
    let err = parse("cm.json", text).unwrap_err();
    assert_eq!((err.line, err.column), (4, 12));
    assert_eq!(
        err.to_string(),
        r#"cm.json:4:12: expected a string for "model", like "anthropic/claude-sonnet-4-5"; found the number 5"#
    );
    assert_eq!(
        err.kind,
        ConfigErrorKind::Schema {
            path: vec!["model".into()],
            problem: Problem::WrongType {
                expected: "a string".into(),
                found: "the number 5".into()
            }
        }
    );
}

#[test]
fn wrong_types_deeper_down() {
    assert_eq!(
        error(r#"{"limits": {"max_steps": "many"}}"#),
        r#"cm.json:1:26: expected a whole number for "max_steps", like 50; found the string "many""#
    );
    assert_eq!(
        error(r#"{"limits": {"retries": -1}}"#),
        r#"cm.json:1:24: expected a whole number for "retries", like 8; found the number -1"#
    );
    assert_eq!(
        error(r#"{"provider": {"x": {"models": {"m": {"price": {"output": "15"}}}}}}"#),
        r#"cm.json:1:58: expected a number for "output", like 3.75; found the string "15""#
    );
    assert_eq!(
        error(r#"{"provider": {"x": {"models": {"m": {"output": true}}}}}"#),
        r#"cm.json:1:48: expected a whole number for "output", like 64000; found true"#
    );
    assert_eq!(
        error(r#"{"provider": {"x": []}}"#),
        r#"cm.json:1:20: expected an object for "x", like {"api": "openai-chat", "base_url": "http://localhost:11434/v1"}; found an array"#
    );
    assert_eq!(
        error(r#"["model"]"#),
        r#"cm.json:1:1: expected an object at the top of the file, like {"model": "anthropic/claude-sonnet-4-5"}; found an array"#
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let err = parse("cm.json", "{\"$schema\": \"é\", \"model\": 5}").unwrap_err();
    assert_eq!((err.line, err.column), (1, 27));
}

#[test]
fn an_unknown_key_is_positioned_and_lists_the_known_ones() {
    let text = "{\n  \"modle\": \"a/b\"\n}";
    assert_eq!(
        error(text),
        r#"cm.json:2:3: unknown key "modle"; did you mean "model"?; the known keys are "$schema", "model", "provider", "permission", "limits", "compaction""#
    );
    assert_eq!(
        error(r#"{"provider": {"a": {"baseURL": "x"}}}"#),
        r#"cm.json:1:21: unknown key "baseURL" in "provider.a"; the known keys are "api", "base_url", "api_key", "headers", "models", "oauth""#
    );
    assert_eq!(
        error(r#"{"limits": {"max_step": 3}}"#),
        r#"cm.json:1:13: unknown key "max_step" in "limits"; did you mean "max_steps"?; the known keys are "max_steps", "retries", "idle_timeout_s""#
    );
}

#[test]
fn unknown_words_list_the_allowed_ones() {
    assert_eq!(
        error(r#"{"provider": {"a": {"api": "openai"}}}"#),
        r#"cm.json:1:28: unknown value "openai" for "api"; use one of "anthropic", "openai-responses", "openai-chat", "gemini""#
    );
    assert_eq!(
        error(r#"{"permission": {"edit": "yes"}}"#),
        r#"cm.json:1:25: unknown value "yes" for "edit"; use one of "allow", "ask", "deny""#
    );
    assert_eq!(
        error(r#"{"permission": {"bash": {"ls*": "always"}}}"#),
        r#"cm.json:1:33: unknown value "always" for "ls*"; use one of "allow", "ask", "deny""#
    );
    assert_eq!(
        error(r#"{"permission": {"bash": 1}}"#),
        r#"cm.json:1:25: expected "allow", "ask", "deny" or an object of pattern → action for "bash", like "ask" or {"git status*": "allow"}; found the number 1"#
    );
}

#[test]
fn a_bad_model_ref_says_how_to_write_it() {
    assert_eq!(
        error("{\"model\":\n  \"claude-sonnet-4-5\"}"),
        r#"cm.json:2:3: "model": "claude-sonnet-4-5" names no provider; write "provider/model", like "anthropic/claude-sonnet-4-5""#
    );
}

#[test]
fn syntax_errors_are_positioned() {
    let cases = [
        (
            "{\n  \"model\": \"a/b\"\n  \"limits\": {}\n}",
            "cm.json:3:3: expected `,` or `}` after a value, found `\"`",
        ),
        (
            "{\n  /* unclosed\n}",
            "cm.json:2:3: this `/*` comment is never closed; add `*/`",
        ),
        (
            "{\"model\": 'a/b'}",
            "cm.json:1:11: expected a value (a string in double quotes, a number, true, false, null, an object or an array), found `'`",
        ),
        (
            "{\"model\": \"a/b\",\n \"model\": \"c/d\"}",
            "cm.json:2:2: the key \"model\" appears twice in this object; keep one",
        ),
        ("", "cm.json:1:1: expected a value (a string in double quotes, a number, true, false, null, an object or an array), but the file ends here"),
        ("{\"model\": \"a/b\"", "cm.json:1:16: expected `,` or `}` after a value, but the file ends here"),
    ];
    for (text, message) in cases {
        assert_eq!(error(text), message, "{text:?}");
    }
}

#[test]
fn later_layers_win_key_by_key() {
    let global = layer(
        r#"{
        "model": "anthropic/claude-sonnet-4-5",
        "provider": {"anthropic": {"api_key": "{env:A}", "headers": {"X-A": "1"},
                                   "models": {"m": {"context": 1000, "price": {"input": 1, "output": 2}}}}},
        "permission": {"edit": "allow", "webfetch": {"https://docs.rs/*": "allow"},
                       "bash": {"git *": "allow", "rm *": "deny"}},
        "limits": {"max_steps": 10, "retries": 2}
    }"#,
    );
    let project = layer(
        r#"{
        "model": "openai/gpt-5",
        "provider": {"anthropic": {"base_url": "http://127.0.0.1:9", "headers": {"X-B": "2"},
                                   "models": {"m": {"output": 10, "price": {"output": 3}}}},
                     "local": {"api": "openai-chat"}},
        "permission": {"webfetch": "deny", "bash": {"git *": "ask", "ls*": "allow"}},
        "limits": {"retries": 5}
    }"#,
    );
    let config = Config::from_layers([global, project]);
    assert_eq!(
        config.model().map(ToString::to_string).as_deref(),
        Some("openai/gpt-5")
    );
    let anthropic = config.provider("anthropic").unwrap();
    assert_eq!(anthropic.api_key.as_deref(), Some("{env:A}"));
    assert_eq!(anthropic.base_url.as_deref(), Some("http://127.0.0.1:9"));
    assert_eq!(anthropic.headers.len(), 2);
    let m = config.model_config("anthropic", "m").unwrap();
    assert_eq!((m.context, m.output), (Some(1000), Some(10)));
    let price = m.price.clone().unwrap();
    assert_eq!((price.input, price.output), (Some(1.0), Some(3.0)));
    assert_eq!(config.provider("local").unwrap().api, Some(Api::OpenaiChat));
    assert_eq!((config.max_steps(), config.retries()), (10, 5));

    let perms = &config.layer().permission;
    assert_eq!(perms["edit"], PermissionSetting::Action(Action::Allow));
    // A string replaces a map.
    assert_eq!(perms["webfetch"], PermissionSetting::Action(Action::Deny));
    // Maps merge; a pattern set again moves to the end.
    assert_eq!(
        perms["bash"],
        PermissionSetting::Patterns(vec![
            ("rm *".into(), Action::Deny),
            ("git *".into(), Action::Ask),
            ("ls*".into(), Action::Allow),
        ])
    );
    let rules = config.permission_rules();
    assert_eq!(rules.evaluate("bash", "git status").action, Action::Ask);
    assert_eq!(rules.evaluate("bash", "rm x").action, Action::Deny);
    assert_eq!(
        rules.evaluate("webfetch", "https://docs.rs/x").action,
        Action::Deny
    );
}

#[test]
fn env_references_expand_through_the_lookup() {
    let lookup = |name: &str| match name {
        "KEY" => Some("sk-123".to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    assert_eq!(expand_env("{env:KEY}", lookup), Ok("sk-123".into()));
    assert_eq!(
        expand_env("Bearer {env:KEY}/{env:EMPTY}!", lookup),
        Ok("Bearer sk-123/!".into())
    );
    assert_eq!(
        expand_env("no refs {here}", lookup),
        Ok("no refs {here}".into())
    );
    assert_eq!(
        expand_env("{env:MISSING}", lookup),
        Err(EnvError::Unset {
            var: "MISSING".into()
        })
    );
    assert_eq!(
        expand_env("x{env:KEY", lookup),
        Err(EnvError::Unclosed { at: 1 })
    );
    assert_eq!(
        expand_env("{env:A B}", lookup),
        Err(EnvError::InvalidName { name: "A B".into() })
    );
    assert_eq!(
        expand_env("{env:}", lookup),
        Err(EnvError::InvalidName { name: "".into() })
    );
    assert_eq!(
        EnvError::Unset { var: "X".into() }.to_string(),
        "the environment variable X is not set"
    );
}

#[test]
fn model_refs_split_at_the_first_slash() {
    let r = ModelRef::parse("openrouter/anthropic/claude-sonnet-4-5").unwrap();
    assert_eq!(r.provider, "openrouter");
    assert_eq!(r.model, "anthropic/claude-sonnet-4-5");
    assert_eq!(r.to_string(), "openrouter/anthropic/claude-sonnet-4-5");
    assert_eq!(
        ModelRef::parse("gpt-5"),
        Err(ModelRefError::NoProvider {
            text: "gpt-5".into()
        })
    );
    assert_eq!(
        ModelRef::parse("/gpt-5"),
        Err(ModelRefError::EmptyProvider {
            text: "/gpt-5".into()
        })
    );
    assert_eq!(
        ModelRef::parse("openai/"),
        Err(ModelRefError::EmptyModel {
            text: "openai/".into()
        })
    );
    assert_eq!(
        ModelRef::parse("gpt-5").unwrap_err().to_string(),
        r#""gpt-5" names no provider; write "provider/model", like "anthropic/claude-sonnet-4-5""#
    );
}

#[test]
fn huge_numbers_and_odd_input_never_panic() {
    let texts = [
        r#"{"limits": {"idle_timeout_s": 18446744073709551615}}"#,
        r#"{"limits": {"max_steps": 1e400}}"#,
        r#"{"limits": {"max_steps": 99999999999999999999}}"#,
        "\u{feff}{}",
        "{\"model\": \"\u{0}\"}",
        "{\"model\": \"a/b\"}\u{0}",
    ];
    for text in texts {
        let _ = parse("cm.json", text);
    }
    let config = Config::from_layers([layer(texts[0])]);
    assert_eq!(config.idle_timeout_ms(), u64::MAX);
}

#[test]
fn compaction_is_on_unless_a_layer_turns_it_off() {
    assert!(Config::from_layers([layer("{}")]).compaction());
    let off = layer(r#"{"compaction": false}"#);
    assert_eq!(off.compaction, Some(false));
    assert!(!Config::from_layers([layer(r#"{"compaction": true}"#), off.clone()]).compaction());
    assert!(
        !Config::from_layers([off, layer("{}")]).compaction(),
        "a layer that does not say keeps the earlier setting"
    );
    assert!(error(r#"{"compaction": "no"}"#).contains("compaction"));
}

#[test]
fn a_model_may_set_its_reasoning_effort_and_a_later_layer_overrides_it() {
    use crate::provider::Effort;
    let global = layer(r#"{"provider": {"openai": {"models": {"o3": {"effort": "low"}}}}}"#);
    let project = layer(r#"{"provider": {"openai": {"models": {"o3": {"effort": "high"}}}}}"#);
    let only_global = Config::from_layers([global.clone()]);
    assert_eq!(
        only_global
            .model_config("openai", "o3")
            .and_then(|m| m.effort),
        Some(Effort::Low)
    );
    let both = Config::from_layers([global, project]);
    assert_eq!(
        both.model_config("openai", "o3").and_then(|m| m.effort),
        Some(Effort::High)
    );
    assert!(
        error(r#"{"provider": {"openai": {"models": {"o3": {"effort": "max"}}}}}"#)
            .contains("effort")
    );
}
