//! Text as the screen takes it: escape sequences and control characters removed, bytes
//! decoded lossily, and the width of each character in terminal columns.
//!
//! Model and tool output pass through [`neutralise`] before layout, and the screen buffer
//! refuses control characters again, so nothing written by a model can move the cursor,
//! recolour the screen, set the title or reach the clipboard (OSC 52).

/// Spaces a tab becomes.
const TAB: &str = "    ";

/// `text` without escape sequences (CSI, OSC, DCS and two-byte ones, 7-bit and 8-bit
/// forms) or control characters other than newline; tabs become spaces, `\r\n` a newline.
pub fn neutralise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => out.push('\n'),
            '\t' => out.push_str(TAB),
            '\u{1b}' => match chars.next() {
                Some('[') => skip_csi(&mut chars),
                Some(']' | 'P' | '_' | '^' | 'X') => skip_string(&mut chars),
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{9e}' | '\u{9f}' | '\u{98}' => skip_string(&mut chars),
            c if is_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Splits `text` before an escape sequence it ends in the middle of, so a stream cut
/// inside a sequence (`"\x1b["` then `"31m"`) can hold the start back for the next piece
/// instead of showing its second half as text.
pub fn split_unfinished_escape(text: &str) -> (&str, &str) {
    let Some(start) = text.rfind([
        '\u{1b}', '\u{9b}', '\u{9d}', '\u{90}', '\u{9e}', '\u{9f}', '\u{98}',
    ]) else {
        return (text, "");
    };
    let rest = &text[start..];
    let mut chars = rest.chars();
    let lead = chars.next();
    let kind = match lead {
        Some('\u{1b}') => chars.next(),
        Some('\u{9b}') => Some('['),
        other => other,
    };
    let finished = match kind {
        None => false,
        Some('[') => chars.any(|c| ('@'..='~').contains(&c)),
        Some(
            ']' | 'P' | '_' | '^' | 'X' | '\u{9d}' | '\u{90}' | '\u{9e}' | '\u{9f}' | '\u{98}',
        ) => {
            let after = lead.map_or(0, char::len_utf8);
            rest.contains(['\u{7}', '\u{9c}']) || rest[after..].contains("\u{1b}\\")
        }
        Some(_) => true,
    };
    // A sequence never finishing holds back at most a little text.
    if finished || rest.len() > 256 {
        (text, "")
    } else {
        (&text[..start], rest)
    }
}

/// Bytes as text: invalid UTF-8 becomes U+FFFD, then [`neutralise`]d.
pub fn from_bytes(bytes: &[u8]) -> String {
    neutralise(&String::from_utf8_lossy(bytes))
}

fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    // Parameters and intermediates run until a final byte in @..~.
    for c in chars.by_ref() {
        if ('@'..='~').contains(&c) {
            return;
        }
    }
}

fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    // Until BEL, ST (ESC \) or the 8-bit ST.
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                return;
            }
            _ => {}
        }
    }
}

/// C0, DEL and C1 control characters.
pub fn is_control(c: char) -> bool {
    c < ' ' || ('\u{7f}'..='\u{9f}').contains(&c)
}

/// Columns `c` takes: 0 for combining marks and zero-width characters, 2 for East Asian
/// wide characters and most emoji, 1 otherwise.
pub fn char_width(c: char) -> usize {
    let u = c as u32;
    if is_control(c)
        || (0x300..=0x36f).contains(&u)
        || (0x200b..=0x200f).contains(&u)
        || (0xfe00..=0xfe0f).contains(&u)
        || u == 0xfeff
    {
        return 0;
    }
    let wide = (0x1100..=0x115f).contains(&u)
        || (0x2e80..=0x303e).contains(&u)
        || (0x3041..=0x33ff).contains(&u)
        || (0x3400..=0x4dbf).contains(&u)
        || (0x4e00..=0x9fff).contains(&u)
        || (0xa000..=0xa4cf).contains(&u)
        || (0xac00..=0xd7a3).contains(&u)
        || (0xf900..=0xfaff).contains(&u)
        || (0xfe30..=0xfe4f).contains(&u)
        || (0xff00..=0xff60).contains(&u)
        || (0xffe0..=0xffe6).contains(&u)
        || (0x1f300..=0x1f64f).contains(&u)
        || (0x1f900..=0x1f9ff).contains(&u)
        || (0x20000..=0x3fffd).contains(&u);
    if wide {
        2
    } else {
        1
    }
}

/// Columns `text` takes.
pub fn width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

/// The longest prefix of `text` that fits in `columns`, and its width.
pub fn fit(text: &str, columns: usize) -> (&str, usize) {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        let w = char_width(c);
        if used + w > columns {
            return (&text[..i], used);
        }
        used += w;
    }
    (text, used)
}

/// `text` cut to `columns`, ending in `…` when cut.
pub fn ellipsis(text: &str, columns: usize) -> String {
    if width(text) <= columns {
        return text.to_string();
    }
    let (head, _) = fit(text, columns.saturating_sub(1));
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_removed_and_text_kept() {
        assert_eq!(neutralise("a\u{1b}[2J\u{1b}[Hb"), "ab");
        assert_eq!(neutralise("\u{1b}[31mred\u{1b}[0m"), "red");
        // Title, clipboard (OSC 52) and hyperlinks, with BEL or ST.
        assert_eq!(neutralise("x\u{1b}]0;owned\u{7}y"), "xy");
        assert_eq!(neutralise("\u{1b}]52;c;aGVsbG8=\u{1b}\\z"), "z");
        assert_eq!(neutralise("\u{9b}5Aup\u{9d}2;t\u{9c}!"), "up!");
        assert_eq!(
            neutralise("bell\u{7} back\u{8}space\r\n"),
            "bell backspace\n"
        );
        assert_eq!(neutralise("\tx"), "    x");
        assert_eq!(neutralise("cut \u{1b}[12"), "cut ");
        assert_eq!(neutralise("\u{1b}Pdcs never ends"), "");
    }

    #[test]
    fn an_escape_cut_by_the_stream_is_held_back_until_complete() {
        assert_eq!(split_unfinished_escape("plain"), ("plain", ""));
        assert_eq!(
            split_unfinished_escape("red \u{1b}[3"),
            ("red ", "\u{1b}[3")
        );
        assert_eq!(split_unfinished_escape("x\u{1b}"), ("x", "\u{1b}"));
        assert_eq!(
            split_unfinished_escape("\u{1b}[31mred"),
            ("\u{1b}[31mred", "")
        );
        assert_eq!(
            split_unfinished_escape("t\u{1b}]0;ti"),
            ("t", "\u{1b}]0;ti")
        );
        assert_eq!(
            split_unfinished_escape("\u{1b}]0;title\u{7}ok"),
            ("\u{1b}]0;title\u{7}ok", "")
        );
        // Every split of a stream gives the same neutralised text.
        let stream = "a\u{1b}[1;31mb\u{1b}]52;c;eA==\u{1b}\\c\u{9b}2Jd\u{9d}0;t\u{9c}";
        for cut in (0..=stream.len()).filter(|&i| stream.is_char_boundary(i)) {
            let (done, carry) = split_unfinished_escape(&stream[..cut]);
            let rest = format!("{carry}{}", &stream[cut..]);
            assert_eq!(
                format!("{}{}", neutralise(done), neutralise(&rest)),
                "abcd",
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_shown_lossily() {
        assert_eq!(from_bytes(b"ok \xff\xfe\x1b[1m!"), "ok \u{fffd}\u{fffd}!");
    }

    #[test]
    fn widths_count_wide_and_zero_width_characters() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("日本"), 4);
        assert_eq!(width("e\u{301}"), 1);
        assert_eq!(fit("日本語", 5), ("日本", 4));
        assert_eq!(ellipsis("hello world", 6), "hello…");
        assert_eq!(ellipsis("short", 6), "short");
    }
}
