//! Keeping keys out of session logs and exports.
//!
//! cm never writes its credential on purpose, but a tool can bring one into the
//! conversation: `bash` runs `env`, `read` opens `.env`. [`Secrets`] holds the values to
//! hide — the provider's credential and every environment variable named like a key
//! (`*_API_KEY`, `*_TOKEN`, `*_SECRET`, …) — and [`RedactingLog`] writes each record with
//! them replaced by `[redacted]`. The live conversation is not changed (the model has
//! already seen what the tool returned); only what is kept on disk is. Exports pass
//! through [`Secrets::redact`] too, for logs written before this existed.

use std::borrow::Cow;

use cm_driver::RecordSink;
use cm_host::{SessionLog, StoreError};
use cm_proto::provider::Credential;
use cm_proto::session::Record;

/// Values shorter than this are not treated as secrets (too likely to be ordinary text).
const MIN_SECRET_LEN: usize = 8;

/// Environment variable name endings that mark a secret.
const SECRET_SUFFIXES: &[&str] = &[
    "_API_KEY",
    "_KEY",
    "_TOKEN",
    "_SECRET",
    "_PASSWORD",
    "_APIKEY",
];

const REDACTED: &str = "[redacted]";

/// Secret values to keep out of what cm writes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(Vec<String>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} values)", self.0.len())
    }
}

impl Secrets {
    /// The credential's value and every key-like variable of `vars`.
    pub fn gather(
        credential: Option<&Credential>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Secrets {
        let mut values = Vec::new();
        if let Some(Credential::ApiKey(v) | Credential::Bearer(v)) = credential {
            values.push(v.clone());
        }
        for (name, value) in vars {
            let upper = name.to_ascii_uppercase();
            if SECRET_SUFFIXES.iter().any(|s| upper.ends_with(s)) {
                values.push(value);
            }
        }
        values.retain(|v| v.trim().len() >= MIN_SECRET_LEN);
        values.sort();
        values.dedup();
        // Longer first, so a secret containing another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        Secrets(values)
    }

    /// From this process's environment and the provider's credential.
    pub fn from_process(credential: Option<&Credential>) -> Secrets {
        Secrets::gather(credential, std::env::vars())
    }

    /// `text` with every secret (raw or as escaped inside a JSON string) replaced.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.0 {
            let escaped = serde_json::to_string(secret).unwrap_or_default();
            let escaped = escaped.trim_matches('"');
            for form in [secret.as_str(), escaped] {
                if !form.is_empty() && out.contains(form) {
                    out = Cow::Owned(out.replace(form, REDACTED));
                }
            }
        }
        out
    }
}

/// A session log that writes records with [`Secrets`] redacted.
pub struct RedactingLog<'a> {
    /// The log written to.
    pub log: &'a mut SessionLog,
    /// What to hide.
    pub secrets: &'a Secrets,
}

impl RecordSink for RedactingLog<'_> {
    fn append(&mut self, record: &Record) -> Result<(), StoreError> {
        let line = record.to_line();
        match self.secrets.redact(&line) {
            Cow::Borrowed(_) => self.log.append(record),
            Cow::Owned(clean) => match serde_json::from_str::<serde_json::Value>(&clean) {
                Ok(value) => self.log.append(&value),
                // Cannot happen for a string-for-string replacement; never write the secret.
                Err(_) => self.log.append(&serde_json::json!({
                    "type": "redacted", "v": record.v, "at": record.at
                })),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cm_proto::message::Message;
    use cm_proto::session::{Entry, MessageRecord};
    use cm_proto::time::UnixMillis;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn key_like_variables_and_the_credential_are_secrets() {
        let secrets = Secrets::gather(
            Some(&Credential::ApiKey("sk-from-config-123".into())),
            vars(&[
                ("OPENAI_API_KEY", "sk-openai-456789"),
                ("GITHUB_TOKEN", "ghp_abcdefgh"),
                ("HOME", "/home/someone"),
                ("SHORT_KEY", "abc"),
            ]),
        );
        let text = "a sk-from-config-123 b sk-openai-456789 c ghp_abcdefgh d /home/someone abc";
        assert_eq!(
            secrets.redact(text),
            "a [redacted] b [redacted] c [redacted] d /home/someone abc"
        );
        assert!(matches!(secrets.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_secret_escaped_in_json_is_found_too() {
        let secrets = Secrets::gather(None, vars(&[("X_SECRET", "pa\"ss\\word")]));
        let record = Record::new(
            UnixMillis(1),
            Entry::Message(MessageRecord::plain(Message::user(
                "env: X_SECRET=pa\"ss\\word",
            ))),
        );
        let line = secrets.redact(&record.to_line()).into_owned();
        assert!(line.contains("X_SECRET=[redacted]"), "{line}");
        assert!(Record::from_line(&line).is_ok(), "still a valid record");
    }
}
