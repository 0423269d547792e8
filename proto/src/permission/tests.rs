use super::*;

fn rules(entries: &[(&str, &str, Action)]) -> Rules {
    let mut rules = Rules::new();
    for (key, pattern, action) in entries {
        rules.add(key, pattern, *action);
    }
    rules
}

fn action(rules: &Rules, permission: &str, subject: &str) -> Action {
    rules.evaluate(permission, subject).action
}

fn rule(pattern: &str) -> Reason {
    Reason::Rule {
        pattern: pattern.to_string(),
    }
}

#[test]
fn defaults_allow_read_and_todo_and_ask_for_the_rest() {
    let rules = Rules::new();
    for key in ["read", "todo"] {
        assert_eq!(
            rules.evaluate(key, "x"),
            Evaluation {
                action: Action::Allow,
                reason: Reason::Default,
                also_needs: Vec::new(),
            }
        );
    }
    for key in [
        "edit",
        "bash",
        "webfetch",
        "external_directory",
        "doom_loop",
        "made_up",
    ] {
        assert_eq!(action(&rules, key, "x"), Action::Ask, "{key}");
    }
}

#[test]
fn a_key_set_to_one_action_applies_to_every_subject() {
    let mut rules = Rules::new();
    rules.set("edit", Action::Allow);
    rules.set("webfetch", Action::Deny);
    rules.set("read", Action::Ask);
    assert_eq!(rules.evaluate("edit", "src/main.rs").reason, rule("*"));
    assert_eq!(action(&rules, "edit", "src/main.rs"), Action::Allow);
    assert_eq!(action(&rules, "webfetch", "https://x"), Action::Deny);
    assert_eq!(action(&rules, "read", "a"), Action::Ask);
}

#[test]
fn set_replaces_earlier_patterns_of_the_key() {
    let mut rules = rules(&[("edit", "*.rs", Action::Deny)]);
    rules.set("edit", Action::Allow);
    assert_eq!(action(&rules, "edit", "a.rs"), Action::Allow);
}

#[test]
fn the_most_specific_pattern_decides() {
    let rules = rules(&[
        ("bash", "git *", Action::Allow),
        ("bash", "git push*", Action::Ask),
        ("bash", "*", Action::Ask),
    ]);
    let push = rules.evaluate("bash", "git push origin main");
    assert_eq!(push.action, Action::Ask);
    assert_eq!(push.reason, rule("git push*"));
    let status = rules.evaluate("bash", "git status");
    assert_eq!(status.action, Action::Allow);
    assert_eq!(status.reason, rule("git *"));
    assert_eq!(rules.evaluate("bash", "make").reason, rule("*"));
}

#[test]
fn question_marks_are_not_literal_characters() {
    // `ls -?` has 4 literal characters, `ls *` has 3.
    let rules = rules(&[
        ("bash", "ls -?", Action::Ask),
        ("bash", "ls *", Action::Allow),
    ]);
    assert_eq!(action(&rules, "bash", "ls -l"), Action::Ask);
    assert_eq!(action(&rules, "bash", "ls src"), Action::Allow);
}

#[test]
fn a_tie_in_specificity_goes_to_the_later_rule() {
    // Both have three literal characters.
    let allow_last = rules(&[
        ("bash", "* -r", Action::Ask),
        ("bash", "rm *", Action::Allow),
    ]);
    assert_eq!(action(&allow_last, "bash", "rm -r"), Action::Allow);
    let ask_last = rules(&[
        ("bash", "rm *", Action::Allow),
        ("bash", "* -r", Action::Ask),
    ]);
    assert_eq!(action(&ask_last, "bash", "rm -r"), Action::Ask);
    assert_eq!(ask_last.evaluate("bash", "rm -r").reason, rule("* -r"));
}

#[test]
fn any_matching_deny_wins_over_more_specific_allows() {
    let rules = rules(&[
        ("bash", "rm *", Action::Deny),
        ("bash", "rm -rf target/debug", Action::Allow),
    ]);
    let evaluation = rules.evaluate("bash", "rm -rf target/debug");
    assert_eq!(evaluation.action, Action::Deny);
    assert_eq!(evaluation.reason, rule("rm *"));
}

#[test]
fn a_denied_key_cannot_be_granted_back() {
    let mut rules = Rules::new();
    rules.set("webfetch", Action::Deny);
    rules.grant("webfetch", "https://example.com");
    assert_eq!(
        action(&rules, "webfetch", "https://example.com"),
        Action::Deny
    );
}

#[test]
fn a_session_grant_allows_exactly_that_subject() {
    let mut rules = Rules::new();
    rules.grant("edit", "src/*.rs");
    let granted = rules.evaluate("edit", "src/*.rs");
    assert_eq!(granted.action, Action::Allow);
    assert_eq!(
        granted.reason,
        Reason::Granted {
            subject: "src/*.rs".into()
        }
    );
    // Granted text is literal: the `*` is not a wildcard.
    assert_eq!(action(&rules, "edit", "src/main.rs"), Action::Ask);
}

#[test]
fn a_session_grant_beats_the_key_default_and_a_catch_all_ask() {
    let mut rules = Rules::new();
    rules.set("bash", Action::Ask);
    rules.grant("bash", "cargo  test");
    // Stored as words, so spacing does not matter.
    assert_eq!(action(&rules, "bash", "cargo test"), Action::Allow);
    assert_eq!(action(&rules, "bash", "cargo test --release"), Action::Ask);
}

#[test]
fn a_grant_of_a_line_grants_each_of_its_commands() {
    let mut rules = Rules::new();
    rules.set("bash", Action::Ask);
    rules.grant("bash", "cargo build && sudo  cargo test");
    let granted: Vec<&str> = rules.rules("bash")[1..]
        .iter()
        .map(|r| r.pattern.as_str())
        .collect();
    assert_eq!(granted, ["cargo build", "sudo cargo test", "cargo test"]);
    assert_eq!(
        action(&rules, "bash", "cargo build; cargo test"),
        Action::Allow
    );
    assert_eq!(action(&rules, "bash", "cargo build && make"), Action::Ask);
}

#[test]
fn a_line_that_cannot_be_analysed_cannot_be_granted() {
    let mut rules = Rules::new();
    rules.grant("bash", "eval cargo test");
    rules.grant("bash", "echo 'unclosed");
    assert!(rules.rules("bash").is_empty());
    assert_eq!(action(&rules, "bash", "eval cargo test"), Action::Ask);
}

#[test]
fn a_grant_with_unknown_parts_allows_that_text_again() {
    let mut rules = Rules::new();
    rules.grant("bash", "ls \"$HOME\"");
    assert_eq!(rules.rules("bash")[0].pattern, "ls $HOME");
    assert_eq!(action(&rules, "bash", "ls $HOME"), Action::Allow);
    assert_eq!(action(&rules, "bash", "ls $PWD"), Action::Ask);
}

#[test]
fn yes_mode_turns_ask_into_allow_and_keeps_the_reason() {
    let mut rules = rules(&[("bash", "git push*", Action::Ask)]);
    rules.set_yes(true);
    let evaluation = rules.evaluate("bash", "git push");
    assert_eq!(evaluation.action, Action::Allow);
    assert_eq!(
        evaluation.reason,
        Reason::Yes {
            instead_of: Box::new(rule("git push*"))
        }
    );
    assert_eq!(action(&rules, "edit", "a.rs"), Action::Allow);
}

#[test]
fn yes_mode_never_overrides_deny() {
    let mut rules = rules(&[("bash", "rm *", Action::Deny)]);
    rules.set("webfetch", Action::Deny);
    rules.set_yes(true);
    assert_eq!(action(&rules, "bash", "rm -rf /"), Action::Deny);
    assert_eq!(action(&rules, "webfetch", "https://x"), Action::Deny);
    // Nor does it turn a line it cannot judge into allow while a deny rule exists.
    assert_eq!(action(&rules, "bash", "ls; rm -rf /"), Action::Deny);
    assert_eq!(action(&rules, "bash", "eval ls"), Action::Deny);
}

/// The bash check, line by line, against `ls*`, `git status*`, `echo *`, `cat *` allow,
/// with and without `rm *` deny. The full corpus is `proto/tests/bash_corpus.json`.
#[test]
fn bash_check() {
    let allows = [
        ("bash", "ls*", Action::Allow),
        ("bash", "git status*", Action::Allow),
        ("bash", "echo *", Action::Allow),
        ("bash", "cat *", Action::Allow),
    ];
    let without_deny = rules(&allows);
    let mut with_deny = rules(&allows);
    with_deny.add("bash", "rm *", Action::Deny);

    use Action::{Allow, Ask, Deny};
    // (line, without a deny rule, with `rm *` deny)
    let cases = [
        ("ls -la", Allow, Allow),
        ("git  status   --short", Allow, Allow),
        ("rm -rf /", Ask, Deny),
        ("'r'm -rf /", Ask, Deny),
        ("/bin/rm -rf /", Ask, Deny),
        ("ls; rm x", Ask, Deny),
        ("ls | xargs rm", Ask, Deny),
        ("echo \"$(rm x)\"", Ask, Deny),
        ("sudo rm x", Ask, Deny),
        ("sh -c 'rm x'", Ask, Deny),
        ("ls && cat x | echo y", Allow, Allow),
        ("ls $HOME", Allow, Allow),
        ("cat -n <file", Allow, Allow),
        ("echo \"a;b\"", Allow, Allow),
        ("ls # ; rm x", Allow, Allow),
        // Not analysable: ask, whatever the deny rules (yes mode is another test).
        ("eval ls", Ask, Ask),
        ("echo 'unclosed", Ask, Ask),
        ("$CMD x", Ask, Ask),
        ("lsblk", Allow, Allow),
        ("make", Ask, Ask),
        ("", Ask, Ask),
    ];
    for (line, plain, denied) in cases {
        assert_eq!(action(&without_deny, "bash", line), plain, "{line:?}");
        assert_eq!(action(&with_deny, "bash", line), denied, "{line:?}");
    }
}

#[test]
fn a_line_that_cannot_be_analysed_says_why_and_in_yes_mode_names_the_deny_rule() {
    let plain = Rules::new();
    assert_eq!(
        plain.evaluate("bash", "eval ls"),
        Evaluation {
            action: Action::Ask,
            reason: Reason::NotSimple {
                why: "`eval` runs code the line does not show".into(),
                deny_rule: None,
            },
            also_needs: Vec::new(),
        }
    );
    let mut denied = rules(&[("bash", "git push*", Action::Deny)]);
    assert_eq!(action(&denied, "bash", "ls && eval ls"), Action::Ask);
    denied.set_yes(true);
    assert_eq!(
        denied.evaluate("bash", "ls && eval ls"),
        Evaluation {
            action: Action::Deny,
            reason: Reason::NotSimple {
                why: "`eval` runs code the line does not show".into(),
                deny_rule: Some("git push*".into()),
            },
            also_needs: Vec::new(),
        }
    );
}

#[test]
fn yes_mode_allows_a_line_that_cannot_be_analysed_only_without_bash_deny_rules() {
    let mut plain = rules(&[("bash", "git push*", Action::Ask)]);
    plain.set_yes(true);
    assert_eq!(action(&plain, "bash", "eval cargo test"), Action::Allow);
    let mut denied = rules(&[("bash", "rm *", Action::Deny)]);
    denied.set_yes(true);
    assert_eq!(action(&denied, "bash", "eval cargo test"), Action::Deny);
}

#[test]
fn unknown_arguments_get_the_strictest_decision_they_could_lead_to() {
    let rules = rules(&[
        ("bash", "*", Action::Allow),
        ("bash", "git push*", Action::Ask),
        ("bash", "rm -rf /*", Action::Deny),
    ]);
    assert_eq!(action(&rules, "bash", "git $SUB"), Action::Ask);
    assert_eq!(action(&rules, "bash", "git status $ARGS"), Action::Allow);
    assert_eq!(action(&rules, "bash", "rm -rf $DIR"), Action::Deny);
    assert_eq!(action(&rules, "bash", "rm -rf ./$DIR"), Action::Allow);
    // A more specific rule that surely matches is not overruled by a less specific one.
    let ls = self::rules(&[("bash", "*", Action::Ask), ("bash", "ls *", Action::Allow)]);
    assert_eq!(action(&ls, "bash", "ls $DIR"), Action::Allow);
}

#[test]
fn an_output_redirection_also_needs_edit_for_the_file() {
    let mut rules = Rules::new();
    rules.set("bash", Action::Allow);
    let evaluation = rules.evaluate("bash", "cargo test > out.txt 2>&1; ls 2>/dev/null");
    assert_eq!(evaluation.action, Action::Allow);
    assert_eq!(
        evaluation.also_needs,
        [Need {
            permission: "edit".into(),
            subject: "out.txt".into()
        }]
    );
    let json = serde_json::to_string(&evaluation).unwrap();
    assert!(
        json.ends_with(r#""also_needs":[{"permission":"edit","subject":"out.txt"}]}"#),
        "{json}"
    );
    rules.set_yes(true);
    rules.set("bash", Action::Ask);
    assert_eq!(rules.evaluate("bash", "ls > a").also_needs.len(), 1);
}

#[test]
fn bash_set_to_allow_allows_any_line_but_any_other_rule_brings_back_ask() {
    let mut everything = Rules::new();
    everything.set("bash", Action::Allow);
    assert_eq!(
        action(&everything, "bash", "cargo build && cargo test"),
        Action::Allow
    );
    assert_eq!(action(&everything, "bash", "eval ls"), Action::Allow);
    everything.add("bash", "git push*", Action::Ask);
    assert_eq!(action(&everything, "bash", "ls && git push"), Action::Ask);
    // `eval git push` would escape the ask rule if allowed.
    assert_eq!(action(&everything, "bash", "eval ls"), Action::Ask);
}

#[test]
fn a_command_named_by_path_gets_the_stricter_of_its_two_names() {
    let rules = rules(&[
        ("bash", "*", Action::Allow),
        ("bash", "git push*", Action::Ask),
        ("bash", "ls*", Action::Allow),
    ]);
    assert_eq!(action(&rules, "bash", "/usr/bin/git push"), Action::Ask);
    // `./ls` is a program in the workspace, not `ls`: `*` allows it here, but nothing
    // about `ls*` could make it stricter.
    assert_eq!(action(&rules, "bash", "./ls -la"), Action::Allow);
}

#[test]
fn other_keys_match_the_subject_as_written() {
    let rules = rules(&[
        ("edit", "*", Action::Allow),
        ("edit", "*.lock", Action::Deny),
        ("external_directory", "/tmp/*", Action::Allow),
    ]);
    assert_eq!(action(&rules, "edit", "Cargo.lock"), Action::Deny);
    assert_eq!(action(&rules, "edit", "src/a; b.rs"), Action::Allow);
    assert_eq!(
        action(&rules, "external_directory", "/tmp/x"),
        Action::Allow
    );
    assert_eq!(
        action(&rules, "external_directory", "/etc/passwd"),
        Action::Ask
    );
}

#[test]
fn evaluations_serialise_for_the_audit_log() {
    let evaluation = Evaluation {
        action: Action::Allow,
        reason: Reason::Yes {
            instead_of: Box::new(Reason::Default),
        },
        also_needs: Vec::new(),
    };
    let json = serde_json::to_string(&evaluation).unwrap();
    assert_eq!(
        json,
        r#"{"action":"allow","reason":{"by":"yes","instead_of":{"by":"default"}}}"#
    );
    assert_eq!(
        serde_json::from_str::<Evaluation>(&json).unwrap(),
        evaluation
    );
}

#[test]
fn actions_parse_from_their_words() {
    for a in [Action::Allow, Action::Ask, Action::Deny] {
        assert_eq!(Action::parse(a.as_str()), Some(a));
    }
    assert_eq!(Action::parse("Allow"), None);
}
