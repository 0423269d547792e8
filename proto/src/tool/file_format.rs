//! How a text file is laid out on disk: a UTF-8 byte-order mark and its line endings.
//!
//! Tools change text in LF form and give it back in the file's own form, so an edit never
//! converts a Windows file to Unix line endings or drops its BOM.

/// The UTF-8 byte-order mark.
pub const BOM: &str = "\u{feff}";

/// A text file's BOM and line-ending style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TextFormat {
    /// The file starts with a UTF-8 BOM.
    pub bom: bool,
    /// Most line endings are CRLF.
    pub crlf: bool,
}

impl TextFormat {
    /// Detects the format of `text`; CRLF when CRLF endings are at least as common as
    /// bare LF ones.
    pub fn detect(text: &str) -> TextFormat {
        let crlf_count = text.matches("\r\n").count();
        let lf_count = text.matches('\n').count();
        TextFormat {
            bom: text.starts_with(BOM),
            crlf: crlf_count > 0 && crlf_count >= lf_count.saturating_sub(crlf_count),
        }
    }

    /// `text` (in any line-ending style, without BOM) in this format.
    pub fn apply(self, text: &str) -> String {
        let body = text.strip_prefix(BOM).unwrap_or(text);
        let body = if self.crlf {
            to_crlf(body)
        } else {
            to_lf(body)
        };
        if self.bom {
            format!("{BOM}{body}")
        } else {
            body
        }
    }
}

/// `text` with every CRLF turned into LF.
pub fn to_lf(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// `text` with every bare LF turned into CRLF (existing CRLFs kept).
pub fn to_crlf(text: &str) -> String {
    to_lf(text).replace('\n', "\r\n")
}

/// The number of lines in `text` as an editor counts them (a final newline ends the
/// last line rather than starting another).
pub fn line_count(text: &str) -> usize {
    if text.is_empty() {
        0
    } else {
        text.matches('\n').count() + usize::from(!text.ends_with('\n'))
    }
}

/// "1 line", "3 lines".
pub fn lines_phrase(count: usize) -> String {
    if count == 1 {
        "1 line".into()
    } else {
        format!("{count} lines")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_crlf_and_bom() {
        let f = TextFormat::detect("\u{feff}a\r\nb\r\n");
        assert_eq!(
            f,
            TextFormat {
                bom: true,
                crlf: true
            }
        );
        assert_eq!(TextFormat::detect("a\nb\n"), TextFormat::default());
        assert!(!TextFormat::detect("a\r\nb\nc\nd\n").crlf);
    }

    #[test]
    fn apply_converts_to_the_file_style() {
        let f = TextFormat {
            bom: true,
            crlf: true,
        };
        assert_eq!(f.apply("a\nb\r\n"), "\u{feff}a\r\nb\r\n");
        assert_eq!(TextFormat::default().apply("a\r\nb"), "a\nb");
    }

    #[test]
    fn line_count_ignores_a_final_newline() {
        assert_eq!(line_count(""), 0);
        assert_eq!(line_count("a"), 1);
        assert_eq!(line_count("a\n"), 1);
        assert_eq!(line_count("a\nb"), 2);
        assert_eq!(line_count("\n"), 1);
    }
}
