//! The user's message: the prompt from the arguments, text piped on stdin, or both.
//!
//! With both, the piped text is context for the prompt and is appended after it between
//! clearly marked lines, so `git diff | cm run "review this"` reads naturally to the model.

use crate::exit::Failure;

/// Piped input beyond this many bytes is cut, with a note saying so.
pub const STDIN_LIMIT: usize = 1024 * 1024;

/// Combines the argument prompt and the piped text (`None` when stdin is a terminal).
pub fn combine(argument: Option<&str>, piped: Option<&str>) -> Result<String, Failure> {
    let argument = argument.map(str::trim).filter(|p| !p.is_empty());
    let piped = piped.filter(|p| !p.trim().is_empty());
    match (argument, piped) {
        (Some(prompt), None) => Ok(prompt.to_string()),
        (None, Some(text)) => Ok(text.trim_end().to_string()),
        (Some(prompt), Some(text)) => Ok(format!(
            "{prompt}\n\n<stdin>\n{}\n</stdin>\n(The text between <stdin> and </stdin> was piped to cm on standard input.)",
            text.trim_end()
        )),
        (None, None) => Err(Failure::usage(
            "no prompt given; say what to do:\n  cm run \"add a test for the parser\"\n\
             or pipe it:\n  echo \"explain src/main.rs\" | cm run",
        )),
    }
}

/// Decodes piped bytes, cutting them at [`STDIN_LIMIT`].
pub fn decode_piped(bytes: &[u8]) -> String {
    if bytes.len() <= STDIN_LIMIT {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut text = String::from_utf8_lossy(&bytes[..STDIN_LIMIT]).into_owned();
    text.push_str(&format!(
        "\n[... cut: {} more bytes of standard input were not included]",
        bytes.len() - STDIN_LIMIT
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_piped_or_both() {
        assert_eq!(combine(Some(" fix it "), None).unwrap(), "fix it");
        assert_eq!(
            combine(None, Some("explain this\n")).unwrap(),
            "explain this"
        );
        assert_eq!(
            combine(Some("review"), Some("diff --git a b\n")).unwrap(),
            "review\n\n<stdin>\ndiff --git a b\n</stdin>\n\
             (The text between <stdin> and </stdin> was piped to cm on standard input.)"
        );
        assert_eq!(combine(Some("x"), Some("  \n")).unwrap(), "x");
        let none = combine(None, Some("")).unwrap_err();
        assert!(none.message.contains("cm run \"add a test"));
    }

    #[test]
    fn huge_input_is_cut_with_a_note() {
        let bytes = vec![b'a'; STDIN_LIMIT + 10];
        let text = decode_piped(&bytes);
        assert!(text.ends_with("[... cut: 10 more bytes of standard input were not included]"));
    }
}
