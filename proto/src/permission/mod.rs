//! Permission rules: allow, ask or deny, per permission key and subject.
//!
//! A tool names a permission key (`read`, `edit`, `bash`, `webfetch`, `todo`,
//! `external_directory`, `doom_loop`) and a subject (a path, a URL, a command line).
//! [`Rules::evaluate`] decides:
//!
//! 1. any matching deny rule wins;
//! 2. otherwise the most specific matching pattern decides (most literal characters; on a
//!    tie the later rule);
//! 3. otherwise the key's default: `read` and `todo` allow, everything else ask.
//!
//! A key set to one action is a catch-all rule `*`, so more specific patterns and session
//! grants still beat it — except a deny, which always wins. In yes mode (`--yes`) an ask
//! becomes allow; a deny stays a deny.
//!
//! `bash` subjects are command lines, split by [`bash_line`]. A line that is not one
//! simple command is ask, and deny whenever any deny rule exists for `bash`, so a rule can
//! never be escaped by writing the command differently.

pub mod bash_line;
pub mod wildcard;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use bash_line::NotSimple;

/// What to do with a tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Run it.
    Allow,
    /// Ask the user first.
    Ask,
    /// Refuse it.
    Deny,
}

impl Action {
    /// Parses `allow`, `ask` or `deny`.
    pub fn parse(text: &str) -> Option<Action> {
        match text {
            "allow" => Some(Action::Allow),
            "ask" => Some(Action::Ask),
            "deny" => Some(Action::Deny),
            _ => None,
        }
    }

    /// The word for this action.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Ask => "ask",
            Action::Deny => "deny",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule of a permission key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// A wildcard pattern, or the exact subject for a session grant.
    pub pattern: String,
    /// What a match means.
    pub action: Action,
    /// Granted in this session ("allow always"): `pattern` is matched literally, so a
    /// granted `ls *.rs` does not allow `ls x.rs`.
    pub granted: bool,
}

impl Rule {
    fn matches(&self, subject: &str) -> bool {
        if self.granted {
            self.pattern == subject
        } else {
            wildcard::matches(&self.pattern, subject)
        }
    }

    fn specificity(&self) -> usize {
        if self.granted {
            self.pattern.chars().count()
        } else {
            wildcard::specificity(&self.pattern)
        }
    }

    fn reason(&self) -> Reason {
        if self.granted {
            Reason::Granted {
                subject: self.pattern.clone(),
            }
        } else {
            Reason::Rule {
                pattern: self.pattern.clone(),
            }
        }
    }
}

/// Why an evaluation came out as it did, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Reason {
    /// A configured pattern matched.
    Rule {
        /// The pattern, as written.
        pattern: String,
    },
    /// The user allowed this exact subject earlier in the session.
    Granted {
        /// The subject granted.
        subject: String,
    },
    /// No rule matched; the key's default applied.
    Default,
    /// The bash line is not one simple command.
    NotSimple {
        /// What made it so, in words.
        why: String,
        /// The bash deny rule that turned ask into deny, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deny_rule: Option<String>,
    },
    /// Yes mode turned an ask into an allow.
    Yes {
        /// Why it would have asked.
        instead_of: Box<Reason>,
    },
}

/// The result of [`Rules::evaluate`]: the action and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// What to do.
    pub action: Action,
    /// Why.
    pub reason: Reason,
}

/// The permission rules in force: configured patterns, session grants, yes mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    keys: BTreeMap<String, Vec<Rule>>,
    yes: bool,
}

impl Rules {
    /// No rules: every key has its default.
    pub fn new() -> Rules {
        Rules::default()
    }

    /// The action of a key with no matching rule: allow for `read` and `todo`, else ask.
    pub fn default_action(permission: &str) -> Action {
        match permission {
            "read" | "todo" => Action::Allow,
            _ => Action::Ask,
        }
    }

    /// Sets a whole key to one action, replacing its rules (the config form `"edit": "allow"`).
    pub fn set(&mut self, permission: &str, action: Action) {
        self.keys.insert(
            permission.to_string(),
            vec![Rule {
                pattern: "*".to_string(),
                action,
                granted: false,
            }],
        );
    }

    /// Appends a wildcard rule; later rules win ties of specificity.
    pub fn add(&mut self, permission: &str, pattern: &str, action: Action) {
        self.keys
            .entry(permission.to_string())
            .or_default()
            .push(Rule {
                pattern: pattern.to_string(),
                action,
                granted: false,
            });
    }

    /// Records "allow always" for this exact subject. A bash line is stored as its
    /// simple command's words (so spacing does not matter); a line that is not one
    /// simple command cannot be granted and is ignored.
    pub fn grant(&mut self, permission: &str, subject: &str) {
        let subject = if permission == "bash" {
            match bash_line::split(subject).as_deref() {
                Ok([command]) => command.subject(),
                _ => return,
            }
        } else {
            subject.to_string()
        };
        self.keys
            .entry(permission.to_string())
            .or_default()
            .push(Rule {
                pattern: subject,
                action: Action::Allow,
                granted: true,
            });
    }

    /// Turns yes mode (`--yes`) on or off: ask becomes allow, deny stays deny.
    pub fn set_yes(&mut self, yes: bool) {
        self.yes = yes;
    }

    /// Whether yes mode is on.
    pub fn yes(&self) -> bool {
        self.yes
    }

    /// The rules of one key, in order.
    pub fn rules(&self, permission: &str) -> &[Rule] {
        self.keys.get(permission).map_or(&[], Vec::as_slice)
    }

    /// Decides a tool call with this permission key and subject.
    pub fn evaluate(&self, permission: &str, subject: &str) -> Evaluation {
        let evaluation = if permission == "bash" {
            self.evaluate_bash(subject)
        } else {
            self.evaluate_subject(permission, subject)
        };
        self.apply_yes(evaluation)
    }

    fn apply_yes(&self, evaluation: Evaluation) -> Evaluation {
        if self.yes && evaluation.action == Action::Ask {
            Evaluation {
                action: Action::Allow,
                reason: Reason::Yes {
                    instead_of: Box::new(evaluation.reason),
                },
            }
        } else {
            evaluation
        }
    }

    fn evaluate_subject(&self, permission: &str, subject: &str) -> Evaluation {
        let mut best: Option<(usize, &Rule)> = None;
        for rule in self.rules(permission) {
            if !rule.matches(subject) {
                continue;
            }
            if rule.action == Action::Deny {
                return Evaluation {
                    action: Action::Deny,
                    reason: rule.reason(),
                };
            }
            let specificity = rule.specificity();
            if best.is_none_or(|(best, _)| specificity >= best) {
                best = Some((specificity, rule));
            }
        }
        match best {
            Some((_, rule)) => Evaluation {
                action: rule.action,
                reason: rule.reason(),
            },
            None => Evaluation {
                action: Rules::default_action(permission),
                reason: Reason::Default,
            },
        }
    }

    /// Every simple command of the line is checked, each under its text and, when named
    /// by path, its base name; the line gets the strictest result.
    fn evaluate_bash(&self, line: &str) -> Evaluation {
        let commands = match bash_line::split(line) {
            Ok(commands) => commands,
            Err(why) => return self.evaluate_not_simple(&why),
        };
        let mut strictest: Option<Evaluation> = None;
        for command in &commands {
            let subjects = std::iter::once(command.subject()).chain(command.subject_by_base_name());
            for subject in subjects {
                let evaluation = self.evaluate_subject("bash", &subject);
                if strictest
                    .as_ref()
                    .is_none_or(|s| evaluation.action > s.action)
                {
                    strictest = Some(evaluation);
                }
            }
        }
        strictest.unwrap_or_else(|| self.evaluate_subject("bash", ""))
    }

    fn evaluate_not_simple(&self, why: &NotSimple) -> Evaluation {
        let rules = self.rules("bash");
        if let Some(deny) = rules.iter().find(|r| r.action == Action::Deny) {
            return Evaluation {
                action: Action::Deny,
                reason: Reason::NotSimple {
                    why: why.to_string(),
                    deny_rule: Some(deny.pattern.clone()),
                },
            };
        }
        // Only when bash allows everything could no part of the line be refused.
        let allows_everything = rules.iter().all(|r| r.action == Action::Allow)
            && rules
                .iter()
                .any(|r| !r.granted && r.pattern.chars().all(|c| c == '*'));
        if allows_everything {
            return Evaluation {
                action: Action::Allow,
                reason: Reason::Rule {
                    pattern: "*".to_string(),
                },
            };
        }
        Evaluation {
            action: Action::Ask,
            reason: Reason::NotSimple {
                why: why.to_string(),
                deny_rule: None,
            },
        }
    }
}

#[cfg(test)]
mod tests;
