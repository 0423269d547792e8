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
//! `bash` subjects are command lines, analysed by [`shell`]: every simple command the line
//! runs is checked (inside `&&`, `|`, `$( )`, `sh -c`, `sudo`, `find -exec`, ...), each as
//! written and by its base name, and the line gets the strictest result. Parts only known
//! when the line runs (`$HOME`, a glob) may be any text: a deny that could match denies,
//! and the decision is the strictest the unknown text could lead to. A line that cannot be
//! analysed (`eval`, a here-document, an unclosed quote) is ask; in yes mode it is deny
//! whenever a deny rule exists for `bash`, so no rule is escaped by obscurity. A line that
//! writes files by redirection also needs `edit` for each: see [`Evaluation::also_needs`].

pub mod shell;
pub mod wildcard;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use shell::{Piece, Subject, Unanalysable};

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

    /// Whether some value of the subject's unknown parts matches (a grant: its text).
    fn may_match(&self, subject: &Subject) -> bool {
        if self.granted {
            self.pattern == subject.text()
        } else {
            wildcard::may_match(&self.pattern, false, subject.pieces())
        }
    }

    /// Whether every value of the subject's unknown parts matches (a grant: its text).
    fn matches_every(&self, subject: &Subject) -> bool {
        if self.granted {
            self.pattern == subject.text()
        } else {
            wildcard::matches_every(&self.pattern, false, subject.pieces())
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
    /// The bash line (or a part of it) cannot be analysed.
    NotSimple {
        /// What made it so, in words.
        why: String,
        /// The bash deny rule that turned ask into deny in yes mode, if any.
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
    /// Further checks the call needs besides this one: a bash line that redirects output
    /// to a file needs `edit` for that file. Each must be evaluated and pass too; empty
    /// for every other key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_needs: Vec<Need>,
}

impl Evaluation {
    fn new(action: Action, reason: Reason) -> Evaluation {
        Evaluation {
            action,
            reason,
            also_needs: Vec::new(),
        }
    }
}

/// A further permission check a call needs, such as `edit` for `ls > out.txt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Need {
    /// The permission key (`edit`).
    pub permission: String,
    /// The subject to check (the file as written in the line).
    pub subject: String,
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

    /// Records "allow always" for this exact subject. For a bash line, every subject the
    /// line is checked as (its simple commands, unknown parts as written) is granted, so
    /// spacing and quoting do not matter; a line that cannot be analysed is not granted.
    pub fn grant(&mut self, permission: &str, subject: &str) {
        let subjects = if permission == "bash" {
            let analysis = shell::analyze(subject);
            if !analysis.problems.is_empty() {
                return;
            }
            analysis.subjects.iter().map(Subject::text).collect()
        } else {
            vec![subject.to_string()]
        };
        let rules = self.keys.entry(permission.to_string()).or_default();
        for subject in subjects {
            if rules.iter().any(|r| r.granted && r.pattern == subject) {
                continue;
            }
            rules.push(Rule {
                pattern: subject,
                action: Action::Allow,
                granted: true,
            });
        }
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
                also_needs: evaluation.also_needs,
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
                return Evaluation::new(Action::Deny, rule.reason());
            }
            let specificity = rule.specificity();
            if best.is_none_or(|(best, _)| specificity >= best) {
                best = Some((specificity, rule));
            }
        }
        match best {
            Some((_, rule)) => Evaluation::new(rule.action, rule.reason()),
            None => Evaluation::new(Rules::default_action(permission), Reason::Default),
        }
    }

    /// Every subject of the line is checked; the line gets the strictest result, and a
    /// line with parts that cannot be analysed is at least what `evaluate_unanalysable` says.
    fn evaluate_bash(&self, line: &str) -> Evaluation {
        let analysis = shell::analyze(line);
        let mut strictest: Option<Evaluation> = None;
        for subject in &analysis.subjects {
            let evaluation = self.evaluate_bash_subject(subject);
            if strictest
                .as_ref()
                .is_none_or(|s| evaluation.action > s.action)
            {
                strictest = Some(evaluation);
            }
        }
        if let Some(problem) = analysis.problems.first() {
            let unanalysable = self.evaluate_unanalysable(problem);
            if strictest
                .as_ref()
                .is_none_or(|s| unanalysable.action >= s.action)
            {
                strictest = Some(unanalysable);
            }
        }
        let mut evaluation = strictest.unwrap_or_else(|| {
            self.evaluate_bash_subject(&Subject::new(vec![Piece::Text(String::new())]))
        });
        evaluation.also_needs = analysis
            .writes
            .into_iter()
            .map(|subject| Need {
                permission: "edit".into(),
                subject,
            })
            .collect();
        evaluation
    }

    /// One subject, whose unknown parts may be any text: a deny that could match denies;
    /// otherwise the decision is the strictest among the most specific rule that surely
    /// matches (or the default) and every more specific rule that could match.
    fn evaluate_bash_subject(&self, subject: &Subject) -> Evaluation {
        let rules = self.rules("bash");
        if let Some(deny) = rules
            .iter()
            .find(|r| r.action == Action::Deny && r.may_match(subject))
        {
            return Evaluation::new(Action::Deny, deny.reason());
        }
        // Rank: specificity, then position (later wins a tie).
        let sure = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.matches_every(subject))
            .max_by_key(|(i, r)| (r.specificity(), *i));
        let mut decision = match sure {
            Some((_, rule)) => Evaluation::new(rule.action, rule.reason()),
            None => Evaluation::new(Rules::default_action("bash"), Reason::Default),
        };
        let floor = sure.map(|(i, r)| (r.specificity(), i));
        for (i, rule) in rules.iter().enumerate() {
            let outranks = floor.is_none_or(|floor| (rule.specificity(), i) > floor);
            if outranks && rule.action > decision.action && rule.may_match(subject) {
                decision = Evaluation::new(rule.action, rule.reason());
            }
        }
        decision
    }

    /// A line (or part) that cannot be analysed: allow only when bash allows everything;
    /// in yes mode deny when any bash deny rule exists; otherwise ask.
    fn evaluate_unanalysable(&self, why: &Unanalysable) -> Evaluation {
        let rules = self.rules("bash");
        let allows_everything = rules.iter().all(|r| r.action == Action::Allow)
            && rules
                .iter()
                .any(|r| !r.granted && r.pattern.chars().all(|c| c == '*'));
        if allows_everything {
            return Evaluation::new(
                Action::Allow,
                Reason::Rule {
                    pattern: "*".to_string(),
                },
            );
        }
        let deny_rule = rules
            .iter()
            .find(|r| r.action == Action::Deny)
            .filter(|_| self.yes)
            .map(|r| r.pattern.clone());
        let action = if deny_rule.is_some() {
            Action::Deny
        } else {
            Action::Ask
        };
        Evaluation::new(
            action,
            Reason::NotSimple {
                why: why.to_string(),
                deny_rule,
            },
        )
    }
}

#[cfg(test)]
mod tests;
