//! The seam to the permission rules: the agent asks a [`PermissionPolicy`] about each
//! permission check and tells it about "allow always" answers.
//!
//! [`Rules`] (configured patterns, session grants, `--yes`) is the policy cm uses; the
//! trait lets a driver wrap it or a test script it.

use crate::permission::{Evaluation, Rules};

/// Decides permission checks: `permission` is a key (`edit`, `bash`, `doom_loop`,
/// `external_directory`, …), `subject` what rules match (a path, a command).
pub trait PermissionPolicy {
    /// The action for one check, with its reason for the audit log.
    fn evaluate(&self, permission: &str, subject: &str) -> Evaluation;

    /// The user answered "allow always": later checks of this permission and subject in
    /// this session should allow.
    fn grant(&mut self, permission: &str, subject: &str);
}

impl PermissionPolicy for Rules {
    fn evaluate(&self, permission: &str, subject: &str) -> Evaluation {
        Rules::evaluate(self, permission, subject)
    }

    fn grant(&mut self, permission: &str, subject: &str) {
        Rules::grant(self, permission, subject);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permission::Action;

    #[test]
    fn rules_answer_through_the_seam_and_keep_grants() {
        let mut rules = Rules::new();
        rules.set("bash", Action::Deny);
        let policy: &mut dyn PermissionPolicy = &mut rules;
        assert_eq!(policy.evaluate("read", "a").action, Action::Allow);
        assert_eq!(policy.evaluate("edit", "a").action, Action::Ask);
        policy.grant("edit", "a");
        policy.grant("bash", "ls");
        assert_eq!(policy.evaluate("edit", "a").action, Action::Allow);
        assert_eq!(policy.evaluate("edit", "b").action, Action::Ask);
        assert_eq!(
            policy.evaluate("bash", "ls").action,
            Action::Deny,
            "deny wins"
        );
    }
}
