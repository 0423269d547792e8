//! The seam to the permission rules: the agent asks a [`PermissionPolicy`] what to do
//! with each permission check and tells it about "allow always" answers.
//!
//! The real rules (patterns per permission key, `--yes`) live elsewhere and implement
//! this trait; [`FixedPolicy`] is a small stand-in with one action per key.

/// What a policy says about one permission check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Run without asking.
    Allow,
    /// Ask the user.
    Ask,
    /// Refuse.
    Deny,
}

/// Decides permission checks: `permission` is a key (`edit`, `bash`, `doom_loop`,
/// `external_directory`, …), `subject` what rules match (a path, a command).
pub trait PermissionPolicy {
    /// The action for one check.
    fn evaluate(&self, permission: &str, subject: &str) -> Action;

    /// The user answered "allow always": later checks of this permission and subject in
    /// this session should allow.
    fn grant(&mut self, permission: &str, subject: &str);
}

/// One action per permission key, a fallback for the rest, and the session's grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedPolicy {
    /// Actions by permission key.
    pub keys: Vec<(String, Action)>,
    /// The action for keys not listed.
    pub fallback: Action,
    /// Permission and subject pairs the user allowed for the session.
    pub granted: Vec<(String, String)>,
}

impl FixedPolicy {
    /// A policy that asks about everything.
    pub fn ask_all() -> FixedPolicy {
        FixedPolicy {
            keys: Vec::new(),
            fallback: Action::Ask,
            granted: Vec::new(),
        }
    }

    /// This policy with `action` for `permission`.
    pub fn with(mut self, permission: &str, action: Action) -> FixedPolicy {
        self.keys.push((permission.to_string(), action));
        self
    }
}

impl PermissionPolicy for FixedPolicy {
    fn evaluate(&self, permission: &str, subject: &str) -> Action {
        let action = self
            .keys
            .iter()
            .rev()
            .find(|(k, _)| k == permission)
            .map_or(self.fallback, |(_, a)| *a);
        let granted = self
            .granted
            .iter()
            .any(|(p, s)| p == permission && s == subject);
        match action {
            Action::Ask if granted => Action::Allow,
            other => other,
        }
    }

    fn grant(&mut self, permission: &str, subject: &str) {
        self.granted
            .push((permission.to_string(), subject.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_turn_ask_into_allow_but_never_override_deny() {
        let mut policy = FixedPolicy::ask_all()
            .with("read", Action::Allow)
            .with("bash", Action::Deny);
        assert_eq!(policy.evaluate("read", "a"), Action::Allow);
        assert_eq!(policy.evaluate("edit", "a"), Action::Ask);
        policy.grant("edit", "a");
        policy.grant("bash", "ls");
        assert_eq!(policy.evaluate("edit", "a"), Action::Allow);
        assert_eq!(policy.evaluate("edit", "b"), Action::Ask);
        assert_eq!(policy.evaluate("bash", "ls"), Action::Deny);
    }
}
