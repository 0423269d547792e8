//! The bash permission corpus (`bash_corpus.json`): bypass attempts and lines that must stay
//! allowed, each checked against its config for the exact action and `edit` needs.

use std::collections::BTreeMap;

use cm_proto::config::PermissionSetting;
use cm_proto::permission::{Action, Rules};
use serde::Deserialize;

#[derive(Deserialize)]
struct Corpus {
    configs: BTreeMap<String, BTreeMap<String, PermissionSetting>>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    line: String,
    config: String,
    #[serde(default)]
    yes: bool,
    expect: Action,
    #[serde(default)]
    edit: Vec<String>,
    why: String,
}

fn corpus() -> Corpus {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bash_corpus.json");
    let text = std::fs::read_to_string(path).expect("corpus file");
    serde_json::from_str(&text).expect("corpus parses")
}

/// Rules as `Config::permission_rules` builds them from a `permission` section.
fn rules(section: &BTreeMap<String, PermissionSetting>, yes: bool) -> Rules {
    let mut rules = Rules::new();
    for (key, setting) in section {
        match setting {
            PermissionSetting::Action(action) => rules.set(key, *action),
            PermissionSetting::Patterns(patterns) => {
                for (pattern, action) in patterns {
                    rules.add(key, pattern, *action);
                }
            }
        }
    }
    rules.set_yes(yes);
    rules
}

#[test]
fn every_case_gets_its_expected_decision() {
    let corpus = corpus();
    let mut failures = Vec::new();
    for case in &corpus.cases {
        let section = corpus
            .configs
            .get(&case.config)
            .unwrap_or_else(|| panic!("no config {:?}", case.config));
        let evaluation = rules(section, case.yes).evaluate("bash", &case.line);
        let edit: Vec<&str> = evaluation
            .also_needs
            .iter()
            .inspect(|need| assert_eq!(need.permission, "edit"))
            .map(|need| need.subject.as_str())
            .collect();
        if evaluation.action != case.expect || edit != case.edit {
            failures.push(format!(
                "{:?} [{}{}]: expected {} {:?}, got {} {:?} ({:?}) — {}",
                case.line,
                case.config,
                if case.yes { ", yes" } else { "" },
                case.expect,
                case.edit,
                evaluation.action,
                edit,
                evaluation.reason,
                case.why
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_corpus_holds_at_least_forty_bypass_attempts_and_allowed_lines() {
    let corpus = corpus();
    let refused = corpus
        .cases
        .iter()
        .filter(|c| c.expect != Action::Allow)
        .count();
    let allowed = corpus
        .cases
        .iter()
        .filter(|c| c.expect == Action::Allow)
        .count();
    assert!(refused >= 40, "{refused} refused cases");
    assert!(allowed >= 10, "{allowed} allowed cases");
}

#[test]
fn no_case_is_listed_twice() {
    let corpus = corpus();
    let mut seen = std::collections::BTreeSet::new();
    for case in &corpus.cases {
        assert!(
            seen.insert((&case.line, &case.config, case.yes)),
            "duplicate {:?}",
            case.line
        );
    }
}
